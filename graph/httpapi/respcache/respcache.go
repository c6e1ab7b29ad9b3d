// Package respcache keeps whole GraphQL answers for a short time, so that a
// query repeated by the same caller within the cache's TTL is answered
// without executing it again: no parsing, no resolvers, no upstream call.
//
// It holds bytes, bounded in total and per answer, evicted least recently
// used first. An answer is kept only when its request was seen before,
// within the TTL (a doorkeeper, as in TinyLFU): traffic of distinct
// queries, or of queries repeated less often than the TTL, which no cache
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

	// The header values of an entry made by the middleware, made once.
	contentType, contentLength []string
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

	// seen remembers the keys of recent requests, per slot chosen by the
	// key (direct-mapped: a newer key in the same slot forgets the older
	// one) a 48-bit fingerprint and when it was seen. 256 KiB remember the
	// last tens of thousands of distinct requests.
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

// SeenWithin records k as seen now and reports whether it had been seen
// less than d ago: only then is its answer worth keeping, as a request
// repeated later than the TTL would find its answer expired anyway.
func (c *Cache) SeenWithin(k Key, d time.Duration) bool {
	now := doorTicks(c.now())
	fp := binary.LittleEndian.Uint64(k[:8]) << 16 // 48 bits of fingerprint
	slot := &c.seen[binary.LittleEndian.Uint64(k[8:16])%doorSlots]
	old := slot.Swap(fp | now)
	if old&^0xffff != fp || old == 0 {
		return false
	}
	age := (now - old) & 0xffff // in ticks, modulo the 16 bits kept
	return time.Duration(age)*doorTick < d
}

// doorTick is the resolution of the times the doorkeeper keeps, 16 bits of
// them: ages up to 4.5 hours are told apart.
const doorTick = 250 * time.Millisecond

func doorTicks(t time.Time) uint64 { return uint64(t.UnixNano()/int64(doorTick)) & 0xffff }

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
	now := c.now()
	if size > c.maxEntry || !now.Before(e.Expires) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.remove(el)
	}
	// Expired answers at the cold end go first: they hold memory for
	// nothing.
	for el := c.order.Back(); el != nil && !now.Before(el.Value.(*item).e.Expires); el = c.order.Back() {
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
