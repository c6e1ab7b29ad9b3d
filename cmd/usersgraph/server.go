package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/rs/cors"
	"github.com/usersgraph/usersgraph/graph"
	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// Demo mode's dataset: enough users for several pages in every order.
const (
	demoUsers = 300
	demoSeed  = 1
	demoKey   = "demo-key"
)

// app is the assembled server: its handler, and what must be closed.
type app struct {
	handler http.Handler
	demo    *restclienttest.Server // nil unless in demo mode
}

func (a *app) Close() {
	if a.demo != nil {
		a.demo.Close()
	}
}

// newApp wires the configuration into a handler. Without COGNIGY_API_URL it
// starts the embedded Cognigy fake on loopback and uses it (demo mode).
func newApp(cfg config, logger *slog.Logger) (*app, error) {
	a := &app{}
	apiURL := cfg.APIURL
	def := restclient.NewCredential(restclient.APIKey, cfg.APIKey)
	if apiURL == "" {
		demo, err := restclienttest.NewServer(
			restclienttest.WithUsers(restclienttest.DemoUsers(demoUsers, demoSeed)),
			restclienttest.WithAPIKey(demoKey),
		)
		if err != nil {
			return nil, fmt.Errorf("start the demo upstream: %w", err)
		}
		a.demo, apiURL = demo, demo.URL
		def = restclient.NewCredential(restclient.APIKey, demoKey)
	}
	client, err := restclient.New(apiURL,
		restclient.WithTimeout(cfg.UpstreamTimeout),
		restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: cfg.UpstreamAttempts, BaseDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second}),
		restclient.WithCircuitBreaker(cfg.BreakerFailures, cfg.BreakerCooldown),
		restclient.WithConcurrencyLimit(cfg.UpstreamMaxConc),
		restclient.WithRateLimit(cfg.UpstreamRate, cfg.UpstreamBurst),
		restclient.WithCache(cfg.CacheTTL, cfg.CacheMaxEntries),
	)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("COGNIGY_API_URL: %w", err)
	}
	gql := graph.NewHandler(graph.Config{
		Upstream:             client,
		DefaultCredential:    def,
		Lookup:               loaders.Config{Route: cfg.Lookup, Concurrency: cfg.LookupConcurrency},
		MaxBodyBytes:         cfg.MaxBodyBytes,
		MaxComplexity:        negativeIfZero(cfg.MaxComplexity),
		MaxDepth:             negativeIfZero(cfg.MaxDepth),
		DisableIntrospection: !cfg.Introspection,
		RequestTimeout:       cfg.RequestTimeout,
		Logger:               logger,
	})

	var pgOpts []playground.GraphiqlConfigOption
	if a.demo == nil {
		// A field to paste the caller's key into; demo mode needs none.
		pgOpts = append(pgOpts, playground.WithGraphiqlUiHeaders(map[string]string{restclient.HeaderAPIKey: ""}))
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", cors.New(cors.Options{
		AllowedOrigins: cfg.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Content-Type", "Accept", restclient.HeaderAPIKey, restclient.HeaderAuthorization, restclient.HeaderCXone},
		MaxAge:         600,
	}).Handler(gql))
	mux.Handle("GET /{$}", playground.Handler("usersgraph", "/graphql", pgOpts...))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	a.handler = accessLog(logger, mux)
	return a, nil
}

// accessLog logs one line per request: never headers or the query string,
// which is where credentials could be.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)),
		)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// negativeIfZero maps the settings' "0 = no limit" onto graph.Config's
// "0 = default, negative = no limit".
func negativeIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
