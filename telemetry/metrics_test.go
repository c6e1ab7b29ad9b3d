package telemetry_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
	"github.com/usersgraph/usersgraph/telemetry"
)

const key = "metrics-key"

// stack is a facade over the fake, reporting to one Metrics.
func stack(t *testing.T, opts ...func(*httpapi.Config)) (*telemetry.Metrics, *restclienttest.Server, *httptest.Server) {
	t.Helper()
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(key), restclienttest.WithUsers(restclienttest.DemoUsers(50, 1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	m := telemetry.New()
	c, err := restclient.New(fake.URL,
		restclient.WithObserver(m),
		restclient.WithCache(time.Minute, 100),
		restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}),
		restclient.WithCircuitBreaker(5, time.Minute),
	)
	if err != nil {
		t.Fatal(err)
	}
	cfg := httpapi.Config{
		Upstream:          c,
		DefaultCredential: restclient.NewCredential(restclient.APIKey, key),
		Observer:          m,
	}
	for _, o := range opts {
		o(&cfg)
	}
	h := httpapi.NewHandler(cfg)
	srv := httptest.NewServer(m.InFlight(h))
	t.Cleanup(srv.Close)
	return m, fake, srv
}

func post(t *testing.T, url, query string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"query":`+quote(query)+`}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func quote(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(s, `"`, `\"`))
	b.WriteByte('"')
	return b.String()
}

func scrape(t *testing.T, m *telemetry.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics answered %d", rec.Code)
	}
	return rec.Body.String()
}

func TestResponseCacheHitsAreCountedAsAnsweredOperations(t *testing.T) {
	m, fake, srv := stack(t, func(c *httpapi.Config) { c.ResponseCacheTTL = time.Minute })
	const page = `query Page { users(last: 5) { nodes { name createdBy { name } } } }` // creators are not on the last page
	for range 4 {                                                                      // kept from its second sight, then served twice
		post(t, srv.URL, page)
	}
	got := scrape(t, m)
	for _, want := range []string{
		`usersgraph_response_cache_lookups_total{result="hit"} 2`,
		`usersgraph_response_cache_lookups_total{result="miss"} 2`,
		`usersgraph_graphql_requests_total{operation="Page",outcome="ok"} 4`,
		`usersgraph_graphql_request_duration_seconds_count{operation="Page"} 4`,
		`usersgraph_loader_batch_size_count 2`, // executed twice
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the metrics lack %s", want)
		}
	}
	if n := fake.TotalCalls(); n == 0 {
		t.Error("no upstream call at all")
	}
	if t.Failed() {
		t.Logf("scraped:\n%s", grepUsersgraph(got))
	}
}

func TestMetricsCountWhatTheServerDid(t *testing.T) {
	m, fake, srv := stack(t)
	fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 503, Times: 1})
	const page = `query Page { users(last: 5) { nodes { name createdBy { name } } } }` // creators are not on the last page
	post(t, srv.URL, page)                                                             // a 503, then the retry: the list, then the lookups
	post(t, srv.URL, page)                                                             // all from the cache
	post(t, srv.URL, `query TooMany { users(first: 101) { totalCount } }`)
	post(t, srv.URL, `{ __typename }`)
	got := scrape(t, m)
	for _, want := range []string{
		`usersgraph_graphql_requests_total{operation="Page",outcome="ok"} 2`,
		`usersgraph_graphql_requests_total{operation="TooMany",outcome="BAD_USER_INPUT"} 1`,
		`usersgraph_graphql_requests_total{operation="anonymous",outcome="ok"} 1`,
		`usersgraph_graphql_request_duration_seconds_count{operation="Page"} 2`,
		`usersgraph_upstream_requests_total{attempt="1",route="list",status="503"} 1`,
		`usersgraph_upstream_requests_total{attempt="2",route="list",status="200"} 1`,
		`usersgraph_upstream_request_duration_seconds_count{route="list"}`,
		`usersgraph_upstream_cache_lookups_total{result="hit"}`,
		`usersgraph_upstream_cache_lookups_total{result="miss"}`,
		`usersgraph_upstream_coalesced_total 0`,
		`usersgraph_loader_batch_size_count 2`, // one per request: the loaders are per request, the cache is not
		`usersgraph_upstream_breaker_state{state="closed"} 1`,
		`usersgraph_upstream_breaker_state{state="open"} 0`,
		`usersgraph_http_requests_in_flight 0`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("scraped:\n%s", grepUsersgraph(got))
	}
}

func TestUpstreamAttemptsAreLabelledByHowTheyEnded(t *testing.T) {
	cases := []struct {
		name string
		a    restclient.Attempt
		want string
	}{
		{"an answer is labelled with its status", restclient.Attempt{Status: 404, Err: &restclient.ErrorResponse{StatusCode: 404}}, "404"},
		{"a caller who hung up is canceled, not a transport error", restclient.Attempt{Err: &restclient.TransportError{Err: context.Canceled}}, "canceled"},
		{"a deadline that passed is a transport error", restclient.Attempt{Err: &restclient.TransportError{Err: context.DeadlineExceeded}}, "transport_error"},
		{"a refusal by the client's own limits is rate_limited", restclient.Attempt{Err: &restclient.LimitError{RetryAfter: time.Second}}, "rate_limited"},
		{"a refusal by the open breaker is circuit_open", restclient.Attempt{Err: restclient.ErrCircuitOpen}, "circuit_open"},
		{"an unreadable body is invalid_body", restclient.Attempt{Status: 200, Err: &restclient.DecodeError{StatusCode: 200, Err: restclient.ErrResponseTooLarge}}, "invalid_body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := telemetry.New()
			tc.a.Route, tc.a.Number = restclient.RouteList, 1
			m.Attempted(t.Context(), tc.a)
			want := `usersgraph_upstream_requests_total{attempt="1",route="list",status="` + tc.want + `"} 1`
			if got := scrape(t, m); !strings.Contains(got, want) {
				t.Fatalf("the metrics lack %s:\n%s", want, grepUsersgraph(got))
			}
		})
	}
}

func TestOperationNamesAreBoundedAsLabels(t *testing.T) {
	m := telemetry.New()
	for i := range 300 {
		m.Operation(t.Context(), httpapi.Operation{Name: "Op" + strings.Repeat("x", i%70) + string(rune('a'+i%26)) + string(rune('a'+i/26)), Outcome: "ok"})
	}
	m.Operation(t.Context(), httpapi.Operation{Name: "not a name {", Outcome: "ok"})
	got := scrape(t, m)
	names := strings.Count(got, "usersgraph_graphql_requests_total{")
	if names != 201 { // 200 names, and "other"
		t.Fatalf("%d label sets for 300 names and an invalid one, want 201", names)
	}
	if !strings.Contains(got, `usersgraph_graphql_requests_total{operation="other",outcome="ok"}`) {
		t.Fatal(`no "other" operation`)
	}
}

func grepUsersgraph(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "usersgraph_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
