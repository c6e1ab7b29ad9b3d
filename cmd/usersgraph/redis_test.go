package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/redisstore/redisstoretest"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

func TestTwoServersWithOneRedisShareTheirCache(t *testing.T) {
	url := redisstoretest.Start(t)
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey("k"), restclienttest.WithUsers(restclienttest.DemoUsers(20, 1)))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	// A generous REDIS_TIMEOUT: a loaded test machine can pause longer
	// than the default, and this test is not about a failing Redis.
	vars := map[string]string{"COGNIGY_API_URL": fake.URL, "COGNIGY_API_KEY": "k", "REDIS_URL": url, "CACHE_TTL": "1m", "REDIS_TIMEOUT": "5s"}
	var servers []*httptest.Server
	for range 2 {
		a, err := appFor(t, vars)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.handler)
		defer srv.Close()
		servers = append(servers, srv)
	}
	for i, srv := range servers {
		resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(`{"query":"{ users(first: 3) { totalCount } }"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"totalCount":20`) {
			t.Fatalf("server %d: %s", i, b)
		}
	}
	if n := fake.TotalCalls(); n != 1 {
		t.Fatalf("%d upstream calls for one query asked of two servers", n)
	}
	// Each server's metrics say where its answer came from.
	for i, want := range []string{
		`usersgraph_upstream_shared_cache_lookups_total{result="miss"} 1`,
		`usersgraph_upstream_shared_cache_lookups_total{result="hit"} 1`,
	} {
		if _, body := get(t, servers[i].URL+"/metrics"); !strings.Contains(body, want) {
			t.Errorf("server %d's metrics lack %s", i, want)
		}
	}
}

func TestRedisSettingsFailClearlyAndQuietly(t *testing.T) {
	if _, err := loadConfig(nil, env(map[string]string{"REDIS_URL": "localhost:6379"}), io.Discard); err == nil || !strings.Contains(err.Error(), "REDIS_URL must be") {
		t.Fatalf("a URL without scheme: %v", err)
	}
	for _, name := range []string{"REDIS_TIMEOUT", "REDIS_BREAKER_COOLDOWN"} {
		for _, v := range []string{"50", "0s", "-1s"} {
			if _, err := loadConfig(nil, env(map[string]string{name: v}), io.Discard); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%s: %v", name, v, err)
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = appFor(t, map[string]string{"REDIS_URL": "redis://:s3cret-pass@" + addr + "/0"})
	if err == nil || !strings.HasPrefix(err.Error(), "REDIS_URL: ") || strings.Contains(err.Error(), "s3cret-pass") {
		t.Fatalf("a dead Redis: %v", err)
	}
}

// redisApp is a server as newApp assembles it for vars, logging to logs.
func redisApp(tb testing.TB, vars map[string]string, logs io.Writer) *httptest.Server {
	tb.Helper()
	cfg, err := loadConfig(nil, env(vars), io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := newApp(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(a.handler)
	tb.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return srv
}

// distinctQuery is the i-th of 210 queries that each ask Cognigy
// something else, so that no cache of a replica's own answers them.
func distinctQuery(i int) string {
	return fmt.Sprintf(`{ users(first: %d, filter: %q) { totalCount nodes { id name email } } }`, 1+i%30, string("aeinorl"[i/30%7]))
}

// post sends query to srv and returns the status and body.
func post(tb testing.TB, srv *httptest.Server, query string) (int, string) {
	tb.Helper()
	code, body, err := tryPost(srv, query)
	if err != nil {
		tb.Fatal(err)
	}
	return code, body
}

// tryPost is post for a goroutine other than the test's.
func tryPost(srv *httptest.Server, query string) (int, string, error) {
	b, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		return 0, "", err
	}
	resp, err := http.Post(srv.URL+"/graphql", "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// metric reads one sample, named with its labels as /metrics prints it.
func metric(tb testing.TB, srv *httptest.Server, sample string) float64 {
	tb.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return f
		}
	}
	tb.Fatalf("/metrics has no %s", sample)
	return 0
}

const (
	breakerOpen   = `usersgraph_redis_breaker_state{state="open"}`
	breakerClosed = `usersgraph_redis_breaker_state{state="closed"}`
	sharedSetsOK  = `usersgraph_redis_operations_total{operation="cache_set",result="ok"}`
)

func TestAnswersStayRightWhileRedisFailsAndSharingResumesAfter(t *testing.T) {
	faults := []struct {
		name         string
		fail, repair func(*redisstoretest.Server)
	}{
		{"frozen (SIGSTOP), then thawed (SIGCONT)", (*redisstoretest.Server).Freeze, (*redisstoretest.Server).Thaw},
		{"killed, then restarted empty", (*redisstoretest.Server).Kill, (*redisstoretest.Server).Restart},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			redis := redisstoretest.StartServer(t)
			fake, err := restclienttest.NewServer(restclienttest.WithAPIKey("k"), restclienttest.WithUsers(restclienttest.DemoUsers(60, 1)))
			if err != nil {
				t.Fatal(err)
			}
			defer fake.Close()
			vars := map[string]string{
				"COGNIGY_API_URL": fake.URL, "COGNIGY_API_KEY": "k", "CACHE_TTL": "1m",
				"UPSTREAM_RATE_LIMIT": "10000", // so that every upstream call spends from the shared budget too
			}
			reference := redisApp(t, vars, io.Discard) // no Redis: the right answers
			vars["REDIS_URL"] = redis.URL
			vars["REDIS_BREAKER_COOLDOWN"] = "100ms"
			// Above the default: a loaded test machine can pause longer
			// than 50 ms, and a healthy Redis must look healthy here.
			// BenchmarkRequestsWhileRedisFails runs with the default.
			vars["REDIS_TIMEOUT"] = "500ms"
			var logs lockedBuffer
			one := redisApp(t, vars, &logs)

			// Traffic: distinct queries, one after another, each answer
			// compared with the reference's, until stop.
			stop, done := make(chan struct{}), make(chan struct{})
			progress := make(chan int, 1000)
			var wrong []string
			go func() {
				defer close(done)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					q := distinctQuery(i)
					_, want, err := tryPost(reference, q)
					if err != nil {
						wrong = append(wrong, fmt.Sprintf("%s: the reference: %v", q, err))
						return
					}
					if code, got, err := tryPost(one, q); err != nil || code != http.StatusOK || got != want {
						wrong = append(wrong, fmt.Sprintf("%s: %d %s %v, want %s", q, code, got, err, want))
					}
					select {
					case progress <- i:
					case <-stop:
						return
					}
				}
			}()
			// waitFor lets n more requests of the traffic be answered.
			waitFor := func(n int) {
				t.Helper()
				for range n {
					select {
					case <-progress:
					case <-done:
						t.Fatal("traffic stopped")
					}
				}
			}
			// until polls cond while traffic flows, bounded.
			until := func(what string, cond func() bool) {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); !cond(); waitFor(1) {
					if time.Now().After(deadline) {
						t.Fatalf("after 10 s, still not %s", what)
					}
				}
			}

			waitFor(10)
			if metric(t, one, sharedSetsOK) == 0 {
				t.Fatal("a healthy Redis was not written to")
			}
			f.fail(redis)
			until("open", func() bool { return metric(t, one, breakerOpen) == 1 })
			waitFor(20)
			if resp, body := get(t, one.URL+"/readyz"); resp.StatusCode != http.StatusOK {
				t.Errorf("/readyz with a failing Redis: %d %s", resp.StatusCode, body)
			}
			var errs float64 // the fault meets whichever operation comes next
			for _, op := range []string{"cache_get", "cache_set", "rate_take"} {
				errs += metric(t, one, `usersgraph_redis_operations_total{operation="`+op+`",result="error"}`)
			}
			if errs == 0 {
				t.Error("no Redis error counted")
			}
			f.repair(redis)
			sets := metric(t, one, sharedSetsOK)
			until("writing to Redis again", func() bool {
				return metric(t, one, breakerClosed) == 1 && metric(t, one, sharedSetsOK) > sets
			})
			waitFor(5)
			close(stop)
			<-done
			if len(wrong) > 0 {
				t.Fatalf("%d wrong answers, the first: %s", len(wrong), wrong[0])
			}

			// What one learns now, another replica finds in Redis.
			two := redisApp(t, vars, io.Discard)
			q := distinctQuery(209)
			_, want := post(t, reference, q)
			_, fromOne := post(t, one, q)
			calls := fake.TotalCalls()
			if _, fromTwo := post(t, two, q); fromTwo != want || fromOne != want {
				t.Fatalf("after Redis returned: %s and %s, want %s", fromOne, fromTwo, want)
			}
			if fake.TotalCalls() != calls || metric(t, two, `usersgraph_upstream_shared_cache_lookups_total{result="hit"}`) != 1 {
				t.Fatalf("the second replica asked Cognigy (%d calls more) instead of Redis", fake.TotalCalls()-calls)
			}

			out := logs.String()
			for _, want := range []string{"level=WARN msg=\"redis failed", "level=INFO msg=\"redis answers again"} {
				if !strings.Contains(out, want) {
					t.Errorf("the logs lack %s", want)
				}
			}
		})
	}
}

// BenchmarkRequestsWhileRedisFails shows what a failing Redis adds to
// requests through the real HTTP server: each round starts a server on a
// healthy Redis, sends 5 requests, makes Redis fail (or not), then sends 21
// more, one after another, each a query no cache of the replica's own
// holds, so that each goes to Redis (shared cache read and write, shared
// rate budget) and to the Cognigy fake. It reports the first request after
// the fault, the worst and the median of the 20 after it, in milliseconds,
// the worst over all rounds. Run:
//
//	go test -run '^$' -bench RequestsWhileRedisFails -benchtime 5x ./cmd/usersgraph/
func BenchmarkRequestsWhileRedisFails(b *testing.B) {
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey("k"), restclienttest.WithUsers(restclienttest.DemoUsers(60, 1)))
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Close()
	for _, f := range []struct {
		name string
		fail func(*redisstoretest.Server)
	}{
		{"healthy", func(*redisstoretest.Server) {}},
		{"frozen", (*redisstoretest.Server).Freeze},
		{"dead", (*redisstoretest.Server).Kill},
	} {
		b.Run(f.name, func(b *testing.B) {
			var first, worst, median time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				redis := redisstoretest.StartServer(b)
				srv := redisApp(b, map[string]string{
					"COGNIGY_API_URL": fake.URL, "COGNIGY_API_KEY": "k", "CACHE_TTL": "1m",
					"UPSTREAM_RATE_LIMIT": "10000", "REDIS_URL": redis.URL,
				}, io.Discard)
				for j := range 5 {
					postOK(b, srv, distinctQuery(j))
				}
				f.fail(redis)
				b.StartTimer()
				var took []time.Duration
				for j := 5; j < 26; j++ {
					start := time.Now()
					postOK(b, srv, distinctQuery(j))
					took = append(took, time.Since(start))
				}
				b.StopTimer()
				redis.Kill()
				srv.Close()
				rest := slices.Sorted(slices.Values(took[1:]))
				first, worst, median = max(first, took[0]), max(worst, rest[len(rest)-1]), max(median, rest[len(rest)/2])
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(first), "first-ms")
			b.ReportMetric(ms(worst), "worst-of-20-ms")
			b.ReportMetric(ms(median), "median-of-20-ms")
		})
	}
}

// postOK sends query and fails unless it was answered without errors.
func postOK(tb testing.TB, srv *httptest.Server, query string) {
	tb.Helper()
	code, body := post(tb, srv, query)
	if code != http.StatusOK || !strings.Contains(body, `"totalCount"`) || strings.Contains(body, `"errors"`) {
		tb.Fatalf("%s: %d %s", query, code, body)
	}
}
