package restclient

import (
	"context"
	"sync"
	"time"
	"unsafe"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// DefaultCacheMaxBytes bounds the answer cache when WithCacheMaxBytes does
// not: about 16 MiB holds some 700 pages of 100 users, their users shared.
const DefaultCacheMaxBytes = 16 << 20

// WithCache keeps successful answers (and 404s) for ttl, at most
// maxEntries of them and at most the bytes of WithCacheMaxBytes, keyed by
// a keyed hash of the caller's credential and the request URL: two
// credentials never share an entry, and the credential itself is never
// stored. Cached values are shared: callers must not modify them. A ttl of
// 0 turns the cache off.
func WithCache(ttl time.Duration, maxEntries int) Option {
	return func(s *settings) { s.cacheTTL, s.cacheEntries = ttl, maxEntries }
}

// WithCacheMaxBytes bounds the memory of the answer cache (WithCache): its
// entries, charged by what they hold (keys, headers, decoded users, each
// user's strings once however many pages hold it), stay within n bytes, the
// least recently used going first. n <= 0 means DefaultCacheMaxBytes.
func WithCacheMaxBytes(n int64) Option {
	return func(s *settings) { s.cacheBytes = n }
}

// answerCache keeps decoded answers in memory for their TTL, so that a
// repeat costs neither an upstream call nor a decoding. It is one cache at
// two places in the stack: serving wraps the coalescing, so that a hit
// never waits for a flight; filling sits inside the flight, so that an
// answer is stored once, before the flight's callers are released, and a
// caller arriving just after finds it.
//
// It is bounded in entries and in bytes. A user appears in many pages (a
// list, its filters and orders, the lookups of its creators): users holds
// each user's strings once per TTL, and a page is charged only for the
// strings it does not share.
type answerCache struct {
	ttl      time.Duration
	now      func() time.Time
	observer Observer

	mu       sync.Mutex
	lru      *simplelru.LRU[string, cacheEntry]
	bytes    int64 // charged to the entries in lru
	maxBytes int64 // for bytes and users.bytes together
	users    userTable
}

// cacheEntry is a cached result, when it stops being served, and the bytes
// it was charged.
type cacheEntry struct {
	r       result
	expires time.Time
	size    int64
}

func newAnswerCache(ttl time.Duration, maxEntries int, maxBytes int64, now func() time.Time, o Observer) *answerCache {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheMaxBytes
	}
	c := &answerCache{ttl: ttl, now: now, observer: o, maxBytes: maxBytes}
	// A plain LRU with expiry checked on read: the expirable LRU of
	// golang-lru v2 starts a goroutine that never ends.
	c.lru, _ = simplelru.NewLRU(maxEntries, func(_ string, e cacheEntry) { c.bytes -= e.size })
	// The users shared by pages get at most a quarter of the bytes; past
	// that, pages keep strings of their own and are charged for them.
	c.users = userTable{byID: make(map[string]sharedUser), maxBytes: maxBytes / 4, ttl: ttl}
	return c
}

// serving answers from the cache, or asks next.
func (c *answerCache) serving(next fetcher) fetcher {
	return getFunc(func(ctx context.Context, req request) result {
		r, ok := c.lookup(req.key)
		c.observer.CacheLookup(ok)
		if ok {
			return r
		}
		return next.get(ctx, req)
	})
}

func (c *answerCache) lookup(key string) (result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	if ok && !c.now().Before(e.expires) {
		c.lru.Remove(key)
		ok = false
	}
	return e.r, ok
}

// filling keeps what next answers, if a cache may keep it. An answer is
// served for the TTL from when the upstream gave it, however many caches it
// passed through.
func (c *answerCache) filling(next fetcher) fetcher {
	return getFunc(func(ctx context.Context, req request) result {
		r := next.get(ctx, req)
		if cacheable(r.err) {
			c.add(req.key, r)
		}
		return r
	})
}

func (c *answerCache) add(key string, r result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	e := cacheEntry{r: r, expires: r.fetched.Add(c.ttl)}
	e.size = entryOverhead + int64(len(key)) + c.users.share(r.v, now) + resultSize(r)
	if e.size > c.maxBytes-c.maxBytes/4 {
		return // it would push out everything else
	}
	if old, ok := c.lru.Peek(key); ok {
		c.bytes -= old.size
	}
	// Expired answers at the cold end go first: they hold memory for
	// nothing.
	for _, old, ok := c.lru.GetOldest(); ok && !now.Before(old.expires); _, old, ok = c.lru.GetOldest() {
		c.lru.RemoveOldest()
	}
	c.lru.Add(key, e)
	c.bytes += e.size
	// The users' table keeps at most a quarter of the bound, so that
	// pushing out pages always brings the whole back under it.
	for c.bytes+c.users.bytes > c.maxBytes && c.lru.Len() > 0 {
		c.lru.RemoveOldest()
	}
}

// The charges of what a cache entry holds beyond its strings, from the
// types' sizes: what the Go runtime allocates for them, give or take its
// size classes.
const (
	sizeofUser = int64(unsafe.Sizeof(User{}))
	// entryOverhead: the LRU's list element and map slot, the entry, and
	// the Response.
	entryOverhead = 64 + 48 + int64(unsafe.Sizeof(cacheEntry{})) + int64(unsafe.Sizeof(Response{}))
	// headerEntry: a map slot of http.Header, its slice header and array.
	headerEntry = 48 + 24 + 16
)

// resultSize is what r holds besides the users' strings that share charges:
// the decoded value's structs, the response's header, and an error's text.
func resultSize(r result) int64 {
	var n int64
	switch v := r.v.(type) {
	case *UserPage:
		n += int64(unsafe.Sizeof(*v)) + int64(cap(v.Items))*sizeofUser + int64(len(v.NextCursor)+len(v.PreviousCursor))
	case *User:
		n += sizeofUser
	}
	if r.resp != nil {
		for k, vs := range r.resp.Header {
			n += headerEntry + int64(len(k))
			for _, s := range vs {
				n += 16 + int64(len(s))
			}
		}
	}
	if er, ok := r.err.(*ErrorResponse); ok {
		n += int64(unsafe.Sizeof(*er)) + int64(len(er.Type)+len(er.Title)+len(er.Detail)+len(er.Instance)+len(er.Code)+len(er.TraceID))
	}
	return n
}

// userTable holds the users of cached answers by _id for the TTL, so that
// the many pages and lookups holding one user hold its strings once: a page
// decoded with a user the table has, unchanged, takes the table's strings
// and lets its own go.
type userTable struct {
	byID      map[string]sharedUser
	bytes     int64
	maxBytes  int64
	ttl       time.Duration
	nextSweep int
}

type sharedUser struct {
	u       User
	expires time.Time
	size    int64
}

// share points v's users at the table's strings, adding the users it did
// not have while there is room, and returns the bytes of the strings v
// keeps of its own.
func (t *userTable) share(v any, now time.Time) int64 {
	switch v := v.(type) {
	case *UserPage:
		var own int64
		for i := range v.Items {
			own += t.shareUser(&v.Items[i], now)
		}
		return own
	case *User:
		return t.shareUser(v, now)
	}
	return 0
}

func (t *userTable) shareUser(u *User, now time.Time) int64 {
	if s, ok := t.byID[u.ID]; ok && now.Before(s.expires) {
		if s.u == *u {
			*u = s.u
			return 0
		}
		t.bytes -= s.size
		delete(t.byID, u.ID) // changed: the newer one takes its place
	}
	size := userStrings(u)
	if len(t.byID) >= t.nextSweep {
		t.sweep(now)
	}
	if t.bytes+size+sizeofUser+48 > t.maxBytes {
		return size
	}
	t.byID[u.ID] = sharedUser{u: *u, expires: now.Add(t.ttl), size: size + sizeofUser + 48}
	t.bytes += size + sizeofUser + 48
	return 0
}

// sweep drops the users past their TTL; it runs when the table has doubled
// since the last sweep, so its cost is spread over the insertions.
func (t *userTable) sweep(now time.Time) {
	for id, s := range t.byID {
		if !now.Before(s.expires) {
			t.bytes -= s.size
			delete(t.byID, id)
		}
	}
	t.nextSweep = max(2*len(t.byID), 1024)
}

func userStrings(u *User) int64 {
	return int64(len(u.ID) + len(u.Email) + len(u.Name) + len(u.CreatedBy) + len(u.LastChangedBy))
}
