// Command usersgraph-bench compares, in one run on one machine, Cognigy's
// REST endpoint GET /v2.0/users (served by an in-process fake) with the
// usersgraph facade in front of that same fake, and with the Tailcall peer
// where it can be started.
//
// It builds the facade once and runs each configuration as a process of its
// own. Its parts (-run, all by default):
//
//   - wrk: with wrk (a Debian package) and the committed Lua script
//     wrk/requests.lua, the same for every system: direct REST
//     (GET /v2.0/users?limit=25), the facade with every cache off
//     (CACHE_TTL=0 RESPONSE_CACHE_MAX_BYTES=0) and Tailcall tuned
//     (-tailcall DIR), users(first: 25) with totalCount, pageInfo and
//     cursors, with and without createdBy/lastChangedBy, at 64 and 1
//     connections: req/s, p50/p99, upstream calls per request (counted by
//     the fake) and CPU seconds per 1,000 requests of each process (from
//     /proc/<pid>/stat);
//   - mix: distinct queries (filters, orders, sizes 3–100, pages forward
//     and back with real cursors, with and without references, several
//     credentials) generated through a cache-off facade, which records the
//     REST calls each needs; wrk sends them with a Zipf popularity to the
//     facade in its default configuration (cache hit rates from /metrics),
//     then the same sequence's REST calls to the fake;
//   - soak: a fresh facade (default configuration plus -soak-env) under
//     distinct queries (or the Zipf mix) for -soak-d, RSS every second;
//   - go: the second view, with the bench's in-process Go clients, and
//     the cold/warm first:100 over a fake that adds 20 ms per call, with
//     the targets those figures can check.
//
// Every figure carries the load average and the share of the machine's CPU
// that other processes used. The exit status does not depend on the
// targets unless -check is given.
//
//	go run ./cmd/usersgraph-bench -d 8s -tailcall /tmp/tailcall
//	go run ./cmd/usersgraph-bench -run soak -soak-d 10m -soak-env GOMEMLIMIT=115MiB
//	go run ./cmd/usersgraph-bench -run wrk -cpuprofile-facade /tmp/facade
//	go run ./cmd/usersgraph-bench -run go -json > bench.json
//
// Only loopback addresses are ever contacted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
)

// Bounds that keep every run sane.
const (
	maxClients     = 4096
	maxDuration    = time.Hour
	maxWarmup      = 10 * time.Minute
	maxColdTrials  = 20
	maxUpstreamLag = 5 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options is the validated command line.
type options struct {
	duration        time.Duration
	warmup          time.Duration
	concurrency     []int // ascending, distinct
	json            bool
	check           bool
	cpuprofile      string // file name prefix; "" = no profile
	coldTrials      int
	upstreamLatency time.Duration
	facadeEnv       loadkit.EnvFlag

	parts          []string // of allParts, in their order
	tailcall       string   // the Tailcall peer's folder; "" = skip it
	wrkClients     []int    // descending: the first is where profiles are taken
	syscalls       bool     // count the servers' system calls in the side-by-side part
	mixQueries     int
	mixCredentials int
	mixUsers       int
	mixClients     int
	mixSequence    int
	seed           uint64
	soakDuration   time.Duration
	soakWorkload   string
	soakQueries    int
	soakEnv        loadkit.EnvFlag
}

// errUsage is returned for -h; run exits 0 after the usage was printed.
var errUsage = errors.New("usage requested")

// reservedEnv are set by this command: they point the facade at the fake and
// at its port, and define the configurations being compared.
var reservedEnv = map[string]bool{"COGNIGY_API_URL": true, "COGNIGY_API_KEY": true, "LISTEN_ADDR": true, "CACHE_TTL": true, pprofAddrEnv: true}

// intList is a comma-separated list of client counts.
type intList []int

func (l *intList) String() string {
	parts := make([]string, len(*l))
	for i, n := range *l {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func (l *intList) Set(v string) error {
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxClients {
			return fmt.Errorf("want client counts from 1 to %d, got %q", maxClients, f)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	*l = out
	return nil
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("usersgraph-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: usersgraph-bench [flags]\n\n"+
			"Compares Cognigy's REST GET /v2.0/users (an in-process fake) with the usersgraph\n"+
			"facade in front of it, on this machine, and checks the facade's targets. It builds\n"+
			"the facade and runs it as its own process, one per configuration.\n\nflags:\n")
		fs.PrintDefaults()
	}
	o := options{concurrency: []int{1, 64}, facadeEnv: loadkit.EnvFlag{Reserved: reservedEnv, Owner: "this command"},
		soakEnv: loadkit.EnvFlag{Reserved: reservedEnv, Owner: "this command"}}
	fs.DurationVar(&o.duration, "d", 10*time.Second, "measured duration of each throughput measurement (100ms to 1h)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before each measurement, excluded from its figures")
	fs.Var((*intList)(&o.concurrency), "c", "comma-separated numbers of concurrent clients; the targets use 1 and 64")
	fs.BoolVar(&o.json, "json", false, "print the report as one JSON object on stdout (the table goes to stderr)")
	fs.BoolVar(&o.check, "check", false, "exit 1 when a target is missed (default: the exit status ignores targets)")
	fs.StringVar(&o.cpuprofile, "cpuprofile-facade", "", "write CPU profiles of the facade: `PREFIX`-wrk-page.pprof and PREFIX-wrk-page-creators.pprof (cache off, under wrk at the highest -wrk-c), PREFIX-mix.pprof, PREFIX-soak.pprof (its first minute), and in the go part PREFIX-cache-off.pprof, PREFIX-cache-on.pprof and PREFIX-creators.pprof (the facade is built with a pprof listener on a loopback port, added at build time only)")
	fs.IntVar(&o.coldTrials, "cold-trials", 3, fmt.Sprintf("fresh facades for the cold/warm first:100 measurement (1 to %d); the median counts", maxColdTrials))
	fs.Var(&o.facadeEnv, "facade-env", "extra KEY=VALUE for every started facade, e.g. GOGC=200 or LOG_LEVEL=info (repeatable)")
	partsFlag := fs.String("run", strings.Join(allParts, ","), "comma-separated parts to run: wrk (direct REST, the cache-off facade and Tailcall side by side under wrk), mix (the Zipf mix under wrk: default-config facade and direct REST), soak (a long run of distinct queries, RSS every second), go (the in-process Go clients' view and the cold/warm first:100)")
	fs.BoolVar(&o.syscalls, "syscalls", false, "count each server's system calls per request in the side-by-side part, with perf stat attached to its process during the measured runs (needs perf allowed to count the raw_syscalls tracepoint; adds a line per cell)")
	fs.StringVar(&o.tailcall, "tailcall", os.Getenv(tailcallEnv), "`DIR`: a writable copy of the Tailcall peer (../shared/peers/tailcall) with npm ci done, started with its start.sh cached; default $"+tailcallEnv+"; empty skips it")
	wrkC := intList{1, 64}
	fs.Var(&wrkC, "wrk-c", "comma-separated wrk connection counts of the side-by-side part")
	fs.IntVar(&o.mixQueries, "mix-queries", 2000, "distinct queries of the mix, generated through a cache-off facade (about 2 ms each)")
	fs.IntVar(&o.mixCredentials, "mix-credentials", 3, "credentials of the mix, each with its own users")
	fs.IntVar(&o.mixUsers, "mix-users", 2000, "users per credential of the mix's fake")
	fs.IntVar(&o.mixClients, "mix-c", 64, "wrk connections of the mix and the soak")
	fs.IntVar(&o.mixSequence, "mix-sequence", 200_000, "length of the Zipf sequence wrk cycles through")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the mix's queries and sequences")
	fs.DurationVar(&o.soakDuration, "soak-d", 20*time.Second, "duration of the soak; -soak-d 10m for the ten-minute soak")
	fs.StringVar(&o.soakWorkload, "soak-workload", "distinct", "the soak's queries: distinct (cursor-free queries, each once per cycle, in a random order) or zipf (the mix)")
	fs.IntVar(&o.soakQueries, "soak-queries", 60_000, "distinct queries of the soak's distinct workload")
	fs.Var(&o.soakEnv, "soak-env", "extra KEY=VALUE for the soak's facade only, e.g. GOMEMLIMIT=115MiB as deploy/ sets (repeatable)")
	fs.DurationVar(&o.upstreamLatency, "upstream-latency", 20*time.Millisecond, "latency the fake adds to every call in the cold/warm measurement; its targets are 2×latency+5ms cold and latency+5ms warm")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, errUsage
		}
		return o, err
	}
	for _, p := range strings.Split(*partsFlag, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(allParts, p) {
			return o, fmt.Errorf("-run: unknown part %q (want some of %s)", p, strings.Join(allParts, ","))
		}
	}
	for _, p := range allParts {
		if slices.Contains(strings.Split(strings.ReplaceAll(*partsFlag, " ", ""), ","), p) {
			o.parts = append(o.parts, p)
		}
	}
	o.wrkClients = slices.Clone(wrkC)
	slices.Reverse(o.wrkClients)
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.duration < 100*time.Millisecond || o.duration > maxDuration:
		return o, fmt.Errorf("-d must be from 100ms to %s, got %s", maxDuration, o.duration)
	case o.warmup < 0 || o.warmup > maxWarmup:
		return o, fmt.Errorf("-warmup must be from 0s to %s, got %s", maxWarmup, o.warmup)
	case len(o.concurrency) == 0:
		return o, errors.New("-c needs at least one client count")
	case o.coldTrials < 1 || o.coldTrials > maxColdTrials:
		return o, fmt.Errorf("-cold-trials must be from 1 to %d, got %d", maxColdTrials, o.coldTrials)
	case o.mixQueries < 1 || o.mixQueries > 1_000_000:
		return o, fmt.Errorf("-mix-queries must be from 1 to 1000000, got %d", o.mixQueries)
	case o.mixCredentials < 1 || o.mixCredentials > 100:
		return o, fmt.Errorf("-mix-credentials must be from 1 to 100, got %d", o.mixCredentials)
	case o.mixUsers < 1 || o.mixUsers > 100_000:
		return o, fmt.Errorf("-mix-users must be from 1 to 100000, got %d", o.mixUsers)
	case o.mixClients < 1 || o.mixClients > maxClients:
		return o, fmt.Errorf("-mix-c must be from 1 to %d, got %d", maxClients, o.mixClients)
	case o.mixSequence < 1 || o.mixSequence > 10_000_000:
		return o, fmt.Errorf("-mix-sequence must be from 1 to 10000000, got %d", o.mixSequence)
	case o.soakDuration < time.Second || o.soakDuration > maxDuration:
		return o, fmt.Errorf("-soak-d must be from 1s to %s, got %s", maxDuration, o.soakDuration)
	case o.soakWorkload != "distinct" && o.soakWorkload != "zipf":
		return o, fmt.Errorf("-soak-workload must be distinct or zipf, got %q", o.soakWorkload)
	case o.soakQueries < 1 || o.soakQueries > 1_000_000:
		return o, fmt.Errorf("-soak-queries must be from 1 to 1000000, got %d", o.soakQueries)
	case o.upstreamLatency <= 0 || o.upstreamLatency > maxUpstreamLag:
		return o, fmt.Errorf("-upstream-latency must be from 1ns to %s, got %s", maxUpstreamLag, o.upstreamLatency)
	}
	return o, nil
}

// run executes the benchmark and returns the exit code: 0 when it ran (the
// targets do not matter unless -check), 1 when it could not run, or with
// -check when a target was missed, 2 for invalid flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, errUsage) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "usersgraph-bench: %v\n", err)
		return 2
	}
	r, err := execute(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "usersgraph-bench: %v\n", err)
		return 1
	}
	table := stdout
	if o.json {
		table = stderr
	}
	writeTable(table, r)
	if o.json {
		if err := writeJSON(stdout, r); err != nil {
			fmt.Fprintf(stderr, "usersgraph-bench: %v\n", err)
			return 1
		}
	}
	code, msg := exitCode(o, r)
	if msg != "" {
		fmt.Fprintf(stderr, "usersgraph-bench: %s\n", msg)
	}
	return code
}

// exitCode is 1 for an interrupted run, or with -check when a target was
// missed; 0 otherwise: without -check the targets do not matter.
func exitCode(o options, r *report) (int, string) {
	switch {
	case r.Interrupted:
		return 1, "interrupted; the figures are incomplete"
	case o.check && r.Missed > 0:
		return 1, fmt.Sprintf("%d target(s) missed", r.Missed)
	}
	return 0, ""
}
