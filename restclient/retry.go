package restclient

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"
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
	return func(s *settings) {
		if p.MaxAttempts < 1 {
			p.MaxAttempts = 1
		}
		if p.BaseDelay <= 0 {
			p.BaseDelay = 100 * time.Millisecond
		}
		if p.MaxDelay < p.BaseDelay {
			p.MaxDelay = p.BaseDelay
		}
		s.retry = p
	}
}

// retrier wraps one attempt (with the limits and the breaker below it) and
// tries again after transient failures, so that a blip of the upstream is
// not a caller's error. It numbers the attempts, so it is also where each
// is reported to the Observer, and it stamps the answer with when the
// upstream gave it.
type retrier struct {
	next     fetcher
	policy   RetryPolicy
	now      func() time.Time
	observer Observer
}

func (rt *retrier) get(ctx context.Context, req request) result {
	r := rt.attempts(ctx, req)
	r.fetched = rt.now()
	return r
}

func (rt *retrier) attempts(ctx context.Context, req request) result {
	for n := 1; ; n++ {
		start := rt.now()
		r := rt.next.get(ctx, req)
		a := Attempt{Route: req.route, Number: n, Err: r.err, Elapsed: rt.now().Sub(start)}
		if r.resp != nil {
			a.Status = r.resp.StatusCode
		}
		rt.observer.Attempted(ctx, a)
		if r.err == nil || n >= rt.policy.MaxAttempts || ctx.Err() != nil || !retryable(r.err) {
			return r
		}
		wait := rt.backoff(n, r.err)
		if dl, ok := ctx.Deadline(); ok && rt.now().Add(wait).After(dl) {
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

// backoff is the wait before attempt n+1.
func (rt *retrier) backoff(n int, err error) time.Duration {
	ceiling := rt.policy.MaxDelay
	if shift := n - 1; shift < 20 {
		ceiling = min(ceiling, rt.policy.BaseDelay<<shift)
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	var er *ErrorResponse
	if errors.As(err, &er) && er.RetryAfter > d {
		d = er.RetryAfter
	}
	return d
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
