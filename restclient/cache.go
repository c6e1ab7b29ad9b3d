package restclient

import (
	"context"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// WithCache keeps successful answers (and 404s) for ttl, at most
// maxEntries of them, keyed by a keyed hash of the caller's credential and
// the request URL: two credentials never share an entry, and the credential
// itself is never stored. Cached values are shared: callers must not modify
// them. A ttl of 0 turns the cache off.
func WithCache(ttl time.Duration, maxEntries int) Option {
	return func(s *settings) { s.cacheTTL, s.cacheEntries = ttl, maxEntries }
}

// answerCache keeps decoded answers in memory for their TTL, so that a
// repeat costs neither an upstream call nor a decoding. It is one cache at
// two places in the stack: serving wraps the coalescing, so that a hit
// never waits for a flight; filling sits inside the flight, so that an
// answer is stored once, before the flight's callers are released, and a
// caller arriving just after finds it.
type answerCache struct {
	lru      *lru.Cache[string, cacheEntry]
	ttl      time.Duration
	now      func() time.Time
	observer Observer
}

// cacheEntry is a cached result and when it stops being served.
type cacheEntry struct {
	r       result
	expires time.Time
}

func newAnswerCache(ttl time.Duration, maxEntries int, now func() time.Time, o Observer) *answerCache {
	// A plain LRU with expiry checked on read: the expirable LRU of
	// golang-lru v2 starts a goroutine that never ends.
	l, _ := lru.New[string, cacheEntry](maxEntries)
	return &answerCache{lru: l, ttl: ttl, now: now, observer: o}
}

// serving answers from the cache, or asks next.
func (c *answerCache) serving(next fetcher) fetcher {
	return getFunc(func(ctx context.Context, req request) result {
		e, ok := c.lru.Get(req.key)
		if ok && !c.now().Before(e.expires) {
			c.lru.Remove(req.key)
			ok = false
		}
		c.observer.CacheLookup(ok)
		if ok {
			return e.r
		}
		return next.get(ctx, req)
	})
}

// filling keeps what next answers, if a cache may keep it. An answer is
// served for the TTL from when the upstream gave it, however many caches it
// passed through.
func (c *answerCache) filling(next fetcher) fetcher {
	return getFunc(func(ctx context.Context, req request) result {
		r := next.get(ctx, req)
		if cacheable(r.err) {
			c.lru.Add(req.key, cacheEntry{r: r, expires: r.fetched.Add(c.ttl)})
		}
		return r
	})
}
