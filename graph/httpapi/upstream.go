package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/usersgraph/usersgraph/graph"
	"github.com/usersgraph/usersgraph/restclient"
)

// meter is one request's upstream calls: estimated before it runs (by
// operationLimits) and spent while it runs (by countingUpstream).
type meter struct {
	estimated, spent atomic.Int64
}

type meterKey struct{}

func meterFrom(ctx context.Context) *meter {
	m, _ := ctx.Value(meterKey{}).(*meter)
	return m
}

// withMeter gives every request a meter.
func withMeter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), meterKey{}, &meter{})))
	})
}

// countingUpstream counts the calls a request hands to the Cognigy client.
// The client's cache and its coalescing of identical calls answer some of
// them without a request, so spent is an upper bound of what reached
// Cognigy.
type countingUpstream struct{ next graph.Upstream }

func (u countingUpstream) ListUsers(ctx context.Context, opts restclient.ListUsersOptions) (*restclient.UserPage, *restclient.Response, error) {
	if m := meterFrom(ctx); m != nil {
		m.spent.Add(1)
	}
	return u.next.ListUsers(ctx, opts)
}

func (u countingUpstream) GetUser(ctx context.Context, id string) (*restclient.User, *restclient.Response, error) {
	if m := meterFrom(ctx); m != nil {
		m.spent.Add(1)
	}
	return u.next.GetUser(ctx, id)
}

// FairShare gives each credential a token bucket of its own in front of
// the upstream client's rate limit, so that one caller sending as fast as
// it can cannot take the whole upstream budget: once its bucket is empty
// its calls are refused at once (RATE_LIMITED with retryAfter) instead of
// queueing in the shared limiter ahead of everyone else's.
type FairShare struct {
	// Rate is the calls per second one credential may hand to the
	// client, on average; 0 = no per-caller limit. Keep it below the
	// upstream rate limit (half of it by default in cmd/usersgraph), so
	// that what one caller leaves is there for the others.
	Rate float64
	// Burst is how many calls one credential may make at once.
	Burst int
	// MaxCallers bounds the buckets kept (least recently used ones go);
	// 0 = DefaultFairShareCallers.
	MaxCallers int
}

// DefaultFairShareCallers is how many callers' buckets are kept.
const DefaultFairShareCallers = 10000

// fairUpstream applies a FairShare. Buckets are keyed by a keyed hash of
// the credential (the key random per process): no secret is kept.
type fairUpstream struct {
	next    graph.Upstream
	limit   rate.Limit
	burst   int
	secret  []byte
	mu      sync.Mutex
	buckets *lru.Cache[[32]byte, *rate.Limiter]
	now     func() time.Time
}

func newFairUpstream(next graph.Upstream, fs FairShare) graph.Upstream {
	if fs.Rate <= 0 {
		return next
	}
	n := fs.MaxCallers
	if n <= 0 {
		n = DefaultFairShareCallers
	}
	buckets, _ := lru.New[[32]byte, *rate.Limiter](n) // n > 0: never fails
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	return &fairUpstream{next: next, limit: rate.Limit(fs.Rate), burst: max(fs.Burst, 1), secret: secret, buckets: buckets, now: time.Now}
}

// admit takes a token from the caller's bucket, or says when to retry.
func (u *fairUpstream) admit(ctx context.Context) error {
	cred, _ := restclient.CredentialFrom(ctx)
	m := hmac.New(sha256.New, u.secret)
	m.Write([]byte{byte(cred.Kind)})
	m.Write([]byte(cred.Secret()))
	var k [32]byte
	m.Sum(k[:0])
	u.mu.Lock()
	b, ok := u.buckets.Get(k)
	if !ok {
		b = rate.NewLimiter(u.limit, u.burst)
		u.buckets.Add(k, b)
	}
	u.mu.Unlock()
	now := u.now()
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return &restclient.LimitError{RetryAfter: d}
	}
	return nil
}

func (u *fairUpstream) ListUsers(ctx context.Context, opts restclient.ListUsersOptions) (*restclient.UserPage, *restclient.Response, error) {
	if err := u.admit(ctx); err != nil {
		return nil, nil, err
	}
	return u.next.ListUsers(ctx, opts)
}

func (u *fairUpstream) GetUser(ctx context.Context, id string) (*restclient.User, *restclient.Response, error) {
	if err := u.admit(ctx); err != nil {
		return nil, nil, err
	}
	return u.next.GetUser(ctx, id)
}
