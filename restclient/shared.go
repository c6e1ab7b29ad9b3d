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
	return func(cl *Client) {
		if c != nil && len(hashKey) >= 32 {
			cl.shared = c
			cl.keyHMAC = append([]byte(nil), hashKey...)
		}
	}
}

// WithSharedRateLimit replaces the client's own rate limit (WithRateLimit)
// by budget l, shared with other replicas: Cognigy's quota is per client
// IP, and replicas behind one NAT share it. An error from l lets the
// request go: the quota is a courtesy the upstream enforces itself.
func WithSharedRateLimit(l SharedRateLimit) Option {
	return func(c *Client) { c.sharedLimit = l }
}

// A shared entry is the status (three digits), "t", when the upstream gave
// the answer (Unix milliseconds), a newline, then the body as received.

// sharedGet decodes an answer kept in the shared cache.
func (c *Client) sharedGet(ctx context.Context, key string, decode func([]byte) (any, error)) (result, bool) {
	if c.shared == nil || c.cacheTTL <= 0 {
		return result{}, false
	}
	r, outcome := c.readShared(ctx, key, decode)
	if o, ok := c.observer.(SharedCacheObserver); ok {
		o.SharedCacheLookup(outcome)
	}
	return r, outcome == SharedHit
}

func (c *Client) readShared(ctx context.Context, key string, decode func([]byte) (any, error)) (result, string) {
	b, ok, err := c.shared.Get(ctx, key)
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
	if !c.now().Before(fetched.Add(c.cacheTTL)) {
		return result{}, SharedMiss // the store's own expiry lags; the data is too old
	}
	resp := &Response{StatusCode: status, Header: http.Header{}}
	if status == http.StatusNotFound {
		return result{resp: resp, err: newErrorResponse(status, resp.Header, body, c.now()), fetched: fetched}, SharedHit
	}
	v, err := decode(body)
	if err != nil {
		return result{}, SharedMiss
	}
	return result{v: v, resp: resp, fetched: fetched}, SharedHit
}

// sharedSet keeps a cacheable answer in the shared cache.
func (c *Client) sharedSet(ctx context.Context, key string, r result) {
	if c.shared == nil || c.cacheTTL <= 0 || r.resp == nil || r.resp.raw == nil || !cacheable(r.err) {
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
	_ = c.shared.Set(ctx, key, append(v, r.resp.raw...), c.cacheTTL)
}

// takeShared waits for the shared budget, or refuses when the wait would
// pass the context's deadline.
func (c *Client) takeShared(ctx context.Context) error {
	for {
		wait, err := c.sharedLimit.Take(ctx)
		if err != nil || wait <= 0 {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && c.now().Add(wait).After(dl) {
			return &LimitError{RetryAfter: wait}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return waitEnded(ctx, wait)
		case <-t.C:
		}
	}
}
