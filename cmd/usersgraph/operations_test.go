package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// appFor assembles the server as newApp does for vars.
func appFor(t *testing.T, vars map[string]string) (*app, error) {
	t.Helper()
	cfg, err := loadConfig(nil, env(vars), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Cleanup(a.Close)
	}
	return a, err
}

func TestReadinessFollowsTheUpstream(t *testing.T) {
	t.Run("demo mode is ready", func(t *testing.T) {
		srv := demoApp(t)
		if resp, body := get(t, srv.URL+"/readyz"); resp.StatusCode != 200 || body != "ready\n" {
			t.Fatalf("status %d: %q", resp.StatusCode, body)
		}
	})
	t.Run("an unreachable upstream is not ready, and alive all the same", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		a, err := appFor(t, map[string]string{"COGNIGY_API_URL": "http://" + addr + "/new"})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.handler)
		defer srv.Close()
		resp, body := get(t, srv.URL+"/readyz")
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready: ") || strings.Contains(body, addr) {
			t.Fatalf("status %d: %q", resp.StatusCode, body)
		}
		if resp, _ := get(t, srv.URL+"/healthz"); resp.StatusCode != 200 {
			t.Fatalf("/healthz %d", resp.StatusCode)
		}
	})
}

// Probes that succeed are logged at debug level only; requests, and a
// probe that fails, at info.
func TestSuccessfulProbesDoNotFillTheLog(t *testing.T) {
	var logs strings.Builder
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	status := http.StatusOK
	h := accessLog(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.WriteHeader(status)
		}
	}))
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/graphql"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	status = http.StatusServiceUnavailable
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var paths []string
	for line := range strings.Lines(logs.String()) {
		var rec struct {
			Path   string `json:"path"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, fmt.Sprintf("%s %d", rec.Path, rec.Status))
	}
	if got := strings.Join(paths, ", "); got != "/graphql 200, /readyz 503" {
		t.Fatalf("logged at info: %s", got)
	}
}

func TestRequestIDsAreEchoedAndSane(t *testing.T) {
	srv := demoApp(t)
	if resp, _ := get(t, srv.URL+"/healthz", headerRequestID, "proxy-id.42"); resp.Header.Get(headerRequestID) != "proxy-id.42" {
		t.Fatalf("a sane id is not kept: %q", resp.Header.Get(headerRequestID))
	}
	resp, _ := get(t, srv.URL+"/healthz", headerRequestID, "bad id\"with<junk>")
	if id := resp.Header.Get(headerRequestID); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
		t.Fatalf("an insane id is not replaced: %q", id)
	}
}

// TestARunningServerIsOperable starts the real server (run, as main does)
// and checks what operators use: the metrics it exposes after real
// traffic, request ids on every log line of a request, and the
// -healthcheck probe, both while it serves and after it stopped.
func TestARunningServerIsOperable(t *testing.T) {
	base, logs, stop := startRun(t, map[string]string{})
	addr := strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/")
	base = strings.TrimSuffix(base, "/")

	probe := func() int {
		return run(t.Context(), []string{"-healthcheck"}, env(map[string]string{"LISTEN_ADDR": addr}), io.Discard, io.Discard)
	}
	if code := probe(); code != 0 {
		t.Fatalf("-healthcheck of a running server exited %d", code)
	}

	// The same query three times: seen twice, the third is answered by the
	// response cache.
	var ids []string
	for range 3 {
		resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(`{"query":"query Last { users(last: 5) { nodes { name createdBy { name } } } }"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ids = append(ids, resp.Header.Get(headerRequestID))
	}

	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{
		`usersgraph_graphql_requests_total{operation="Last",outcome="ok"} 3`,
		`usersgraph_graphql_request_duration_seconds_bucket{operation="Last",le="+Inf"} 3`,
		`usersgraph_response_cache_lookups_total{result="hit"} 1`,
		`usersgraph_response_cache_lookups_total{result="miss"} 2`,
		`usersgraph_upstream_requests_total{attempt="1",route="list",status="200"}`,
		`usersgraph_upstream_request_duration_seconds_bucket{route="list"`,
		`usersgraph_upstream_cache_lookups_total{result="miss"}`,
		`usersgraph_upstream_coalesced_total`,
		`usersgraph_loader_batch_size_count 2`,
		`usersgraph_upstream_breaker_state{state="closed"} 1`,
		`usersgraph_http_requests_in_flight 1`, // the scrape itself
		`process_resident_memory_bytes`,
		`go_goroutines`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	stop()
	if code := probe(); code != 1 {
		t.Fatalf("-healthcheck of a stopped server exited %d", code)
	}

	var lines int
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("a log line is not JSON: %s", sc.Text())
		}
		if line["path"] == "/graphql" {
			if lines >= len(ids) || line["request_id"] != ids[lines] {
				t.Fatalf("GraphQL access log line %d has request_id %v, the responses said %q", lines+1, line["request_id"], ids)
			}
			lines++
		}
	}
	if lines != len(ids) || ids[0] == ids[1] {
		t.Fatalf("%d access log lines for the GraphQL requests %q", lines, ids)
	}
}

func TestTheServerExportsSpansWhenOTLPIsConfigured(t *testing.T) {
	var spans atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/v1/traces" {
			spans.Add(1)
		}
	}))
	defer collector.Close()
	vars := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL) // the exporter reads it itself

	base, logs, stop := startRun(t, vars)
	resp, err := http.Post(base+"graphql", "application/json", strings.NewReader(`{"query":"{ users(first: 1) { totalCount } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := stop(); code != 0 { // shutting down flushes the spans
		t.Fatalf("exit %d: %s", code, logs.String())
	}
	if spans.Load() == 0 {
		t.Fatalf("no spans reached the collector: %s", logs.String())
	}
}
