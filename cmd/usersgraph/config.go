package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/redisstore"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
	"go.opentelemetry.io/otel/trace"
)

// config is the server's whole configuration, filled once from flags and
// environment variables (a flag wins over its variable) and validated.
type config struct {
	APIURL      string // empty: demo mode
	APIKey      string
	ListenAddr  string
	CORSOrigins []string
	// CORSKeylessAnyOrigin lets browsers of any origin use the server's
	// key; without it, a server key serves keyless cross-origin requests
	// only from listed origins.
	CORSKeylessAnyOrigin bool
	UpstreamTimeout      time.Duration // per attempt
	RequestTimeout       time.Duration // per GraphQL request
	UpstreamAttempts     int
	BreakerFailures      int
	BreakerCooldown      time.Duration
	UpstreamMaxConc      int
	UpstreamRate         float64 // requests per second; 0 = off
	UpstreamBurst        int
	CacheTTL             time.Duration // 0 = off
	ResponseCacheBytes   int64         // 0 = no response cache
	CacheMaxEntries      int
	CacheMaxBytes        int64 // of the answer cache, from MemoryBudget
	PersistedQueryBytes  int64 // of the in-memory persisted queries, from MemoryBudget
	DocumentCacheBytes   int64 // of the parsed documents, from MemoryBudget
	MemoryBudget         int64 // bytes to stay within; 0: run resolves it
	MaxBodyBytes         int64
	MaxComplexity        int
	MaxDepth             int
	MaxUpstreamCalls     int
	MaxTokens            int
	MaxResponseBytes     int
	CallerShare          float64 // of UpstreamRate and UpstreamBurst, per credential
	TrustedDocuments     string  // a manifest's path; empty: none
	TrustedOnly          bool
	Introspection        bool
	InFlightSharing      bool
	Lookup               loaders.Route
	LookupConcurrency    int
	// DemoLookupCase makes demo mode's fake answer lookups as one of the
	// Cognigy behaviours restclienttest.LookupCaseOptions names.
	DemoLookupCase string
	LogFormat      string
	LogLevel       slog.Level
	RedisURL       string        // empty: no Redis
	RedisTimeout   time.Duration // per Redis command
	RedisCooldown  time.Duration // without Redis after it failed
	// Healthcheck asks for a probe of a running server, not a server.
	Healthcheck bool
	// tracer is set by run when the OTEL_* variables turn tracing on;
	// nil means no tracing.
	tracer trace.TracerProvider
}

// setting is one configuration item: its variable, its flag and its
// default, all documented in the README's configuration table.
type setting struct {
	env, flag, def, usage string
	secret                bool
}

var settings = []setting{
	{env: "COGNIGY_API_URL", flag: "api-url", usage: "Cognigy API base URL including /new (unset: demo mode on an embedded fake)"},
	{env: "COGNIGY_API_KEY", flag: "api-key", usage: "API key used for callers that send no credential (prefer the variable: flags show in process lists)", secret: true},
	{env: "LISTEN_ADDR", flag: "listen", def: ":8080", usage: "address to listen on"},
	{env: "CORS_ALLOWED_ORIGINS", flag: "cors-allowed-origins", def: "*", usage: "comma-separated origins allowed by CORS, or *"},
	{env: "CORS_ALLOW_KEYLESS_ANY_ORIGIN", flag: "cors-allow-keyless-any-origin", def: "false", usage: "with COGNIGY_API_KEY and CORS_ALLOWED_ORIGINS=*, also let pages of any origin call without a credential of their own, on the server's key (false: such requests are refused 403 unless their origin is listed)"},
	{env: "UPSTREAM_TIMEOUT", flag: "upstream-timeout", def: "5s", usage: "timeout of each upstream attempt, body included"},
	{env: "REQUEST_TIMEOUT", flag: "request-timeout", def: "15s", usage: "deadline of a whole GraphQL request, retries included"},
	{env: "UPSTREAM_ATTEMPTS", flag: "upstream-attempts", def: "3", usage: "attempts per upstream GET (1 = no retry); retried: connection failures, timeouts, 408, 429, 502, 503, 504"},
	{env: "BREAKER_FAILURES", flag: "breaker-failures", def: "5", usage: "consecutive upstream failures that open the circuit breaker (0 = no breaker)"},
	{env: "BREAKER_COOLDOWN", flag: "breaker-cooldown", def: "10s", usage: "how long an open breaker fails fast before it probes again"},
	{env: "UPSTREAM_MAX_CONCURRENCY", flag: "upstream-max-concurrency", def: "64", usage: "upstream requests in flight at once, for the whole server"},
	{env: "UPSTREAM_RATE_LIMIT", flag: "upstream-rate-limit", def: "0", usage: "upstream requests per second, averaged (0 = no limit; 3.3 is Cognigy SaaS's 1,000 per 5 minutes)"},
	{env: "UPSTREAM_RATE_BURST", flag: "upstream-rate-burst", def: "20", usage: "burst above UPSTREAM_RATE_LIMIT"},
	{env: "UPSTREAM_CALLER_SHARE", flag: "upstream-caller-share", def: "0.5", usage: "with UPSTREAM_RATE_LIMIT, the share of its rate and burst one credential may use, so that one caller cannot starve the others (1 = no per-caller limit)"},
	{env: "CACHE_TTL", flag: "cache-ttl", def: "5s", usage: "how long upstream answers are reused, per credential (0 = no cache)"},
	{env: "CACHE_MAX_ENTRIES", flag: "cache-max-entries", def: "10000", usage: "upstream answers kept at most"},
	{env: "MEMORY_BUDGET", flag: "memory-budget", usage: "memory the process should stay within, in bytes or with Ki, Mi or Gi (unset: the container's limit, else 64Mi); GOMEMLIMIT, unless set, is 90% of it less 16Mi for the binary's code (and GOGC, unless set, 250), and each of the two caches gets at most an eighth"},
	{env: "RESPONSE_CACHE_MAX_BYTES", flag: "response-cache-max-bytes", def: "16777216", usage: "memory for complete GraphQL answers repeated by the same caller within CACHE_TTL (0 = no response cache)"},
	{env: "INFLIGHT_SHARING", flag: "inflight-sharing", def: "true", usage: "answer a request identical to one executing (same credential, same request) with that execution's answer, with or without the caches: true or false"},
	{env: "MAX_BODY_BYTES", flag: "max-body-bytes", def: "1048576", usage: "largest POST body accepted (413 beyond)"},
	{env: "MAX_COMPLEXITY", flag: "max-complexity", def: "5000", usage: "largest operation complexity; a list field counts once per item it can return (0 = no limit)"},
	{env: "MAX_DEPTH", flag: "max-depth", def: "12", usage: "deepest field nesting, introspection not counted (0 = no limit)"},
	{env: "MAX_UPSTREAM_CALLS", flag: "max-upstream-calls", def: "250", usage: "most calls to Cognigy one operation may make, estimated before it runs (0 = no limit)"},
	{env: "MAX_TOKENS", flag: "max-tokens", def: "10000", usage: "most tokens in a GraphQL document (0 = no limit)"},
	{env: "MAX_RESPONSE_BYTES", flag: "max-response-bytes", def: "1048576", usage: "largest answer, estimated before execution and measured after (0 = no limit)"},
	{env: "TRUSTED_DOCUMENTS", flag: "trusted-documents", usage: "manifest of trusted documents (Apollo's persisted-query manifest or relay-compiler's persisted queries JSON): clients may send documentId, doc_id or an APQ hash instead of the text"},
	{env: "TRUSTED_DOCUMENTS_ONLY", flag: "trusted-documents-only", def: "false", usage: "refuse every document that is not in TRUSTED_DOCUMENTS (TRUSTED_DOCUMENT_REQUIRED)"},
	{env: "INTROSPECTION", flag: "introspection", def: "true", usage: "answer __schema and __type queries: true or false"},
	{env: "USER_LOOKUP", flag: "user-lookup", def: "auto", usage: "how createdBy/lastChangedBy/user/node/nodes/_entities users are fetched: auto (learns what Cognigy serves and takes the cheapest right way), list (GET /v2.0/users?filter=<id>, trusting filter to match _id) or byid (GET /v2.0/users/{id})"},
	{env: "DEMO_LOOKUP_CASE", flag: "demo-lookup-case", def: "a", usage: "demo mode only: how the embedded fake answers lookups: a (filter matches _id), b (filter matches only name and e-mail), c (b, and GET /v2.0/users/{id} answers 404 without a Cognigy problem) or c405 (b, and it answers 405)"},
	{env: "LOOKUP_CONCURRENCY", flag: "lookup-concurrency", def: strconv.Itoa(loaders.DefaultConcurrency), usage: "upstream lookups of one request that may run at once"},
	{env: "REDIS_URL", flag: "redis-url", usage: "Redis shared by all replicas for persisted queries, the cache of upstream answers and the upstream rate budget, e.g. redis://:password@redis:6379/0 (unset: each replica keeps its own in memory)", secret: true},
	{env: "REDIS_TIMEOUT", flag: "redis-timeout", def: redisstore.DefaultTimeout.String(), usage: "longest wait for one Redis command; a request never waits longer for Redis, and after a failure the replica does without it for REDIS_BREAKER_COOLDOWN"},
	{env: "REDIS_BREAKER_COOLDOWN", flag: "redis-breaker-cooldown", def: redisstore.DefaultCooldown.String(), usage: "how long a replica uses its own cache, rate budget and persisted queries after Redis failed, before it asks Redis again"},
	{env: "LOG_FORMAT", flag: "log-format", def: "text", usage: "log format: text or json"},
	{env: "LOG_LEVEL", flag: "log-level", def: "info", usage: "log level: debug, info, warn or error"},
}

// errUsage is returned for -h; main exits 0 after the usage was printed.
var errUsage = errors.New("usage requested")

// loadConfig reads args and the environment. Errors name the setting in one
// line and never repeat a secret's value.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("usersgraph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		usage := fmt.Sprintf("%s (env %s)", s.usage, s.env)
		if s.secret {
			// The flag's default would print the secret in -h.
			values[s.env] = new(string)
			*values[s.env] = def
			fs.Func(s.flag, usage, func(v string) error { *values[s.env] = v; return nil })
			continue
		}
		values[s.env] = fs.String(s.flag, def, usage)
	}
	healthcheck := fs.Bool("healthcheck", false, "probe a running server's /healthz on LISTEN_ADDR and exit 0 if it answers, 1 if not (for container health checks, where there is no shell or curl)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, errUsage
		}
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	get := func(env string) string { return strings.TrimSpace(*values[env]) }

	c := config{APIURL: get("COGNIGY_API_URL"), APIKey: get("COGNIGY_API_KEY"), ListenAddr: get("LISTEN_ADDR"), Healthcheck: *healthcheck}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
			return c, errors.New("COGNIGY_API_URL must be an absolute http(s) URL without query or user info, e.g. https://api-trial.cognigy.ai/new")
		}
	}
	if c.RedisURL = get("REDIS_URL"); c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return c, errors.New("REDIS_URL must be a redis:// or rediss:// URL such as redis://:password@redis:6379/0")
		}
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return c, fmt.Errorf("LISTEN_ADDR must be host:port or :port, got %q", c.ListenAddr)
	}
	for _, o := range strings.Split(get("CORS_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	if len(c.CORSOrigins) == 0 {
		return c, errors.New("CORS_ALLOWED_ORIGINS must list at least one origin, or *")
	}
	var errs []error
	duration := func(env string, allowZero bool) time.Duration {
		d, err := time.ParseDuration(get(env))
		if err != nil || d < 0 || (d == 0 && !allowZero) {
			errs = append(errs, fmt.Errorf("%s must be a positive duration such as 5s, got %q", env, get(env)))
		}
		return d
	}
	integer := func(env string, lo, hi int64) int64 {
		n, err := strconv.ParseInt(get(env), 10, 64)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s must be an integer from %d to %d, got %q", env, lo, hi, get(env)))
		}
		return n
	}
	c.UpstreamTimeout = duration("UPSTREAM_TIMEOUT", false)
	c.RequestTimeout = duration("REQUEST_TIMEOUT", false)
	c.UpstreamAttempts = int(integer("UPSTREAM_ATTEMPTS", 1, 10))
	c.BreakerFailures = int(integer("BREAKER_FAILURES", 0, 1000))
	c.BreakerCooldown = duration("BREAKER_COOLDOWN", false)
	c.RedisTimeout = duration("REDIS_TIMEOUT", false)
	c.RedisCooldown = duration("REDIS_BREAKER_COOLDOWN", false)
	c.UpstreamMaxConc = int(integer("UPSTREAM_MAX_CONCURRENCY", 1, 10000))
	c.UpstreamBurst = int(integer("UPSTREAM_RATE_BURST", 1, 100000))
	c.CacheTTL = duration("CACHE_TTL", true)
	c.CacheMaxEntries = int(integer("CACHE_MAX_ENTRIES", 1, 10_000_000))
	c.ResponseCacheBytes = integer("RESPONSE_CACHE_MAX_BYTES", 0, 1<<34)
	if v := get("MEMORY_BUDGET"); v != "" {
		n, err := parseBytes(v)
		if err != nil || n < 16<<20 {
			errs = append(errs, fmt.Errorf("MEMORY_BUDGET must be a size of at least 16Mi, such as 256Mi or 268435456, got %q", v))
		}
		c.MemoryBudget = n
	}
	c.MaxBodyBytes = integer("MAX_BODY_BYTES", 1024, 1<<30)
	c.MaxComplexity = int(integer("MAX_COMPLEXITY", 0, 1<<30))
	c.MaxDepth = int(integer("MAX_DEPTH", 0, 1000))
	c.MaxUpstreamCalls = int(integer("MAX_UPSTREAM_CALLS", 0, 1<<30))
	c.MaxTokens = int(integer("MAX_TOKENS", 0, 1<<30))
	c.MaxResponseBytes = int(integer("MAX_RESPONSE_BYTES", 0, 1<<34))
	if f, err := strconv.ParseFloat(get("UPSTREAM_CALLER_SHARE"), 64); err != nil || f <= 0 || f > 1 {
		errs = append(errs, fmt.Errorf("UPSTREAM_CALLER_SHARE must be a number above 0 and at most 1, got %q", get("UPSTREAM_CALLER_SHARE")))
	} else {
		c.CallerShare = f
	}
	c.TrustedDocuments = get("TRUSTED_DOCUMENTS")
	if b, err := strconv.ParseBool(get("TRUSTED_DOCUMENTS_ONLY")); err != nil || (b && c.TrustedDocuments == "") {
		errs = append(errs, fmt.Errorf("TRUSTED_DOCUMENTS_ONLY must be true (with TRUSTED_DOCUMENTS set) or false, got %q", get("TRUSTED_DOCUMENTS_ONLY")))
	} else {
		c.TrustedOnly = b
	}
	if b, err := strconv.ParseBool(get("CORS_ALLOW_KEYLESS_ANY_ORIGIN")); err != nil {
		errs = append(errs, fmt.Errorf("CORS_ALLOW_KEYLESS_ANY_ORIGIN must be true or false, got %q", get("CORS_ALLOW_KEYLESS_ANY_ORIGIN")))
	} else {
		c.CORSKeylessAnyOrigin = b
	}
	if r, err := strconv.ParseFloat(get("UPSTREAM_RATE_LIMIT"), 64); err != nil || r < 0 || r > 1e6 {
		errs = append(errs, fmt.Errorf("UPSTREAM_RATE_LIMIT must be a number of requests per second, 0 for none, got %q", get("UPSTREAM_RATE_LIMIT")))
	} else {
		c.UpstreamRate = r
	}
	if b, err := strconv.ParseBool(get("INTROSPECTION")); err != nil {
		errs = append(errs, fmt.Errorf("INTROSPECTION must be true or false, got %q", get("INTROSPECTION")))
	} else {
		c.Introspection = b
	}
	if b, err := strconv.ParseBool(get("INFLIGHT_SHARING")); err != nil {
		errs = append(errs, fmt.Errorf("INFLIGHT_SHARING must be true or false, got %q", get("INFLIGHT_SHARING")))
	} else {
		c.InFlightSharing = b
	}
	if len(errs) > 0 {
		return c, errs[0]
	}
	switch r := loaders.Route(strings.ToLower(get("USER_LOOKUP"))); r {
	case loaders.RouteAuto, loaders.RouteList, loaders.RouteByID:
		c.Lookup = r
	default:
		return c, fmt.Errorf("USER_LOOKUP must be auto, list or byid, got %q", get("USER_LOOKUP"))
	}
	c.DemoLookupCase = strings.ToLower(get("DEMO_LOOKUP_CASE"))
	if !slices.Contains(restclienttest.LookupCases, c.DemoLookupCase) {
		return c, fmt.Errorf("DEMO_LOOKUP_CASE must be one of %s, got %q", strings.Join(restclienttest.LookupCases, ", "), get("DEMO_LOOKUP_CASE"))
	}
	c.LookupConcurrency = int(integer("LOOKUP_CONCURRENCY", 1, 1000))
	if len(errs) > 0 {
		return c, errs[0]
	}
	switch c.LogFormat = strings.ToLower(get("LOG_FORMAT")); c.LogFormat {
	case "text", "json":
	default:
		return c, fmt.Errorf("LOG_FORMAT must be text or json, got %q", get("LOG_FORMAT"))
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL"))); err != nil {
		return c, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, got %q", get("LOG_LEVEL"))
	}
	return c, nil
}

// parseBytes reads a size in bytes, with an optional Ki, Mi or Gi suffix as
// in a Kubernetes memory quantity.
func parseBytes(v string) (int64, error) {
	shift := 0
	for suffix, s := range map[string]int{"Ki": 10, "Mi": 20, "Gi": 30} {
		if n, ok := strings.CutSuffix(v, suffix); ok {
			v, shift = n, s
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > 1<<40>>shift {
		return 0, fmt.Errorf("not a size: %q", v)
	}
	return n << shift, nil
}

// redactURL is the URL for logs: scheme, host and path only.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
