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

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/usersgraph/usersgraph/graph"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// production is the resilience the server runs with, scaled down in time.
func production(requestTimeout time.Duration) []option {
	return []option{
		withTimeout(300 * time.Millisecond),
		withClient(
			restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}),
			restclient.WithConcurrencyLimit(64),
		),
		withConfig(func(c *graph.Config) { c.RequestTimeout = requestTimeout }),
	}
}

func TestEveryUpstreamFaultAnswersWithinTheDeadline(t *testing.T) {
	const deadline = 2 * time.Second
	e := setup(t, production(deadline)...)
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
		{"slow response (200 ms)", restclienttest.Fault{Delay: 200 * time.Millisecond}, ""},
	}
	var table strings.Builder
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			e.fake.ClearFaults()
			e.fake.InjectFault(restclienttest.RouteList, tc.fault)
			start := time.Now()
			r := e.query(t, `{ users(first: 3) { totalCount } }`, nil, apiKey)
			took := time.Since(start)
			got := ""
			if len(r.Errors) > 0 {
				got = r.onlyError(t).code()
			}
			fmt.Fprintf(&table, "%-36s %-22s %6d ms\n", tc.mode, orOK(got), took.Milliseconds())
			if got != tc.code {
				t.Fatalf("code %q, want %q: %s", got, tc.code, short(r.Raw))
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
	e.fake.ClearFaults()
	var v struct{ Users struct{ TotalCount int } }
	e.query(t, `{ users(first: 1) { totalCount } }`, nil, apiKey).mustData(t, &v)
}

func orOK(code string) string {
	if code == "" {
		return "ok"
	}
	return code
}

func TestTransientFaultsSucceedAfterARetry(t *testing.T) {
	e := setup(t, production(5*time.Second)...)
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
			e.fake.ClearFaults()
			e.fake.ResetCounts()
			tc.fault.Times = 1
			e.fake.InjectFault(restclienttest.RouteList, tc.fault)
			var v struct{ Users struct{ TotalCount int } }
			e.query(t, `{ users(first: 2) { totalCount } }`, nil, apiKey).mustData(t, &v)
			if v.Users.TotalCount != 300 || e.fake.Calls(restclienttest.RouteList) != 2 {
				t.Fatalf("total %d after %d calls", v.Users.TotalCount, e.fake.Calls(restclienttest.RouteList))
			}
		})
	}
}

func TestABrokenUpstreamFailsFastThenRecovers(t *testing.T) {
	e := setup(t, withClient(restclient.WithCircuitBreaker(3, 200*time.Millisecond)))
	e.fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 500})
	for i := range 3 {
		e.query(t, fmt.Sprintf(`{ users(first: %d) { totalCount } }`, i+1), nil, apiKey)
	}
	calls := e.fake.TotalCalls()
	err := e.query(t, `{ users(first: 9) { totalCount } }`, nil, apiKey).onlyError(t)
	if err.code() != "UPSTREAM_UNAVAILABLE" || e.fake.TotalCalls() != calls {
		t.Fatalf("open breaker: code %s after %d more calls", err.code(), e.fake.TotalCalls()-calls)
	}
	e.fake.ClearFaults()
	var r response
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if r = e.query(t, `{ users(first: 10) { totalCount } }`, nil, apiKey); len(r.Errors) == 0 {
			return
		}
	}
	t.Fatalf("never recovered: %s", short(r.Raw))
}

func TestRepeatingTheCreatorsQueryWithinTheTTLCostsNoCall(t *testing.T) {
	users, _, _ := creatorDataset(40, 15)
	e := setup(t, withUsers(users), withClient(restclient.WithCache(time.Minute, 1000)))
	var first, second creatorsPage
	e.query(t, creatorsQuery, nil, apiKey).mustData(t, &first)
	if n := e.fake.TotalCalls(); n != 1+40-15 {
		t.Fatalf("cold: %d calls", n)
	}
	e.fake.ResetCounts()
	e.query(t, creatorsQuery, nil, apiKey).mustData(t, &second)
	if n := e.fake.TotalCalls(); n != 0 {
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
	e := setup(t, withFake(restclienttest.WithTenant("key-a", a), restclienttest.WithTenant("key-b", b)),
		withClient(restclient.WithCache(time.Minute, 1000)))
	q := `query($id: ID!) { users { nodes { name createdBy { name } } } user(id: $id) { name } }`
	for round := range 3 {
		for _, tenant := range []struct{ key, want string }{{"key-a", "Tenant A"}, {"key-b", "Tenant B"}} {
			r := e.query(t, q, map[string]any{"id": restclienttest.NewID(2)}, header{"X-API-Key", tenant.key})
			var v map[string]any
			r.mustData(t, &v)
			other := map[string]string{"Tenant A": "Tenant B", "Tenant B": "Tenant A"}[tenant.want]
			if !strings.Contains(string(r.Data), tenant.want) || strings.Contains(string(r.Data), other) {
				t.Fatalf("round %d, %s: %s", round, tenant.key, r.Data)
			}
		}
	}
	// Round 0 made a list call and a lookup per credential (the root fields
	// run side by side, so user(id) may not wait for the page to prime the
	// loader); rounds 1 and 2 were served from the cache.
	if n := e.fake.TotalCalls(); n > 4 {
		t.Fatalf("%d upstream calls, want at most two per credential", n)
	}
}

func TestADeadlineThatPassesBeforeExecutionIsAnsweredNotDropped(t *testing.T) {
	// gqlgen's executor answers nothing once the context is done; the
	// transport must still write an answer when the deadline is the cause.
	e := setup(t, withConfig(func(c *graph.Config) { c.RequestTimeout = time.Nanosecond }))
	err := e.query(t, `{ users(first: 1) { totalCount } }`, nil, apiKey).onlyError(t)
	if err.code() != "UPSTREAM_UNAVAILABLE" || err.Message != "the request ran out of time" {
		t.Fatalf("code %s message %q", err.code(), err.Message)
	}
	if n := e.fake.TotalCalls(); n != 0 {
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
			rec := &opRecorder{}
			spans := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			e := setup(t, withConfig(func(c *graph.Config) { c.Observer, c.RequestTimeout, c.Tracer = rec, tc.deadline, tp }))
			e.fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Hang: true})

			ctx, hangUp := context.WithCancel(t.Context())
			defer hangUp()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL,
				strings.NewReader(`{"query":"query Page { users(first: 3) { totalCount } }"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(apiKey.name, apiKey.value)
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
				eventually(t, "Cognigy receives the call", func() bool { return e.fake.TotalCalls() > 0 })
				hangUp()
			}
			if err := <-sent; (err != nil) != (tc.deadline == 0) {
				t.Fatalf("the client's request ended with %v", err)
			}

			eventually(t, "the operation is observed", func() bool { return len(rec.operations()) > 0 })
			if ops := rec.operations(); len(ops) != 1 || ops[0].Name != "Page" || ops[0].Outcome != tc.wantOutcome {
				t.Fatalf("observed %+v, want one Page with outcome %s", ops, tc.wantOutcome)
			}
			logs := e.logs.String()
			if warned := strings.Contains(logs, `"level":"WARN"`); warned != tc.wantWarning {
				t.Fatalf("warned %t, want %t; logs:\n%s", warned, tc.wantWarning, logs)
			}
			if strings.Contains(logs, `"level":"ERROR"`) {
				t.Fatalf("an error was logged:\n%s", logs)
			}
			// Neither the operation's span nor the resolver's is an error
			// when the caller hung up.
			eventually(t, "both spans end", func() bool { return len(spans.Ended()) >= 2 })
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
