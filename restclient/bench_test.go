package restclient

import (
	"bytes"

	"fmt"
	"strconv"
	"strings"
	"testing"

	gojson "github.com/goccy/go-json"
)

// pageBody is a realistic page of n users as Cognigy sends it.
func pageBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"_id":"5cfbd4ef3f85ba6d9abc%04x","id":"user.%d@example.com","name":"Zoë Müller %d","lastActive":1700000000123,"createdAt":1694518620,"lastChanged":1694518999,"createdBy":"5cfbd4ef3f85ba6d9abc0000","lastChangedBy":"5cfbd4ef3f85ba6d9abc0001"}`, i, i, i)
	}
	b.WriteString(`],"total":300,"nextCursor":"abcdefabcdefabcdefabcdef","previousCursor":null}`)
	return []byte(b.String())
}

func BenchmarkDecodePage100(b *testing.B) {
	body := pageBody(100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var w wirePage
		if err := gojson.Unmarshal(body, &w); err != nil {
			b.Fatal(err)
		}
		if _, err := w.page(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCachedPages compares ways to hold the answer cache's pages: as
// decoded before (every page its own users), decoded with the users shared
// by _id (what the cache does), and as the raw bodies, decoded on every hit.
// heapB/page is the heap that 2,000 cached pages of 25 users (drawn from a
// directory of 2,000) hold, per page; ns/op and allocs/op are one hit.
func BenchmarkCachedPages(b *testing.B) {
	const pages, size = 2000, 25
	bodies := distinctPages(pages, size)
	// retained fills the pages and returns a report of the heap they hold,
	// to call after the loop (b.Loop's first call clears metrics).
	retained := func(b *testing.B, fill func(i int, body []byte)) (report func()) {
		before := heapInUse()
		for i, body := range bodies {
			fill(i, body)
		}
		perPage := float64(heapInUse()-before) / pages
		return func() { b.ReportMetric(perPage, "heapB/page") }
	}
	b.Run("decoded, each page its own users", func(b *testing.B) {
		held := make([]*UserPage, pages)
		report := retained(b, func(i int, body []byte) { held[i], _ = decodePage(body) })
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if held[i%pages].Total != 2000 {
				b.Fatal("wrong page")
			}
		}
		report()
	})
	b.Run("decoded, users shared by _id", func(b *testing.B) {
		c := testCache(1 << 30)
		report := retained(b, func(i int, body []byte) { c.put(b, strconv.Itoa(i), body) })
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if r, ok := c.lookup(strconv.Itoa(i % pages)); !ok || r.v.(*UserPage).Total != 2000 {
				b.Fatal("wrong page")
			}
		}
		report()
	})
	b.Run("raw bytes, decoded on use", func(b *testing.B) {
		held := make([][]byte, pages)
		report := retained(b, func(i int, body []byte) { held[i] = bytes.Clone(body) })
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p, err := decodePage(held[i%pages])
			if err != nil || p.Total != 2000 {
				b.Fatal("wrong page", err)
			}
		}
		report()
	})
}
