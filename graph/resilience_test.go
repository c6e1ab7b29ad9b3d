package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/graph/graphtest"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/usersgraph/usersgraph/graph"
	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// production is the resilience the server runs with, scaled down in time.
func production(requestTimeout time.Duration) []graphtest.Option {
	return []graphtest.Option{
		graphtest.WithTimeout(300 * time.Millisecond),
		graphtest.WithClient(
			restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}),
			restclient.WithConcurrencyLimit(64),
		),
		graphtest.WithConfig(func(c *httpapi.Config) { c.RequestTimeout = requestTimeout }),
	}
}

func TestEveryUpstreamFaultAnswersWithinTheDeadline(t *testing.T) {
	const deadline = 2 * time.Second
	e := graphtest.Setup(t, production(deadline)...)
	retryAfter := http.Header{"Retry-After": {"1"}}
	cases := []struct {
		mode  string
		fault restclienttest.Fault
		code  string // "" = success
	}{
		{"500", restclienttest.Fault{Status: 500}, "UPSTREAM_ERROR"},
		{"502", restclienttest.Fault{Status: 502}, "UPSTREAM_UNAVAILABLE"},
		{"503 + Retry-After", restclienttest.Fault{Status: 503, Header: retryAfter}, "UPSTREAM_UNAVAILABLE"},
		{"504", restclienttest.Fault{Status: 504}, "UPSTREAM_UNAVAILABLE"},
		{"429 + Retry-After", restclienttest.Fault{Status: 429, Header: retryAfter}, "RATE_LIMITED"},
		{"429 + Retry-After past the deadline", restclienttest.Fault{Status: 429, Header: http.Header{"Retry-After": {"60"}}}, "RATE_LIMITED"},
		{"hang", restclienttest.Fault{Hang: true}, "UPSTREAM_UNAVAILABLE"},
		{"connection reset", restclienttest.Fault{Reset: true}, "UPSTREAM_UNAVAILABLE"},
		{"truncated JSON", restclienttest.Fault{Truncated: true}, "UPSTREAM_UNAVAILABLE"},
		{"wrong shape", restclienttest.Fault{WrongShape: true}, "UPSTREAM_ERROR"},
		{"50 MB body", restclienttest.Fault{HugeBody: 50 << 20}, "UPSTREAM_ERROR"},
		{"slow graphtest.Response (200 ms)", restclienttest.Fault{Delay: 200 * time.Millisecond}, ""},
	}
	var table strings.Builder
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			e.Fake.ClearFaults()
			e.Fake.InjectFault(restclienttest.RouteList, tc.fault)
			start := time.Now()
			r := e.Query(t, `{ users(first: 3) { totalCount } }`, nil, graphtest.APIKey)
			took := time.Since(start)
			got := ""
			if len(r.Errors) > 0 {
				got = r.OnlyError(t).Code()
			}
			fmt.Fprintf(&table, "%-36s %-22s %6d ms\n", tc.mode, orOK(got), took.Milliseconds())
			if got != tc.code {
				t.Fatalf("code %q, want %q: %s", got, tc.code, graphtest.Short(r.Raw))
			}
			if took > deadline+time.Second {
				t.Fatalf("answered after %s, past the %s deadline", took, deadline)
			}
			if tc.code == "RATE_LIMITED" {
				if ra, _ := r.Errors[0].Extensions["retryAfter"].(float64); ra < 1 {
					t.Fatalf("no retryAfter: %v", r.Errors[0].Extensions)
				}
			}
		})
	}
	t.Logf("fault → code → time to answer (deadline %s):\n%s", deadline, table.String())
	e.Fake.ClearFaults()
	var v struct{ Users struct{ TotalCount int } }
	e.Query(t, `{ users(first: 1) { totalCount } }`, nil, graphtest.APIKey).MustData(t, &v)
}

func orOK(code string) string {
	if code == "" {
		return "ok"
	}
	return code
}

func TestTransientFaultsSucceedAfterARetry(t *testing.T) {
	e := graphtest.Setup(t, production(5*time.Second)...)
	for _, tc := range []struct {
		mode  string
		fault restclienttest.Fault
	}{
		{"502", restclienttest.Fault{Status: 502}},
		{"503 + Retry-After", restclienttest.Fault{Status: 503, Header: http.Header{"Retry-After": {"1"}}}},
		{"504", restclienttest.Fault{Status: 504}},
		{"429 + Retry-After", restclienttest.Fault{Status: 429, Header: http.Header{"Retry-After": {"1"}}}},
		{"hang", restclienttest.Fault{Hang: true}},
		{"connection reset", restclienttest.Fault{Reset: true}},
		{"truncated JSON", restclienttest.Fault{Truncated: true}},
	} {
		t.Run(tc.mode+" once, then fine", func(t *testing.T) {
			e.Fake.ClearFaults()
			e.Fake.ResetCounts()
			tc.fault.Times = 1
			e.Fake.InjectFault(restclienttest.RouteList, tc.fault)
			var v struct{ Users struct{ TotalCount int } }
			e.Query(t, `{ users(first: 2) { totalCount } }`, nil, graphtest.APIKey).MustData(t, &v)
			if v.Users.TotalCount != 300 || e.Fake.Calls(restclienttest.RouteList) != 2 {
				t.Fatalf("total %d after %d calls", v.Users.TotalCount, e.Fake.Calls(restclienttest.RouteList))
			}
		})
	}
}

func TestABrokenUpstreamFailsFastThenRecovers(t *testing.T) {
	e := graphtest.Setup(t, graphtest.WithClient(restclient.WithCircuitBreaker(3, 200*time.Millisecond)))
	e.Fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 500})
	for i := range 3 {
		e.Query(t, fmt.Sprintf(`{ users(first: %d) { totalCount } }`, i+1), nil, graphtest.APIKey)
	}
	calls := e.Fake.TotalCalls()
	err := e.Query(t, `{ users(first: 9) { totalCount } }`, nil, graphtest.APIKey).OnlyError(t)
	if err.Code() != "UPSTREAM_UNAVAILABLE" || e.Fake.TotalCalls() != calls {
		t.Fatalf("open breaker: code %s after %d more calls", err.Code(), e.Fake.TotalCalls()-calls)
	}
	e.Fake.ClearFaults()
	var r graphtest.Response
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if r = e.Query(t, `{ users(first: 10) { totalCount } }`, nil, graphtest.APIKey); len(r.Errors) == 0 {
			return
		}
	}
	t.Fatalf("never recovered: %s", graphtest.Short(r.Raw))
}

func TestRepeatingTheCreatorsQueryWithinTheTTLCostsNoCall(t *testing.T) {
	users, _, _ := graphtest.CreatorDataset(40, 15)
	e := graphtest.Setup(t, graphtest.WithUsers(users), graphtest.WithClient(restclient.WithCache(time.Minute, 1000)))
	var first, second creatorsPage
	e.Query(t, graphtest.CreatorsQuery, nil, graphtest.APIKey).MustData(t, &first)
	if n := e.Fake.TotalCalls(); n != 1+40-15 {
		t.Fatalf("cold: %d calls", n)
	}
	e.Fake.ResetCounts()
	e.Query(t, graphtest.CreatorsQuery, nil, graphtest.APIKey).MustData(t, &second)
	if n := e.Fake.TotalCalls(); n != 0 {
		t.Fatalf("warm: %d calls, want 0", n)
	}
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(second)
	if string(a) != string(b) {
		t.Fatal("the cached answer differs")
	}
}

func TestTwoCredentialsNeverSeeEachOthersUsers(t *testing.T) {
	a := []restclienttest.User{{ID: restclienttest.NewID(1), Name: "Tenant A user", CreatedBy: restclienttest.NewID(2)}, {ID: restclienttest.NewID(2), Name: "Tenant A admin"}}
	b := []restclienttest.User{{ID: restclienttest.NewID(1), Name: "Tenant B user", CreatedBy: restclienttest.NewID(2)}, {ID: restclienttest.NewID(2), Name: "Tenant B admin"}}
	e := graphtest.Setup(t, graphtest.WithFake(restclienttest.WithTenant("key-a", a), restclienttest.WithTenant("key-b", b)),
		graphtest.WithClient(restclient.WithCache(time.Minute, 1000)))
	q := `query($id: ID!) { users { nodes { name createdBy { name } } } user(id: $id) { name } }`
	for round := range 3 {
		for _, tenant := range []struct{ key, want string }{{"key-a", "Tenant A"}, {"key-b", "Tenant B"}} {
			r := e.Query(t, q, map[string]any{"id": restclienttest.NewID(2)}, graphtest.Header{Name: "X-API-Key", Value: tenant.key})
			var v map[string]any
			r.MustData(t, &v)
			other := map[string]string{"Tenant A": "Tenant B", "Tenant B": "Tenant A"}[tenant.want]
			if !strings.Contains(string(r.Data), tenant.want) || strings.Contains(string(r.Data), other) {
				t.Fatalf("round %d, %s: %s", round, tenant.key, r.Data)
			}
		}
	}
	// Round 0 made a list call and a lookup per credential (the root fields
	// run side by side, so user(id) may not wait for the page to prime the
	// loader); rounds 1 and 2 were served from the cache.
	if n := e.Fake.TotalCalls(); n > 4 {
		t.Fatalf("%d upstream calls, want at most two per credential", n)
	}
}

func TestADeadlineThatPassesBeforeExecutionIsAnsweredNotDropped(t *testing.T) {
	// gqlgen's executor answers nothing once the context is done; the
	// transport must still write an answer when the deadline is the cause.
	e := graphtest.Setup(t, graphtest.WithConfig(func(c *httpapi.Config) { c.RequestTimeout = time.Nanosecond }))
	err := e.Query(t, `{ users(first: 1) { totalCount } }`, nil, graphtest.APIKey).OnlyError(t)
	if err.Code() != "UPSTREAM_UNAVAILABLE" || err.Message != "the request ran out of time" {
		t.Fatalf("code %s message %q", err.Code(), err.Message)
	}
	if n := e.Fake.TotalCalls(); n != 0 {
		t.Fatalf("%d upstream calls after the deadline", n)
	}
}

func TestACallerWhoHangsUpIsNotAnUpstreamFailure(t *testing.T) {
	cases := []struct {
		name        string
		deadline    time.Duration // the facade's request timeout; 0: the caller hangs up instead
		wantOutcome string
		wantWarning bool
		wantSpan    codes.Code // the status of the Query.users span
	}{
		{"a caller who hangs up while Cognigy hangs is counted as canceled, without a warning", 0, "canceled", false, codes.Unset},
		{"a deadline that passes while Cognigy hangs is still an upstream failure, with a warning", 200 * time.Millisecond, graph.CodeUpstreamUnavailable, true, codes.Error},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &graphtest.OpRecorder{}
			spans := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			e := graphtest.Setup(t, graphtest.WithConfig(func(c *httpapi.Config) { c.Observer, c.RequestTimeout, c.Tracer = rec, tc.deadline, tp }))
			e.Fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Hang: true})

			ctx, hangUp := context.WithCancel(t.Context())
			defer hangUp()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Srv.URL,
				strings.NewReader(`{"query":"query Page { users(first: 3) { totalCount } }"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(graphtest.APIKey.Name, graphtest.APIKey.Value)
			sent := make(chan error, 1)
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				sent <- err
			}()
			if tc.deadline == 0 {
				graphtest.Eventually(t, "Cognigy receives the call", func() bool { return e.Fake.TotalCalls() > 0 })
				hangUp()
			}
			if err := <-sent; (err != nil) != (tc.deadline == 0) {
				t.Fatalf("the client's request ended with %v", err)
			}

			graphtest.Eventually(t, "the operation is observed", func() bool { return len(rec.Operations()) > 0 })
			if ops := rec.Operations(); len(ops) != 1 || ops[0].Name != "Page" || ops[0].Outcome != tc.wantOutcome {
				t.Fatalf("observed %+v, want one Page with outcome %s", ops, tc.wantOutcome)
			}
			logs := e.Logs.String()
			if warned := strings.Contains(logs, `"level":"WARN"`); warned != tc.wantWarning {
				t.Fatalf("warned %t, want %t; logs:\n%s", warned, tc.wantWarning, logs)
			}
			if strings.Contains(logs, `"level":"ERROR"`) {
				t.Fatalf("an error was logged:\n%s", logs)
			}
			// Neither the operation's span nor the resolver's is an error
			// when the caller hung up.
			graphtest.Eventually(t, "both spans end", func() bool { return len(spans.Ended()) >= 2 })
			status := map[string]codes.Code{}
			for _, s := range spans.Ended() {
				status[s.Name()] = s.Status().Code
			}
			for _, name := range []string{"query Page", "Query.users"} {
				if got, ok := status[name]; !ok || got != tc.wantSpan {
					t.Errorf("span %q: status %v (ended: %t), want %v", name, got, ok, tc.wantSpan)
				}
			}
		})
	}
}
