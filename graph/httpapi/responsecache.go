package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/usersgraph/usersgraph/graph/httpapi/respcache"
	"github.com/usersgraph/usersgraph/restclient"
)

// DefaultResponseCacheBytes bounds the response cache when Config leaves it
// at zero; no single answer above a sixteenth of it is kept.
const DefaultResponseCacheBytes = 16 << 20

// ResponseCacheObserver is implemented by an Observer that also wants to
// know about every lookup in the response cache.
type ResponseCacheObserver interface {
	ResponseCacheLookup(hit bool)
}

// InFlightObserver is implemented by an Observer that also wants to know
// about every request answered with an identical request's execution.
type InFlightObserver interface {
	InFlightShared()
}

type responseCacheConfig struct {
	ttl       time.Duration // 0: no response cache
	maxBytes  int64         // of the response cache; 0: DefaultResponseCacheBytes
	maxBody   int64         // largest request body keyed
	share     bool          // share executions in flight
	timeout   time.Duration // a request's whole time (REQUEST_TIMEOUT)
	maxShared int64         // largest answer shared in flight
}

// withResponseCache answers a request that the same caller repeats within
// ttl with the bytes of the first answer, without executing it again; and
// a request identical to one executing meanwhile with that one's answer
// (in-flight sharing, with or without the cache). The key is a keyed hash
// (the key is random per process) of the credential the request runs with
// and of everything the answer depends on: method, Accept, Content-Type,
// query string and body. Only complete answers are kept or shared (status
// 200, no errors: see respcache.Keep in the transport), each kept until ttl
// after the oldest upstream data in it was fetched, so an answer is never
// older than the upstream cache would allow.
func withResponseCache(rc responseCacheConfig, obs Observer, next http.Handler) http.Handler {
	if rc.ttl <= 0 && !rc.share {
		return next
	}
	var cache *respcache.Cache
	if rc.ttl > 0 {
		if rc.maxBytes <= 0 {
			rc.maxBytes = DefaultResponseCacheBytes
		}
		cache = respcache.New(rc.maxBytes, rc.maxBytes/16)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	// Every request is keyed: HMAC states and the buffer the key's fields
	// are put in are reused, not made anew.
	keyers := &sync.Pool{New: func() any { return &keyer{mac: hmac.New(sha256.New, secret)} }}
	rco, _ := obs.(ResponseCacheObserver)
	ifo, _ := obs.(InFlightObserver)
	return respcache.Middleware(cache, respcache.Config{
		TTL:           rc.ttl,
		MaxBody:       rc.maxBody,
		ShareInFlight: rc.share,
		MaxShared:     rc.maxShared,
		Timeout:       rc.timeout,
		Key: func(r *http.Request, body []byte) (respcache.Key, bool) {
			kr := keyers.Get().(*keyer)
			defer kr.put(keyers)
			cred, _ := restclient.CredentialFrom(r.Context())
			return kr.key(body, strconv.Itoa(int(cred.Kind)), cred.Secret(), r.Method,
				r.Header.Get("Accept"), r.Header.Get("Content-Type"), r.URL.RawQuery), true
		},
		TrackData: restclient.WithDataNotes,
		Stored:    cachedBody,
		OnLookup: func(r *http.Request, hit *respcache.Entry, elapsed time.Duration) {
			if rco != nil {
				rco.ResponseCacheLookup(hit != nil)
			}
			// A hit runs no GraphQL operation, so it has no span of its
			// own: the request's span (otelhttp's) says what happened.
			if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
				span.SetAttributes(attribute.Bool("usersgraph.response_cache.hit", hit != nil))
				if hit != nil {
					span.SetAttributes(attribute.String("graphql.operation.name", hit.Operation))
				}
			}
			if hit != nil {
				obs.Operation(r.Context(), Operation{Name: hit.Operation, Outcome: "ok", Elapsed: elapsed})
			}
		},
		OnShared: func(r *http.Request, shared *respcache.Entry, elapsed time.Duration) {
			if ifo != nil {
				ifo.InFlightShared()
			}
			if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
				span.SetAttributes(attribute.Bool("usersgraph.inflight.shared", true),
					attribute.String("graphql.operation.name", shared.Operation))
			}
			obs.Operation(r.Context(), Operation{Name: shared.Operation, Outcome: "ok", Elapsed: elapsed})
		},
	}, next)
}

// keyer hashes a request's fields into a response-cache key: each field
// length-prefixed, so that no two different requests give the same input.
type keyer struct {
	mac      hash.Hash
	buf, sum []byte
}

// key is the keyed hash of fields, then body.
func (kr *keyer) key(body []byte, fields ...string) (k respcache.Key) {
	b := kr.buf[:0]
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	kr.mac.Reset()
	kr.mac.Write(b)
	kr.mac.Write(body)
	kr.sum = kr.mac.Sum(kr.sum[:0]) // (k[:0] would escape: a heap allocation each time)
	copy(k[:], kr.sum)
	kr.buf = b
	return k
}

// put returns kr to pool, unless a request with large headers grew its
// buffer past what is worth keeping. The fields (a credential among them)
// are wiped first: a pooled buffer does not keep a caller's secret.
func (kr *keyer) put(pool *sync.Pool) {
	clear(kr.buf)
	if cap(kr.buf) <= 4<<10 {
		pool.Put(kr)
	}
}

// cachedBody is an answer as its repeats give it: they spend no upstream
// call. writeResponse ends every answer with "spent":S}}}.
func cachedBody(body []byte) []byte {
	i := bytes.LastIndex(body, []byte(`"spent":`))
	if i < 0 {
		return body
	}
	return append(body[:i:i], `"spent":0}}}`...) // a copy: the middleware keeps its own exact-size one
}

// keepAnswer lets the response cache keep a complete answer. The schema
// has queries only (a mutation fails validation, and an answer with
// errors is never kept).
func keepAnswer(ctx context.Context, a answer) {
	if a.resp != nil && a.status == http.StatusOK && len(a.resp.Errors) == 0 && a.resp.Data != nil && ctx.Err() == nil {
		respcache.Keep(ctx, a.operation)
	}
}
