package restclient_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

func TestCircuitBreaker(t *testing.T) {
	fake, c := fakeAndClient(t, nil, restclient.WithCircuitBreaker(3, 100*time.Millisecond))
	ctx := withKey(t.Context(), key)
	fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 500})
	for i := range 3 {
		if _, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1, Skip: i}); err == nil || errors.Is(err, restclient.ErrCircuitOpen) {
			t.Fatalf("call %d: %v, want the upstream's 500", i, err)
		}
	}
	t.Run("after three failures it fails fast without a call", func(t *testing.T) {
		before := fake.TotalCalls()
		_, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1, Skip: 9})
		if !errors.Is(err, restclient.ErrCircuitOpen) || fake.TotalCalls() != before {
			t.Fatalf("err = %v after %d new calls", err, fake.TotalCalls()-before)
		}
	})
	t.Run("it recovers by itself once the upstream does", func(t *testing.T) {
		fake.ClearFaults()
		var err error
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, _, err = c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1, Skip: 10}); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("still failing: %v", err)
		}
	})
	t.Run("4xx answers do not open it", func(t *testing.T) {
		fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 401, NoBody: true, Times: 5})
		for i := range 5 {
			if _, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1, Skip: 20 + i}); errors.Is(err, restclient.ErrCircuitOpen) {
				t.Fatal("opened on 401s")
			}
		}
	})
}

func TestACallerWhoHangsUpIsNotAnUpstreamFailure(t *testing.T) {
	// One failure would open the breaker, and one call fills the only slot.
	rec := &recorder{}
	fake, c := fakeAndClient(t, nil, restclient.WithCircuitBreaker(1, time.Hour), restclient.WithConcurrencyLimit(1), restclient.WithObserver(rec))
	fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Hang: true})
	call := func(ctx context.Context, skip int) <-chan error {
		errc := make(chan error, 1)
		go func() {
			_, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1, Skip: skip})
			errc <- err
		}()
		return errc
	}
	inFlight, hangUpInFlight := context.WithCancel(withKey(t.Context(), key))
	defer hangUpInFlight()
	waiting, hangUpWaiting := context.WithCancel(withKey(t.Context(), key))
	defer hangUpWaiting()

	inFlightErr := call(inFlight, 0)
	eventually(t, "Cognigy receives the first call", func() bool { return fake.TotalCalls() == 1 })
	waitingErr := call(waiting, 1) // another URL: it waits for the slot, it does not join the flight
	hangUpWaiting()
	eventually(t, "the waiting call's attempt is observed", func() bool { return len(rec.seen()) == 1 })
	hangUpInFlight()
	eventually(t, "the call in flight's attempt is observed", func() bool { return len(rec.seen()) == 2 })

	for name, errc := range map[string]<-chan error{"in flight": inFlightErr, "waiting for a slot": waitingErr} {
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("the caller %s got %v, want context.Canceled", name, err)
		}
	}
	for _, a := range rec.seen() {
		var le *restclient.LimitError
		if !errors.Is(a.Err, context.Canceled) || errors.As(a.Err, &le) || a.Status != 0 {
			t.Errorf("attempt %+v, want one that wraps context.Canceled and is no LimitError", a)
		}
	}
	if c.Breaker() != restclient.BreakerClosed || len(rec.states) != 0 {
		t.Fatalf("breaker %s after changes %v, want closed throughout", c.Breaker(), rec.states)
	}
	if n := fake.TotalCalls(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}

	t.Run("a deadline that passes while Cognigy hangs still opens the breaker", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(withKey(t.Context(), key), 100*time.Millisecond)
		defer cancel()
		if _, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		eventually(t, "the attempt is observed", func() bool { return len(rec.seen()) == 3 })
		if a := rec.seen()[2]; !errors.Is(a.Err, context.DeadlineExceeded) || errors.Is(a.Err, context.Canceled) {
			t.Fatalf("attempt %+v, want one that wraps context.DeadlineExceeded", a)
		}
		if c.Breaker() != restclient.BreakerOpen {
			t.Fatalf("breaker %s, want open", c.Breaker())
		}
	})
}
