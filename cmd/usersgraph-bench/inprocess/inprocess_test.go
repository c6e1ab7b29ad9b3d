package inprocess

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
	"github.com/usersgraph/usersgraph/telemetry"
)

const key = "bench-key"

const (
	fields      = `id email name lastActive createdAt lastChanged`
	scalars25   = `{ users(first: 25) { edges { node { ` + fields + ` } } } }`
	creators25  = `{ users(first: 25) { edges { node { ` + fields + ` createdBy { name } lastChangedBy { name } } } } }`
	creators100 = `{ users(first: 100) { edges { node { ` + fields + ` createdBy { name } lastChangedBy { name } } } } }`
)

// handler builds the GraphQL handler as cmd/usersgraph's newApp does, with
// the defaults of its settings, over a fake with 300 demo users.
func handler(b *testing.B, cacheTTL time.Duration) (http.Handler, *restclienttest.Server) {
	b.Helper()
	fake, err := restclienttest.NewServer(restclienttest.WithUsers(restclienttest.DemoUsers(300, 1)), restclienttest.WithAPIKey(key))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(fake.Close)
	metrics := telemetry.New()
	client, err := restclient.New(fake.URL,
		restclient.WithDoer(restclient.NewHTTPClient()),
		restclient.WithTimeout(5*time.Second),
		restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: 3, BaseDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second}),
		restclient.WithCircuitBreaker(5, 10*time.Second),
		restclient.WithConcurrencyLimit(64),
		restclient.WithRateLimit(0, 20),
		restclient.WithCache(cacheTTL, 10000),
		restclient.WithObserver(metrics),
	)
	if err != nil {
		b.Fatal(err)
	}
	return httpapi.NewHandler(httpapi.Config{
		Upstream:       client,
		Lookup:         loaders.Config{Route: loaders.RouteList, Concurrency: loaders.DefaultConcurrency},
		RequestTimeout: 15 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Observer:       metrics,
	}), fake
}

// run sends query through h from 64 goroutines (on any GOMAXPROCS) and
// reports the upstream calls per request.
func run(b *testing.B, h http.Handler, fake *restclienttest.Server, query string, wantUsers int) {
	b.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	serve := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	// One checked answer first, which also warms the cache when it is on.
	w := serve()
	var answer struct {
		Data struct {
			Users struct{ Edges []json.RawMessage } `json:"users"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || w.Code != 200 || len(answer.Errors) > 0 || len(answer.Data.Users.Edges) != wantUsers {
		b.Fatalf("status %d, %d users: %.300s", w.Code, len(answer.Data.Users.Edges), w.Body.String())
	}
	fake.ResetCounts()
	b.ReportAllocs()
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if w := serve(); w.Code != 200 {
				b.Errorf("status %d: %.300s", w.Code, w.Body.String())
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(fake.TotalCalls())/float64(b.N), "upstream/op")
}

func BenchmarkUsers25CacheOff(b *testing.B) {
	h, fake := handler(b, 0)
	run(b, h, fake, scalars25, 25)
}

func BenchmarkUsers25CacheOn(b *testing.B) {
	h, fake := handler(b, time.Hour)
	run(b, h, fake, scalars25, 25)
}

func BenchmarkUsers25CreatorsCacheOn(b *testing.B) {
	h, fake := handler(b, time.Hour)
	run(b, h, fake, creators25, 25)
}

func BenchmarkUsers100CreatorsCacheOn(b *testing.B) {
	h, fake := handler(b, time.Hour)
	run(b, h, fake, creators100, 100)
}
