package restclienttest

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const (
	defaultLimit = 25
	maxLimit     = 100
)

var errInvalidCursor = errors.New("invalid cursor")

// cursorPattern is the contract's pattern for cursors (and _id).
var cursorPattern = regexp.MustCompile(`^[a-z0-9]{24}$`)

// sortRule is one "field:direction" rule.
type sortRule struct {
	field string
	desc  bool
}

// query is a validated list request.
type query struct {
	filter   string
	limit    int
	skip     int
	sort     []sortRule
	next     string
	previous string
	fields   filterFields // what filter matches; set by the server
}

// parseQuery validates the list parameters as the contract and the real
// service do; every error becomes a 400 with code 1005.
func parseQuery(v url.Values) (query, error) {
	q := query{filter: v.Get("filter"), limit: defaultLimit}
	var err error
	if v.Has("limit") {
		if q.limit, err = intParam(v, "limit", 1, maxLimit); err != nil {
			return q, err
		}
	}
	if v.Has("skip") {
		if q.skip, err = intParam(v, "skip", 0, -1); err != nil {
			return q, err
		}
	}
	if v.Has("sort") {
		if q.sort, err = parseSort(v.Get("sort")); err != nil {
			return q, err
		}
	}
	for _, name := range []string{"next", "previous"} {
		if v.Has(name) && !cursorPattern.MatchString(v.Get(name)) {
			return q, fmt.Errorf("%s must match ^[a-z0-9]{24}$", name)
		}
	}
	q.next, q.previous = v.Get("next"), v.Get("previous")
	switch {
	case v.Has("next") && v.Has("previous"):
		return q, errors.New("next and previous are mutually exclusive")
	case v.Has("skip") && (v.Has("next") || v.Has("previous")):
		return q, errors.New("skip cannot be combined with next or previous")
	}
	return q, nil
}

// intParam parses an integer in [lo, hi]; hi < 0 means unbounded.
func intParam(v url.Values, name string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v.Get(name))
	if err != nil {
		return 0, fmt.Errorf("%s must be an integer: %w", name, err)
	}
	if n < lo || (hi >= 0 && n > hi) {
		return 0, fmt.Errorf("%s %d is out of range", name, n)
	}
	return n, nil
}

func parseSort(s string) ([]sortRule, error) {
	var rules []sortRule
	for rule := range strings.SplitSeq(s, ",") {
		field, dir, ok := strings.Cut(rule, ":")
		if !ok || field == "" {
			return nil, fmt.Errorf("sort rule %q is not field:asc or field:desc", rule)
		}
		if compareField(field) == nil {
			return nil, fmt.Errorf("sort field %q is not one of _id, id, name, lastActive, createdAt, lastChanged", field)
		}
		if dir != "asc" && dir != "desc" {
			return nil, fmt.Errorf("sort direction %q is not asc or desc", dir)
		}
		rules = append(rules, sortRule{field: field, desc: dir == "desc"})
	}
	return rules, nil
}

// compareField returns the ascending comparison for a sortable field, or nil.
func compareField(field string) func(a, b User) int {
	switch field {
	case "_id":
		return func(a, b User) int { return strings.Compare(a.ID, b.ID) }
	case "id":
		return func(a, b User) int { return strings.Compare(a.Email, b.Email) }
	case "name":
		return func(a, b User) int { return strings.Compare(a.Name, b.Name) }
	case "lastActive":
		// A missing value sorts lowest; present values compare as raw
		// numbers whatever their unit.
		return func(a, b User) int {
			switch {
			case a.LastActive == nil && b.LastActive == nil:
				return 0
			case a.LastActive == nil:
				return -1
			case b.LastActive == nil:
				return 1
			}
			return cmp.Compare(*a.LastActive, *b.LastActive)
		}
	case "createdAt":
		return func(a, b User) int { return cmp.Compare(a.CreatedAt, b.CreatedAt) }
	case "lastChanged":
		return func(a, b User) int { return cmp.Compare(a.LastChanged, b.LastChanged) }
	}
	return nil
}

// order builds the full comparison: the rules in order, then _id ascending
// unless _id is already a rule, so every order is total and pages are stable.
func order(rules []sortRule) func(a, b User) int {
	var cmps []func(a, b User) int
	hasID := false
	for _, r := range rules {
		c := compareField(r.field)
		if r.desc {
			asc := c
			c = func(a, b User) int { return -asc(a, b) }
		}
		cmps = append(cmps, c)
		hasID = hasID || r.field == "_id"
	}
	if !hasID {
		cmps = append(cmps, compareField("_id"))
	}
	return func(a, b User) int {
		for _, c := range cmps {
			if n := c(a, b); n != 0 {
				return n
			}
		}
		return 0
	}
}

// page filters, sorts and cuts users into the response for q.
func (q query) page(users []User) (page, error) {
	v := newView(slices.Clone(users))
	return q.pageOf(v, v.order(q.sort))
}

// pageOf filters the users of v, taken in the order ord, and cuts them into
// the response for q. It only reads v.
func (q query) pageOf(v *view, ord []int) (page, error) {
	list := ord
	if q.filter != "" {
		low := strings.ToLower(q.filter)
		list = make([]int, 0, len(ord))
		for _, i := range ord {
			if v.matches(q.fields, i, q.filter, low) {
				list = append(list, i)
			}
		}
	}
	start, end := min(q.skip, len(list)), 0
	switch {
	case q.next != "":
		i, err := locate(v, list, q.next)
		if err != nil {
			return page{}, err
		}
		start = i + 1
	case q.previous != "":
		i, err := locate(v, list, q.previous)
		if err != nil {
			return page{}, err
		}
		start = max(i-q.limit, 0)
		end = i
	}
	if q.previous == "" {
		end = min(start+q.limit, len(list))
	}
	p := page{Items: make([]wireUser, 0, end-start), Total: len(list)}
	for _, i := range list[start:end] {
		p.Items = append(p.Items, wireUser(v.users[i]))
	}
	if start < end && end < len(list) {
		c := encodeCursor(v.users[list[end-1]].ID)
		p.NextCursor = &c
	}
	if start < end && start > 0 {
		c := encodeCursor(v.users[list[start]].ID)
		p.PreviousCursor = &c
	}
	return p, nil
}

// locate finds the item a cursor refers to in the filtered, sorted list.
func locate(v *view, list []int, cursor string) (int, error) {
	id := decodeCursor(cursor)
	i := slices.IndexFunc(list, func(j int) bool { return v.users[j].ID == id })
	if i < 0 {
		return 0, errInvalidCursor
	}
	return i, nil
}

// Cursors are an item's _id with every character rotated over [0-9a-z] by a
// per-position shift of 16 to 20. That keeps them within the contract's
// ^[a-z0-9]{24}$ but turns every hex digit into a letter from g to z, so a
// cursor is never an _id and clients cannot get away with treating it as one.
const (
	cursorAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	cursorKey      = "370142693581204736915027"
)

func encodeCursor(id string) string { return rotate(id, 1) }

func decodeCursor(c string) string { return rotate(c, -1) }

func rotate(s string, sign int) string {
	b := []byte(s)
	for i, ch := range b {
		pos := strings.IndexByte(cursorAlphabet, ch)
		if pos < 0 {
			continue // only ids outside the contract get here; they just won't resolve
		}
		shift := 16 + int(cursorKey[i%len(cursorKey)]-'0')%5
		b[i] = cursorAlphabet[(pos+sign*shift+2*len(cursorAlphabet))%len(cursorAlphabet)]
	}
	return string(b)
}
