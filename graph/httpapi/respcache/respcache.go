// Package respcache keeps whole GraphQL answers for a short time, so that a
// query repeated by the same caller within the cache's TTL is answered
// without executing it again: no parsing, no resolvers, no upstream call.
//
// It holds bytes, bounded in total and per answer, evicted least recently
// used first. An answer is kept only when its request was seen before (a
// doorkeeper, as in TinyLFU): traffic of distinct queries, which no cache
// can serve, then costs neither the copy of every answer nor memory held
// for answers never asked for again. Keys are opaque: the caller builds them (graph keys them by a
// keyed hash of the credential and the request), so two callers never share
// an entry.
package respcache

import (
	"container/list"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// Key identifies one cached answer.
type Key [32]byte

// Entry is one cached answer: what the transport wrote, and for the
// metrics the operation's name.
type Entry struct {
	Status      int
	ContentType string
	Body        []byte
	Operation   string
	Expires     time.Time
}

func (e *Entry) size() int64 { return int64(len(e.Body)+len(e.ContentType)+len(e.Operation)) + 128 }

// Cache is safe for concurrent use. Entries it returns are shared and must
// not be modified.
type Cache struct {
	maxBytes, maxEntry int64
	now                func() time.Time

	mu    sync.Mutex
	order *list.List // of *item, most recently used first
	items map[Key]*list.Element
	bytes int64

	// seen remembers the keys of recent requests, one 64-bit fingerprint
	// per slot chosen by the key (direct-mapped: a newer key in the same
	// slot forgets the older one). 256 KiB remember the last tens of
	// thousands of distinct requests.
	seen *[doorSlots]atomic.Uint64
}

const doorSlots = 1 << 15

type item struct {
	key Key
	e   *Entry
}

// New returns a cache of at most maxBytes in all, keeping no answer larger
// than maxEntry bytes.
func New(maxBytes, maxEntry int64) *Cache {
	return &Cache{maxBytes: maxBytes, maxEntry: min(maxEntry, maxBytes), now: time.Now, order: list.New(), items: map[Key]*list.Element{},
		seen: new([doorSlots]atomic.Uint64)}
}

// SeenBefore records k as seen and reports whether it had been seen
// recently: only then is its answer worth keeping.
func (c *Cache) SeenBefore(k Key) bool {
	fp := binary.LittleEndian.Uint64(k[:8]) | 1 // never 0, the empty slot
	slot := &c.seen[binary.LittleEndian.Uint64(k[8:16])%doorSlots]
	return slot.Swap(fp) == fp
}

// Get returns the answer under k while it has not expired.
func (c *Cache) Get(k Key) (*Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	it := el.Value.(*item)
	if !c.now().Before(it.e.Expires) {
		c.remove(el)
		return nil, false
	}
	c.order.MoveToFront(el)
	return it.e, true
}

// Add keeps e under k until e.Expires, evicting the least recently used
// answers to stay within the budget. An answer larger than the per-answer
// bound, or already expired, is not kept. It reports whether e was kept.
func (c *Cache) Add(k Key, e *Entry) bool {
	size := e.size()
	if size > c.maxEntry || !c.now().Before(e.Expires) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.remove(el)
	}
	for c.bytes+size > c.maxBytes {
		c.remove(c.order.Back())
	}
	c.items[k] = c.order.PushFront(&item{key: k, e: e})
	c.bytes += size
	return true
}

// Len is the number of answers held, expired ones included until they are
// asked for or evicted.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// Bytes is the budget the held answers use.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

func (c *Cache) remove(el *list.Element) {
	it := c.order.Remove(el).(*item)
	delete(c.items, it.key)
	c.bytes -= it.e.size()
}
