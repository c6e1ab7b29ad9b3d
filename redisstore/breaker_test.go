package redisstore

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// fakeClock is a time a test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestBreaker(t *testing.T) {
	const cooldown = time.Second
	errDown := errors.New("i/o timeout")
	setup := func() (*breaker, *fakeClock, *[]BreakerState) {
		clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
		var changes []BreakerState
		return newBreaker(cooldown, clock.now, func(s BreakerState, _ error) { changes = append(changes, s) }), clock, &changes
	}

	t.Run("a closed breaker lets every command through", func(t *testing.T) {
		b, _, changes := setup()
		for range 3 {
			ticket, ok := b.allow()
			if !ok {
				t.Fatal("refused")
			}
			b.succeeded(ticket)
		}
		if b.State() != BreakerClosed || len(*changes) != 0 {
			t.Fatalf("state %s, changes %v", b.State(), *changes)
		}
	})

	t.Run("one failure opens it, and it refuses until the cool-down has passed", func(t *testing.T) {
		b, clock, _ := setup()
		ticket, _ := b.allow()
		b.failed(ticket, errDown)
		if _, ok := b.allow(); ok || b.State() != BreakerOpen {
			t.Fatalf("asked Redis right after a failure (state %s)", b.State())
		}
		clock.advance(cooldown - time.Millisecond)
		if _, ok := b.allow(); ok {
			t.Fatal("asked Redis before the cool-down's end")
		}
	})

	t.Run("after the cool-down one probe goes, and the others wait for its answer", func(t *testing.T) {
		b, clock, _ := setup()
		ticket, _ := b.allow()
		b.failed(ticket, errDown)
		clock.advance(cooldown)
		probe, ok := b.allow()
		if !ok || b.State() != BreakerHalfOpen {
			t.Fatalf("no probe after the cool-down (state %s)", b.State())
		}
		if _, ok := b.allow(); ok {
			t.Fatal("a second command went while the probe was out")
		}
		b.succeeded(probe)
		if _, ok := b.allow(); !ok || b.State() != BreakerClosed {
			t.Fatalf("a successful probe did not close the breaker (state %s)", b.State())
		}
	})

	t.Run("a failed probe opens it for another cool-down", func(t *testing.T) {
		b, clock, changes := setup()
		ticket, _ := b.allow()
		b.failed(ticket, errDown)
		clock.advance(cooldown)
		probe, _ := b.allow()
		b.failed(probe, errDown)
		if _, ok := b.allow(); ok || b.State() != BreakerOpen {
			t.Fatalf("state %s after a failed probe", b.State())
		}
		clock.advance(cooldown)
		if _, ok := b.allow(); !ok {
			t.Fatal("no second probe after the second cool-down")
		}
		want := []BreakerState{BreakerOpen, BreakerHalfOpen, BreakerOpen, BreakerHalfOpen}
		if !slices.Equal(*changes, want) {
			t.Fatalf("changes %v, want %v", *changes, want)
		}
	})

	t.Run("an abandoned probe passes its turn to the next command", func(t *testing.T) {
		b, clock, _ := setup()
		ticket, _ := b.allow()
		b.failed(ticket, errDown)
		clock.advance(cooldown)
		probe, _ := b.allow()
		b.abandoned(probe)
		if _, ok := b.allow(); !ok {
			t.Fatal("no probe after the first one's caller went away")
		}
	})

	t.Run("outcomes of commands sent before a change change nothing", func(t *testing.T) {
		b, clock, _ := setup()
		early, _ := b.allow()
		late, _ := b.allow()
		b.failed(early, errDown)
		clock.advance(cooldown)
		probe, _ := b.allow()
		b.succeeded(late) // sent while closed, answered after the failure
		if b.State() != BreakerHalfOpen {
			t.Fatalf("a stale success moved the breaker to %s", b.State())
		}
		b.failed(late, errDown)
		if b.State() != BreakerHalfOpen {
			t.Fatalf("a stale failure moved the breaker to %s", b.State())
		}
		b.succeeded(probe)
		if b.State() != BreakerClosed {
			t.Fatalf("state %s after the probe's success", b.State())
		}
	})
}
