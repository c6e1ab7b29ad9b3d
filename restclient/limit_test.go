package restclient_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

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
