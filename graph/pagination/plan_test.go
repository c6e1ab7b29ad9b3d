package pagination

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sim is an upstream that follows the contract's paging rules over the
// items 0..n-1: skip/limit, and next/previous cursors that belong to one
// sort direction (a cursor of the forward order used with the reversed sort
// is refused, as a real upstream would not find it).
type sim struct {
	n     int
	calls []Plan
}

func token(reversed bool, item int) string {
	if reversed {
		return fmt.Sprintf("r%023d", item)
	}
	return fmt.Sprintf("f%023d", item)
}

func (s *sim) itemOf(reversed bool, tok string) (int, error) {
	want := "f"
	if reversed {
		want = "r"
	}
	if len(tok) != 24 || tok[:1] != want {
		return 0, fmt.Errorf("cursor %q does not belong to this sort", tok)
	}
	return strconv.Atoi(tok[1:])
}

// fetch answers p; items come back in the plan's sort order.
func (s *sim) fetch(p Plan) ([]int, Fetched, error) {
	s.calls = append(s.calls, p)
	if p.Skip != 0 && (p.Next != "" || p.Previous != "") {
		return nil, Fetched{}, errors.New("skip with a cursor")
	}
	if p.Limit < 1 || p.Limit > MaxPageSize {
		return nil, Fetched{}, fmt.Errorf("limit %d out of range", p.Limit)
	}
	order := make([]int, s.n)
	for i := range order {
		order[i] = i
	}
	if p.Reverse {
		slices.Reverse(order)
	}
	from := p.Skip
	switch {
	case p.Next != "":
		it, err := s.itemOf(p.Reverse, p.Next)
		if err != nil {
			return nil, Fetched{}, err
		}
		from = slices.Index(order, it) + 1
	case p.Previous != "":
		it, err := s.itemOf(p.Reverse, p.Previous)
		if err != nil {
			return nil, Fetched{}, err
		}
		from = max(slices.Index(order, it)-p.Limit, 0)
		if to := slices.Index(order, it); from+p.Limit > to {
			order = order[:to]
		}
	}
	from = min(from, len(order))
	to := min(from+p.Limit, len(order))
	page := slices.Clone(order[from:to])
	f := Fetched{Items: len(page), Total: s.n}
	if len(page) > 0 && to < len(order) {
		f.NextCursor = token(p.Reverse, page[len(page)-1])
	}
	if len(page) > 0 && from > 0 {
		f.PreviousCursor = token(p.Reverse, page[0])
	}
	return page, f, nil
}

type edge struct {
	item   int
	cursor string
}

type result struct {
	edges                []edge
	hasNext, hasPrevious bool
	total                int
}

func (r result) items() []int {
	out := make([]int, len(r.edges))
	for i, e := range r.edges {
		out[i] = e.item
	}
	return out
}

// query runs one connection query against the sim the way the resolver
// does: decode cursors, plan, fetch, reverse, place, encode cursors.
func (s *sim) query(t *testing.T, first, last *int, after, before string) result {
	t.Helper()
	q := QueryKey("", "_id:asc")
	var a Args
	a.First, a.Last = first, last
	for _, c := range []struct {
		s   string
		dst **Cursor
	}{{after, &a.After}, {before, &a.Before}} {
		if c.s == "" {
			continue
		}
		cur, err := Decode(c.s, q)
		if err != nil {
			t.Fatalf("decode %q: %v", c.s, err)
		}
		*c.dst = &cur
	}
	p, err := NewPlan(a)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	page, f, err := s.fetch(p)
	if err != nil {
		t.Fatalf("fetch %+v: %v", p, err)
	}
	if p.Reverse {
		slices.Reverse(page)
	}
	w := p.Place(q, f)
	r := result{hasNext: w.HasNextPage, hasPrevious: w.HasPreviousPage, total: w.Total}
	for i, item := range page[w.From:w.To] {
		r.edges = append(r.edges, edge{item: item, cursor: w.Cursor(i).Encode()})
	}
	return r
}

func span(from, to int) []int {
	out := []int{}
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestWalksVisitEveryItemOnceInOrder(t *testing.T) {
	for _, n := range []int{0, 1, 5, 25, 26, 101} {
		for _, k := range []int{1, 2, 7, 25, 100} {
			t.Run(fmt.Sprintf("forward over %d items in pages of %d", n, k), func(t *testing.T) {
				s := &sim{n: n}
				var seen []int
				after := ""
				for page := 0; ; page++ {
					r := s.query(t, &k, nil, after, "")
					seen = append(seen, r.items()...)
					if r.hasPrevious != (page > 0 && n > 0) {
						t.Fatalf("page %d: hasPreviousPage = %v", page, r.hasPrevious)
					}
					if r.total != n {
						t.Fatalf("total = %d, want %d", r.total, n)
					}
					if page > 0 && (s.calls[len(s.calls)-1].Next == "" || s.calls[len(s.calls)-1].Skip != 0) {
						t.Fatalf("page %d continued with %+v, want next= and no skip", page, s.calls[len(s.calls)-1])
					}
					if !r.hasNext {
						break
					}
					if len(r.edges) == 0 || page > n {
						t.Fatalf("hasNextPage on an empty or runaway page %d", page)
					}
					after = r.edges[len(r.edges)-1].cursor
				}
				if !slices.Equal(seen, span(0, n)) {
					t.Fatalf("walk saw %v, want 0..%d", seen, n-1)
				}
			})
			t.Run(fmt.Sprintf("backward over %d items in pages of %d", n, k), func(t *testing.T) {
				s := &sim{n: n}
				var seen []int
				before := ""
				for page := 0; ; page++ {
					r := s.query(t, nil, &k, "", before)
					seen = append(r.items(), seen...)
					if r.hasNext != (page > 0 && n > 0) {
						t.Fatalf("page %d: hasNextPage = %v", page, r.hasNext)
					}
					if page > 0 {
						c := s.calls[len(s.calls)-1]
						if c.Next == "" || !c.Reverse || c.Skip != 0 {
							t.Fatalf("page %d continued with %+v, want the reversed sort's next= and no skip", page, c)
						}
					}
					if !r.hasPrevious {
						break
					}
					if len(r.edges) == 0 || page > n {
						t.Fatalf("hasPreviousPage on an empty or runaway page %d", page)
					}
					before = r.edges[0].cursor
				}
				if !slices.Equal(seen, span(0, n)) {
					t.Fatalf("walk saw %v, want 0..%d", seen, n-1)
				}
			})
		}
	}
}

func TestTurningAroundReturnsTheNeighbouringPage(t *testing.T) {
	const n, k = 60, 10
	kk := k
	t.Run("back from the third forward page uses previous= and gives the second", func(t *testing.T) {
		s := &sim{n: n}
		p1 := s.query(t, &kk, nil, "", "")
		p2 := s.query(t, &kk, nil, p1.edges[k-1].cursor, "")
		p3 := s.query(t, &kk, nil, p2.edges[k-1].cursor, "")
		back := s.query(t, nil, &kk, "", p3.edges[0].cursor)
		if !slices.Equal(back.items(), span(10, 20)) {
			t.Fatalf("got %v, want 10..19", back.items())
		}
		if c := s.calls[len(s.calls)-1]; c.Previous == "" || c.Reverse {
			t.Fatalf("went back with %+v, want the forward sort's previous=", c)
		}
		if !back.hasNext || !back.hasPrevious {
			t.Fatalf("middle page: hasNext=%v hasPrevious=%v", back.hasNext, back.hasPrevious)
		}
	})
	t.Run("forward from the last page of a backward walk gives what follows", func(t *testing.T) {
		s := &sim{n: n}
		end := s.query(t, nil, &kk, "", "")
		prev := s.query(t, nil, &kk, "", end.edges[0].cursor)
		fwd := s.query(t, &kk, nil, prev.edges[k-1].cursor, "")
		if !slices.Equal(fwd.items(), span(50, 60)) {
			t.Fatalf("got %v, want 50..59", fwd.items())
		}
		if fwd.hasNext || !fwd.hasPrevious {
			t.Fatalf("last page: hasNext=%v hasPrevious=%v", fwd.hasNext, fwd.hasPrevious)
		}
	})
}

func TestEveryEdgeCursorContinuesNextToItsEdge(t *testing.T) {
	const n = 40
	k, small := 10, 3
	s := &sim{n: n}
	p1 := s.query(t, &k, nil, "", "")
	p2 := s.query(t, &k, nil, p1.edges[k-1].cursor, "")
	pages := []result{p1, p2, s.query(t, nil, &k, "", "")}
	for _, page := range pages {
		for _, e := range page.edges {
			t.Run(fmt.Sprintf("after item %d", e.item), func(t *testing.T) {
				r := s.query(t, &small, nil, e.cursor, "")
				if want := span(e.item+1, min(e.item+1+small, n)); !slices.Equal(r.items(), want) {
					t.Fatalf("got %v, want %v", r.items(), want)
				}
			})
			t.Run(fmt.Sprintf("before item %d", e.item), func(t *testing.T) {
				r := s.query(t, nil, &small, "", e.cursor)
				if want := span(max(e.item-small, 0), e.item); !slices.Equal(r.items(), want) {
					t.Fatalf("got %v, want %v", r.items(), want)
				}
			})
		}
	}
}

func TestWindowsBetweenTwoCursors(t *testing.T) {
	const n = 30
	all := 30
	s := &sim{n: n}
	full := s.query(t, &all, nil, "", "")
	cur := func(i int) string { return full.edges[i].cursor }
	two, hundred := 2, 100
	cases := []struct {
		name        string
		first, last *int
		after       int
		before      int
		want        []int
	}{
		{"first 2 between items 5 and 20 are 6 and 7", &two, nil, 5, 20, []int{6, 7}},
		{"last 2 between items 5 and 20 are 18 and 19", nil, &two, 5, 20, []int{18, 19}},
		{"first 100 between items 5 and 9 are 6..8", &hundred, nil, 5, 9, []int{6, 7, 8}},
		{"last 100 between items 5 and 9 are 6..8", nil, &hundred, 5, 9, []int{6, 7, 8}},
		{"nothing lies between adjacent items", &two, nil, 5, 6, []int{}},
		{"nothing lies between crossed cursors", &two, nil, 9, 5, []int{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.query(t, tc.first, tc.last, cur(tc.after), cur(tc.before))
			if got := r.items(); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if r.total != n {
				t.Fatalf("total %d", r.total)
			}
		})
	}
	t.Run("last 5 after item 27 are the final 2", func(t *testing.T) {
		five := 5
		r := s.query(t, nil, &five, cur(27), "")
		if !slices.Equal(r.items(), []int{28, 29}) {
			t.Fatalf("got %v", r.items())
		}
		if r.hasNext || !r.hasPrevious {
			t.Fatalf("hasNext=%v hasPrevious=%v", r.hasNext, r.hasPrevious)
		}
	})
}

func TestEmptyPagesStillReportTheirPosition(t *testing.T) {
	zero := 0
	s := &sim{n: 12}
	cases := []struct {
		name              string
		first, last       *int
		hasNext, hasPrevi bool
	}{
		{"first 0 from the start has items after it", &zero, nil, true, false},
		{"last 0 from the end has items before it", nil, &zero, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.query(t, tc.first, tc.last, "", "")
			if len(r.edges) != 0 || r.total != 12 || r.hasNext != tc.hasNext || r.hasPrevious != tc.hasPrevi {
				t.Fatalf("got %+v", r)
			}
			if c := s.calls[len(s.calls)-1]; !c.Probe || c.Limit != 1 {
				t.Fatalf("an empty page should only probe the total, planned %+v", c)
			}
		})
	}
}

func TestNewPlanRefusesBadArguments(t *testing.T) {
	ptr := func(v int) *int { return &v }
	cases := []struct {
		name     string
		args     Args
		wantArg  string
		contains string
	}{
		{"first and last together", Args{First: ptr(1), Last: ptr(1)}, "first", "together"},
		{"a negative first", Args{First: ptr(-1)}, "first", "between 0 and 100"},
		{"first over the limit", Args{First: ptr(101)}, "first", "between 0 and 100"},
		{"a negative last", Args{Last: ptr(-5)}, "last", "between 0 and 100"},
		{"last over the limit", Args{Last: ptr(1000)}, "last", "between 0 and 100"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPlan(tc.args)
			var ae *ArgumentError
			if !errors.As(err, &ae) || ae.Arg != tc.wantArg || !strings.Contains(ae.Msg, tc.contains) {
				t.Fatalf("NewPlan(%+v) = %v, want an ArgumentError on %s mentioning %q", tc.args, err, tc.wantArg, tc.contains)
			}
		})
	}
	t.Run("no size means a page of 25 from the start", func(t *testing.T) {
		p, err := NewPlan(Args{})
		if err != nil || p.Limit != DefaultPageSize || p.Skip != 0 || p.Reverse {
			t.Fatalf("got %+v, %v", p, err)
		}
	})
	t.Run("before alone means the 25 items before it", func(t *testing.T) {
		p, err := NewPlan(Args{Before: &Cursor{Offset: 100}})
		if err != nil || p.Limit != DefaultPageSize || p.Skip != 75 {
			t.Fatalf("got %+v, %v", p, err)
		}
	})
}
