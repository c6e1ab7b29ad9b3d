package restclient_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// recorder is an Observer that keeps what it was told.
type recorder struct {
	mu        sync.Mutex
	attempts  []restclient.Attempt
	hits      int
	misses    int
	coalesced int
	states    []restclient.BreakerState
}

func (r *recorder) Attempted(_ context.Context, a restclient.Attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, a)
}

func (r *recorder) CacheLookup(hit bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if hit {
		r.hits++
	} else {
		r.misses++
	}
}

func (r *recorder) Coalesced() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.coalesced++
}

func (r *recorder) BreakerChanged(s restclient.BreakerState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, s)
}

// seen returns a copy of the attempts observed so far.
func (r *recorder) seen() []restclient.Attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]restclient.Attempt(nil), r.attempts...)
}

// coalescedSeen is how many calls joined another so far.
func (r *recorder) coalescedSeen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.coalesced
}

func (r *recorder) attemptsSeen() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for _, a := range r.attempts {
		parts = append(parts, fmt.Sprintf("%s#%d:%d", a.Route, a.Number, a.Status))
	}
	return strings.Join(parts, " ")
}

func TestTheObserverSeesEveryAttemptWithItsRouteAndStatus(t *testing.T) {
	rec := &recorder{}
	fake, c := fakeAndClient(t, nil, retry3, restclient.WithObserver(rec))
	fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 503, Times: 1})
	ctx := withKey(t.Context(), key)
	if _, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.GetUser(ctx, strings.Repeat("0", 24)); err == nil {
		t.Fatal("an unknown id was found")
	}
	if got, want := rec.attemptsSeen(), "list#1:503 list#2:200 byid#1:404"; got != want {
		t.Fatalf("attempts %q, want %q", got, want)
	}
	for _, a := range rec.attempts {
		if (a.Status == 200) != (a.Err == nil) || a.Elapsed <= 0 {
			t.Fatalf("attempt %+v", a)
		}
	}
}

func TestTheObserverSeesCacheHitsAndMisses(t *testing.T) {
	rec := &recorder{}
	_, c := fakeAndClient(t, nil, restclient.WithCache(time.Minute, 10), restclient.WithObserver(rec))
	ctx := withKey(t.Context(), key)
	for range 3 {
		if _, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if rec.misses != 1 || rec.hits != 2 {
		t.Fatalf("%d misses and %d hits, want 1 and 2", rec.misses, rec.hits)
	}
}

func TestTheObserverSeesCoalescedCalls(t *testing.T) {
	rec := &recorder{}
	fake, c := fakeAndClient(t, []restclienttest.Option{restclienttest.WithLatency(200 * time.Millisecond)}, restclient.WithObserver(rec))
	ctx := withKey(t.Context(), key)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	calls := fake.Calls(restclienttest.RouteList)
	if rec.coalesced != 5-calls || calls >= 5 {
		t.Fatalf("%d coalesced for %d upstream calls of 5", rec.coalesced, calls)
	}
}

func TestTheBreakerStateIsObservedAndGatesReadiness(t *testing.T) {
	rec := &recorder{}
	fake, c := fakeAndClient(t, nil, restclient.WithCircuitBreaker(2, time.Hour), restclient.WithObserver(rec))
	ctx := withKey(t.Context(), key)
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("a reachable upstream is not ready: %v", err)
	}
	fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 502})
	for range 2 {
		_, _, _ = c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1})
	}
	if c.Breaker() != restclient.BreakerOpen || len(rec.states) != 1 || rec.states[0] != restclient.BreakerOpen {
		t.Fatalf("breaker %s, observed %v", c.Breaker(), rec.states)
	}
	if err := c.Ready(ctx); !errors.Is(err, restclient.ErrCircuitOpen) {
		t.Fatalf("ready with an open breaker: %v", err)
	}
}

func TestAnUnreachableUpstreamIsNotReady(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := restclient.New("http://" + addr + "/new")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Ready(t.Context())
	if err == nil {
		t.Fatal("ready with nothing listening")
	}
	if strings.Contains(err.Error(), addr) {
		t.Fatalf("the error names the upstream's address: %v", err)
	}
}
