package httpapi

import (
	"container/list"
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Defaults of the two caches of documents, in bytes: automatic persisted
// queries (hash → text) and parsed, validated documents. An entry-count
// bound would let a thousand documents of the body limit hold a gigabyte.
const (
	DefaultPersistedQueryBytes = 4 << 20
	DefaultDocumentCacheBytes  = 8 << 20
)

// cacheEntryOverhead is what an entry costs besides its key and value: the
// list element, the map slot and their headers.
const cacheEntryOverhead = 160

// documentBytesPerQueryByte is what a parsed document holds per byte of
// its text (positions, names, selection sets, the validated definitions it
// points to), measured by TestDocumentsAreChargedWhatTheyHold.
const documentBytesPerQueryByte = 20

// sizedLRU is a cache bounded in bytes: each entry is charged size(key,
// value), and the least recently used entries go first. An entry larger
// than the whole bound is not kept.
type sizedLRU[T any] struct {
	mu       sync.Mutex
	maxBytes int64
	used     int64
	size     func(key string, v T) int64
	order    *list.List // front: most recently used
	items    map[string]*list.Element
}

type sizedEntry[T any] struct {
	key  string
	v    T
	size int64
}

func newSizedLRU[T any](maxBytes int64, size func(string, T) int64) *sizedLRU[T] {
	return &sizedLRU[T]{maxBytes: maxBytes, size: size, order: list.New(), items: map[string]*list.Element{}}
}

var (
	_ graphql.Cache[string]             = (*sizedLRU[string])(nil)
	_ graphql.Cache[*ast.QueryDocument] = (*sizedLRU[*ast.QueryDocument])(nil)
)

// Get implements graphql.Cache.
func (c *sizedLRU[T]) Get(_ context.Context, key string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*sizedEntry[T]).v, true
	}
	var zero T
	return zero, false
}

// Add implements graphql.Cache.
func (c *sizedLRU[T]) Add(_ context.Context, key string, v T) {
	n := c.size(key, v) + cacheEntryOverhead
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.remove(e)
	}
	if n > c.maxBytes {
		return
	}
	for c.used+n > c.maxBytes {
		c.remove(c.order.Back())
	}
	c.items[key] = c.order.PushFront(&sizedEntry[T]{key: key, v: v, size: n})
	c.used += n
}

func (c *sizedLRU[T]) remove(e *list.Element) {
	en := e.Value.(*sizedEntry[T])
	c.order.Remove(e)
	delete(c.items, en.key)
	c.used -= en.size
}

// NewPersistedQueryCache returns an in-memory store of automatic persisted
// queries (hash → text) bounded in bytes, charged by what it holds.
func NewPersistedQueryCache(maxBytes int64) graphql.Cache[string] {
	return newSizedLRU(maxBytes, func(k, v string) int64 { return int64(len(k) + len(v)) })
}

// newDocumentCache keeps parsed, validated documents by their text.
func newDocumentCache(maxBytes int64) *sizedLRU[*ast.QueryDocument] {
	return newSizedLRU(maxBytes, func(k string, _ *ast.QueryDocument) int64 {
		return int64(len(k)) * (1 + documentBytesPerQueryByte)
	})
}
