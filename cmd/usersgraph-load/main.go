// Command usersgraph-load drives concurrent GraphQL clients against the
// usersgraph facade for a fixed time and prints throughput, latency
// percentiles, errors by code, upstream calls and the facade's memory.
//
// Without -url it builds the facade from this module, runs it as a separate
// process (so its RSS can be read from /proc) against an in-process fake of
// Cognigy (so every upstream call is counted), and stops it at the end. With
// -url it drives a facade that is already running on this machine.
//
//	go run ./cmd/usersgraph-load -c 64 -d 60s
//	go run ./cmd/usersgraph-load -c 64 -d 20s -facade-env CACHE_TTL=0
//	go run ./cmd/usersgraph-load -url http://127.0.0.1:8080/graphql -pid 1234
//
// Only loopback addresses are ever contacted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
)

// Limits that keep every run bounded.
const (
	maxClients    = 4096
	maxDuration   = time.Hour
	maxWarmup     = 10 * time.Minute
	maxQueryBytes = 1 << 20
)

const (
	defaultQuery  = `{ users(first: 25) { totalCount edges { cursor node { id email name lastActive createdAt lastChanged } } } }`
	creatorsQuery = `{ users(first: 25) { totalCount edges { cursor node { id email name lastActive createdAt lastChanged createdBy { name } lastChangedBy { name } } } } }`
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options is the validated command line.
type options struct {
	clients         int
	duration        time.Duration
	warmup          time.Duration
	url             string // empty: build and start the facade
	pid             int    // with url: the facade's process, for RSS
	query           string
	queryOrigin     string // where the query came from, for the report
	withCreators    bool
	upstreamLatency time.Duration
	facadeEnv       loadkit.EnvFlag
	json            bool
}

// errUsage is returned for -h; run exits 0 after the usage was printed.
var errUsage = errors.New("usage requested")

// reservedEnv are set by this tool and may not be overridden: they point the
// facade at the counted fake and at the port being driven.
var reservedEnv = map[string]bool{"COGNIGY_API_URL": true, "COGNIGY_API_KEY": true, "LISTEN_ADDR": true}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("usersgraph-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: usersgraph-load [flags]\n\n"+
			"Drives concurrent GraphQL clients against the usersgraph facade and reports\n"+
			"throughput, latency, errors, upstream calls and the facade's memory. Without\n"+
			"-url it builds and starts the facade itself, on an in-process upstream fake.\n\nflags:\n")
		fs.PrintDefaults()
	}
	o := options{facadeEnv: loadkit.EnvFlag{Reserved: reservedEnv, Owner: "this tool"}}
	var queryFile string
	fs.IntVar(&o.clients, "c", 64, fmt.Sprintf("concurrent clients (1 to %d)", maxClients))
	fs.DurationVar(&o.duration, "d", 60*time.Second, "measured duration, after the warmup (1s to 1h)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before measuring, excluded from the statistics")
	fs.StringVar(&o.url, "url", "", "GraphQL endpoint of a running facade on loopback, e.g. http://127.0.0.1:8080/graphql (default: build and start one)")
	fs.IntVar(&o.pid, "pid", 0, "with -url: process id of that facade, to report its RSS")
	fs.StringVar(&o.query, "query", "", "GraphQL query to send (default: 25 users with scalar fields)")
	fs.StringVar(&queryFile, "query-file", "", "read the GraphQL query from this file")
	fs.BoolVar(&o.withCreators, "with-creators", false, "use the default query plus createdBy { name } lastChangedBy { name }")
	fs.DurationVar(&o.upstreamLatency, "upstream-latency", 0, "latency the upstream fake adds to every call, e.g. 20ms (only without -url)")
	fs.Var(&o.facadeEnv, "facade-env", "extra KEY=VALUE for the started facade, e.g. CACHE_TTL=0 (repeatable; only without -url)")
	fs.BoolVar(&o.json, "json", false, "also print the summary as one JSON object")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, errUsage
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.clients < 1 || o.clients > maxClients:
		return o, fmt.Errorf("-c must be from 1 to %d, got %d", maxClients, o.clients)
	case o.duration < time.Second || o.duration > maxDuration:
		return o, fmt.Errorf("-d must be from 1s to %s, got %s", maxDuration, o.duration)
	case o.warmup < 0 || o.warmup > maxWarmup:
		return o, fmt.Errorf("-warmup must be from 0s to %s, got %s", maxWarmup, o.warmup)
	case o.upstreamLatency < 0 || o.upstreamLatency > time.Minute:
		return o, fmt.Errorf("-upstream-latency must be from 0s to 1m, got %s", o.upstreamLatency)
	case o.pid < 0:
		return o, fmt.Errorf("-pid must be a process id, got %d", o.pid)
	}

	sources := 0
	for _, set := range []bool{o.query != "", queryFile != "", o.withCreators} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return o, errors.New("-query, -query-file and -with-creators exclude each other")
	}
	switch {
	case queryFile != "":
		q, err := readQueryFile(queryFile)
		if err != nil {
			return o, err
		}
		o.query, o.queryOrigin = q, "from "+queryFile
	case o.withCreators:
		o.query, o.queryOrigin = creatorsQuery, "default with creators"
	case o.query != "":
		o.queryOrigin = "from -query"
	default:
		o.query, o.queryOrigin = defaultQuery, "default"
	}
	if strings.TrimSpace(o.query) == "" {
		return o, errors.New("the query is empty")
	}
	if len(o.query) > maxQueryBytes {
		return o, fmt.Errorf("the query is larger than %d bytes", maxQueryBytes)
	}

	if o.url == "" {
		if o.pid != 0 {
			return o, errors.New("-pid needs -url: without it the tool starts the facade and knows its process")
		}
		return o, nil
	}
	if o.upstreamLatency != 0 || len(o.facadeEnv.Values) > 0 {
		return o, errors.New("-upstream-latency and -facade-env apply only to the facade this tool starts, not with -url")
	}
	if err := checkLoopbackURL(o.url); err != nil {
		return o, err
	}
	return o, nil
}

func readQueryFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("-query-file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxQueryBytes+1))
	if err != nil {
		return "", fmt.Errorf("-query-file: %w", err)
	}
	return string(b), nil
}

// checkLoopbackURL accepts only http URLs whose host is localhost or a
// loopback IP: this tool generates load and must never aim it elsewhere.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil {
		return fmt.Errorf("-url must be an http URL such as http://127.0.0.1:8080/graphql, got %q", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("-url must point at this machine (localhost or a loopback IP), got host %q", u.Hostname())
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("-url has an invalid port %q", p)
		}
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// run executes one load run and returns the exit code: 0 when the run
// completed (even with errors, which the report counts), 1 when it could not
// run or measured nothing, 2 for invalid flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, errUsage) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "usersgraph-load: %v\n", err)
		return 2
	}
	s, err := execute(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "usersgraph-load: %v\n", err)
		return 1
	}
	writeReport(stdout, s)
	if o.json {
		if err := writeJSON(stdout, s); err != nil {
			fmt.Fprintf(stderr, "usersgraph-load: %v\n", err)
			return 1
		}
	}
	if s.Requests == 0 {
		fmt.Fprintln(stderr, "usersgraph-load: no request completed in the measured window")
		return 1
	}
	if s.FacadeExit != "" {
		return 1
	}
	return 0
}
