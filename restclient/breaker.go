package restclient

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"
)

// WithCircuitBreaker stops calling an upstream that failed `failures`
// attempts in a row (connection failures, timeouts, 5xx, unreadable
// bodies): calls then fail at once with ErrCircuitOpen for cooldown, after
// which one probe decides whether it closes again. An attempt cut short
// because every caller hung up (context.Canceled) counts neither way.
func WithCircuitBreaker(failures int, cooldown time.Duration) Option {
	return func(s *settings) { s.breakerFailures, s.breakerCooldown = failures, cooldown }
}

// ErrCircuitOpen is returned without a request while the circuit breaker
// is open.
var ErrCircuitOpen = errors.New("cognigy: circuit open after repeated failures")

// breaker wraps one attempt in a circuit breaker, so that an upstream that
// keeps failing is left alone for a cooldown instead of being sent every
// caller's retries, and callers fail fast meanwhile.
type breaker struct {
	next fetcher
	cb   *gobreaker.CircuitBreaker[struct{}]
}

func newBreaker(next fetcher, failures int, cooldown time.Duration, o Observer) *breaker {
	return &breaker{next: next, cb: gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
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
			o.BreakerChanged(breakerState(to))
		},
	})}
}

func (b *breaker) get(ctx context.Context, req request) result {
	var r result
	_, err := b.cb.Execute(func() (struct{}, error) {
		r = b.next.get(ctx, req)
		return struct{}{}, r.err
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return result{err: ErrCircuitOpen}
	}
	return r
}

// state is the breaker's state; a nil breaker is always closed.
func (b *breaker) state() BreakerState {
	if b == nil {
		return BreakerClosed
	}
	return breakerState(b.cb.State())
}

func breakerState(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	}
	return BreakerClosed
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
