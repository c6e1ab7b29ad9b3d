package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"

	"github.com/usersgraph/usersgraph/internal/loadkit"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// The mixed workload's queries: one document with variables, as frontends
// send them, in two selections: without and with the references.
const (
	mixSelection = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id email name lastActive createdAt lastChanged%s } }`
	mixDocument  = `query Users($first: Int, $after: String, $last: Int, $before: String, $filter: String, $orderBy: [UserOrder!]) { users(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) { ` + mixSelection + ` } }`
	mixRefs      = ` createdBy { name } lastChangedBy { name }`
	// zipfS is the exponent of the mix's popularity: query k (in a random
	// order) is asked about 1/k^s as often as the most popular one.
	zipfS = 1.1
)

// Kinds of mixed-workload query.
const (
	kindFirst  = "first"  // first: n
	kindAfter  = "after"  // first: n, after: an endCursor
	kindLast   = "last"   // last: n (the final users)
	kindBefore = "before" // last: n, before: a startCursor
)

// mixQuery is one distinct GraphQL request of the mixed workload.
type mixQuery struct {
	Key  string // credential, sent as X-API-Key
	Body string // the JSON POST body
	Kind string
	Refs bool
	// REST are the GETs (path and query) the facade sent for it with every
	// cache off, recorded when the list was made: what a client of the REST
	// API itself would have to send for the same answer.
	REST []string
}

// mixVars are a query's variables; nil fields are left out.
type mixVars struct {
	First   *int        `json:"first,omitempty"`
	After   *string     `json:"after,omitempty"`
	Last    *int        `json:"last,omitempty"`
	Before  *string     `json:"before,omitempty"`
	Filter  *string     `json:"filter,omitempty"`
	OrderBy []userOrder `json:"orderBy,omitempty"`
}

type userOrder struct {
	Field     string `json:"field"`
	Direction string `json:"direction"`
}

// mixBody is the POST body of a query with vars.
func mixBody(refs bool, v mixVars) string {
	sel := ""
	if refs {
		sel = mixRefs
	}
	b, err := json.Marshal(struct {
		Query     string  `json:"query"`
		Variables mixVars `json:"variables"`
	}{fmt.Sprintf(mixDocument, sel), v})
	if err != nil {
		panic(err) // strings, ints and slices of them always marshal
	}
	return string(b)
}

// mixOrders are the orders a frontend asks for; nil is the default (by id).
var mixOrders = [][]userOrder{
	nil,
	{{"NAME", "ASC"}}, {{"NAME", "DESC"}},
	{{"CREATED_AT", "ASC"}}, {{"CREATED_AT", "DESC"}},
	{{"LAST_ACTIVE", "DESC"}}, {{"LAST_ACTIVE", "ASC"}},
	{{"EMAIL", "ASC"}}, {{"EMAIL", "DESC"}},
	{{"LAST_CHANGED", "DESC"}}, {{"ID", "DESC"}},
	{{"NAME", "ASC"}, {"CREATED_AT", "DESC"}},
}

// commonSizes are the page sizes UIs offer; other sizes are drawn from 3–100.
var commonSizes = []int{5, 10, 20, 25, 50, 100}

// mixPicker draws the parts of a query.
type mixPicker struct {
	r       *rand.Rand
	keys    []string
	filters map[string][]string // per credential
}

func newMixPicker(seed uint64, tenants map[string][]restclienttest.User) *mixPicker {
	p := &mixPicker{r: rand.New(rand.NewPCG(seed, 0x6d17)), filters: map[string][]string{}}
	p.keys = slices.Sorted(func(yield func(string) bool) {
		for k := range tenants {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range p.keys {
		p.filters[k] = filterPool(p.r, tenants[k], 40)
	}
	return p
}

// filterPool draws n filters from users' e-mail stems and names: a part of
// the ASCII stem ("mueller", "jose") or the first word of a display name
// ("Zoë"), so some match many users and some few.
func filterPool(r *rand.Rand, users []restclienttest.User, n int) []string {
	seen := map[string]bool{}
	var out []string
	for tries := 0; len(out) < n && tries < 50*n && len(users) > 0; tries++ {
		u := users[r.IntN(len(users))]
		var f string
		if r.IntN(4) == 0 && u.Name != "" {
			f, _, _ = strings.Cut(u.Name, " ")
		} else {
			stem, _, _ := strings.Cut(u.Email, "@")
			parts := strings.FieldsFunc(stem, func(c rune) bool { return c == '.' || (c >= '0' && c <= '9') })
			if len(parts) == 0 {
				continue
			}
			f = parts[r.IntN(len(parts))]
		}
		if len(f) >= 2 && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// walk is the start of a frontend's browsing: a credential, a filter, an
// order, a page size and a selection.
type walk struct {
	key  string
	vars mixVars // filter and orderBy only
	size int
	refs bool
}

func (p *mixPicker) walk() walk {
	w := walk{key: p.keys[p.r.IntN(len(p.keys))], refs: p.r.IntN(100) < 45}
	if fs := p.filters[w.key]; len(fs) > 0 && p.r.IntN(100) < 45 {
		w.vars.Filter = &fs[p.r.IntN(len(fs))]
	}
	w.vars.OrderBy = mixOrders[p.r.IntN(len(mixOrders))]
	if p.r.IntN(2) == 0 {
		w.size = commonSizes[p.r.IntN(len(commonSizes))]
	} else {
		w.size = 3 + p.r.IntN(98)
	}
	return w
}

// pageAnswer is what the generator reads of an answer.
type pageAnswer struct {
	Data *struct {
		Users struct {
			PageInfo struct {
				HasNextPage     bool    `json:"hasNextPage"`
				HasPreviousPage bool    `json:"hasPreviousPage"`
				StartCursor     *string `json:"startCursor"`
				EndCursor       *string `json:"endCursor"`
			} `json:"pageInfo"`
		} `json:"users"`
	} `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// mixRecorder sends queries to a facade with every cache off over fake and
// records the upstream GETs each caused. It must be the fake's only client.
type mixRecorder struct {
	url    string
	fake   *restclienttest.Server
	client *http.Client
}

func (m *mixRecorder) do(ctx context.Context, q *mixQuery) (pageAnswer, error) {
	m.fake.ResetCounts()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url, strings.NewReader(q.Body))
	if err != nil {
		return pageAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", q.Key)
	resp, err := m.client.Do(req)
	if err != nil {
		return pageAnswer{}, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return pageAnswer{}, err
	}
	var a pageAnswer
	if err := json.Unmarshal(buf.Bytes(), &a); err != nil || resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("status %d, %v: %.300s", resp.StatusCode, err, buf.String())
	}
	if len(a.Errors) > 0 || a.Data == nil {
		return a, fmt.Errorf("query %s answered with errors: %.300s", q.Body, buf.String())
	}
	for _, r := range m.fake.Requests() {
		p := r.Path
		if len(r.Query) > 0 {
			p += "?" + r.Query.Encode()
		}
		q.REST = append(q.REST, p)
	}
	if len(q.REST) == 0 {
		return a, fmt.Errorf("query %s reached no upstream: is every cache of the facade off?", q.Body)
	}
	return a, nil
}

// generateMix makes n distinct queries by browsing as frontends do: a first
// page, a few next pages with the real endCursor, sometimes a page back
// with the real startCursor, sometimes the last page. Each is sent once to
// rec, which records the upstream calls it causes.
func generateMix(ctx context.Context, rec *mixRecorder, p *mixPicker, n int) ([]mixQuery, error) {
	var out []mixQuery
	seen := map[string]bool{}
	add := func(w walk, kind string, v mixVars) (pageAnswer, bool, error) {
		q := mixQuery{Key: w.key, Body: mixBody(w.refs, v), Kind: kind, Refs: w.refs}
		if seen[q.Key+"\x00"+q.Body] {
			return pageAnswer{}, false, nil
		}
		a, err := rec.do(ctx, &q)
		if err != nil {
			return a, false, err
		}
		seen[q.Key+"\x00"+q.Body] = true
		out = append(out, q)
		return a, true, nil
	}
	for stale := 0; len(out) < n; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if stale > 50*n {
			return nil, errors.New("the generator keeps drawing queries it already has; ask for fewer")
		}
		before := len(out)
		w := p.walk()
		size := w.size
		if p.r.IntN(100) < 12 {
			v := w.vars
			v.Last = &size
			if _, _, err := add(w, kindLast, v); err != nil {
				return nil, err
			}
		} else {
			v := w.vars
			v.First = &size
			a, _, err := add(w, kindFirst, v)
			if err != nil {
				return nil, err
			}
			info := a.Data
			for more := p.r.IntN(4); more > 0 && len(out) < n && info != nil && info.Users.PageInfo.HasNextPage && info.Users.PageInfo.EndCursor != nil; more-- {
				v := w.vars
				v.First, v.After = &size, info.Users.PageInfo.EndCursor
				a, _, err := add(w, kindAfter, v)
				if err != nil {
					return nil, err
				}
				info = a.Data
			}
			if len(out) < n && info != nil && p.r.IntN(2) == 0 && info.Users.PageInfo.HasPreviousPage && info.Users.PageInfo.StartCursor != nil {
				v := w.vars
				v.Last, v.Before = &size, info.Users.PageInfo.StartCursor
				if _, _, err := add(w, kindBefore, v); err != nil {
					return nil, err
				}
			}
		}
		if len(out) == before {
			stale++
		}
	}
	return out[:n], nil
}

// distinctQueries draws n distinct queries that need no cursor (first or
// last pages over every credential, filter, order, size and selection),
// for a soak in which queries seldom repeat; no upstream calls are recorded.
func distinctQueries(p *mixPicker, n int) ([]mixQuery, error) {
	seen := map[string]bool{}
	out := make([]mixQuery, 0, n)
	for tries := 0; len(out) < n; tries++ {
		if tries > 50*n {
			return nil, fmt.Errorf("only %d distinct cursor-free queries found; ask for fewer", len(out))
		}
		w := p.walk()
		v, kind := w.vars, kindFirst
		size := w.size
		if p.r.IntN(100) < 12 {
			v.Last, kind = &size, kindLast
		} else {
			v.First = &size
		}
		q := mixQuery{Key: w.key, Body: mixBody(w.refs, v), Kind: kind, Refs: w.refs}
		if k := q.Key + "\x00" + q.Body; !seen[k] {
			seen[k] = true
			out = append(out, q)
		}
	}
	return out, nil
}

// zipfSequence is length draws from n queries with a Zipf popularity (s =
// zipfS) over a random order of them, so the popular ones are not simply
// the first generated.
func zipfSequence(n, length int, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 0x21bf))
	perm := r.Perm(n)
	if n == 1 {
		return slices.Repeat([]int{0}, length)
	}
	z := rand.NewZipf(r, zipfS, 1, uint64(n-1))
	out := make([]int, length)
	for i := range out {
		out[i] = perm[z.Uint64()]
	}
	return out
}

// shuffledSequence sends every query once per cycle, in a random order.
func shuffledSequence(n int, seed uint64) []int {
	return rand.New(rand.NewPCG(seed, 0x5fa1)).Perm(n)
}

// graphQLRequests are the queries as wrk request lines to the facade's path.
func graphQLRequests(path string, qs []mixQuery) []loadkit.WrkRequest {
	out := make([]loadkit.WrkRequest, len(qs))
	for i, q := range qs {
		out[i] = loadkit.WrkRequest{Method: http.MethodPost, Path: path, Key: q.Key, Body: q.Body}
	}
	return out
}

// restMix turns a sequence of queries into the sequence of their recorded
// REST GETs, in order, over a list of the distinct GETs; getsPerQuery is
// the mean number of GETs a query of the sequence needs.
func restMix(qs []mixQuery, seq []int) (reqs []loadkit.WrkRequest, restSeq []int, getsPerQuery float64) {
	index := map[string]int{}
	for _, i := range seq {
		q := qs[i]
		for _, path := range q.REST {
			k := q.Key + "\x00" + path
			j, ok := index[k]
			if !ok {
				j = len(reqs)
				index[k] = j
				reqs = append(reqs, loadkit.WrkRequest{Method: http.MethodGet, Path: path, Key: q.Key})
			}
			restSeq = append(restSeq, j)
		}
	}
	if len(seq) > 0 {
		getsPerQuery = float64(len(restSeq)) / float64(len(seq))
	}
	return reqs, restSeq, getsPerQuery
}
