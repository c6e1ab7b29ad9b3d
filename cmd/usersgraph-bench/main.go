// Command usersgraph-bench compares, in one run on one machine, Cognigy's
// REST endpoint GET /v2.0/users (served by the in-process fake) with the
// usersgraph facade in front of that same fake, and checks the facade's
// performance targets.
//
// It starts the fake with 300 demo users, builds the facade and runs it as a
// process of its own (one per configuration: cache off, cache on), and
// drives both with keep-alive clients sending the key as X-API-Key:
//
//   - GET /v2.0/users?limit=25 directly against the fake, and the facade's
//     users(first: 25) with the same fields, at each concurrency of -c, with
//     the facade's cache off (CACHE_TTL=0) and on (the default 5s);
//   - users(first: 25) with createdBy { name } lastChangedBy { name } on
//     the cache-on facade (warm cache);
//   - users(first: 100) with creators over a fake that adds 20 ms to every
//     call: the wall time of one request and the upstream calls and
//     sequential round trips it caused, on a fresh facade (cold cache), then
//     repeated within the TTL (warm), then once more after the TTL expired;
//   - the facade's peak RSS (VmHWM) and sampled VmRSS during the runs at the
//     highest concurrency.
//
// It prints a table and each target with its figure and PASS or MISS. Every
// throughput figure carries the share of the machine's CPU that other
// processes used during its window, and the report warns above 5%. The exit
// status does not depend on the targets unless -check is given.
//
//	go run ./cmd/usersgraph-bench
//	go run ./cmd/usersgraph-bench -d 15s -warmup 3s
//	go run ./cmd/usersgraph-bench -json > bench.json
//	go run ./cmd/usersgraph-bench -cpuprofile-facade /tmp/facade
//	go run ./cmd/usersgraph-bench -c 64 -facade-env GOGC=200
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
	o := options{concurrency: []int{1, 64}, facadeEnv: loadkit.EnvFlag{Reserved: reservedEnv, Owner: "this command"}}
	fs.DurationVar(&o.duration, "d", 10*time.Second, "measured duration of each throughput measurement (100ms to 1h)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before each measurement, excluded from its figures")
	fs.Var((*intList)(&o.concurrency), "c", "comma-separated numbers of concurrent clients; the targets use 1 and 64")
	fs.BoolVar(&o.json, "json", false, "print the report as one JSON object on stdout (the table goes to stderr)")
	fs.BoolVar(&o.check, "check", false, "exit 1 when a target is missed (default: the exit status ignores targets)")
	fs.StringVar(&o.cpuprofile, "cpuprofile-facade", "", "write CPU profiles of the facade during the runs at the highest concurrency to `PREFIX`-cache-off.pprof, PREFIX-cache-on.pprof and PREFIX-creators.pprof (the facade is built with a pprof listener on a loopback port, added at build time only)")
	fs.IntVar(&o.coldTrials, "cold-trials", 3, fmt.Sprintf("fresh facades for the cold/warm first:100 measurement (1 to %d); the median counts", maxColdTrials))
	fs.Var(&o.facadeEnv, "facade-env", "extra KEY=VALUE for every started facade, e.g. GOGC=200 or LOG_LEVEL=info (repeatable)")
	fs.DurationVar(&o.upstreamLatency, "upstream-latency", 20*time.Millisecond, "latency the fake adds to every call in the cold/warm measurement; its targets are 2×latency+5ms cold and latency+5ms warm")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, errUsage
		}
		return o, err
	}
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
