package restclient

import (
	"context"
	"crypto/rand"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// DefaultMaxCallers is how many callers' buckets WithCallerShare keeps;
// the least recently used go first.
const DefaultMaxCallers = 10000

// WithCallerShare gives each credential a token bucket of its own, of
// perSecond calls on average and bursts of burst, in front of the rate
// limit: once a caller's bucket is empty, its calls fail at once with a
// *LimitError saying when to retry instead of queueing in the shared
// limiter ahead of everyone else's, so one caller sending as fast as it
// can cannot take the whole upstream budget. The layer sits below the
// caches and the coalescing: an answer served from memory, or shared with
// another caller's flight, costs no token; every attempt that would reach
// the upstream costs one. perSecond 0 = no per-caller limit.
func WithCallerShare(perSecond float64, burst int) Option {
	return func(s *settings) { s.callerRate, s.callerBurst = perSecond, burst }
}

// callerShare applies WithCallerShare. Buckets are keyed by a keyed hash
// of the credential (the key random per process): no secret is kept.
type callerShare struct {
	next    fetcher
	limit   rate.Limit
	burst   int
	macs    *macs // keyed with a random secret
	mu      sync.Mutex
	buckets *lru.Cache[[32]byte, *rate.Limiter]
	now     func() time.Time
}

func newCallerShare(next fetcher, perSecond float64, burst int, now func() time.Time) *callerShare {
	buckets, _ := lru.New[[32]byte, *rate.Limiter](DefaultMaxCallers) // > 0: never fails
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	return &callerShare{next: next, limit: rate.Limit(perSecond), burst: max(burst, 1), macs: newMACs(secret), buckets: buckets, now: now}
}

func (l *callerShare) get(ctx context.Context, req request) result {
	cred, _ := CredentialFrom(ctx)
	k := l.macs.digest(cred)
	l.mu.Lock()
	b, ok := l.buckets.Get(k)
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets.Add(k, b)
	}
	l.mu.Unlock()
	now := l.now()
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return result{err: &LimitError{RetryAfter: d}}
	}
	return l.next.get(ctx, req)
}
