package graph_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/graph"
	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

const testKey = "test-key-7d1e"

// env is a facade served by httptest over a running Cognigy fake.
type env struct {
	fake *restclienttest.Server
	srv  *httptest.Server
	logs *syncBuffer
}

type setupOptions struct {
	fake        []restclienttest.Option
	lookup      loaders.Route
	defaultKey  string
	timeout     time.Duration
	upstream    graph.Upstream // replaces the REST client when set
	concurrency int
	clientOpts  []restclient.Option
	config      func(*graph.Config)
}

type option func(*setupOptions)

func withUsers(users []restclienttest.User) option {
	return func(o *setupOptions) { o.fake = append(o.fake, restclienttest.WithUsers(users)) }
}
func withFake(opts ...restclienttest.Option) option {
	return func(o *setupOptions) { o.fake = append(o.fake, opts...) }
}
func withLookup(r loaders.Route) option    { return func(o *setupOptions) { o.lookup = r } }
func withDefaultKey(k string) option       { return func(o *setupOptions) { o.defaultKey = k } }
func withTimeout(d time.Duration) option   { return func(o *setupOptions) { o.timeout = d } }
func withUpstream(u graph.Upstream) option { return func(o *setupOptions) { o.upstream = u } }
func withConcurrency(n int) option         { return func(o *setupOptions) { o.concurrency = n } }
func withClient(opts ...restclient.Option) option {
	return func(o *setupOptions) { o.clientOpts = append(o.clientOpts, opts...) }
}
func withConfig(f func(*graph.Config)) option { return func(o *setupOptions) { o.config = f } }

// setup starts a fake whose only key is testKey and a facade over it.
func setup(t *testing.T, opts ...option) *env {
	t.Helper()
	o := setupOptions{lookup: loaders.RouteList, timeout: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	fake, err := restclienttest.NewServer(append([]restclienttest.Option{restclienttest.WithAPIKey(testKey)}, o.fake...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	up := o.upstream
	if up == nil {
		// No keep-alive: a fault that kills a connection must not be
		// hidden by the transport's silent replay on a fresh one.
		hc := restclient.NewHTTPClient()
		hc.Transport.(*http.Transport).DisableKeepAlives = true
		c, err := restclient.New(fake.URL, append([]restclient.Option{restclient.WithTimeout(o.timeout), restclient.WithDoer(hc)}, o.clientOpts...)...)
		if err != nil {
			t.Fatal(err)
		}
		up = c
	}
	logs := &syncBuffer{}
	cfg := graph.Config{
		Upstream:          up,
		DefaultCredential: restclient.NewCredential(restclient.APIKey, o.defaultKey),
		Lookup:            loaders.Config{Route: o.lookup, Concurrency: o.concurrency},
		Logger:            slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if o.config != nil {
		o.config(&cfg)
	}
	h := graph.NewHandler(cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{fake: fake, srv: srv, logs: logs}
}

// response is a GraphQL response.
type response struct {
	Status int
	Raw    string
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// header is a request header for query.
type header struct{ name, value string }

// apiKey is the header the fake accepts.
var apiKey = header{restclient.HeaderAPIKey, testKey}

// query POSTs a GraphQL request and decodes the answer.
func (e *env) query(t *testing.T, q string, vars map[string]any, headers ...header) response {
	t.Helper()
	return e.post(t, map[string]any{"query": q, "variables": vars}, headers...)
}

// post POSTs any JSON body.
func (e *env) post(t *testing.T, payload map[string]any, headers ...header) response {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		req.Header.Set(h.name, h.value)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	r := response{Status: resp.StatusCode, Raw: buf.String()}
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, short(buf.String()))
	}
	return r
}

// mustData fails on any error and decodes data into v.
func (r response) mustData(t *testing.T, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %s", short(r.Raw))
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data: %v\n%s", err, short(r.Raw))
	}
}

// onlyError returns the response's single error.
func (r response) onlyError(t *testing.T) gqlError {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("want exactly one error, got %d: %s", len(r.Errors), short(r.Raw))
	}
	return r.Errors[0]
}

// syncBuffer is a log sink that tests read while handlers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond until it holds, failing after a bound: for what
// happens after the client has its answer (an observer's call, a flight
// ending in the background), which offers no event to wait on.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
	}
}

// lastRequest is the fake's most recent request.
func (e *env) lastRequest(t *testing.T) restclienttest.Request {
	t.Helper()
	reqs := e.fake.Requests()
	if len(reqs) == 0 {
		t.Fatal("the fake received no request")
	}
	return reqs[len(reqs)-1]
}

func pathString(p []any) string {
	parts := make([]string, len(p))
	for i, v := range p {
		b, _ := json.Marshal(v)
		parts[i] = strings.Trim(string(b), `"`)
	}
	return strings.Join(parts, ".")
}

func newGET(t *testing.T, u string) (*http.Request, error) {
	return http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
}

func urlEscape(s string) string { return url.QueryEscape(s) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// short keeps failure messages readable.
func short(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

func newClient(t *testing.T, base string) *restclient.Client {
	t.Helper()
	c, err := restclient.New(base)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
