package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
)

// TestLoadAgainstStartedFacade builds the facade, starts it on the in-process
// fake and drives it for two seconds, as `go run ./cmd/usersgraph-load` does.
// The cache is off so that every measured second reaches the upstream.
func TestLoadAgainstStartedFacade(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the facade for a few seconds")
	}
	const clients = 4
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"-c", "4", "-d", "2s", "-warmup", "500ms", "-facade-env", "CACHE_TTL=0", "-json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := strings.TrimSpace(stdout.String())
	t.Logf("\n%s", out)

	jsonLine := out[strings.LastIndexByte(out, '\n')+1:]
	var s summary
	if err := json.Unmarshal([]byte(jsonLine), &s); err != nil {
		t.Fatalf("the last line is not the JSON summary: %v\n%s", err, jsonLine)
	}
	if s.Requests <= 0 || s.RequestsPerSecond <= 0 {
		t.Errorf("requests %d (%.1f/s), want some", s.Requests, s.RequestsPerSecond)
	}
	if s.Errors != 0 || len(s.ErrorsByCode) != 0 {
		t.Errorf("errors %d %v, want none", s.Errors, s.ErrorsByCode)
	}
	if s.LatencyMs.P50 <= 0 || s.LatencyMs.P50 > s.LatencyMs.P90 || s.LatencyMs.P90 > s.LatencyMs.P99 || s.LatencyMs.P99 > s.LatencyMs.Max {
		t.Errorf("latency percentiles out of order: %+v", s.LatencyMs)
	}
	// Identical concurrent upstream GETs may be coalesced, so a request costs
	// at most one call; requests straddling either end of the window may add
	// one call per client each.
	if s.Upstream == nil || s.Upstream.Total <= 0 || s.Upstream.Total > s.Requests+2*clients || s.Upstream.Approximate {
		t.Errorf("upstream calls %+v for %d requests, want 1 to %d, exact", s.Upstream, s.Requests, s.Requests+2*clients)
	}
	if s.RSS == nil || s.RSS.PeakBytes <= 0 || s.RSS.IdleBytes <= 0 || s.RSS.PeakBytes < s.RSS.IdleBytes {
		t.Fatalf("facade RSS %+v, want idle and peak > 0", s.RSS)
	}
	if len(s.RSS.BySecondBytes) != 2 {
		t.Errorf("RSS samples %v, want one per measured second", s.RSS.BySecondBytes)
	}
	for i, b := range s.RSS.BySecondBytes {
		if b <= 0 || b > s.RSS.PeakBytes {
			t.Errorf("RSS sample %d is %d, want 1 to VmHWM %d", i+1, b, s.RSS.PeakBytes)
		}
	}
	if s.FacadeExit != "" || s.Interrupted || s.MeasuredSeconds != 2 {
		t.Errorf("exit %q, interrupted %v, measured %.2fs; want a full 2s run", s.FacadeExit, s.Interrupted, s.MeasuredSeconds)
	}
	for _, label := range []string{"requests/s", "latency", "p99", "errors", "upstream calls", "facade RSS peak", "RSS by second", "CACHE_TTL=0", "GOMAXPROCS"} {
		if !strings.Contains(out, label) {
			t.Errorf("the report lacks %q", label)
		}
	}
}

func TestInvalidFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"-c", "0"},
		{"-d", "0s"},
		{"-url", "http://192.0.2.1:8080/graphql"},
		{"-url", "http://example.com/graphql"},
		{"-url", "https://127.0.0.1:8080/graphql"},
		{"-pid", "1"},
		{"-url", "http://127.0.0.1:8080/graphql", "-facade-env", "CACHE_TTL=0"},
		{"-facade-env", "COGNIGY_API_URL=http://127.0.0.1:1/new"},
		{"-facade-env", "NOEQUALS"},
		{"-with-creators", "-query", "{ users { totalCount } }"},
		{"extra"},
	} {
		var stderr bytes.Buffer
		if code := run(t.Context(), args, io.Discard, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr: %s", args, code, stderr.String())
		}
	}
}

func TestUnreachableURLFailsAtOnce(t *testing.T) {
	addr, err := loadkit.FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	start := time.Now()
	code := run(t.Context(), []string{"-url", "http://" + addr + "/graphql", "-d", "1s"}, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "POST") || time.Since(start) > 5*time.Second {
		t.Fatalf("exit %d after %s, stderr %q; want 1 at once", code, time.Since(start), stderr.String())
	}
}

func TestErrorsAreCountedByCode(t *testing.T) {
	s := &summary{ErrorsByCode: map[string]int{}, MeasuredSeconds: 1}
	s.apply(loadkit.Merge([]loadkit.ClientResult{
		{Latencies: []time.Duration{1, 2}, Failed: 1, Codes: map[string]int{"RATE_LIMITED": 2}},
		{Latencies: []time.Duration{3}, Failed: 1, Codes: map[string]int{"HTTP 502": 1, "RATE_LIMITED": 1}},
	}))
	if s.Requests != 3 || s.Errors != 2 || s.ErrorsByCode["RATE_LIMITED"] != 3 || s.ErrorsByCode["HTTP 502"] != 1 {
		t.Fatalf("got %d requests, %d errors, %v", s.Requests, s.Errors, s.ErrorsByCode)
	}
}
