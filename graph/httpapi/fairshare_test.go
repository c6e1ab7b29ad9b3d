package httpapi_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/graph/graphtest"
	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// TestOneFloodingCredentialDoesNotStarveAnother: with the upstream limited
// to 3 calls a second (burst 20) and each credential to half of that, a
// caller flooding the facade gets RATE_LIMITED with retryAfter, never a
// 5xx, and another credential's requests, sent while the flood waits, are
// all answered. Without per-caller buckets the flood queues in the shared
// limiter for seconds, and the other caller's requests time out there.
func TestOneFloodingCredentialDoesNotStarveAnother(t *testing.T) {
	other := []restclienttest.User{{ID: restclienttest.NewID(7), Name: "Other tenant"}}
	e := graphtest.Setup(t,
		graphtest.WithFake(restclienttest.WithTenant("other-key", other)),
		graphtest.WithClient(restclient.WithRateLimit(3, 20), restclient.WithCallerShare(1.5, 10)),
		graphtest.WithConfig(func(c *httpapi.Config) { c.RequestTimeout = 2 * time.Second }))
	flooder := graphtest.APIKey
	quiet := graphtest.Header{Name: restclient.HeaderAPIKey, Value: "other-key"}

	const flood = 60
	type outcome struct {
		code       string
		retryAfter any
		status     int
	}
	results := make(chan outcome, flood)
	var wg sync.WaitGroup
	for i := range flood {
		wg.Go(func() {
			// Distinct filters: no cache or coalescing answers them.
			r := e.Query(t, fmt.Sprintf(`{ users(first: 1, filter: "f%d") { totalCount } }`, i), nil, flooder)
			o := outcome{status: r.Status}
			if len(r.Errors) > 0 {
				o.code, o.retryAfter = r.Errors[0].Code(), r.Errors[0].Extensions["retryAfter"]
			}
			results <- o
		})
	}
	// The flooder's burst has reached Cognigy: the rest of the flood is
	// now waiting or refused.
	graphtest.Eventually(t, "the flood reaches Cognigy", func() bool { return e.Fake.TotalCalls() >= 10 })
	start := time.Now()
	for i := range 3 {
		var v struct{ Users struct{ TotalCount int } }
		e.Query(t, fmt.Sprintf(`{ users(first: 1, filter: "q%d") { totalCount } }`, i), nil, quiet).MustData(t, &v)
	}
	quietTook := time.Since(start)
	wg.Wait()
	close(results)
	answered, limited := 0, 0
	for o := range results {
		switch {
		case o.status >= 500:
			t.Fatalf("the flooder got status %d", o.status)
		case o.code == "":
			answered++
		case o.code == "RATE_LIMITED" && o.retryAfter != nil:
			limited++
		default:
			t.Fatalf("the flooder got %s (retryAfter %v)", o.code, o.retryAfter)
		}
	}
	if limited == 0 {
		t.Fatal("the flood was never limited")
	}
	t.Logf("flooder: %d answered, %d RATE_LIMITED with retryAfter; the other credential: 3 of 3 answered in %s", answered, limited, quietTook.Round(time.Millisecond))
}
