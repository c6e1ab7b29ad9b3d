package restclient

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"
)

// SharedCache is a cache that several replicas of a server share (Redis,
// say), consulted after the client's own cache. It holds response bodies,
// which the client decodes again on a hit. Errors count as misses: the
// upstream still answers when the shared cache is down.
type SharedCache interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// SharedRateLimit is one request budget for several replicas. Take spends
// one request if the budget allows it now (wait 0), and otherwise spends
// nothing and says how long to wait before asking again.
type SharedRateLimit interface {
	Take(ctx context.Context) (wait time.Duration, err error)
}

// WithSharedCache keeps answers in c too, for the cache's TTL (WithCache
// sets it; without a TTL the shared cache is not used). hashKey keys the
// hash of the credential in every cache key and must be the same on every
// replica (at least 32 random bytes), or replicas would never share an
// entry; two credentials never share one either way.
func WithSharedCache(c SharedCache, hashKey []byte) Option {
	return func(s *settings) {
		if c != nil && len(hashKey) >= 32 {
			s.shared = c
			s.hashKey = append([]byte(nil), hashKey...)
		}
	}
}

// WithSharedRateLimit replaces the client's own rate limit (WithRateLimit)
// by budget l, shared with other replicas: Cognigy's quota is per client
// IP, and replicas behind one NAT share it. An error from l lets the
// request go: the quota is a courtesy the upstream enforces itself.
func WithSharedRateLimit(l SharedRateLimit) Option {
	return func(s *settings) { s.sharedLimit = l }
}

// sharedCache wraps the retries in a lookup of the cache that replicas
// share, so that a page one replica fetched is not fetched again by the
// others, and keeps every answer the upstream gives there. It sits inside
// the coalescing and below the client's own cache: one lookup per flight,
// and only for what this replica does not have. It holds bodies as the
// upstream sent them (the transport keeps them for it) and decodes them on
// a hit.
type sharedCache struct {
	next     fetcher
	store    SharedCache
	ttl      time.Duration
	now      func() time.Time
	observer Observer
}

// A shared entry is the status (three digits), "t", when the upstream gave
// the answer (Unix milliseconds), a newline, then the body as received.

func (c *sharedCache) get(ctx context.Context, req request) result {
	r, outcome := c.read(ctx, req)
	if o, ok := c.observer.(SharedCacheObserver); ok {
		o.SharedCacheLookup(outcome)
	}
	if outcome != SharedHit {
		r = c.next.get(ctx, req)
		c.write(ctx, req.key, r)
	}
	if r.resp != nil {
		r.resp.raw = nil // kept only to be shared
	}
	return r
}

// read decodes an answer kept in the shared cache.
func (c *sharedCache) read(ctx context.Context, req request) (result, string) {
	b, ok, err := c.store.Get(ctx, req.key)
	if err != nil {
		return result{}, SharedError
	}
	if !ok || len(b) < 5 || b[3] != 't' {
		return result{}, SharedMiss // absent, or written by another version: ask the upstream
	}
	status, err := strconv.Atoi(string(b[:3]))
	if err != nil {
		return result{}, SharedMiss
	}
	stamp, body, ok := bytes.Cut(b[4:], []byte{'\n'})
	if !ok {
		return result{}, SharedMiss
	}
	ms, err := strconv.ParseInt(string(stamp), 10, 64)
	if err != nil {
		return result{}, SharedMiss
	}
	fetched := time.UnixMilli(ms)
	if !c.now().Before(fetched.Add(c.ttl)) {
		return result{}, SharedMiss // the store's own expiry lags; the data is too old
	}
	resp := &Response{StatusCode: status, Header: http.Header{}}
	if status == http.StatusNotFound {
		return result{resp: resp, err: newErrorResponse(status, resp.Header, body, c.now()), fetched: fetched}, SharedHit
	}
	v, err := req.decode(body)
	if err != nil {
		return result{}, SharedMiss
	}
	return result{v: v, resp: resp, fetched: fetched}, SharedHit
}

// write keeps a cacheable answer in the shared cache.
func (c *sharedCache) write(ctx context.Context, key string, r result) {
	if r.resp == nil || r.resp.raw == nil || !cacheable(r.err) {
		return
	}
	v := make([]byte, 0, 20+len(r.resp.raw))
	v = strconv.AppendInt(v, int64(r.resp.StatusCode), 10)
	if len(v) != 3 {
		return
	}
	v = append(v, 't')
	v = strconv.AppendInt(v, r.fetched.UnixMilli(), 10)
	v = append(v, '\n')
	_ = c.store.Set(ctx, key, append(v, r.resp.raw...), c.ttl)
}

// sharedRateLimit wraps each attempt in a wait for the budget that replicas
// share (WithSharedRateLimit), in place of the client's own rateLimit. A
// wait that would pass the deadline is refused at once.
type sharedRateLimit struct {
	next   fetcher
	budget SharedRateLimit
	now    func() time.Time
}

func (l *sharedRateLimit) get(ctx context.Context, req request) result {
	for {
		wait, err := l.budget.Take(ctx)
		if err != nil || wait <= 0 {
			return l.next.get(ctx, req)
		}
		if dl, ok := ctx.Deadline(); ok && l.now().Add(wait).After(dl) {
			return result{err: &LimitError{RetryAfter: wait}}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return result{err: waitEnded(ctx, wait)}
		case <-t.C:
		}
	}
}
