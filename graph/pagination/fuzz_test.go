package pagination

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// maxOffset is the largest offset Decode accepts.
const maxOffset = 1 << 40

// fuzzQuery is the key every FuzzDecode input is decoded against: the
// unfiltered default order, as the resolver computes it.
var fuzzQuery = QueryKey("", "_id:asc")

// FuzzDecode checks that any client string is either refused with one of
// the two documented errors or decodes to a cursor that survives a round
// trip through Encode.
func FuzzDecode(f *testing.F) {
	q := fuzzQuery
	tok := "0123456789abcdef01234567" // the upstream's 24-character tokens
	for _, c := range []Cursor{
		{Query: q},
		{Query: q, Offset: 24},
		{Query: q, Offset: maxOffset},
		{Query: q, Offset: 99, Forward: tok},
		{Query: q, Offset: 5, Backward: tok},
		{Query: q, Offset: 7, Reversed: true, Forward: tok, Backward: strings.Repeat("b", maxTokenLen)},
		{Query: q, Offset: 3, Reversed: true},
		{Query: QueryKey("zoë", "name:desc,_id:asc"), Offset: 1},
	} {
		f.Add(c.Encode())
	}
	for _, s := range []string{
		"",
		"hello world",
		"AAAA",
		"====",
		"!!not-base64!!",
		strings.Repeat("A", maxEncodedLen),
		strings.Repeat("A", maxEncodedLen+1),
		strings.Repeat("_-", 4096),
		base64.RawURLEncoding.EncodeToString([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0}),
		base64.RawURLEncoding.EncodeToString([]byte("\x8f\x01\xe2\x93\x00\xfa\x11\x7c\x42\x99\x03\x00\x00\xde\xad\xbe\xef")),
		base64.StdEncoding.EncodeToString([]byte("\x01\x07\x00\x00\x00\x00\x00\x00\x00\x00\x05\x01")),
		"AQEAAAAAAAAAAAEA\nAAAA",
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, s string) {
		c, err := Decode(s, q)
		if err != nil {
			if !errors.Is(err, ErrInvalidCursor) && !errors.Is(err, ErrForeignCursor) {
				t.Fatalf("Decode(%q): undocumented error %v", s, err)
			}
			return
		}
		if c.Offset < 0 || c.Offset > maxOffset {
			t.Fatalf("Decode(%q): offset %d out of [0, %d]", s, c.Offset, maxOffset)
		}
		if c.Query != q {
			t.Fatalf("Decode(%q): query %x, want %x", s, c.Query, q)
		}
		if len(c.Forward) > maxTokenLen || len(c.Backward) > maxTokenLen {
			t.Fatalf("Decode(%q): token longer than %d: %+v", s, maxTokenLen, c)
		}
		enc := c.Encode()
		back, err := Decode(enc, q)
		if err != nil {
			t.Fatalf("Decode(%q) = %+v, whose encoding %q does not decode: %v", s, c, enc, err)
		}
		if back != c {
			t.Fatalf("round trip of %q: %+v became %+v", s, c, back)
		}
		if again := back.Encode(); again != enc {
			t.Fatalf("Encode is not deterministic for %+v: %q then %q", c, enc, again)
		}
		if _, err := Decode(s, q^1); !errors.Is(err, ErrForeignCursor) {
			t.Fatalf("Decode(%q) with another query = %v, want %v", s, err, ErrForeignCursor)
		}
	})
}

// FuzzPlan checks NewPlan and Place over every combination of paging
// arguments, with cursors in the range Decode can produce and any upstream
// answer that fits the plan's limit.
func FuzzPlan(f *testing.F) {
	type seed struct {
		first, last                          int
		hasFirst, hasLast, hasAfter, hasBefr bool
		afterOff, beforeOff                  int
		afterTok, beforeTok                  bool
		afterRev, beforeRev                  bool
		total, items                         int
	}
	for _, s := range []seed{
		{},
		{first: 10, hasFirst: true, total: 300, items: 10},
		{first: 0, hasFirst: true, total: 5},
		{last: 0, hasLast: true, total: 5},
		{first: 100, hasFirst: true, hasAfter: true, afterOff: 24, afterTok: true, total: 300, items: 100},
		{first: 25, hasFirst: true, hasAfter: true, afterOff: 24, afterTok: true, afterRev: true, total: 300, items: 25},
		{last: 5, hasLast: true, total: 3, items: 3},
		{last: 10, hasLast: true, hasBefr: true, beforeOff: 40, beforeTok: true, total: 300, items: 10},
		{last: 10, hasLast: true, hasBefr: true, beforeOff: 40, beforeTok: true, beforeRev: true, total: 300, items: 10},
		{last: 10, hasLast: true, hasAfter: true, afterOff: 30, hasBefr: true, beforeOff: 35, total: 300, items: 4},
		{first: 10, hasFirst: true, hasAfter: true, afterOff: 50, hasBefr: true, beforeOff: 20, total: 300},
		{hasBefr: true, beforeOff: 3, beforeTok: true, total: 10, items: 3},
		{first: 101, hasFirst: true},
		{last: -1, hasLast: true},
		{first: 1, last: 1, hasFirst: true, hasLast: true},
		{first: -1 << 63, hasFirst: true},
		{hasAfter: true, afterOff: maxOffset, first: 100, hasFirst: true, total: 1, items: 0},
		{hasBefr: true, beforeOff: maxOffset, last: 100, hasLast: true, total: 1 << 41, items: 100},
	} {
		f.Add(s.first, s.last, s.hasFirst, s.hasLast, s.hasAfter, s.hasBefr, s.afterOff, s.beforeOff,
			s.afterTok, s.beforeTok, s.afterRev, s.beforeRev, s.total, s.items)
	}

	q := fuzzQuery
	f.Fuzz(func(t *testing.T, first, last int, hasFirst, hasLast, hasAfter, hasBefore bool,
		afterOff, beforeOff int, afterTok, beforeTok, afterRev, beforeRev bool, total, items int) {
		var a Args
		if hasFirst {
			a.First = &first
		}
		if hasLast {
			a.Last = &last
		}
		if hasAfter {
			a.After = fuzzCursor(t, q, afterOff, afterTok, afterRev, "after-token-000000000000")
		}
		if hasBefore {
			a.Before = fuzzCursor(t, q, beforeOff, beforeTok, beforeRev, "before-token-00000000000")
		}
		p, err := NewPlan(a)

		outOfRange := func(n int) bool { return n < 0 || n > MaxPageSize }
		invalid := (hasFirst && hasLast) || (hasFirst && outOfRange(first)) || (hasLast && outOfRange(last))
		if err != nil {
			var ae *ArgumentError
			if !errors.As(err, &ae) {
				t.Fatalf("NewPlan(%s): error %v is not an *ArgumentError", describe(a), err)
			}
			if !invalid {
				t.Fatalf("NewPlan(%s) refused valid arguments: %v", describe(a), err)
			}
			return
		}
		if invalid {
			t.Fatalf("NewPlan(%s) accepted invalid arguments: %+v", describe(a), p)
		}
		if p.Limit < 1 || p.Limit > MaxPageSize {
			t.Fatalf("NewPlan(%s): Limit %d out of [1, %d]", describe(a), p.Limit, MaxPageSize)
		}
		if p.Skip < 0 {
			t.Fatalf("NewPlan(%s): Skip %d < 0", describe(a), p.Skip)
		}
		if p.Skip != 0 && (p.Next != "" || p.Previous != "") {
			t.Fatalf("NewPlan(%s): Skip %d set together with Next %q / Previous %q", describe(a), p.Skip, p.Next, p.Previous)
		}
		if p.Next != "" && p.Previous != "" {
			t.Fatalf("NewPlan(%s): both Next and Previous set", describe(a))
		}
		if p.Probe && p.Limit != 1 {
			t.Fatalf("NewPlan(%s): probe with Limit %d", describe(a), p.Limit)
		}

		requested := DefaultPageSize
		switch {
		case hasFirst:
			requested = first
		case hasLast:
			requested = last
		}
		fetched := Fetched{
			Items:          int(uint64(items) % uint64(p.Limit+1)),
			Total:          int(uint64(total) % (maxOffset * 2)),
			NextCursor:     "next-token-0000000000000",
			PreviousCursor: "prev-token-0000000000000",
		}
		w := p.Place(q, fetched)
		if w.From < 0 || w.From > w.To || w.To > fetched.Items {
			t.Fatalf("Place(%s, %+v) with plan %+v: window [%d, %d) outside [0, %d]", describe(a), fetched, p, w.From, w.To, fetched.Items)
		}
		if w.Offset < 0 {
			t.Fatalf("Place(%s, %+v) with plan %+v: offset %d", describe(a), fetched, p, w.Offset)
		}
		if w.Len() > requested {
			t.Fatalf("Place(%s, %+v) with plan %+v: %d edges, %d requested", describe(a), fetched, p, w.Len(), requested)
		}
		if w.Total != fetched.Total {
			t.Fatalf("Place: total %d, fetched %d", w.Total, fetched.Total)
		}
		for i := range w.Len() {
			c := w.Cursor(i)
			if c.Query != q || c.Offset != w.Offset+i || c.Reversed != p.Reverse {
				t.Fatalf("Place(%s, %+v): cursor %d is %+v (window %+v)", describe(a), fetched, i, c, w)
			}
		}
	})
}

// fuzzCursor builds a cursor the way a client can present one: within the
// offsets Decode admits, and passed through Encode and Decode.
func fuzzCursor(t *testing.T, q uint64, off int, tok, rev bool, token string) *Cursor {
	t.Helper()
	c := Cursor{Query: q, Offset: int(uint64(off) % (maxOffset + 1)), Reversed: rev}
	if tok {
		// A cursor holds the token that continues past it in one direction;
		// which one depends on the page it came from, so set both.
		c.Forward, c.Backward = token, token
	}
	d, err := Decode(c.Encode(), q)
	if err != nil || d != c {
		t.Fatalf("cursor %+v does not round-trip: %+v, %v", c, d, err)
	}
	return &d
}

func describe(a Args) string {
	var b strings.Builder
	b.WriteString("{")
	if a.First != nil {
		b.WriteString(" first:" + strconv.Itoa(*a.First))
	}
	if a.Last != nil {
		b.WriteString(" last:" + strconv.Itoa(*a.Last))
	}
	if a.After != nil {
		b.WriteString(" after:" + describeCursor(*a.After))
	}
	if a.Before != nil {
		b.WriteString(" before:" + describeCursor(*a.Before))
	}
	b.WriteString(" }")
	return b.String()
}

func describeCursor(c Cursor) string {
	s := "@" + strconv.Itoa(c.Offset)
	if c.Reversed {
		s += "/rev"
	}
	if c.Forward != "" || c.Backward != "" {
		s += "/tok"
	}
	return s
}
