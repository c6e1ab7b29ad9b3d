// Package graphtest serves the facade over a running Cognigy fake for tests:
// a real HTTP handler (graph/httpapi) in front of a real REST client and
// the restclienttest fake, with helpers to send GraphQL requests and read
// their answers. Tests of graph and graph/httpapi share it.
package graphtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/graph"
	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

const TestKey = "test-key-7d1e"

// Env is a facade served by httptest over a running Cognigy fake.
type Env struct {
	Fake *restclienttest.Server // the upstream
	Srv  *httptest.Server       // the facade
	Logs *SyncBuffer            // the facade's JSON logs, at debug
}

type setupOptions struct {
	fake        []restclienttest.Option
	lookup      loaders.Route
	defaultKey  string
	timeout     time.Duration
	upstream    graph.Upstream // replaces the REST client when set
	concurrency int
	clientOpts  []restclient.Option
	config      func(*httpapi.Config)
	middleware  func(http.Handler) http.Handler
}

// Option configures Setup.
type Option func(*setupOptions)

// WithUsers gives the fake these users.
func WithUsers(users []restclienttest.User) Option {
	return func(o *setupOptions) { o.fake = append(o.fake, restclienttest.WithUsers(users)) }
}

// WithFake configures the fake.
func WithFake(opts ...restclienttest.Option) Option {
	return func(o *setupOptions) { o.fake = append(o.fake, opts...) }
}

// WithLookup sets how references are looked up.
func WithLookup(r loaders.Route) Option { return func(o *setupOptions) { o.lookup = r } }

// WithDefaultKey is the key used for callers that send none.
func WithDefaultKey(k string) Option { return func(o *setupOptions) { o.defaultKey = k } }

// WithTimeout bounds each upstream call of the REST client.
func WithTimeout(d time.Duration) Option { return func(o *setupOptions) { o.timeout = d } }

// WithUpstream replaces the REST client over the fake.
func WithUpstream(u graph.Upstream) Option { return func(o *setupOptions) { o.upstream = u } }

// WithConcurrency bounds the loader's concurrent upstream calls.
func WithConcurrency(n int) Option { return func(o *setupOptions) { o.concurrency = n } }

// WithClient configures the REST client over the fake.
func WithClient(opts ...restclient.Option) Option {
	return func(o *setupOptions) { o.clientOpts = append(o.clientOpts, opts...) }
}

// WithConfig edits the handler's configuration before it is built.
func WithConfig(f func(*httpapi.Config)) Option { return func(o *setupOptions) { o.config = f } }

// WithMiddleware wraps the facade's handler in m.
func WithMiddleware(m func(http.Handler) http.Handler) Option {
	return func(o *setupOptions) { o.middleware = m }
}

// Setup starts a fake whose only key is TestKey and a facade over it.
func Setup(t *testing.T, opts ...Option) *Env {
	t.Helper()
	o := setupOptions{lookup: loaders.RouteList, timeout: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	fake, err := restclienttest.NewServer(append([]restclienttest.Option{restclienttest.WithAPIKey(TestKey)}, o.fake...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	up := o.upstream
	if up == nil {
		// No keep-alive: a fault that kills a connection must not be
		// hidden by the transport's silent replay on a fresh one.
		hc := restclient.NewHTTPClient(restclient.WithoutKeepAlives())
		c, err := restclient.New(fake.URL, append([]restclient.Option{restclient.WithTimeout(o.timeout), restclient.WithDoer(hc)}, o.clientOpts...)...)
		if err != nil {
			t.Fatal(err)
		}
		up = c
	}
	logs := &SyncBuffer{}
	cfg := httpapi.Config{
		Upstream:          up,
		DefaultCredential: restclient.NewCredential(restclient.APIKey, o.defaultKey),
		Lookup:            loaders.Config{Route: o.lookup, Concurrency: o.concurrency},
		Logger:            slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if o.config != nil {
		o.config(&cfg)
	}
	h := httpapi.NewHandler(cfg)
	if o.middleware != nil {
		h = o.middleware(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &Env{Fake: fake, Srv: srv, Logs: logs}
}

// Response is a GraphQL Response.
type Response struct {
	Status int
	Raw    string
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the error's extensions.code.
func (e Error) Code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// Header is a request Header for query.
type Header struct{ Name, Value string }

// APIKey is the Header the fake accepts.
var APIKey = Header{restclient.HeaderAPIKey, TestKey}

// Query POSTs a GraphQL request and decodes the answer.
func (e *Env) Query(t *testing.T, q string, vars map[string]any, headers ...Header) Response {
	t.Helper()
	return e.Post(t, map[string]any{"query": q, "variables": vars}, headers...)
}

// Post POSTs any JSON body.
func (e *Env) Post(t *testing.T, payload map[string]any, headers ...Header) Response {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.Srv.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		req.Header.Set(h.Name, h.Value)
	}
	return Do(t, req)
}

// Do sends req and decodes the answer.
func Do(t *testing.T, req *http.Request) Response {
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
	r := Response{Status: resp.StatusCode, Raw: buf.String()}
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatalf("Response is not JSON: %v\n%s", err, Short(buf.String()))
	}
	return r
}

// MustData fails on any error and decodes data into v.
func (r Response) MustData(t *testing.T, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %s", Short(r.Raw))
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data: %v\n%s", err, Short(r.Raw))
	}
}

// OnlyError returns the Response's single error.
func (r Response) OnlyError(t *testing.T) Error {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("want exactly one error, got %d: %s", len(r.Errors), Short(r.Raw))
	}
	return r.Errors[0]
}

// SyncBuffer is a log sink that tests read while handlers write.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Eventually polls cond until it holds, failing after a bound: for what
// happens after the client has its answer (an observer's call, a flight
// ending in the background), which offers no event to wait on.
func Eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
	}
}

// LastRequest is the fake's most recent request.
func (e *Env) LastRequest(t *testing.T) restclienttest.Request {
	t.Helper()
	reqs := e.Fake.Requests()
	if len(reqs) == 0 {
		t.Fatal("the fake received no request")
	}
	return reqs[len(reqs)-1]
}

// PathString writes an error's path as a.b.0.c.
func PathString(p []any) string {
	parts := make([]string, len(p))
	for i, v := range p {
		b, _ := json.Marshal(v)
		parts[i] = strings.Trim(string(b), `"`)
	}
	return strings.Join(parts, ".")
}

// NewGET is a GET request of u bound to the test.
func NewGET(t *testing.T, u string) (*http.Request, error) {
	return http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
}

// Short keeps failure messages readable.
func Short(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// NewClient is a REST client of base.
func NewClient(t *testing.T, base string) *restclient.Client {
	t.Helper()
	c, err := restclient.New(base)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CreatorDataset is a first page of 100 users whose creators and changers
// are k distinct ids: j of them on the page, the others off it, half of
// those existing further down the list and half deleted.
func CreatorDataset(k, j int) (users []restclienttest.User, refs []string, deleted map[string]bool) {
	deleted = map[string]bool{}
	for i := range j {
		refs = append(refs, restclienttest.NewID(i))
	}
	var extra []restclienttest.User
	for i := range k - j {
		if i%2 == 0 {
			id := restclienttest.NewID(200 + i)
			refs = append(refs, id)
			extra = append(extra, restclienttest.User{ID: id, Name: "Off-page " + id, CreatedAt: 1600000000})
		} else {
			id := restclienttest.NewID(5000 + i)
			refs = append(refs, id)
			deleted[id] = true
		}
	}
	for i := range 100 {
		users = append(users, restclienttest.User{
			ID:            restclienttest.NewID(i),
			Name:          fmt.Sprintf("User %d", i),
			CreatedAt:     1600000000,
			CreatedBy:     refs[(2*i)%k],
			LastChangedBy: refs[(2*i+1)%k],
		})
	}
	return append(users, extra...), refs, deleted
}

// OpRecorder is an httpapi.Observer that keeps what it is told.
type OpRecorder struct {
	mu      sync.Mutex
	ops     []httpapi.Operation
	batches []int
}

// Operation records op.
func (r *OpRecorder) Operation(_ context.Context, op httpapi.Operation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
}

// LoaderBatch records a batch of n lookups.
func (r *OpRecorder) LoaderBatch(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, n)
}

// Operations returns a copy of what was observed so far.
func (r *OpRecorder) Operations() []httpapi.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]httpapi.Operation(nil), r.ops...)
}

// Last is the operation observed last.
func (r *OpRecorder) Last() httpapi.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops[len(r.ops)-1]
}

// Batches returns the sizes of the lookup batches observed so far.
func (r *OpRecorder) Batches() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.batches...)
}

// CreatorsQuery asks a page of 100 users for their creators and changers.
const CreatorsQuery = `{ users(first: 100) { nodes { id createdBy { id name } lastChangedBy { id } } } }`

// FailLookup fails the list lookup of one id (a filter on it), as an
// upstream error would, and passes everything else to Next.
type FailLookup struct {
	Next *restclient.Client
	ID   string
}

// ListUsers implements graph.Upstream.
func (f FailLookup) ListUsers(ctx context.Context, o restclient.ListUsersOptions) (*restclient.UserPage, *restclient.Response, error) {
	if o.Filter == f.ID {
		return nil, nil, &restclient.ErrorResponse{StatusCode: 503, TraceID: "api--lookup"}
	}
	return f.Next.ListUsers(ctx, o)
}

// GetUser implements graph.Upstream.
func (f FailLookup) GetUser(ctx context.Context, id string) (*restclient.User, *restclient.Response, error) {
	return f.Next.GetUser(ctx, id)
}
