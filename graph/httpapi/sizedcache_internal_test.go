package httpapi

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/usersgraph/usersgraph/graph/generated"
)

// The cache keeps what fits in its bytes, the least recently used going
// first, and never an entry larger than all of it.
func TestSizedLRUEvictsByBytesLeastRecentlyUsedFirst(t *testing.T) {
	ctx := context.Background()
	c := newSizedLRU(3*(100+cacheEntryOverhead), func(_ string, v string) int64 { return int64(len(v)) })
	v := strings.Repeat("x", 100)
	c.Add(ctx, "a", v)
	c.Add(ctx, "b", v)
	c.Add(ctx, "c", v)
	if _, ok := c.Get(ctx, "a"); !ok { // a is now the most recently used
		t.Fatal("a was not kept")
	}
	c.Add(ctx, "d", v)
	if _, ok := c.Get(ctx, "b"); ok {
		t.Error("b, the least recently used, was kept past the bound")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.Get(ctx, k); !ok {
			t.Errorf("%s was evicted", k)
		}
	}
	c.Add(ctx, "huge", strings.Repeat("x", 1000))
	if _, ok := c.Get(ctx, "huge"); ok {
		t.Error("an entry larger than the whole cache was kept")
	}
	if c.used > c.maxBytes {
		t.Errorf("%d bytes used, more than the bound of %d", c.used, c.maxBytes)
	}
	c.Add(ctx, "a", "short") // replacing an entry charges the new value only
	if want := int64(2*(100+cacheEntryOverhead) + 5 + cacheEntryOverhead); c.used != want {
		t.Errorf("%d bytes used after replacing a, want %d", c.used, want)
	}
}

// A parsed, validated document is charged about what it holds on the
// heap: within a factor of two of the measured bytes per byte of text, on
// the queries clients send (the introspection query, pages with fragments
// and references).
func TestDocumentsAreChargedWhatTheyHold(t *testing.T) {
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	introspection, err := os.ReadFile("testdata/hostile/standard-introspection.graphql")
	if err != nil {
		t.Fatal(err)
	}
	queries := []string{
		string(introspection),
		`query Page($after: String) { users(first: 25, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ...U createdBy { ...U } lastChangedBy { id name } } } } } fragment U on User { id name email lastActive createdAt lastChanged }`,
		`{ a: users(first: 10, filter: "ann") { nodes { id name } } b: users(last: 5, orderBy: [{field: NAME, direction: DESC}]) { edges { node { id } } } }`,
	}
	const copies = 200
	for _, q := range queries {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		docs := make([]*ast.QueryDocument, copies)
		for i := range docs {
			// A distinct text each time, as a cache would hold.
			text := q + fmt.Sprintf("\n# %d", i)
			doc, errs := gqlparser.LoadQueryWithRules(schema, text, nil)
			if errs != nil {
				t.Fatal(errs)
			}
			docs[i] = doc
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perByte := float64(after.HeapAlloc-before.HeapAlloc) / float64(copies*len(q))
		runtime.KeepAlive(docs)
		t.Logf("%d bytes of text: %.1f heap bytes per byte of text", len(q), perByte)
		if charged := float64(1 + documentBytesPerQueryByte); charged < perByte/2 || charged > perByte*2 {
			t.Errorf("%d bytes of text hold %.1f bytes each, charged %.0f: more than a factor of two apart", len(q), perByte, charged)
		}
	}
}
