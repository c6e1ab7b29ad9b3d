package restclient_test

import (
	"context"
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
	hc := restclient.NewHTTPClient(restclient.WithoutKeepAlives())
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
