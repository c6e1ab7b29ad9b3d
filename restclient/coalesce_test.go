package restclient_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

func TestIdenticalConcurrentRequestsShareOneCall(t *testing.T) {
	other := []restclienttest.User{{ID: restclienttest.NewID(7), Name: "Other tenant"}}
	fake, c := fakeAndClient(t, []restclienttest.Option{restclienttest.WithLatency(50 * time.Millisecond), restclienttest.WithTenant("other-key", other)})
	var wg sync.WaitGroup
	totals := make([]int, 20)
	for i := range totals {
		secret := key
		if i%2 == 1 {
			secret = "other-key"
		}
		wg.Go(func() {
			p, _, err := c.ListUsers(withKey(t.Context(), secret), restclient.ListUsersOptions{Limit: 5})
			if err != nil {
				t.Error(err)
				return
			}
			totals[i] = p.Total
		})
	}
	wg.Wait()
	if n := fake.TotalCalls(); n != 2 {
		t.Fatalf("%d calls for two distinct (credential, URL) pairs", n)
	}
	for i, total := range totals {
		if want := map[bool]int{true: 300, false: 1}[i%2 == 0]; total != want {
			t.Fatalf("caller %d saw total %d, want %d: a response crossed credentials", i, total, want)
		}
	}
}

func TestACancelledCallerDoesNotFailTheOthers(t *testing.T) {
	rec := &recorder{}
	fake, c := fakeAndClient(t, []restclienttest.Option{restclienttest.WithLatency(100 * time.Millisecond)}, restclient.WithObserver(rec))
	impatient, cancel := context.WithCancel(withKey(t.Context(), key))
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.ListUsers(impatient, restclient.ListUsersOptions{Limit: 3})
		errc <- err
	}()
	// Join the same flight, then let the first caller give up.
	eventually(t, "Cognigy receives the first call", func() bool { return fake.TotalCalls() == 1 })
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ListUsers(withKey(t.Context(), key), restclient.ListUsersOptions{Limit: 3})
		done <- err
	}()
	eventually(t, "the second caller joins the flight", func() bool { return rec.coalescedSeen() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("impatient caller: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("patient caller: %v", err)
	}
	if n := fake.TotalCalls(); n > 2 {
		t.Fatalf("%d calls", n)
	}
}
