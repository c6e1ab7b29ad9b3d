package pagination

import (
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	q := QueryKey("ann", "name:asc,_id:asc")
	cases := []struct {
		name string
		c    Cursor
	}{
		{"a bare offset survives", Cursor{Query: q, Offset: 0}},
		{"a large offset survives", Cursor{Query: q, Offset: 1 << 30}},
		{"a forward token survives", Cursor{Query: q, Offset: 24, Forward: "abcdefabcdefabcdefabcdef"}},
		{"both tokens and the reversed flag survive", Cursor{Query: q, Offset: 7, Reversed: true, Forward: "aaaaaaaaaaaaaaaaaaaaaaaa", Backward: "bbbbbbbbbbbbbbbbbbbbbbbb"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.c.Encode()
			if strings.ContainsAny(s, "+/=") {
				t.Fatalf("cursor %q is not unpadded base64url", s)
			}
			got, err := Decode(s, q)
			if err != nil {
				t.Fatalf("Decode(%q): %v", s, err)
			}
			if got != tc.c {
				t.Fatalf("round trip: got %+v, want %+v", got, tc.c)
			}
		})
	}
}

func TestDecodeRefusesWhatItDidNotIssue(t *testing.T) {
	q := QueryKey("", "_id:asc")
	valid := Cursor{Query: q, Offset: 42, Forward: "abcdefabcdefabcdefabcdef"}.Encode()
	flipped := []byte(valid)
	if mid := len(flipped) / 2; flipped[mid] == 'A' {
		flipped[mid] = 'B'
	} else {
		flipped[mid] = 'A'
	}
	cases := []struct {
		name string
		s    string
		want error
	}{
		{"an empty string is invalid", "", ErrInvalidCursor},
		{"plain text is invalid", "hello world", ErrInvalidCursor},
		{"standard base64 padding is invalid", valid + "==", ErrInvalidCursor},
		{"a truncated cursor is invalid", valid[:len(valid)-3], ErrInvalidCursor},
		{"a cursor with one changed character is invalid", string(flipped), ErrInvalidCursor},
		{"an over-long cursor is invalid", strings.Repeat("A", 300), ErrInvalidCursor},
		{"another query's cursor is foreign", Cursor{Query: QueryKey("x", "_id:asc"), Offset: 1}.Encode(), ErrForeignCursor},
		{"another order's cursor is foreign", Cursor{Query: QueryKey("", "_id:desc"), Offset: 1}.Encode(), ErrForeignCursor},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.s, q)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode(%q) = %v, want %v", tc.s, err, tc.want)
			}
		})
	}
}

func TestQueryKeySeparatesFilterFromSort(t *testing.T) {
	if QueryKey("a", "b") == QueryKey("ab", "") {
		t.Fatal("filter and sort run together into one key")
	}
	if first, again := QueryKey("a", "name:asc,_id:asc"), QueryKey("a", "name:asc,_id:asc"); first != again {
		t.Fatal("QueryKey is not deterministic")
	}
}

func BenchmarkCursorEncode(b *testing.B) {
	c := Cursor{Query: QueryKey("", "_id:asc"), Offset: 1234, Forward: "abcdefabcdefabcdefabcdef"}
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Encode()
	}
}

func BenchmarkCursorDecode(b *testing.B) {
	q := QueryKey("", "_id:asc")
	s := Cursor{Query: q, Offset: 1234, Forward: "abcdefabcdefabcdefabcdef"}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(s, q); err != nil {
			b.Fatal(err)
		}
	}
}

// TestChecksumIsCRC32IEEE: the cursor's own checksum loop computes what
// hash/crc32 does, for every length up to well past a cursor's.
func TestChecksumIsCRC32IEEE(t *testing.T) {
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	for n := range len(b) + 1 {
		if got, want := checksum(b[:n]), crc32.ChecksumIEEE(b[:n]); got != want {
			t.Fatalf("%d bytes: %08x, want %08x", n, got, want)
		}
	}
}
