package restclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"
)

// Route names a Cognigy endpoint, as observers see it.
const (
	RouteList = "list" // GET /v2.0/users
	RouteByID = "byid" // GET /v2.0/users/{id}
)

// Attempt is one request sent upstream, as an Observer sees it.
type Attempt struct {
	Route  string // RouteList or RouteByID
	Number int    // 1 for the first try, 2 for the first retry, ...
	Status int    // the HTTP status; 0 when no answer was read
	// Err is nil on success; an *ErrorResponse keeps the upstream's
	// TraceID. It wraps context.Canceled when the attempt was cut short
	// because every caller hung up: not a failure of the upstream.
	Err     error
	Elapsed time.Duration
}

// Observer is told what the client does, for metrics and tracing. Its
// methods are called concurrently, on the request path: they must be quick.
// The context is the call's, with the caller's values (a trace span, say).
type Observer interface {
	// Attempted reports one upstream request, sent or refused by the
	// breaker or the client's own limits (Status 0).
	Attempted(ctx context.Context, a Attempt)
	// CacheLookup reports whether the cache answered a call.
	CacheLookup(hit bool)
	// Coalesced reports a call that joined an identical one in flight
	// instead of sending its own.
	Coalesced()
	// BreakerChanged reports the circuit breaker's new state.
	BreakerChanged(state BreakerState)
}

// SharedCacheObserver, if an Observer also implements it, is told the
// outcome of every lookup in the shared cache (WithSharedCache), which
// comes after a miss of the client's own cache: SharedHit, SharedMiss, or
// SharedError when the shared cache could not be read (the upstream is
// asked then, as on a miss).
type SharedCacheObserver interface {
	SharedCacheLookup(outcome string)
}

// The outcomes of a shared cache lookup.
const (
	SharedHit   = "hit"
	SharedMiss  = "miss"
	SharedError = "error"
)

// BreakerState is the circuit breaker's state.
type BreakerState string

// The breaker's states; BreakerClosed also stands for "no breaker".
const (
	BreakerClosed   BreakerState = "closed"
	BreakerHalfOpen BreakerState = "half-open"
	BreakerOpen     BreakerState = "open"
)

// WithObserver reports the client's requests, cache lookups, coalesced
// calls and breaker changes to o.
func WithObserver(o Observer) Option { return func(s *settings) { s.observer = o } }

// nopObserver is the observer of a client given none.
type nopObserver struct{}

func (nopObserver) Attempted(context.Context, Attempt) {}
func (nopObserver) CacheLookup(bool)                   {}
func (nopObserver) Coalesced()                         {}
func (nopObserver) BreakerChanged(BreakerState)        {}

// Breaker returns the circuit breaker's current state (BreakerClosed
// without a breaker).
func (c *Client) Breaker() BreakerState { return c.breaker.state() }

// readyCacheFor is how long a reachability check is reused, so that many
// probes in a row open one connection, not one each.
const readyCacheFor = 5 * time.Second

// readiness remembers the last reachability check.
type readiness struct {
	mu      sync.Mutex
	checked time.Time
	err     error
}

// Ready reports whether the upstream can be used: the breaker is not open
// and its host accepts a TCP connection. It sends no HTTP request, so
// readiness probes spend none of the upstream's request quota.
func (c *Client) Ready(ctx context.Context) error {
	if c.Breaker() == BreakerOpen {
		return ErrCircuitOpen
	}
	c.ready.mu.Lock()
	defer c.ready.mu.Unlock()
	if now := c.now(); !c.ready.checked.IsZero() && now.Sub(c.ready.checked) < readyCacheFor {
		return c.ready.err
	}
	c.ready.err = c.dialUpstream(ctx)
	c.ready.checked = c.now()
	return c.ready.err
}

func (c *Client) dialUpstream(ctx context.Context) error {
	u, err := url.Parse(c.base)
	if err != nil {
		return err
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err // without the address
		}
		return fmt.Errorf("cognigy is not reachable: %w", err)
	}
	return conn.Close()
}
