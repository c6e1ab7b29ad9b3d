package restclient

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// A GET goes through a stack of layers, each a small type in its own file
// that wraps the next one and adds one concern. New composes them, outermost
// first; a layer whose option is off is left out:
//
//	answerCache.serving  cache.go     a repeat within the TTL is answered from memory
//	coalescer            coalesce.go  identical concurrent requests share one flight
//	answerCache.filling  cache.go     the flight's answer is kept, once per flight
//	sharedCache          shared.go    another replica's answer is used, ours is shared
//	retrier              retry.go     failed attempts are retried with backoff
//	callerShare          fairshare.go one credential's calls are held to its share
//	rateLimit            limit.go     requests are paced (sharedRateLimit: across replicas)
//	concurrencyLimit     limit.go     requests in flight at once are bounded
//	breaker              breaker.go   a failing upstream is not called for a while
//	Client.attempt       client.go    one HTTP request through the Doer, with its timeout
//
// The layers work on decoded answers (a result), not on HTTP exchanges, so
// that a cached or shared answer is decoded once, not per caller; what wraps
// the Doer itself is the transport's business (tracing, say).

// fetcher answers one request; every layer is one and wraps another.
type fetcher interface {
	get(ctx context.Context, req request) result
}

// getFunc adapts a function to fetcher.
type getFunc func(ctx context.Context, req request) result

func (f getFunc) get(ctx context.Context, req request) result { return f(ctx, req) }

// request is one GET as the layers see it.
type request struct {
	route  string // RouteList or RouteByID, for observers
	url    string
	key    string // requestKey: the credential's hash and the URL
	decode func([]byte) (any, error)
}

// result is one call's outcome, as cached and shared between callers.
type result struct {
	v    any
	resp *Response
	err  error
	// fetched is when the upstream gave the answer (by this replica or,
	// through the shared cache, another one).
	fetched time.Time
}

// fetch runs a GET through the client's layers and decodes its body with
// decode.
func fetch[T any](ctx context.Context, c *Client, route, u string, decode func([]byte) (T, error)) (T, *Response, error) {
	var zero T
	r := c.call(ctx, route, u, func(b []byte) (any, error) { return decode(b) })
	if r.err != nil {
		return zero, r.resp, r.err
	}
	return r.v.(T), r.resp, nil
}

func (c *Client) call(ctx context.Context, route, u string, decode func([]byte) (any, error)) result {
	r := c.layers.get(ctx, request{route: route, url: u, key: c.requestKey(ctx, u), decode: decode})
	if note, ok := ctx.Value(dataNoteKey{}).(func(time.Time)); ok && cacheable(r.err) && !r.fetched.IsZero() {
		note(r.fetched)
	}
	return r
}

type dataNoteKey struct{}

// WithDataNotes returns a context in which every answer the client gives
// (from the upstream, a cache, or a call shared with other callers) is
// reported to note with the time the upstream gave it. A cache of whole
// responses uses it to serve nothing older than the data's TTL. note is
// called concurrently by concurrent lookups.
func WithDataNotes(ctx context.Context, note func(fetched time.Time)) context.Context {
	return context.WithValue(ctx, dataNoteKey{}, note)
}

// requestKey identifies a request: a keyed hash of the credential, so that
// neither the caches nor the coalescing ever mix two callers, and the URL.
func (c *Client) requestKey(ctx context.Context, u string) string {
	cred, _ := CredentialFrom(ctx)
	d := c.credentialMACs.digest(cred)
	var hexed [32]byte
	hex.Encode(hexed[:], d[:16])
	var b strings.Builder
	b.Grow(len(hexed) + 1 + len(u))
	b.Write(hexed[:])
	b.WriteByte(' ')
	b.WriteString(u)
	return b.String()
}

// macs computes keyed hashes of credentials with HMAC states kept for
// reuse: a fresh hmac.New on each of the many cache lookups (ten or so an
// executed query) allocated several objects each time.
type macs struct{ pool sync.Pool }

func newMACs(key []byte) *macs {
	return &macs{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// digest is HMAC-SHA256(key, kind byte ‖ secret).
func (m *macs) digest(cred Credential) (out [32]byte) {
	h := m.pool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte{byte(cred.Kind)})
	io.WriteString(h, cred.Secret())
	h.Sum(out[:0])
	m.pool.Put(h)
	return out
}

// cacheable: the answers a cache may keep, successes and 404s.
func cacheable(err error) bool {
	var er *ErrorResponse
	return err == nil || (errors.As(err, &er) && er.StatusCode == http.StatusNotFound)
}
