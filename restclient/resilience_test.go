package restclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

const key = "resilience-key"

// fakeAndClient starts the Cognigy fake and a client over it without
// keep-alives, so that a fault that kills a connection is not hidden by the
// transport's own silent replay.
func fakeAndClient(t *testing.T, fakeOpts []restclienttest.Option, opts ...restclient.Option) (*restclienttest.Server, *restclient.Client) {
	t.Helper()
	fake, err := restclienttest.NewServer(append([]restclienttest.Option{restclienttest.WithAPIKey(key)}, fakeOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	hc := restclient.NewHTTPClient()
	hc.Transport.(*http.Transport).DisableKeepAlives = true
	c, err := restclient.New(fake.URL, append([]restclient.Option{restclient.WithDoer(hc)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

func withKey(ctx context.Context, secret string) context.Context {
	return restclient.WithCredential(ctx, restclient.NewCredential(restclient.APIKey, secret))
}

var retry3 = restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})

func TestRetries(t *testing.T) {
	cases := []struct {
		name      string
		fault     restclienttest.Fault
		wantCalls int
		wantOK    bool
	}{
		{"two 503s are retried and the third attempt succeeds", restclienttest.Fault{Status: 503, Times: 2}, 3, true},
		{"a 502 is retried", restclienttest.Fault{Status: 502, Times: 1}, 2, true},
		{"a 504 is retried", restclienttest.Fault{Status: 504, Times: 1}, 2, true},
		{"a 408 is retried", restclienttest.Fault{Status: 408, Times: 1}, 2, true},
		{"a 429 is retried", restclienttest.Fault{Status: 429, Times: 1}, 2, true},
		{"a connection reset is retried", restclienttest.Fault{Reset: true, Times: 1}, 2, true},
		{"a truncated body is retried", restclienttest.Fault{Truncated: true, Times: 1}, 2, true},
		{"a hung attempt times out and is retried", restclienttest.Fault{Hang: true, Times: 1}, 2, true},
		{"a 500 is an answer, not retried", restclienttest.Fault{Status: 500, Times: 1}, 1, false},
		{"a 400 is not retried", restclienttest.Fault{Status: 400, Times: 1}, 1, false},
		{"a 401 is not retried", restclienttest.Fault{Status: 401, NoBody: true, Times: 1}, 1, false},
		{"a malformed body is not retried", restclienttest.Fault{Status: 200, Body: "{", Times: 1}, 1, false},
		{"attempts stop at the limit", restclienttest.Fault{Status: 503}, 3, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, c := fakeAndClient(t, nil, retry3, restclient.WithTimeout(200*time.Millisecond))
			fake.InjectFault(restclienttest.RouteList, tc.fault)
			page, _, err := c.ListUsers(withKey(t.Context(), key), restclient.ListUsersOptions{Limit: 2})
			if (err == nil) != tc.wantOK {
				t.Fatalf("err = %v, want success %v", err, tc.wantOK)
			}
			if tc.wantOK && len(page.Items) != 2 {
				t.Fatalf("page %+v", page)
			}
			if n := fake.Calls(restclienttest.RouteList); n != tc.wantCalls {
				t.Fatalf("%d calls, want %d", n, tc.wantCalls)
			}
		})
	}
}

func TestRetryAfterIsHonouredWithinTheDeadline(t *testing.T) {
	t.Run("a Retry-After that fits is waited for", func(t *testing.T) {
		fake, c := fakeAndClient(t, nil, retry3)
		fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 503, Header: http.Header{"Retry-After": {"1"}}, Times: 1})
		start := time.Now()
		if _, _, err := c.ListUsers(withKey(t.Context(), key), restclient.ListUsersOptions{Limit: 1}); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Fatalf("retried after %s, before the 1 s Retry-After", waited)
		}
	})
	t.Run("a Retry-After past the deadline answers at once with the wait", func(t *testing.T) {
		fake, c := fakeAndClient(t, nil, retry3)
		fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 429, Header: http.Header{"Retry-After": {"30"}}})
		ctx, cancel := context.WithTimeout(withKey(t.Context(), key), 2*time.Second)
		defer cancel()
		_, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1})
		var er *restclient.ErrorResponse
		if !errors.As(err, &er) || er.StatusCode != 429 || er.RetryAfter != 30*time.Second {
			t.Fatalf("err = %v", err)
		}
		if ctx.Err() != nil {
			t.Fatal("the call waited until the deadline instead of answering at once")
		}
		if n := fake.Calls(restclienttest.RouteList); n != 1 {
			t.Fatalf("%d calls", n)
		}
	})
	t.Run("a hang never holds the caller past its deadline", func(t *testing.T) {
		fake, c := fakeAndClient(t, nil, retry3, restclient.WithTimeout(time.Minute))
		fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Hang: true})
		ctx, cancel := context.WithTimeout(withKey(t.Context(), key), 300*time.Millisecond)
		defer cancel()
		_, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1})
		var te *restclient.TransportError
		if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
}

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

// peakDoer counts the requests in flight at once.
type peakDoer struct {
	next      restclient.Doer
	cur, peak atomic.Int32
}

func (p *peakDoer) Do(r *http.Request) (*http.Response, error) {
	n := p.cur.Add(1)
	defer p.cur.Add(-1)
	for {
		old := p.peak.Load()
		if n <= old || p.peak.CompareAndSwap(old, n) {
			break
		}
	}
	return p.next.Do(r)
}

func TestConcurrencyLimit(t *testing.T) {
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(key), restclienttest.WithLatency(30*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	probe := &peakDoer{next: restclient.NewHTTPClient()}
	c, err := restclient.New(fake.URL, restclient.WithDoer(probe), restclient.WithConcurrencyLimit(2))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if _, _, err := c.ListUsers(withKey(t.Context(), key), restclient.ListUsersOptions{Limit: 1, Skip: i}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if p := probe.peak.Load(); p != 2 {
		t.Fatalf("peak of %d requests at once, want 2", p)
	}
}

func TestRateLimitRefusesWhatCannotStartInTime(t *testing.T) {
	fake, c := fakeAndClient(t, nil, restclient.WithRateLimit(1, 1))
	ctx := withKey(t.Context(), key)
	if _, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 1}); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, _, err := c.ListUsers(short, restclient.ListUsersOptions{Limit: 1, Skip: 1})
	var le *restclient.LimitError
	if !errors.As(err, &le) || le.RetryAfter <= 0 || le.RetryAfter > time.Second {
		t.Fatalf("err = %v, want a LimitError with a wait of up to 1 s", err)
	}
	if short.Err() != nil {
		t.Fatal("the refusal waited for the deadline")
	}
	if n := fake.TotalCalls(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

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
	fake, c := fakeAndClient(t, []restclienttest.Option{restclienttest.WithLatency(100 * time.Millisecond)})
	impatient, cancel := context.WithCancel(withKey(t.Context(), key))
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.ListUsers(impatient, restclient.ListUsersOptions{Limit: 3})
		errc <- err
	}()
	// Join the same flight, then let the first caller give up.
	for fake.TotalCalls() == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ListUsers(withKey(t.Context(), key), restclient.ListUsersOptions{Limit: 3})
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
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

// eventually polls cond until it holds, failing after a bound: for what
// happens in a flight that no caller waits for any more.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
	}
}

func TestCache(t *testing.T) {
	other := []restclienttest.User{{ID: restclienttest.NewID(7), Name: "Other tenant"}}
	t.Run("a repeat within the TTL costs no call, per credential", func(t *testing.T) {
		fake, c := fakeAndClient(t, []restclienttest.Option{restclienttest.WithTenant("other-key", other)}, restclient.WithCache(time.Minute, 100))
		for range 3 {
			for _, secret := range []string{key, "other-key"} {
				p, _, err := c.ListUsers(withKey(t.Context(), secret), restclient.ListUsersOptions{Limit: 5})
				if err != nil {
					t.Fatal(err)
				}
				if want := map[string]int{key: 300, "other-key": 1}[secret]; p.Total != want {
					t.Fatalf("%s saw total %d: an entry crossed credentials", secret, p.Total)
				}
			}
		}
		if n := fake.TotalCalls(); n != 2 {
			t.Fatalf("%d calls, want 2", n)
		}
	})
	t.Run("a 404 is cached too", func(t *testing.T) {
		fake, c := fakeAndClient(t, nil, restclient.WithCache(time.Minute, 100))
		for range 2 {
			_, _, err := c.GetUser(withKey(t.Context(), key), restclienttest.NewID(99999))
			var er *restclient.ErrorResponse
			if !errors.As(err, &er) || er.StatusCode != 404 {
				t.Fatalf("err = %v", err)
			}
		}
		if n := fake.TotalCalls(); n != 1 {
			t.Fatalf("%d calls", n)
		}
	})
	t.Run("errors are not cached", func(t *testing.T) {
		fake, c := fakeAndClient(t, nil, restclient.WithCache(time.Minute, 100))
		fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 500, Times: 1})
		for range 2 {
			_, _, _ = c.ListUsers(withKey(t.Context(), key), restclient.ListUsersOptions{Limit: 1})
		}
		if n := fake.TotalCalls(); n != 2 {
			t.Fatalf("%d calls", n)
		}
	})
	t.Run("a TTL of zero turns it off", func(t *testing.T) {
		fake, c := fakeAndClient(t, nil, restclient.WithCache(0, 100))
		for i := range 2 {
			if _, _, err := c.ListUsers(withKey(t.Context(), key), restclient.ListUsersOptions{Limit: 1}); err != nil {
				t.Fatal(i, err)
			}
		}
		if n := fake.TotalCalls(); n != 2 {
			t.Fatalf("%d calls", n)
		}
	})
}

func ExampleWithRetry() {
	c, err := restclient.New("https://api-trial.cognigy.ai/new",
		restclient.WithTimeout(5*time.Second),
		restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: 3, BaseDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second}),
		restclient.WithCircuitBreaker(5, 10*time.Second),
		restclient.WithCache(5*time.Second, 10000),
	)
	fmt.Println(c != nil, err)
	// Output: true <nil>
}
