package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// TestMain keeps the servers the tests start in this process from setting
// the test binary's GOMEMLIMIT from their memory budget (sizeMemory leaves
// it alone when GOMEMLIMIT is set): the tests run many servers at once.
func TestMain(m *testing.M) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		os.Setenv("GOMEMLIMIT", "off")
	}
	os.Exit(m.Run())
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestInvalidConfigurationNamesTheSetting(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"a relative API URL", nil, map[string]string{"COGNIGY_API_URL": "cognigy.example/new"}, "COGNIGY_API_URL"},
		{"an API URL with a key in its query", []string{"-api-url", "https://h.example/new?api_key=s3cret"}, nil, "COGNIGY_API_URL"},
		{"a listen address without a port", nil, map[string]string{"LISTEN_ADDR": "localhost"}, "LISTEN_ADDR"},
		{"a timeout without a unit", nil, map[string]string{"UPSTREAM_TIMEOUT": "10"}, "UPSTREAM_TIMEOUT"},
		{"a negative timeout flag", []string{"-upstream-timeout", "-1s"}, nil, "UPSTREAM_TIMEOUT"},
		{"an unknown lookup route", nil, map[string]string{"USER_LOOKUP": "graph"}, "USER_LOOKUP"},
		{"a lookup concurrency of zero", nil, map[string]string{"LOOKUP_CONCURRENCY": "0"}, "LOOKUP_CONCURRENCY"},
		{"an unknown log format", nil, map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"an unknown log level", nil, map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"no CORS origin", nil, map[string]string{"CORS_ALLOWED_ORIGINS": " , "}, "CORS_ALLOWED_ORIGINS"},
		{"a caller share above 1", nil, map[string]string{"UPSTREAM_CALLER_SHARE": "1.5"}, "UPSTREAM_CALLER_SHARE"},
		{"a keyless-origin setting that is no boolean", nil, map[string]string{"CORS_ALLOW_KEYLESS_ANY_ORIGIN": "sure"}, "CORS_ALLOW_KEYLESS_ANY_ORIGIN"},
		{"a negative upstream budget", nil, map[string]string{"MAX_UPSTREAM_CALLS": "-1"}, "MAX_UPSTREAM_CALLS"},
		{"trusted documents only without a manifest", nil, map[string]string{"TRUSTED_DOCUMENTS_ONLY": "true"}, "TRUSTED_DOCUMENTS_ONLY"},
		{"an unknown flag", []string{"-verbose"}, nil, "verbose"},
		{"zero attempts", nil, map[string]string{"UPSTREAM_ATTEMPTS": "0"}, "UPSTREAM_ATTEMPTS"},
		{"a negative cache TTL", nil, map[string]string{"CACHE_TTL": "-1s"}, "CACHE_TTL"},
		{"a rate limit that is not a number", nil, map[string]string{"UPSTREAM_RATE_LIMIT": "fast"}, "UPSTREAM_RATE_LIMIT"},
		{"introspection that is not a boolean", []string{"-introspection=maybe"}, nil, "INTROSPECTION"},
		{"a tiny body limit", nil, map[string]string{"MAX_BODY_BYTES": "10"}, "MAX_BODY_BYTES"},
		{"a request timeout of zero", nil, map[string]string{"REQUEST_TIMEOUT": "0s"}, "REQUEST_TIMEOUT"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" exits 2 naming "+tc.want, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tc.args, env(tc.env), &stdout, &stderr)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, tc.want) {
				t.Fatalf("last stderr line %q does not name %s", last, tc.want)
			}
			if strings.Contains(stderr.String(), "s3cret") {
				t.Fatal("the error repeats a secret")
			}
		})
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	cfg, err := loadConfig([]string{"-listen", "127.0.0.1:9999", "-user-lookup", "byid"},
		env(map[string]string{"LISTEN_ADDR": ":1", "USER_LOOKUP": "list", "CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ListenAddr != "127.0.0.1:9999" || cfg.Lookup != "byid" || len(cfg.CORSOrigins) != 2 || cfg.CORSOrigins[1] != "https://b.example" {
		t.Fatalf("got %+v", cfg)
	}
	if cfg.UpstreamTimeout != 5*time.Second || cfg.RequestTimeout != 15*time.Second || cfg.CacheTTL != 5*time.Second || !cfg.Introspection || cfg.APIURL != "" {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
}

func TestUsageDoesNotPrintTheKey(t *testing.T) {
	var stderr bytes.Buffer
	code := run(t.Context(), []string{"-h"}, env(map[string]string{"COGNIGY_API_KEY": "s3cret-key"}), io.Discard, &stderr)
	if code != 0 || !strings.Contains(stderr.String(), "COGNIGY_API_URL") || strings.Contains(stderr.String(), "s3cret-key") {
		t.Fatalf("exit %d, usage:\n%s", code, stderr.String())
	}
}

// demoApp is the server as `go run ./cmd/usersgraph` assembles it.
func demoApp(t *testing.T) *httptest.Server {
	t.Helper()
	return serveApp(t, nil)
}

// serveApp serves the server assembled for vars.
func serveApp(t *testing.T, vars map[string]string) *httptest.Server {
	t.Helper()
	a, err := appFor(t, vars)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return srv
}

func TestDemoModeAnswersWithoutConfigurationOrKey(t *testing.T) {
	srv := demoApp(t)
	body := `{"query":"{ users(first: 5) { totalCount edges { node { name createdBy { name } } } } }"}`
	resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Data struct {
			Users struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						Name      string
						CreatedBy *struct{ Name string }
					}
				}
			}
		}
		Errors []any
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Errors) > 0 || got.Data.Users.TotalCount != demoUsers || len(got.Data.Users.Edges) != 5 {
		t.Fatalf("got %+v", got)
	}
	withCreator := 0
	for _, e := range got.Data.Users.Edges {
		if e.Node.Name == "" {
			t.Fatalf("a demo user without a name: %+v", e)
		}
		if e.Node.CreatedBy != nil && e.Node.CreatedBy.Name != "" {
			withCreator++
		}
	}
	if withCreator == 0 {
		t.Fatal("no demo user on the first page has a creator")
	}
}

func TestServerRoutes(t *testing.T) {
	srv := demoApp(t)
	cases := []struct {
		name, method, path string
		header             map[string]string
		status             int
		contains           string
	}{
		{"the playground is at /", "GET", "/", nil, 200, "graphiql"},
		{"health is at /healthz", "GET", "/healthz", nil, 200, "ok"},
		{"unknown paths are 404", "GET", "/nope", nil, 404, ""},
		{"the public schema is at /schema.graphql", "GET", "/schema.graphql", nil, 200, "type UserConnection"},
		{"GraphQL answers GET", "GET", "/graphql?query=%7B__typename%7D", nil, 200, `"__typename":"Query"`},
		{"a CORS preflight is allowed for the API key header", "OPTIONS", "/graphql",
			map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key"}, 204, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(strings.ToLower(string(b)), strings.ToLower(tc.contains)) {
				t.Fatalf("status %d, body %.300s", resp.StatusCode, b)
			}
			if tc.method == "OPTIONS" && resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("preflight headers %v", resp.Header)
			}
		})
	}
}

// With introspection off, the schema file is not served either: it is
// introspection by other means.
func TestNoSchemaFileWithoutIntrospection(t *testing.T) {
	srv := serveApp(t, map[string]string{"INTROSPECTION": "false"})
	if resp, _ := get(t, srv.URL+"/schema.graphql"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", resp.StatusCode)
	}
}

// lockedBuffer collects the server's log lines while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRunServesUntilCancelledThenDrains(t *testing.T) {
	base, logs, stop := startRun(t, map[string]string{})
	if !strings.Contains(logs.String(), "demo mode") {
		t.Fatalf("demo mode is not announced: %s", logs.String())
	}
	resp, err := http.Get(base + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("a log line is not JSON: %s", sc.Text())
		}
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop logged: %s", logs.String())
	}
}

// startRun runs the server with vars until the test ends and returns its
// base URL and its log.
func startRun(t *testing.T, vars map[string]string) (base string, logs *lockedBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	logs = &lockedBuffer{}
	done := make(chan int, 1)
	vars["LISTEN_ADDR"], vars["LOG_FORMAT"] = "127.0.0.1:0", "json"
	go func() { done <- run(ctx, nil, env(vars), logs, io.Discard) }()
	re := regexp.MustCompile(`"playground":"(http://127\.0\.0\.1:\d+/)"`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("run exited early with %d: %s", code, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if base == "" {
		t.Fatalf("no playground URL logged: %s", logs.String())
	}
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("run did not return after cancellation")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return base, logs, stop
}

func TestShutdownDrainsInFlightRequests(t *testing.T) {
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey("k"), restclienttest.WithLatency(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	base, _, stop := startRun(t, map[string]string{"COGNIGY_API_URL": fake.URL, "COGNIGY_API_KEY": "k"})
	type answer struct {
		status int
		body   string
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Post(base+"graphql", "application/json", strings.NewReader(`{"query":"{ users(first: 2) { totalCount } }"}`))
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- answer{status: resp.StatusCode, body: string(b)}
	}()
	for deadline := time.Now().Add(5 * time.Second); fake.TotalCalls() == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
	}
	if fake.TotalCalls() == 0 {
		t.Fatal("the request never reached the upstream")
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	a := <-got
	if a.err != nil || a.status != 200 || !strings.Contains(a.body, `"totalCount":300`) {
		t.Fatalf("in-flight request: %+v", a)
	}
}

func TestLogsNeverShowCredentials(t *testing.T) {
	secrets := []string{"key-s3cret-1", "bearer-s3cret-2", "cxone-s3cret-3", "query-s3cret-4", "default-s3cret-5"}
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(secrets[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	base, logs, stop := startRun(t, map[string]string{"COGNIGY_API_URL": fake.URL, "COGNIGY_API_KEY": secrets[4], "LOG_LEVEL": "debug"})
	send := func(path string, h map[string]string) string {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+path, strings.NewReader(`{"query":"{ users(first: 1) { totalCount } }"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var bodies []string
	for _, fault := range []restclienttest.Fault{{}, {Status: 401, NoBody: true}, {Status: 500}, {Status: 429, Header: http.Header{"Retry-After": {"60"}}}} {
		fake.ClearFaults()
		if fault.Status != 0 {
			fake.InjectFault(restclienttest.RouteList, fault)
		}
		bodies = append(bodies,
			send("graphql", map[string]string{"X-API-Key": secrets[0]}),
			send("graphql", map[string]string{"Authorization": "Bearer " + secrets[1]}),
			send("graphql", map[string]string{"x-cxone-authorization": "Bearer " + secrets[2]}),
			send("graphql?api_key="+secrets[3], nil),
		)
	}
	if !strings.Contains(bodies[0], `"totalCount":300`) {
		t.Fatalf("the first query failed: %s", bodies[0])
	}
	stop()
	all := logs.String() + strings.Join(bodies, "\n")
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Fatalf("%q appears in the logs or responses:\n%s", s, all)
		}
	}
	if !strings.Contains(logs.String(), `"path":"/graphql"`) {
		t.Fatal("the requests were not logged at all")
	}
}
