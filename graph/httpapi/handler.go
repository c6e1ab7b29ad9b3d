// Package httpapi serves the GraphQL schema over HTTP: the transport
// (GET and POST, media types, status codes), the limits an operation must
// pass before it runs, persisted queries, the response cache, tracing and
// the observer hooks metrics hang on. The resolvers are graph's.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"go.opentelemetry.io/otel/trace"

	"github.com/usersgraph/usersgraph/graph"
	"github.com/usersgraph/usersgraph/graph/fastpath"
	"github.com/usersgraph/usersgraph/graph/generated"
	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/restclient"
)

// Config is what the GraphQL handler needs.
type Config struct {
	// Upstream is the Cognigy client (or middleware around one).
	Upstream graph.Upstream
	// DefaultCredential is used for callers that send none; zero means
	// such callers get UNAUTHENTICATED.
	DefaultCredential restclient.Credential
	// Lookup says how createdBy/lastChangedBy users are fetched.
	Lookup loaders.Config
	// MaxBodyBytes bounds a POST body (413 beyond); 0 = DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxComplexity and MaxDepth bound an operation before it runs;
	// 0 = the defaults, negative = no limit.
	MaxComplexity int
	MaxDepth      int
	// MaxUpstreamCalls bounds the calls to Cognigy an operation may make,
	// estimated before it runs; 0 = DefaultMaxUpstreamCalls, negative =
	// no limit.
	MaxUpstreamCalls int
	// MaxTokens bounds a document's tokens, MaxFieldRepeats the times one
	// response key may appear in a selection set, both checked before
	// validation; 0 = the defaults, negative = no limit.
	MaxTokens       int
	MaxFieldRepeats int
	// MaxResponseBytes bounds an answer, estimated before execution and
	// measured after it; 0 = DefaultMaxResponseBytes, negative = no limit.
	MaxResponseBytes int
	// TrustedDocuments, when set, lets clients send a document's id
	// (documentId, doc_id or an APQ hash) instead of its text; with
	// TrustedDocumentsOnly, every other document is refused with
	// TRUSTED_DOCUMENT_REQUIRED.
	TrustedDocuments     *TrustedDocuments
	TrustedDocumentsOnly bool
	// DisableIntrospection refuses __schema, __type and _service queries
	// with INTROSPECTION_DISABLED, and takes the "Did you mean"
	// suggestions out of error messages.
	DisableIntrospection bool
	// ExecutorOnly marshals every list through gqlgen's executor, without
	// the fast path of graph/fastpath. The answers are the
	// same; tests set it to prove that.
	ExecutorOnly bool
	// RequestTimeout bounds a whole GraphQL request, upstream calls and
	// retries included; 0 = no deadline of its own.
	RequestTimeout time.Duration
	Logger         *slog.Logger
	// Observer is told about every request and lookup batch; nil = none.
	Observer Observer
	// Tracer, when set, makes a span per operation and per resolver.
	Tracer trace.TracerProvider
	// ResponseCacheTTL keeps complete answers to be served again to the
	// same caller asking the same, for at most this long after the oldest
	// upstream data in them was fetched; 0 = no response cache. Use the
	// upstream client's cache TTL: the answers are then no older than the
	// data cache alone would make them.
	ResponseCacheTTL time.Duration
	// ResponseCacheBytes bounds the response cache;
	// 0 = DefaultResponseCacheBytes.
	ResponseCacheBytes int64
	// NoInFlightSharing turns off the sharing of one execution among
	// identical requests (same caller, same request) that arrive while it
	// runs; it is on by default, with or without the response cache.
	NoInFlightSharing bool
	// PersistedQueries stores automatic persisted queries; nil = an
	// in-memory LRU of PersistedQueryBytes. Replicas share one (Redis).
	PersistedQueries graphql.Cache[string]
	// PersistedQueryBytes bounds the in-memory persisted queries, and
	// DocumentCacheBytes the parsed, validated documents kept to be run
	// again; 0 = DefaultPersistedQueryBytes, DefaultDocumentCacheBytes.
	PersistedQueryBytes int64
	DocumentCacheBytes  int64
}

// NewHandler returns the GraphQL endpoint: GraphQL over HTTP (GET and POST),
// with the caller's credential and a fresh set of loaders in every
// request's context.
func NewHandler(cfg Config) http.Handler {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	obs := cfg.Observer
	if obs == nil {
		obs = nopObserver{}
	}
	lookup := cfg.Lookup
	if lookup.OnBatch == nil {
		lookup.OnBatch = obs.LoaderBatch
	}
	maxBody := cfg.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	// Calls made without a credential are not made at all.
	up := graph.RequireCredential(countingUpstream{cfg.Upstream})
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: graph.NewResolver(up)}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(overHTTP{maxBodyBytes: maxBody, observer: obs, hideSuggestions: cfg.DisableIntrospection,
		maxResponseBytes: int64(orDefault(cfg.MaxResponseBytes, DefaultMaxResponseBytes)),
		trusted:          cfg.TrustedDocuments, trustedOnly: cfg.TrustedDocumentsOnly})
	validated := newDocumentCache(orDefault(cfg.DocumentCacheBytes, DefaultDocumentCacheBytes))
	srv.SetQueryCache(validated)
	maxTokens := orDefault(cfg.MaxTokens, DefaultMaxTokens)
	if maxTokens > 0 {
		srv.SetParserTokenLimit(maxTokens) // the guard's, should it be bypassed
	}
	if cfg.DisableIntrospection {
		srv.SetDisableSuggestion(true) // the guard strips the other rules' suggestions
	} else {
		srv.Use(extension.Introspection{})
	}
	// Parameter mutators run in this order: the persisted query becomes
	// the document before the guard looks at it.
	apq := cfg.PersistedQueries
	if apq == nil {
		apq = NewPersistedQueryCache(orDefault(cfg.PersistedQueryBytes, DefaultPersistedQueryBytes))
	}
	srv.Use(persistedQueries{extension.AutomaticPersistedQuery{Cache: apq}})
	srv.Use(documentGuard{maxTokens: maxTokens, maxRepeats: orDefault(cfg.MaxFieldRepeats, DefaultMaxFieldRepeats), validated: validated})
	srv.Use(operationLimits{
		maxComplexity:   int64(orDefault(cfg.MaxComplexity, DefaultMaxComplexity)),
		maxDepth:        int64(orDefault(cfg.MaxDepth, DefaultMaxDepth)),
		maxCalls:        int64(orDefault(cfg.MaxUpstreamCalls, DefaultMaxUpstreamCalls)),
		maxBytes:        int64(orDefault(cfg.MaxResponseBytes, DefaultMaxResponseBytes)),
		noIntrospection: cfg.DisableIntrospection,
	})
	if cfg.Tracer != nil {
		srv.Use(tracing{tracer: cfg.Tracer.Tracer(tracerName)})
	}
	srv.Use(representationCheck{})
	srv.SetErrorPresenter(graph.ErrorPresenter(logger))
	srv.SetRecoverFunc(graph.Recover(logger))
	var gql http.Handler = srv
	if cfg.ExecutorOnly {
		gql = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			srv.ServeHTTP(w, r.WithContext(fastpath.ExecutorOnly(r.Context())))
		})
	}
	// The deadline starts where execution does: a request answered from
	// the response cache or with an identical request's execution sets no
	// timer (its wait is bounded by the deadline of the request it waits
	// for, which began earlier; one that then executes on its own gets
	// what is left of its time, from the response-cache middleware).
	return withCredential(cfg.DefaultCredential,
		withResponseCache(responseCacheConfig{ttl: cfg.ResponseCacheTTL, maxBytes: cfg.ResponseCacheBytes, maxBody: maxBody,
			share: !cfg.NoInFlightSharing, maxShared: int64(orDefault(cfg.MaxResponseBytes, DefaultMaxResponseBytes)), timeout: cfg.RequestTimeout},
			obs, withDeadline(cfg.RequestTimeout, withMeter(loaders.Middleware(up, lookup, gql)))))
}

func orDefault[N int | int64](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}

// withDeadline gives every request an overall deadline, which the upstream
// client's retries and waits respect.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// withCredential puts the caller's credential, or the default one, in the
// request's context, where the REST client picks it up.
func withCredential(def restclient.Credential, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, ok := restclient.CredentialFromHeader(r.Header)
		if !ok {
			cred = def
		}
		if !cred.IsZero() {
			r = r.WithContext(restclient.WithCredential(r.Context(), cred))
		}
		next.ServeHTTP(w, r)
	})
}
