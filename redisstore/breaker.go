package redisstore

import (
	"sync"
	"time"
)

// BreakerState is the state of the store's circuit breaker.
type BreakerState string

// The breaker's states. Closed: Redis is asked. Open: Redis failed and is
// not asked until the cool-down has passed; the replica uses what it keeps
// itself. Half-open: the cool-down has passed and one command, the probe,
// is asking Redis; the others still do without.
const (
	BreakerClosed   BreakerState = "closed"
	BreakerHalfOpen BreakerState = "half-open"
	BreakerOpen     BreakerState = "open"
)

// breaker opens after one failed command: a Redis that failed once (timed
// out, refused the connection) is likely to fail the next command too, and
// each failure costs a request up to the command timeout. It stays open for
// cooldown, then lets one probe through; the probe's success closes it, its
// failure opens it again for another cooldown.
type breaker struct {
	cooldown time.Duration
	now      func() time.Time
	changed  func(BreakerState, error) // called with mu held, in order

	mu      sync.Mutex
	state   BreakerState
	gen     uint64 // counts transitions: an outcome of an older state changes nothing
	retryAt time.Time
	probing bool
}

func newBreaker(cooldown time.Duration, now func() time.Time, changed func(BreakerState, error)) *breaker {
	return &breaker{cooldown: cooldown, now: now, changed: changed, state: BreakerClosed}
}

// allow says whether a command may ask Redis now, and returns the ticket
// to report its outcome with.
func (b *breaker) allow() (ticket uint64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return b.gen, true
	case BreakerOpen:
		if b.now().Before(b.retryAt) {
			return 0, false
		}
		b.set(BreakerHalfOpen, nil)
	}
	if b.probing {
		return 0, false
	}
	b.probing = true
	return b.gen, true
}

// succeeded reports that Redis answered the command holding ticket.
func (b *breaker) succeeded(ticket uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ticket == b.gen && b.state == BreakerHalfOpen {
		b.probing = false
		b.set(BreakerClosed, nil)
	}
}

// failed reports that Redis failed the command holding ticket.
func (b *breaker) failed(ticket uint64, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ticket != b.gen || b.state == BreakerOpen {
		return // the breaker already knows
	}
	b.probing = false
	b.retryAt = b.now().Add(b.cooldown)
	b.set(BreakerOpen, err)
}

// abandoned reports that the command holding ticket ended without an
// answer that says anything about Redis (its caller went away): a probe's
// turn passes to the next command.
func (b *breaker) abandoned(ticket uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ticket == b.gen && b.state == BreakerHalfOpen {
		b.probing = false
	}
}

// State is the breaker's state now.
func (b *breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

func (b *breaker) set(s BreakerState, err error) {
	b.state = s
	b.gen++
	if b.changed != nil {
		b.changed(s, err)
	}
}
