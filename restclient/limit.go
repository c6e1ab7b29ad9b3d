package restclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// WithConcurrencyLimit bounds the requests in flight to the upstream at
// once; a call that gets no slot before its deadline fails with a
// *LimitError (one whose callers all hung up first, with a *TransportError
// wrapping context.Canceled).
func WithConcurrencyLimit(n int) Option {
	return func(s *settings) { s.concurrency = n }
}

// WithRateLimit spaces requests to at most perSecond on average with bursts
// of burst, so that a busy gateway stays under the upstream's quota instead
// of collecting 429s. A call that could not start before its context's
// deadline fails at once with a *LimitError saying when to retry.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(s *settings) { s.ratePerSecond, s.rateBurst = perSecond, burst }
}

// LimitError is a call refused by the client's own limits (rate or
// concurrency) because it could not start before its deadline.
type LimitError struct {
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("cognigy: client-side limit reached; retry in %s", e.RetryAfter.Round(time.Millisecond))
}

// rateLimit wraps each attempt in a wait for a token of its own rate
// limiter, so that the upstream's quota is spent evenly. A wait that would
// pass the deadline is refused at once: the caller learns when to retry
// instead of waiting to fail.
type rateLimit struct {
	next    fetcher
	limiter *rate.Limiter
	now     func() time.Time
}

func newRateLimit(next fetcher, perSecond float64, burst int, now func() time.Time) *rateLimit {
	return &rateLimit{next: next, limiter: rate.NewLimiter(rate.Limit(perSecond), max(burst, 1)), now: now}
}

func (l *rateLimit) get(ctx context.Context, req request) result {
	res := l.limiter.Reserve()
	if d := res.Delay(); d > 0 {
		if dl, ok := ctx.Deadline(); ok && l.now().Add(d).After(dl) {
			res.Cancel()
			return result{err: &LimitError{RetryAfter: d}}
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			res.Cancel()
			return result{err: waitEnded(ctx, d)}
		case <-t.C:
		}
	}
	return l.next.get(ctx, req)
}

// concurrencyLimit wraps each attempt in a slot of a semaphore, so that a
// burst of callers cannot open more connections to the upstream than it
// (or the gateway's own file descriptors) can take.
type concurrencyLimit struct {
	next  fetcher
	slots *semaphore.Weighted
}

func newConcurrencyLimit(next fetcher, n int) *concurrencyLimit {
	return &concurrencyLimit{next: next, slots: semaphore.NewWeighted(int64(n))}
}

func (l *concurrencyLimit) get(ctx context.Context, req request) result {
	if err := l.slots.Acquire(ctx, 1); err != nil {
		return result{err: waitEnded(ctx, time.Second)}
	}
	defer l.slots.Release(1)
	return l.next.get(ctx, req)
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
