// Package telemetry turns what the GraphQL handler, the Cognigy client
// and the Redis store report into Prometheus metrics and trace events, and
// sets up OpenTelemetry tracing from the standard OTEL_* variables. It
// implements httpapi.Observer, restclient.Observer and redisstore.Observer;
// cmd/usersgraph wires it in and serves /metrics.
package telemetry

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/redisstore"
	"github.com/usersgraph/usersgraph/restclient"
)

// maxOperationNames bounds the operation label's values: clients choose
// operation names, and an unbounded label would grow the registry without
// end. Later names are counted as "other".
const maxOperationNames = 200

// Metrics is the server's Prometheus registry and the observers that feed
// it. The zero value is not usable; call New.
type Metrics struct {
	registry *prometheus.Registry

	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	inFlight       prometheus.Gauge
	upstream       *prometheus.CounterVec
	upstreamTime   *prometheus.HistogramVec
	cache          *prometheus.CounterVec
	responseCache  *prometheus.CounterVec
	inFlightShared prometheus.Counter
	sharedCache    *prometheus.CounterVec
	coalesced      prometheus.Counter
	batchSize      prometheus.Histogram
	breaker        *prometheus.GaugeVec
	redisOps       *prometheus.CounterVec
	redisBreaker   *prometheus.GaugeVec
	operationNames sync.Map // name → struct{}: the names already used as labels
	namesMu        sync.Mutex
	names          int
}

var (
	_ httpapi.Observer         = (*Metrics)(nil)
	_ httpapi.InFlightObserver = (*Metrics)(nil)
	_ restclient.Observer      = (*Metrics)(nil)
)

// New returns metrics registered in a registry of their own, with the Go
// runtime's and the process's collectors beside them.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usersgraph_graphql_requests_total",
			Help: "GraphQL requests by operation name and outcome (ok, canceled when the caller hung up, or the first error's code).",
		}, []string{"operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "usersgraph_graphql_request_duration_seconds",
			Help:    "Time to answer a GraphQL request, by operation name.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}, []string{"operation"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "usersgraph_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usersgraph_upstream_requests_total",
			Help: "Requests to Cognigy by route (list, byid), status (the HTTP status, or canceled, circuit_open, rate_limited, transport_error, invalid_body) and attempt (1 is the first try).",
		}, []string{"route", "status", "attempt"}),
		upstreamTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "usersgraph_upstream_request_duration_seconds",
			Help:    "Time of one request to Cognigy, by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usersgraph_upstream_cache_lookups_total",
			Help: "Lookups in the cache of Cognigy answers, by result (hit, miss).",
		}, []string{"result"}),
		sharedCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usersgraph_upstream_shared_cache_lookups_total",
			Help: "Lookups in the cache of Cognigy answers that replicas share in Redis (after a miss of the replica's own), by result (hit, miss, error).",
		}, []string{"result"}),
		responseCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usersgraph_response_cache_lookups_total",
			Help: "Lookups of complete GraphQL answers repeated by the same caller, by result (hit, miss).",
		}, []string{"result"}),
		inFlightShared: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "usersgraph_inflight_shared_total",
			Help: "GraphQL requests answered with the execution of an identical request (same caller) that was running when they arrived.",
		}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "usersgraph_upstream_coalesced_total",
			Help: "Calls that joined an identical request to Cognigy already in flight instead of sending their own.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "usersgraph_loader_batch_size",
			Help:    "Users looked up together in one batch of a request's createdBy/lastChangedBy loader.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 200},
		}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "usersgraph_upstream_breaker_state",
			Help: "1 for the circuit breaker's current state (closed, half-open, open), 0 for the others.",
		}, []string{"state"}),
		redisOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usersgraph_redis_operations_total",
			Help: "Operations on the Redis that replicas share (REDIS_URL), by operation (cache_get, cache_set, rate_take, apq_get, apq_add) and result (ok; error: failed or timed out; skipped: not asked while Redis' breaker is open).",
		}, []string{"operation", "result"}),
		redisBreaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "usersgraph_redis_breaker_state",
			Help: "1 for the state of Redis' circuit breaker (closed: Redis is used; open: it failed and this replica does without it; half-open: one command probes it), 0 for the others.",
		}, []string{"state"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.inFlight, m.upstream, m.upstreamTime,
		m.cache, m.sharedCache, m.responseCache, m.inFlightShared, m.coalesced, m.batchSize, m.breaker,
	)
	for _, r := range []string{"hit", "miss"} {
		m.cache.WithLabelValues(r)
		m.responseCache.WithLabelValues(r)
	}
	for _, r := range []string{restclient.SharedHit, restclient.SharedMiss, restclient.SharedError} {
		m.sharedCache.WithLabelValues(r)
	}
	m.BreakerChanged(restclient.BreakerClosed)
	return m
}

// WithRedis adds the metrics of the Redis that replicas share: call it
// when REDIS_URL is set, so that a server without Redis shows none.
func (m *Metrics) WithRedis() *Metrics {
	m.registry.MustRegister(m.redisOps, m.redisBreaker)
	for _, op := range []string{redisstore.OpCacheGet, redisstore.OpCacheSet, redisstore.OpRateTake, redisstore.OpAPQGet, redisstore.OpAPQAdd} {
		for _, r := range []string{redisstore.ResultOK, redisstore.ResultError, redisstore.ResultSkipped} {
			m.redisOps.WithLabelValues(op, r)
		}
	}
	m.RedisBreakerChanged(redisstore.BreakerClosed)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Registry is where the metrics live, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// InFlight counts the requests next is serving.
func (m *Metrics) InFlight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		next.ServeHTTP(w, r)
	})
}

// Operation implements httpapi.Observer.
func (m *Metrics) Operation(_ context.Context, op httpapi.Operation) {
	name := m.operationLabel(op.Name)
	m.requests.WithLabelValues(name, op.Outcome).Inc()
	m.duration.WithLabelValues(name).Observe(op.Elapsed.Seconds())
}

// LoaderBatch implements httpapi.Observer.
func (m *Metrics) LoaderBatch(size int) { m.batchSize.Observe(float64(size)) }

// Attempted implements restclient.Observer. When the call is traced, the
// attempt is also an event of the caller's span, and an upstream error's
// traceId becomes its cognigy.trace_id attribute.
func (m *Metrics) Attempted(ctx context.Context, a restclient.Attempt) {
	status := statusLabel(a)
	m.upstream.WithLabelValues(a.Route, status, attemptLabel(a.Number)).Inc()
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("cognigy request", trace.WithAttributes(
			attribute.String("cognigy.route", a.Route),
			attribute.String("cognigy.status", status),
			attribute.Int("cognigy.attempt", a.Number),
		))
		var er *restclient.ErrorResponse
		if errors.As(a.Err, &er) && er.TraceID != "" {
			span.SetAttributes(attribute.String("cognigy.trace_id", er.TraceID))
		}
	}
	if a.Status != 0 {
		// Only requests that reached Cognigy say how fast it is.
		m.upstreamTime.WithLabelValues(a.Route).Observe(a.Elapsed.Seconds())
	}
}

// CacheLookup implements restclient.Observer.
func (m *Metrics) CacheLookup(hit bool) { m.cache.WithLabelValues(hitLabel(hit)).Inc() }

var _ restclient.SharedCacheObserver = (*Metrics)(nil)

// SharedCacheLookup implements restclient.SharedCacheObserver.
func (m *Metrics) SharedCacheLookup(outcome string) { m.sharedCache.WithLabelValues(outcome).Inc() }

var _ httpapi.ResponseCacheObserver = (*Metrics)(nil)

// InFlightShared implements httpapi.InFlightObserver.
func (m *Metrics) InFlightShared() { m.inFlightShared.Inc() }

// ResponseCacheLookup implements httpapi.ResponseCacheObserver.
func (m *Metrics) ResponseCacheLookup(hit bool) { m.responseCache.WithLabelValues(hitLabel(hit)).Inc() }

func hitLabel(hit bool) string {
	if hit {
		return "hit"
	}
	return "miss"
}

// Coalesced implements restclient.Observer.
func (m *Metrics) Coalesced() { m.coalesced.Inc() }

// BreakerChanged implements restclient.Observer.
func (m *Metrics) BreakerChanged(s restclient.BreakerState) {
	for _, st := range []restclient.BreakerState{restclient.BreakerClosed, restclient.BreakerHalfOpen, restclient.BreakerOpen} {
		v := 0.0
		if st == s {
			v = 1
		}
		m.breaker.WithLabelValues(string(st)).Set(v)
	}
}

var _ redisstore.Observer = (*Metrics)(nil)

// RedisOperation implements redisstore.Observer.
func (m *Metrics) RedisOperation(op, result string) { m.redisOps.WithLabelValues(op, result).Inc() }

// RedisBreakerChanged implements redisstore.Observer.
func (m *Metrics) RedisBreakerChanged(s redisstore.BreakerState) {
	for _, st := range []redisstore.BreakerState{redisstore.BreakerClosed, redisstore.BreakerHalfOpen, redisstore.BreakerOpen} {
		v := 0.0
		if st == s {
			v = 1
		}
		m.redisBreaker.WithLabelValues(string(st)).Set(v)
	}
}

// validName is GraphQL's Name grammar, bounded in length.
var validName = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,63}$`)

// operationLabel is name as a label value: "anonymous" for none, "other"
// beyond the first maxOperationNames distinct names.
func (m *Metrics) operationLabel(name string) string {
	if name == "" {
		return "anonymous"
	}
	if _, ok := m.operationNames.Load(name); ok {
		return name
	}
	if !validName.MatchString(name) {
		return "other"
	}
	m.namesMu.Lock()
	defer m.namesMu.Unlock()
	if _, ok := m.operationNames.Load(name); ok {
		return name
	}
	if m.names >= maxOperationNames {
		return "other"
	}
	m.names++
	m.operationNames.Store(name, struct{}{})
	return name
}

func statusLabel(a restclient.Attempt) string {
	var le *restclient.LimitError
	var te *restclient.TransportError
	var de *restclient.DecodeError
	switch {
	case errors.Is(a.Err, context.Canceled):
		// Every caller hung up: the upstream did nothing wrong.
		return "canceled"
	case errors.Is(a.Err, restclient.ErrCircuitOpen):
		return "circuit_open"
	case errors.As(a.Err, &le):
		return "rate_limited"
	case errors.As(a.Err, &de):
		return "invalid_body"
	case errors.As(a.Err, &te):
		return "transport_error"
	case a.Status != 0:
		return strconv.Itoa(a.Status)
	}
	return "transport_error"
}

func attemptLabel(n int) string {
	if n >= 5 {
		return "5+"
	}
	return strconv.Itoa(n)
}
