package restclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

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
