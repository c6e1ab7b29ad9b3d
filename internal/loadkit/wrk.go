package loadkit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// WrkInstallHint says how to get wrk where it is missing.
const WrkInstallHint = "wrk (the HTTP load generator) is not on PATH; on Debian or Ubuntu: apt-get install -y wrk"

// LookWrk finds the wrk executable on PATH.
func LookWrk() (string, error) {
	p, err := exec.LookPath("wrk")
	if err != nil {
		return "", errors.New(WrkInstallHint)
	}
	return p, nil
}

// WrkResult is what a wrk run measured, as printed by the bench's Lua
// script in its one RESULT line (see ParseWrkResult).
type WrkResult struct {
	Requests      int // completed requests, failed ones included
	Duration      time.Duration
	Bytes         int64
	P50, P90, P99 time.Duration
	Max           time.Duration
	Mean          time.Duration
	Non200        int // answers with a status other than 200
	GraphQLErrors int // 200 answers whose body carries "errors"
	SocketErrors  int // connect, read, write errors and timeouts
}

// Failed is how many requests got no correct answer.
func (r WrkResult) Failed() int { return r.Non200 + r.GraphQLErrors + r.SocketErrors }

// PerSecond is the successful requests per second.
func (r WrkResult) PerSecond() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(max(0, r.Requests-r.Non200-r.GraphQLErrors)) / r.Duration.Seconds()
}

// ParseWrkResult reads the last line of out that starts with "RESULT ": the
// summary the bench's Lua script prints in wrk's done(). Its fields are
// key=value pairs; times are in microseconds.
//
//	RESULT requests=812 duration_us=8000512 bytes=123 p50_us=310 p90_us=420 p99_us=900 max_us=2100 mean_us=330.5 non200=0 gql_errors=0 socket_errors=0
func ParseWrkResult(out []byte) (WrkResult, error) {
	var line string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "RESULT ") {
			line = l
		}
	}
	if line == "" {
		return WrkResult{}, errors.New("wrk printed no RESULT line (was it run with the bench's Lua script?)")
	}
	fields := map[string]string{}
	for _, kv := range strings.Fields(strings.TrimPrefix(line, "RESULT ")) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return WrkResult{}, fmt.Errorf("wrk RESULT field %q is not key=value", kv)
		}
		fields[k] = v
	}
	var errs []error
	num := func(k string) float64 {
		v, ok := fields[k]
		if !ok {
			errs = append(errs, fmt.Errorf("wrk RESULT line lacks %s", k))
			return 0
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			errs = append(errs, fmt.Errorf("wrk RESULT %s=%q is not a number", k, v))
		}
		return f
	}
	us := func(k string) time.Duration { return time.Duration(num(k) * float64(time.Microsecond)) }
	r := WrkResult{
		Requests: int(num("requests")), Duration: us("duration_us"), Bytes: int64(num("bytes")),
		P50: us("p50_us"), P90: us("p90_us"), P99: us("p99_us"), Max: us("max_us"), Mean: us("mean_us"),
		Non200: int(num("non200")), GraphQLErrors: int(num("gql_errors")), SocketErrors: int(num("socket_errors")),
	}
	if err := errors.Join(errs...); err != nil {
		return WrkResult{}, err
	}
	return r, nil
}

// Wrk is one wrk run: Connections keep-alive connections over Threads
// threads against URL (its scheme, host and port; the script sets the
// paths) for Duration, with Script and Env (KEY=VALUE, added to this
// process's environment) for the script.
type Wrk struct {
	Bin         string
	Script      string
	URL         string
	Threads     int
	Connections int
	Duration    time.Duration
	Timeout     time.Duration // per request; 0 = 10s
	Env         []string
}

// Args are wrk's command-line arguments.
func (w Wrk) Args() []string {
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	threads := max(1, min(w.Threads, w.Connections))
	return []string{
		"-t", strconv.Itoa(threads), "-c", strconv.Itoa(w.Connections),
		// wrk takes whole seconds (its units are s, m and h).
		"-d", fmt.Sprintf("%ds", max(1, int((w.Duration+time.Second/2)/time.Second))),
		"--timeout", fmt.Sprintf("%ds", max(1, int((timeout+time.Second/2)/time.Second))),
		"-s", w.Script, w.URL,
	}
}

// WrkRun is a finished wrk run.
type WrkRun struct {
	WrkResult
	CPU    time.Duration // wrk's own user and system time
	Output string
}

// Run runs wrk to the end and parses its RESULT line. It refuses a URL that
// is not on a loopback address.
func (w Wrk) Run(ctx context.Context) (WrkRun, error) {
	if !loopbackURL(w.URL) {
		return WrkRun{}, fmt.Errorf("refusing to load %s: not a loopback address", w.URL)
	}
	cmd := exec.CommandContext(ctx, w.Bin, w.Args()...)
	cmd.Env = append(os.Environ(), append([]string{"WRK_THREADS=" + strconv.Itoa(max(1, min(w.Threads, w.Connections)))}, w.Env...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	run := WrkRun{Output: out.String()}
	if cmd.ProcessState != nil {
		run.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return run, fmt.Errorf("wrk %s: %w\n%s", strings.Join(w.Args(), " "), err, strings.TrimSpace(out.String()))
	}
	if run.WrkResult, err = ParseWrkResult(out.Bytes()); err != nil {
		return run, fmt.Errorf("%w; wrk printed:\n%s", err, strings.TrimSpace(out.String()))
	}
	return run, nil
}

func loopbackURL(u string) bool {
	rest, ok := strings.CutPrefix(u, "http://")
	if !ok {
		return false
	}
	host, _, _ := strings.Cut(rest, "/")
	return strings.HasPrefix(host, "127.") || strings.HasPrefix(host, "localhost:") || strings.HasPrefix(host, "[::1]")
}

// ClockTicksPerSecond is the unit of /proc/<pid>/stat's utime and stime
// (USER_HZ), which Linux fixes at 100 for user space.
const ClockTicksPerSecond = 100

// CPUMeter reads processes' CPU time (user plus system) from /proc at the
// start and the end of a window.
type CPUMeter struct {
	pids  []int
	start []uint64
}

// StartCPU takes the first reading of pids (0: this process).
func StartCPU(pids ...int) *CPUMeter {
	m := &CPUMeter{pids: pids, start: make([]uint64, len(pids))}
	for i, pid := range pids {
		m.start[i], _ = ProcTicks(pid)
	}
	return m
}

// Stop returns each process's CPU time since StartCPU, in the order given;
// -1 for a process that could not be read.
func (m *CPUMeter) Stop() []time.Duration {
	out := make([]time.Duration, len(m.pids))
	for i, pid := range m.pids {
		t, err := ProcTicks(pid)
		if err != nil || t < m.start[i] {
			out[i] = -1
			continue
		}
		out[i] = time.Duration(t-m.start[i]) * time.Second / ClockTicksPerSecond
	}
	return out
}

// WrkRequest is one line of the request list the bench's Lua script reads.
type WrkRequest struct {
	Method string
	Path   string // absolute path with its query, e.g. /new/v2.0/users?limit=25
	Key    string // sent as X-API-Key
	Body   string // JSON on one line; "" for none
}

// WriteWrkRequests writes reqs in the script's format, one a line:
// METHOD, path, key and body separated by tabs. A field holding a tab or a
// line break (which JSON marshalling never leaves in a body) is refused.
func WriteWrkRequests(w io.Writer, reqs []WrkRequest) error {
	bw := bufio.NewWriter(w)
	for i, r := range reqs {
		if r.Method == "" || !strings.HasPrefix(r.Path, "/") {
			return fmt.Errorf("request %d: want a method and an absolute path, got %q %q", i+1, r.Method, r.Path)
		}
		for _, f := range []string{r.Method, r.Path, r.Key, r.Body} {
			if strings.ContainsAny(f, "\t\r\n") {
				return fmt.Errorf("request %d: a field holds a tab or a line break: %q", i+1, f)
			}
		}
		fmt.Fprintf(bw, "%s\t%s\t%s\t%s\n", r.Method, r.Path, r.Key, r.Body)
	}
	return bw.Flush()
}

// WriteWrkSequence writes 0-based indexes into a request list as the
// script's 1-based line numbers, one a line.
func WriteWrkSequence(w io.Writer, seq []int) error {
	bw := bufio.NewWriter(w)
	for _, i := range seq {
		bw.WriteString(strconv.Itoa(i + 1))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
