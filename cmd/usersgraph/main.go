// Command usersgraph serves a GraphQL API over Cognigy.AI's user directory.
// With no configuration it runs in demo mode, on an embedded fake of
// Cognigy with a few hundred users, so the playground works at once.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/usersgraph/usersgraph/telemetry"
)

// shutdownGrace is how long in-flight requests may finish after a signal.
const shutdownGrace = 15 * time.Second

// The memory budget (MEMORY_BUDGET) when neither the setting nor a
// container's limit gives one, and the shares of it that GOMEMLIMIT and
// each cache get.
const (
	defaultMemoryBudget = 64 << 20
	goMemLimitRatio     = 0.9 // of the budget, less codeRSS
	// codeRSS is the resident memory the Go runtime does not count towards
	// GOMEMLIMIT: the binary's code and data, mapped from its file (17 MiB
	// of an idle server's 20 MiB RSS, /proc/PID/smaps_rollup).
	codeRSS = 16 << 20
	// gcPercentUnderLimit is GOGC, unless set, while a memory limit holds:
	// far below the limit (a few MiB live, as under repeated or cached
	// queries) the GC then runs 2.5 times less often than at Go's 100,
	// and near it the limit, not GOGC, decides. Under wrk at 64
	// connections it cut the facade's CPU a request by about a sixth
	// (BENCHMARKS.md).
	gcPercentUnderLimit = 250
	cacheShare          = 8  // each of the two caches gets 1/cacheShare
	persistedQueryShare = 32 // the in-memory persisted queries
	documentCacheShare  = 16 // parsed, validated documents
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run starts the server and blocks until ctx ends; it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, errUsage) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "usersgraph: invalid configuration: %v\n", err)
		return 2
	}
	if cfg.Healthcheck {
		return probeHealth(ctx, cfg.ListenAddr, stderr)
	}
	logger := newLogger(cfg, stdout)
	sizeMemory(&cfg, memlimit.FromCgroup, logger)
	tp, err := telemetry.Tracing(ctx, getenv)
	if err != nil {
		logger.Error("cannot start tracing", "err", err)
		return 2
	}
	if tp != nil {
		cfg.tracer = tp
		defer func() {
			// Flush the last spans, bounded: a dead collector must not
			// hold the exit.
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				logger.Warn("tracing: last spans not exported", "err", err)
			}
		}()
		logger.Info("tracing: exporting spans over OTLP/HTTP")
	}

	a, err := newApp(cfg, logger)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	defer a.Close()

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		logger.Error("cannot listen", "addr", cfg.ListenAddr, "err", err)
		return 1
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	playground := playgroundURL(ln.Addr())
	if a.demo != nil {
		logger.Info("demo mode: COGNIGY_API_URL is not set, so an embedded Cognigy fake with demo users answers; no API key is needed",
			"users", demoUsers, "playground", playground)
	} else {
		logger.Info("serving", "upstream", redactURL(cfg.APIURL), "playground", playground)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		logger.Error("server stopped", "err", err)
		return 1
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining in-flight requests", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Error("shutdown incomplete", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

// sizeMemory resolves the memory budget (MEMORY_BUDGET, else the
// container's cgroup limit, else defaultMemoryBudget), sets GOMEMLIMIT from
// it (unless GOMEMLIMIT is set) so that the GC works harder before RSS
// passes the budget, and sizes each cache as a share of it.
func sizeMemory(cfg *config, cgroupLimit func() (uint64, error), logger *slog.Logger) {
	budget, from := cfg.MemoryBudget, "MEMORY_BUDGET"
	if budget <= 0 {
		if limit, err := cgroupLimit(); err == nil && limit > 0 && limit < 1<<50 {
			budget, from = int64(limit), "cgroup"
		} else {
			budget, from = defaultMemoryBudget, "default"
		}
	}
	cfg.MemoryBudget = budget
	goLimit := "GOMEMLIMIT"
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		n := goMemLimit(budget)
		debug.SetMemoryLimit(n)
		goLimit = strconv.FormatInt(n, 10)
	}
	gogc := "GOGC"
	if percent, ok := gcPercent(os.Getenv("GOGC") != "", debug.SetMemoryLimit(-1)); ok {
		debug.SetGCPercent(percent)
		gogc = strconv.Itoa(percent)
	}
	cfg.CacheMaxBytes = budget / cacheShare
	cfg.ResponseCacheBytes = min(cfg.ResponseCacheBytes, budget/cacheShare)
	cfg.PersistedQueryBytes = budget / persistedQueryShare
	cfg.DocumentCacheBytes = budget / documentCacheShare
	logger.Info("memory budget", "bytes", budget, "from", from, "go_memory_limit", goLimit, "gc_percent", gogc,
		"answer_cache_bytes", cfg.CacheMaxBytes, "response_cache_bytes", cfg.ResponseCacheBytes,
		"persisted_query_bytes", cfg.PersistedQueryBytes, "document_cache_bytes", cfg.DocumentCacheBytes)
}

// gcPercent is the GOGC to set, if any: gcPercentUnderLimit when GOGC is
// not set and a memory limit holds (without one, a higher GOGC would let
// the heap grow to 3.5 times what is live, unbounded).
func gcPercent(gogcSet bool, memoryLimit int64) (int, bool) {
	if gogcSet || memoryLimit == math.MaxInt64 {
		return 0, false
	}
	return gcPercentUnderLimit, true
}

// goMemLimit is the Go runtime's soft limit for a budget: 90% of it less
// codeRSS, which RSS includes and the limit does not, and at least half
// of it. 64Mi gives 41.6Mi; 128Mi, 99.2Mi.
func goMemLimit(budget int64) int64 {
	return max(int64(float64(budget)*goMemLimitRatio)-codeRSS, budget/2)
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(requestIDs{slog.NewJSONHandler(w, opts)})
	}
	return slog.New(requestIDs{slog.NewTextHandler(w, opts)})
}

// playgroundURL is the address a person on this machine opens.
func playgroundURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// probeHealth GETs /healthz of the server listening on listenAddr, from
// this machine, and says whether it answered 200.
func probeHealth(ctx context.Context, listenAddr string, stderr io.Writer) int {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		fmt.Fprintf(stderr, "usersgraph: healthcheck: %v\n", err)
		return 1
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		fmt.Fprintf(stderr, "usersgraph: healthcheck: %v\n", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "usersgraph: healthcheck: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "usersgraph: healthcheck: /healthz answered %d\n", resp.StatusCode)
		return 1
	}
	return 0
}
