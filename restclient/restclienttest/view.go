package restclienttest

import (
	"slices"
	"strings"
)

// view is one tenant's dataset as the list endpoint reads it, built once per
// change of the dataset: the users ordered by _id, their name and e-mail
// lower-cased for the filter, and each sort order asked for so far. Without
// it every list call copied, sorted and lower-cased the whole dataset (about
// 1 ms for 2,000 users), and the fake, not the client under test, took most
// of a benchmark's CPU. A view is never changed once built, except for
// adding orders under the server's lock; a change of the dataset drops it.
type view struct {
	users    []User // by _id; shared read-only with every page built from it
	lowName  []string
	lowEmail []string
	orders   map[string][]int // sort rules as given → indexes into users, in that order
}

func newView(byID []User) *view {
	v := &view{users: byID, lowName: make([]string, len(byID)), lowEmail: make([]string, len(byID)), orders: map[string][]int{}}
	for i, u := range byID {
		v.lowName[i], v.lowEmail[i] = strings.ToLower(u.Name), strings.ToLower(u.Email)
	}
	return v
}

// order returns the indexes of the users in the order of rules (then _id
// ascending), computing it on first use. The caller must hold the lock that
// guards v when v is shared.
func (v *view) order(rules []sortRule) []int {
	key := sortKey(rules)
	if idx, ok := v.orders[key]; ok {
		return idx
	}
	idx := make([]int, len(v.users))
	for i := range idx {
		idx[i] = i
	}
	cmp := order(rules)
	slices.SortStableFunc(idx, func(a, b int) int { return cmp(v.users[a], v.users[b]) })
	v.orders[key] = idx
	return idx
}

func sortKey(rules []sortRule) string {
	var b strings.Builder
	for _, r := range rules {
		b.WriteString(r.field)
		if r.desc {
			b.WriteString(":desc,")
		} else {
			b.WriteString(":asc,")
		}
	}
	return b.String()
}

// matches reports whether user i passes filter (low is filter lower-cased):
// a case-insensitive substring of name or e-mail, or the exact _id, each as
// far as the fields f allow; an empty filter matches everyone.
func (v *view) matches(f filterFields, i int, filter, low string) bool {
	if filter == "" || (f.id && v.users[i].ID == filter) {
		return true
	}
	return (f.name && strings.Contains(v.lowName[i], low)) || (f.email && strings.Contains(v.lowEmail[i], low))
}

// viewOf returns the current view of a tenant's dataset; s.mu must be held.
func (s *Server) viewOf(secret string) *view {
	if v := s.views[secret]; v != nil {
		return v
	}
	v := newView(s.snapshot(secret))
	s.views[secret] = v
	return v
}
