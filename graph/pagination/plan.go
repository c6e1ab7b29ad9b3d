package pagination

import "fmt"

// Page sizes of the connection.
const (
	DefaultPageSize = 25
	MaxPageSize     = 100
)

// Args are a connection's paging arguments, cursors already decoded.
type Args struct {
	First, Last   *int
	After, Before *Cursor
}

// ArgumentError is a paging argument the client must change.
type ArgumentError struct {
	Arg string
	Msg string
}

func (e *ArgumentError) Error() string { return fmt.Sprintf("%s: %s", e.Arg, e.Msg) }

// Plan is the one upstream request that answers a connection query, and how
// to place what it returns.
type Plan struct {
	// Reverse means: ask with the reversed sort, then reverse the items.
	Reverse bool
	// Limit, Skip, Next and Previous are the upstream's paging parameters.
	// Skip is never set together with Next or Previous.
	Limit          int
	Skip           int
	Next, Previous string

	// Probe means no edge is wanted; the request only fetches the total.
	Probe bool

	// want is how many edges to keep; fromEnd keeps the last ones.
	want    int
	fromEnd bool
	// The fetched page is anchored at start (its first item's offset) or,
	// when anchorEnd, at end (one past its last item's offset); end < 0
	// means the end of the whole result, known from the total.
	anchorEnd  bool
	start, end int
	// lo is the smallest offset the window allows (after's offset + 1).
	lo int
}

// NewPlan validates args and chooses the upstream request.
func NewPlan(a Args) (Plan, error) {
	if a.First != nil && a.Last != nil {
		return Plan{}, &ArgumentError{Arg: "first", Msg: "first and last cannot be used together"}
	}
	for _, n := range []struct {
		name string
		v    *int
	}{{"first", a.First}, {"last", a.Last}} {
		if n.v != nil && (*n.v < 0 || *n.v > MaxPageSize) {
			return Plan{}, &ArgumentError{Arg: n.name, Msg: fmt.Sprintf("%s must be between 0 and %d, got %d", n.name, MaxPageSize, *n.v)}
		}
	}

	backward := a.Last != nil || (a.First == nil && a.Before != nil && a.After == nil)
	n := DefaultPageSize
	switch {
	case a.First != nil:
		n = *a.First
	case a.Last != nil:
		n = *a.Last
	}

	lo, hi := 0, -1 // hi < 0: no upper bound before the total is known
	if a.After != nil {
		lo = a.After.Offset + 1
	}
	if a.Before != nil {
		hi = max(a.Before.Offset, lo)
	}
	count := n
	if hi >= 0 {
		count = min(n, hi-lo)
	}
	p := Plan{want: count, fromEnd: backward, lo: lo}

	if count == 0 {
		// Nothing to fetch but the total, for totalCount and pageInfo.
		p.Probe, p.Limit = true, 1
		if backward {
			p.anchorEnd, p.end = true, hi
		} else {
			p.start = lo
		}
		return p, nil
	}

	if !backward {
		p.Limit, p.start = count, lo
		if a.After != nil && a.After.Forward != "" {
			p.Reverse = a.After.Reversed
			if p.Reverse {
				p.Previous = a.After.Forward
			} else {
				p.Next = a.After.Forward
			}
		} else {
			p.Skip = lo
		}
		return p, nil
	}

	p.anchorEnd = true
	switch {
	case hi < 0:
		// The final items: one request with the order reversed.
		p.Reverse, p.Limit, p.end = true, n, -1
	case a.Before.Backward != "":
		p.Reverse, p.Limit, p.end = a.Before.Reversed, count, hi
		if p.Reverse {
			p.Next = a.Before.Backward
		} else {
			p.Previous = a.Before.Backward
		}
	default:
		p.Limit, p.Skip, p.end = count, hi-count, hi
	}
	return p, nil
}

// Fetched is what the upstream answered, with Items counted after the plan's
// reversal (so in forward order).
type Fetched struct {
	Items          int
	Total          int
	NextCursor     string
	PreviousCursor string
}

// Window is the part of the fetched items that forms the connection's edges.
type Window struct {
	// From and To index the fetched, forward-ordered items: edges are [From, To).
	From, To int
	// Offset is the first edge's offset in the whole result.
	Offset int
	Total  int
	// HasNextPage and HasPreviousPage tell whether items exist after the last
	// edge and before the first one, in the whole result.
	HasNextPage, HasPreviousPage bool

	query    uint64
	reversed bool
	forward  string // upstream cursor after the last fetched item
	backward string // upstream cursor before the first fetched item
	fetched  int
}

// Place positions the fetched page in the whole result and trims it to the
// window the arguments asked for.
func (p Plan) Place(query uint64, f Fetched) Window {
	w := Window{Total: f.Total, query: query, reversed: p.Reverse, fetched: f.Items}
	if p.Reverse {
		// In the reversed order, "next" walks towards the start.
		w.forward, w.backward = f.PreviousCursor, f.NextCursor
	} else {
		w.forward, w.backward = f.NextCursor, f.PreviousCursor
	}
	n := f.Items
	if p.Probe {
		n = 0
	}
	start := p.start
	if p.anchorEnd {
		end := p.end
		if end < 0 {
			end = f.Total
		}
		start = end - n
	}
	w.From, w.To = 0, n
	if p.Probe {
		w.From, w.To = 0, 0
	}
	// Drop what lies before the window's lower bound (last with after).
	if start < p.lo && p.anchorEnd && !p.Probe {
		drop := min(p.lo-start, n)
		w.From += drop
		start += drop
	}
	if kept := w.To - w.From; kept > p.want {
		if p.fromEnd {
			w.From = w.To - p.want
			start += kept - p.want
		} else {
			w.To = w.From + p.want
		}
	}
	w.Offset = max(start, 0)
	w.HasPreviousPage = w.Offset > 0
	w.HasNextPage = w.Offset+(w.To-w.From) < f.Total
	return w
}

// Len is the number of edges.
func (w Window) Len() int { return w.To - w.From }

// Cursor returns the cursor of edge i (0 ≤ i < Len()). The first edge
// carries the upstream cursor that continues before it and the last edge the
// one that continues after it, when they are the fetched page's own ends.
func (w Window) Cursor(i int) Cursor {
	c := Cursor{Query: w.query, Offset: w.Offset + i, Reversed: w.reversed}
	if i == 0 && w.From == 0 {
		c.Backward = w.backward
	}
	if i == w.Len()-1 && w.To == w.fetched {
		c.Forward = w.forward
	}
	return c
}
