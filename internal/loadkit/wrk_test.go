package loadkit

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseWrkResult(t *testing.T) {
	const line = "RESULT requests=812 duration_us=8000000 bytes=1234 p50_us=310 p90_us=420 p99_us=900 max_us=2100 mean_us=330.5 non200=2 gql_errors=3 socket_errors=1\n"
	t.Run("reads every field of the RESULT line among wrk's own output", func(t *testing.T) {
		out := "Running 8s test @ http://127.0.0.1:1\n  2 threads and 64 connections\n" + line + "Requests/sec: 101.50\n"
		r, err := ParseWrkResult([]byte(out))
		if err != nil {
			t.Fatal(err)
		}
		want := WrkResult{Requests: 812, Duration: 8 * time.Second, Bytes: 1234, P50: 310 * time.Microsecond, P90: 420 * time.Microsecond,
			P99: 900 * time.Microsecond, Max: 2100 * time.Microsecond, Mean: 330500 * time.Nanosecond, Non200: 2, GraphQLErrors: 3, SocketErrors: 1}
		if r != want {
			t.Fatalf("got %+v\nwant %+v", r, want)
		}
		if r.Failed() != 6 || r.PerSecond() != 807.0/8 {
			t.Errorf("failed %d, per second %v", r.Failed(), r.PerSecond())
		}
	})
	t.Run("takes the last RESULT line", func(t *testing.T) {
		r, err := ParseWrkResult([]byte(strings.Replace(line, "requests=812", "requests=1", 1) + line))
		if err != nil || r.Requests != 812 {
			t.Fatalf("got %+v, %v", r, err)
		}
	})
	for name, out := range map[string]string{
		"fails without a RESULT line":        "Running 8s test\nRequests/sec: 5\n",
		"fails when a field is missing":      strings.Replace(line, " p99_us=900", "", 1),
		"fails on a field that is no number": strings.Replace(line, "p50_us=310", "p50_us=nan-ish", 1),
		"fails on a field without a value":   strings.Replace(line, "bytes=1234", "bytes", 1),
	} {
		t.Run(name, func(t *testing.T) {
			if r, err := ParseWrkResult([]byte(out)); err == nil {
				t.Fatalf("parsed %+v", r)
			}
		})
	}
}

func TestWrkArgs(t *testing.T) {
	t.Run("rounds to whole seconds and never has more threads than connections", func(t *testing.T) {
		w := Wrk{Script: "s.lua", URL: "http://127.0.0.1:9", Threads: 2, Connections: 1, Duration: 7600 * time.Millisecond}
		want := []string{"-t", "1", "-c", "1", "-d", "8s", "--timeout", "10s", "-s", "s.lua", "http://127.0.0.1:9"}
		if got := w.Args(); !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
	t.Run("refuses to load anything but loopback", func(t *testing.T) {
		w := Wrk{Bin: "wrk", Script: "s.lua", URL: "http://192.0.2.1:80", Threads: 1, Connections: 1, Duration: time.Second}
		if _, err := w.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestWriteWrkRequests(t *testing.T) {
	t.Run("writes one tab-separated line a request", func(t *testing.T) {
		var b bytes.Buffer
		err := WriteWrkRequests(&b, []WrkRequest{
			{Method: "GET", Path: "/new/v2.0/users?limit=25", Key: "k1"},
			{Method: "POST", Path: "/graphql", Key: "k2", Body: `{"query":"{ a }","variables":{"f":"x\ty"}}`},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := "GET\t/new/v2.0/users?limit=25\tk1\t\nPOST\t/graphql\tk2\t{\"query\":\"{ a }\",\"variables\":{\"f\":\"x\\ty\"}}\n"
		if b.String() != want {
			t.Fatalf("got %q\nwant %q", b.String(), want)
		}
	})
	for name, r := range map[string]WrkRequest{
		"refuses a body with a line break": {Method: "POST", Path: "/graphql", Body: "{\n}"},
		"refuses a key with a tab":         {Method: "GET", Path: "/x", Key: "a\tb"},
		"refuses a relative path":          {Method: "GET", Path: "x"},
		"refuses a missing method":         {Path: "/x"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := WriteWrkRequests(&bytes.Buffer{}, []WrkRequest{r}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestWriteWrkSequenceIsOneBased(t *testing.T) {
	var b bytes.Buffer
	if err := WriteWrkSequence(&b, []int{0, 2, 2, 1}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "1\n3\n3\n2\n" {
		t.Fatalf("got %q", b.String())
	}
}

func TestParseCounters(t *testing.T) {
	const text = `# HELP usersgraph_response_cache_lookups_total Lookups.
# TYPE usersgraph_response_cache_lookups_total counter
usersgraph_response_cache_lookups_total{result="hit"} 30
usersgraph_response_cache_lookups_total{result="miss"} 10
usersgraph_upstream_coalesced_total 7
usersgraph_odd{label="a b}"} 1.5e3 1700000000000
`
	c, err := ParseCounters([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("reads samples with and without labels, timestamps ignored", func(t *testing.T) {
		if c[`usersgraph_response_cache_lookups_total{result="hit"}`] != 30 || c["usersgraph_upstream_coalesced_total"] != 7 || c[`usersgraph_odd{label="a b}"}`] != 1500 {
			t.Fatalf("got %v", c)
		}
	})
	t.Run("a hit rate is over the window between two scrapes", func(t *testing.T) {
		before := Counters{`usersgraph_response_cache_lookups_total{result="hit"}`: 10, `usersgraph_response_cache_lookups_total{result="miss"}`: 10}
		rate, n := c.Sub(before).HitRate("usersgraph_response_cache_lookups_total")
		if rate != 1 || n != 20 {
			t.Fatalf("rate %v of %v", rate, n)
		}
	})
	t.Run("no lookups is no rate", func(t *testing.T) {
		if rate, n := c.HitRate("usersgraph_upstream_cache_lookups_total"); rate != -1 || n != 0 {
			t.Fatalf("rate %v of %v", rate, n)
		}
	})
	t.Run("a line without a value is an error", func(t *testing.T) {
		if _, err := ParseCounters([]byte("metric_without_value\n")); err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestCPUMeterReadsThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	m := StartCPU(0, -1)
	got := m.Stop()
	if len(got) != 2 || got[0] < 0 || got[1] != -1 {
		t.Fatalf("got %v (want this process ≥ 0 and -1 for a process that does not exist)", got)
	}
}
