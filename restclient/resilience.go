package restclient

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// RetryPolicy says how failed GETs are retried: connection failures,
// timeouts of one attempt, and 408, 429, 502, 503 and 504. Other statuses
// are answers, not failures, and are never retried. The wait before attempt
// n+1 is random in [0, min(MaxDelay, BaseDelay·2^(n-1))] (full jitter), at
// least the Retry-After the upstream asked for, and never past the
// context's deadline: a retry that would end after it is not made.
type RetryPolicy struct {
	MaxAttempts int // total attempts; 1 = no retry
	BaseDelay   time.Duration
	MaxDelay    time.Duration
}

// WithRetry retries failed GETs under p.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) {
		if p.MaxAttempts < 1 {
			p.MaxAttempts = 1
		}
		if p.BaseDelay <= 0 {
			p.BaseDelay = 100 * time.Millisecond
		}
		if p.MaxDelay < p.BaseDelay {
			p.MaxDelay = p.BaseDelay
		}
		c.retry = p
	}
}

// WithCircuitBreaker stops calling an upstream that failed `failures`
// attempts in a row (connection failures, timeouts, 5xx, unreadable
// bodies): calls then fail at once with ErrCircuitOpen for cooldown, after
// which one probe decides whether it closes again. An attempt cut short
// because every caller hung up (context.Canceled) counts neither way.
func WithCircuitBreaker(failures int, cooldown time.Duration) Option {
	return func(c *Client) {
		if failures <= 0 {
			c.breaker = nil
			return
		}
		c.breaker = gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
			Name:        "cognigy",
			MaxRequests: 1,
			Timeout:     cooldown,
			ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= uint32(failures) },
			IsSuccessful: func(err error) bool {
				return !upstreamFault(err)
			},
			IsExcluded: func(err error) bool {
				// The caller gave up: says nothing about the upstream.
				return errors.Is(err, context.Canceled)
			},
			OnStateChange: func(_ string, _, to gobreaker.State) {
				c.observer.BreakerChanged(breakerState(to))
			},
		})
	}
}

// WithConcurrencyLimit bounds the requests in flight to the upstream at
// once; a call that gets no slot before its deadline fails with a
// *LimitError (one whose callers all hung up first, with a *TransportError
// wrapping context.Canceled).
func WithConcurrencyLimit(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.slots = make(chan struct{}, n)
		}
	}
}

// WithRateLimit spaces requests to at most perSecond on average with bursts
// of burst, so that a busy gateway stays under the upstream's quota instead
// of collecting 429s. A call that could not start before its context's
// deadline fails at once with a *LimitError saying when to retry.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(c *Client) {
		if perSecond > 0 {
			c.limiter = rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
		}
	}
}

// WithCache keeps successful answers (and 404s) for ttl, at most
// maxEntries of them, keyed by a keyed hash of the caller's credential and
// the request URL: two credentials never share an entry, and the credential
// itself is never stored. Cached values are shared: callers must not modify
// them. A ttl of 0 turns the cache off.
func WithCache(ttl time.Duration, maxEntries int) Option {
	return func(c *Client) {
		c.cache, c.cacheTTL = nil, ttl
		if ttl > 0 && maxEntries > 0 {
			// A plain LRU with expiry checked on read: the expirable LRU
			// of golang-lru v2 starts a goroutine that never ends.
			c.cache, _ = lru.New[string, cacheEntry](maxEntries)
		}
	}
}

// ErrCircuitOpen is returned without a request while the circuit breaker
// is open.
var ErrCircuitOpen = errors.New("cognigy: circuit open after repeated failures")

// LimitError is a call refused by the client's own limits (rate or
// concurrency) because it could not start before its deadline.
type LimitError struct {
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("cognigy: client-side limit reached; retry in %s", e.RetryAfter.Round(time.Millisecond))
}

// cacheEntry is a cached result and when it stops being served.
type cacheEntry struct {
	r       result
	expires time.Time
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

// fetch runs a GET through the cache, the coalescing of identical
// concurrent requests, and the retry loop, and decodes it with decode.
func fetch[T any](ctx context.Context, c *Client, route, u string, decode func([]byte) (T, error)) (T, *Response, error) {
	var zero T
	r := c.call(ctx, route, u, func(b []byte) (any, error) { return decode(b) })
	if r.err != nil {
		return zero, r.resp, r.err
	}
	return r.v.(T), r.resp, nil
}

func (c *Client) call(ctx context.Context, route, u string, decode func([]byte) (any, error)) result {
	r := c.lookup(ctx, route, u, decode)
	if note, ok := ctx.Value(dataNoteKey{}).(func(time.Time)); ok && cacheable(r.err) && !r.fetched.IsZero() {
		note(r.fetched)
	}
	return r
}

func (c *Client) lookup(ctx context.Context, route, u string, decode func([]byte) (any, error)) result {
	key := c.requestKey(ctx, u)
	if c.cache != nil {
		e, ok := c.cache.Get(key)
		if ok && !c.now().Before(e.expires) {
			c.cache.Remove(key)
			ok = false
		}
		c.observer.CacheLookup(ok)
		if ok {
			return e.r
		}
	}
	return c.coalesce(ctx, key, func(fctx context.Context) result {
		r, ok := c.sharedGet(fctx, key, decode)
		if !ok {
			r = c.attempts(fctx, route, u, decode)
			r.fetched = c.now()
			c.sharedSet(fctx, key, r)
		}
		if r.resp != nil {
			r.resp.raw = nil // kept only to be shared
		}
		// An answer is served for the TTL from when the upstream gave it,
		// however many caches it passed through.
		if c.cache != nil && cacheable(r.err) {
			c.cache.Add(key, cacheEntry{r: r, expires: r.fetched.Add(c.cacheTTL)})
		}
		return r
	})
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

// flight is one upstream call shared by every caller that asked for the
// same request while it ran.
type flight struct {
	done    chan struct{}
	r       result
	waiters int
	cancel  context.CancelCauseFunc
}

// coalesce runs fn once for concurrent callers with the same key. The call
// is detached from any one caller's cancellation, so an impatient caller
// cannot fail the others, but it keeps the first caller's deadline, and it
// is cancelled when every caller has stopped waiting.
func (c *Client) coalesce(ctx context.Context, key string, fn func(context.Context) result) result {
	c.flightsMu.Lock()
	f, ok := c.flights[key]
	if !ok {
		fctx, cancel := detached(ctx)
		f = &flight{done: make(chan struct{}), cancel: cancel}
		c.flights[key] = f
		go func() {
			f.r = fn(fctx)
			cancel(nil)
			c.flightsMu.Lock()
			if c.flights[key] == f {
				delete(c.flights, key)
			}
			c.flightsMu.Unlock()
			close(f.done)
		}()
	}
	f.waiters++
	c.flightsMu.Unlock()
	if ok {
		c.observer.Coalesced()
	}

	select {
	case <-f.done:
		return f.r
	case <-ctx.Done():
		c.flightsMu.Lock()
		if f.waiters--; f.waiters == 0 {
			// Why the last caller left is why the flight ends: a
			// deadline stays a timeout, a hang-up a cancellation.
			f.cancel(ctx.Err())
			if c.flights[key] == f {
				delete(c.flights, key) // later callers start afresh
			}
		}
		c.flightsMu.Unlock()
		return result{err: &TransportError{Err: ctx.Err()}}
	}
}

// detached keeps ctx's values and deadline but not its cancellation; the
// cause given to its cancel function is the flight's context.Cause.
func detached(ctx context.Context) (context.Context, context.CancelCauseFunc) {
	d, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	dl, ok := ctx.Deadline()
	if !ok {
		return d, cancel
	}
	d, stop := context.WithDeadline(d, dl)
	return d, func(cause error) {
		cancel(cause)
		stop()
	}
}

// requestKey identifies a request: a keyed hash of the credential, so that
// neither the cache nor the coalescing ever mixes two callers, and the URL.
func (c *Client) requestKey(ctx context.Context, u string) string {
	cred, _ := CredentialFrom(ctx)
	m := hmac.New(sha256.New, c.keyHMAC)
	m.Write([]byte{byte(cred.Kind)})
	m.Write([]byte(cred.Secret()))
	return hex.EncodeToString(m.Sum(nil)[:16]) + " " + u
}

func cacheable(err error) bool {
	var er *ErrorResponse
	return err == nil || (errors.As(err, &er) && er.StatusCode == http.StatusNotFound)
}

// attempts runs the retry loop.
func (c *Client) attempts(ctx context.Context, route, u string, decode func([]byte) (any, error)) result {
	for n := 1; ; n++ {
		start := c.now()
		r := c.attempt(ctx, u, decode)
		a := Attempt{Route: route, Number: n, Err: r.err, Elapsed: c.now().Sub(start)}
		if r.resp != nil {
			a.Status = r.resp.StatusCode
		}
		c.observer.Attempted(ctx, a)
		if r.err == nil || n >= c.retry.MaxAttempts || ctx.Err() != nil || !retryable(r.err) {
			return r
		}
		wait := c.backoff(n, r.err)
		if dl, ok := ctx.Deadline(); ok && c.now().Add(wait).After(dl) {
			return r // the retry could not finish in time: answer now
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return r
		case <-t.C:
		}
	}
}

// attempt makes one request within the limits, the breaker and the
// per-attempt timeout.
func (c *Client) attempt(ctx context.Context, u string, decode func([]byte) (any, error)) result {
	if err := c.acquire(ctx); err != nil {
		return result{err: err}
	}
	defer c.release()
	var resp *Response
	run := func() (any, error) {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if c.timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, c.timeout)
		}
		defer cancel()
		v, r, err := c.once(actx, u, decode)
		resp = r
		return v, err
	}
	if c.breaker == nil {
		v, err := run()
		return result{v: v, resp: resp, err: err}
	}
	v, err := c.breaker.Execute(run)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		err = ErrCircuitOpen
	}
	return result{v: v, resp: resp, err: err}
}

// acquire waits for the rate limiter and a concurrency slot, or refuses at
// once when its context's deadline comes first.
func (c *Client) acquire(ctx context.Context) error {
	if c.sharedLimit != nil {
		if err := c.takeShared(ctx); err != nil {
			return err
		}
	} else if c.limiter != nil {
		res := c.limiter.Reserve()
		if d := res.Delay(); d > 0 {
			if dl, ok := ctx.Deadline(); ok && c.now().Add(d).After(dl) {
				res.Cancel()
				return &LimitError{RetryAfter: d}
			}
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				res.Cancel()
				return waitEnded(ctx, d)
			case <-t.C:
			}
		}
	}
	if c.slots != nil {
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return waitEnded(ctx, time.Second)
		}
	}
	return nil
}

// waitEnded is the error of a wait for the client's limits that its context
// cut short: a *LimitError when time ran out, but a *TransportError wrapping
// context.Canceled when every caller hung up, since no limit was reached.
func waitEnded(ctx context.Context, retryAfter time.Duration) error {
	if cause := context.Cause(ctx); errors.Is(cause, context.Canceled) {
		return &TransportError{Err: cause}
	}
	return &LimitError{RetryAfter: retryAfter}
}

func (c *Client) release() {
	if c.slots != nil {
		<-c.slots
	}
}

// retryable: the failures worth another attempt.
func retryable(err error) bool {
	var te *TransportError
	if errors.As(err, &te) {
		return true
	}
	var er *ErrorResponse
	if errors.As(err, &er) {
		switch er.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

// upstreamFault: failures that say the upstream is unwell, for the breaker.
// 4xx answers (429 included) come from a working upstream.
func upstreamFault(err error) bool {
	if err == nil {
		return false
	}
	var te *TransportError
	var de *DecodeError
	var er *ErrorResponse
	switch {
	case errors.As(err, &te), errors.As(err, &de):
		return true
	case errors.As(err, &er):
		return er.StatusCode >= 500 || er.StatusCode == http.StatusRequestTimeout
	}
	return false
}

// backoff is the wait before attempt n+1.
func (c *Client) backoff(n int, err error) time.Duration {
	ceiling := c.retry.MaxDelay
	if shift := n - 1; shift < 20 {
		ceiling = min(ceiling, c.retry.BaseDelay<<shift)
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	var er *ErrorResponse
	if errors.As(err, &er) && er.RetryAfter > d {
		d = er.RetryAfter
	}
	return d
}
