package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/rs/cors"
	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/playground"
	"github.com/usersgraph/usersgraph/redisstore"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
	"github.com/usersgraph/usersgraph/telemetry"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
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
	store   *redisstore.Store      // nil without REDIS_URL
}

func (a *app) Close() {
	if a.store != nil {
		a.store.Close()
	}
	if a.demo != nil {
		a.demo.Close()
	}
}

// newApp wires the configuration into a handler. Without COGNIGY_API_URL it
// starts the embedded Cognigy fake on loopback and uses it (demo mode).
func newApp(cfg config, logger *slog.Logger) (*app, error) {
	a := &app{}
	metrics := telemetry.New()
	if cfg.RedisURL != "" {
		metrics.WithRedis()
	}
	apiURL := cfg.APIURL
	def := restclient.NewCredential(restclient.APIKey, cfg.APIKey)
	if apiURL == "" {
		lookupCase, err := restclienttest.LookupCaseOptions(cfg.DemoLookupCase)
		if err != nil {
			return nil, fmt.Errorf("DEMO_LOOKUP_CASE: %w", err)
		}
		demo, err := restclienttest.NewServer(append(lookupCase,
			restclienttest.WithUsers(restclienttest.DemoUsers(demoUsers, demoSeed)),
			restclienttest.WithAPIKey(demoKey),
		)...)
		if err != nil {
			return nil, fmt.Errorf("start the demo upstream: %w", err)
		}
		a.demo, apiURL = demo, demo.URL
		def = restclient.NewCredential(restclient.APIKey, demoKey)
	}
	hc := restclient.NewHTTPClient()
	if cfg.tracer != nil {
		// A client span per upstream request, with traceparent sent along.
		hc.Transport = otelhttp.NewTransport(hc.Transport,
			otelhttp.WithTracerProvider(cfg.tracer), otelhttp.WithPropagators(propagation.TraceContext{}))
	}
	var shared []restclient.Option
	var apq graphql.Cache[string] // nil: in memory
	if cfg.RedisURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		redisstore.SetLibraryLogger(logger)
		store, err := redisstore.Open(ctx, cfg.RedisURL,
			redisstore.WithTimeout(cfg.RedisTimeout),
			redisstore.WithCooldown(cfg.RedisCooldown),
			redisstore.WithLogger(logger),
			redisstore.WithObserver(metrics))
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		a.store = store
		hashKey, err := store.HashKey(ctx)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		shared = append(shared, restclient.WithSharedCache(store.Cache(), hashKey))
		if cfg.UpstreamRate > 0 {
			shared = append(shared, restclient.WithSharedRateLimit(store.RateLimit(cfg.UpstreamRate, cfg.UpstreamBurst)))
		}
		apq = store.PersistedQueries(httpapi.NewPersistedQueryCache(cfg.PersistedQueryBytes))
	}
	client, err := restclient.New(apiURL, append([]restclient.Option{
		restclient.WithDoer(hc),
		restclient.WithTimeout(cfg.UpstreamTimeout),
		restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: cfg.UpstreamAttempts, BaseDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second}),
		restclient.WithCircuitBreaker(cfg.BreakerFailures, cfg.BreakerCooldown),
		restclient.WithConcurrencyLimit(cfg.UpstreamMaxConc),
		restclient.WithRateLimit(cfg.UpstreamRate, cfg.UpstreamBurst),
		restclient.WithCallerShare(callerShare(cfg)),
		restclient.WithCache(cfg.CacheTTL, cfg.CacheMaxEntries),
		restclient.WithCacheMaxBytes(cfg.CacheMaxBytes),
		restclient.WithObserver(metrics),
	}, shared...)...)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("COGNIGY_API_URL: %w", err)
	}
	var trusted *httpapi.TrustedDocuments
	if cfg.TrustedDocuments != "" {
		if trusted, err = httpapi.LoadTrustedDocuments(cfg.TrustedDocuments); err != nil {
			a.Close()
			return nil, fmt.Errorf("TRUSTED_DOCUMENTS: %w", err)
		}
		logger.Info("trusted documents loaded", "documents", trusted.Len(), "only", cfg.TrustedOnly)
	}
	gql := httpapi.NewHandler(httpapi.Config{
		Upstream:             client,
		DefaultCredential:    def,
		Lookup:               loaders.Config{Route: cfg.Lookup, Concurrency: cfg.LookupConcurrency, Logger: logger},
		MaxBodyBytes:         cfg.MaxBodyBytes,
		MaxComplexity:        negativeIfZero(cfg.MaxComplexity),
		MaxDepth:             negativeIfZero(cfg.MaxDepth),
		MaxUpstreamCalls:     negativeIfZero(cfg.MaxUpstreamCalls),
		MaxTokens:            negativeIfZero(cfg.MaxTokens),
		MaxResponseBytes:     negativeIfZero(cfg.MaxResponseBytes),
		TrustedDocuments:     trusted,
		TrustedDocumentsOnly: cfg.TrustedOnly,
		DisableIntrospection: !cfg.Introspection,
		RequestTimeout:       cfg.RequestTimeout,
		Logger:               logger,
		Observer:             metrics,
		Tracer:               cfg.tracer,
		PersistedQueries:     apq,
		PersistedQueryBytes:  cfg.PersistedQueryBytes,
		DocumentCacheBytes:   cfg.DocumentCacheBytes,
		ResponseCacheTTL:     responseCacheTTL(cfg),
		ResponseCacheBytes:   cfg.ResponseCacheBytes,
		NoInFlightSharing:    !cfg.InFlightSharing,
	})

	// A field to paste the caller's key into; filled in demo mode.
	pgHeaders := map[string]string{restclient.HeaderAPIKey: ""}
	if a.demo != nil {
		pgHeaders[restclient.HeaderAPIKey] = demoKey
	}
	mux := http.NewServeMux()
	corsOpts := cors.Options{
		AllowedOrigins: cfg.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Content-Type", "Accept", restclient.HeaderAPIKey, restclient.HeaderAuthorization, restclient.HeaderCXone},
		MaxAge:         600,
	}
	if guardKeyless(cfg, a.demo != nil) {
		corsOpts.AllowOriginVaryRequestFunc = func(r *http.Request, _ string) (bool, []string) {
			return bringsCredential(r), credentialHeaders
		}
		gql = refuseKeylessCrossOrigin(gql)
	}
	mux.Handle("/graphql", cors.New(corsOpts).Handler(gql))
	pg := playground.Handler(playground.Config{Title: "usersgraph", Endpoint: "/graphql", Headers: pgHeaders})
	mux.Handle("GET /{$}", pg)
	mux.Handle("GET /"+playground.AssetsPath, pg)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /readyz", readyz(client))
	mux.Handle("GET /metrics", metrics.Handler())
	if cfg.Introspection {
		// The public schema as a file, for code generators: introspection
		// by other means, so only where introspection is on.
		mux.Handle("GET /schema.graphql", httpapi.SchemaHandler())
	}
	var h http.Handler = metrics.InFlight(mux)
	if cfg.tracer != nil {
		// Continues a caller's trace (a federation gateway's, say).
		h = otelhttp.NewHandler(h, "usersgraph",
			otelhttp.WithTracerProvider(cfg.tracer), otelhttp.WithPropagators(propagation.TraceContext{}),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	}
	a.handler = withRequestID(accessLog(logger, h))
	return a, nil
}

// callerShare is each credential's part of the upstream rate limit and
// its burst; none without a rate limit, or with a share of 1 or more.
func callerShare(cfg config) (perSecond float64, burst int) {
	if cfg.UpstreamRate <= 0 || cfg.CallerShare >= 1 {
		return 0, 0
	}
	return cfg.UpstreamRate * cfg.CallerShare, max(1, int(float64(cfg.UpstreamBurst)*cfg.CallerShare))
}

// guardKeyless says whether keyless cross-origin requests must be refused:
// the server holds a key of its own (demo mode's is not worth guarding)
// and CORS allows every origin, which the operator did not accept for
// keyless callers. With listed origins, those origins are trusted.
func guardKeyless(cfg config, demo bool) bool {
	return cfg.APIKey != "" && !demo && !cfg.CORSKeylessAnyOrigin && slices.Contains(cfg.CORSOrigins, "*")
}

// credentialHeaders are the headers a caller's own credential comes in.
var credentialHeaders = []string{restclient.HeaderAPIKey, restclient.HeaderAuthorization, restclient.HeaderCXone}

// bringsCredential reports a request with a credential of its own, or a
// CORS preflight announcing one.
func bringsCredential(r *http.Request) bool {
	if _, ok := restclient.CredentialFromHeader(r.Header); ok {
		return true
	}
	if r.Method != http.MethodOptions {
		return false
	}
	for v := range strings.SplitSeq(strings.ToLower(r.Header.Get("Access-Control-Request-Headers")), ",") {
		for _, h := range credentialHeaders {
			if strings.TrimSpace(v) == strings.ToLower(h) {
				return true
			}
		}
	}
	return false
}

// refuseKeylessCrossOrigin answers 403, without running it, a browser's
// request from another origin that brings no credential: it would run on
// the server's key, so any page a colleague visits could read the user
// directory, or spend the quota, through the facade. Requests without an
// Origin (servers, curl) and same-origin ones (the playground) pass.
func refuseKeylessCrossOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || r.Method == http.MethodOptions || bringsCredential(r) || sameOrigin(origin, r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"errors":[{"message":"a request from another origin must send its own credential; this server's key serves only the origins in CORS_ALLOWED_ORIGINS","extensions":{"code":"FORBIDDEN_ORIGIN"}}]}`))
	})
}

func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// negativeIfZero maps the settings' "0 = no limit" onto httpapi.Config's
// "0 = default, negative = no limit".
// responseCacheTTL is the data cache's TTL: complete answers are kept no
// longer than the data in them, and not at all without a data cache or
// without memory for them.
func responseCacheTTL(cfg config) time.Duration {
	if cfg.ResponseCacheBytes <= 0 {
		return 0
	}
	return cfg.CacheTTL
}

func negativeIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// readyz answers 200 while the upstream can be used (its host accepts
// connections and the circuit breaker is not open) and 503 otherwise. It
// sends no request to Cognigy: probes must not spend the quota.
func readyz(client *restclient.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := client.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}
