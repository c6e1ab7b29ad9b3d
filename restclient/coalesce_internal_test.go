package restclient

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds, failing after a bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
	}
}

// waiters is how many callers wait for key's flight now (0: none in flight).
func (c *coalescer) waitersOf(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.flights[key]; f != nil {
		return f.waiters
	}
	return 0
}

// A flight that every caller left runs on until its context stops it; when
// it ends, it must not take a newer flight of the same key with it, or the
// callers of that key would stop sharing one call.
func TestAnAbandonedFlightEndingLeavesTheNewOneShared(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	c := newCoalescer(getFunc(func(context.Context, request) result {
		calls.Add(1)
		<-release
		return result{v: "newer"}
	}), nopObserver{})
	abandoned := &flight{done: make(chan struct{}), cancel: func(error) {}}

	answers := make(chan result, 2)
	go func() { answers <- c.get(t.Context(), request{key: "k"}) }()
	waitFor(t, "the newer flight starts", func() bool { return calls.Load() == 1 })
	c.land("k", abandoned, result{v: "abandoned"}) // what the abandoned flight does when it ends
	go func() { answers <- c.get(t.Context(), request{key: "k"}) }()
	waitFor(t, "a second caller joins the newer flight", func() bool { return c.waitersOf("k") == 2 })
	close(release)

	for range 2 {
		if r := <-answers; r.v != "newer" {
			t.Fatalf("got %+v, want the newer flight's answer", r)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1: the newer flight was forgotten", n)
	}
}

// The first caller runs the call on its own goroutine: when it stops
// waiting while another caller still waits, the call goes on for that one,
// and the first caller answers with its own context's end.
func TestAFirstCallerLeavingKeepsTheCallForTheOthers(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	c := newCoalescer(getFunc(func(ctx context.Context, _ request) result {
		calls.Add(1)
		select {
		case <-release:
			return result{v: "page"}
		case <-ctx.Done():
			return result{err: ctx.Err()}
		}
	}), nopObserver{})
	first, leave := context.WithCancel(t.Context())
	firstAnswer, secondAnswer := make(chan result, 1), make(chan result, 1)
	go func() { firstAnswer <- c.get(first, request{key: "k"}) }()
	waitFor(t, "the flight starts", func() bool { return calls.Load() == 1 })
	go func() { secondAnswer <- c.get(t.Context(), request{key: "k"}) }()
	waitFor(t, "a second caller joins", func() bool { return c.waitersOf("k") == 2 })
	leave()
	waitFor(t, "the first caller is counted out", func() bool { return c.waitersOf("k") == 1 })
	close(release)

	if r := <-secondAnswer; r.err != nil || r.v != "page" {
		t.Fatalf("second caller: %+v, want the page", r)
	}
	var te *TransportError
	if r := <-firstAnswer; !errors.As(r.err, &te) || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("first caller: %+v, want a *TransportError of its cancellation", r)
	}
}

// When the first caller is the only one and leaves, the call is cancelled
// at once rather than run to its end for no one.
func TestALoneFirstCallerLeavingCancelsTheCall(t *testing.T) {
	c := newCoalescer(getFunc(func(ctx context.Context, _ request) result {
		<-ctx.Done()
		return result{err: context.Cause(ctx)}
	}), nopObserver{})
	ctx, leave := context.WithCancel(t.Context())
	answer := make(chan result, 1)
	go func() { answer <- c.get(ctx, request{key: "k"}) }()
	waitFor(t, "the flight starts", func() bool { return c.waitersOf("k") == 1 })
	leave()
	if r := <-answer; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("got %+v, want the cancellation", r)
	}
	if n := c.waitersOf("k"); n != 0 {
		t.Fatalf("the flight is still there with %d callers", n)
	}
}

// A call that panics on the first caller's goroutine goes on panicking
// there; the callers that joined get an error instead of waiting forever.
func TestAPanickingCallFailsTheJoinedCallers(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	c := newCoalescer(getFunc(func(context.Context, request) result {
		close(started)
		<-release
		panic("boom")
	}), nopObserver{})
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		c.get(t.Context(), request{key: "k"})
	}()
	<-started
	joined := make(chan result, 1)
	go func() { joined <- c.get(t.Context(), request{key: "k"}) }()
	waitFor(t, "a second caller joins", func() bool { return c.waitersOf("k") == 2 })
	close(release)
	if p := <-recovered; p != "boom" {
		t.Fatalf("first caller recovered %v, want the panic", p)
	}
	if r := <-joined; !errors.Is(r.err, errFlightPanicked) {
		t.Fatalf("joined caller: %+v, want errFlightPanicked", r)
	}
	if n := c.waitersOf("k"); n != 0 {
		t.Fatalf("the panicked flight is still there with %d callers", n)
	}
}
