package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

const (
	// loadKey is the fake's credential, handed to the facade as its default.
	loadKey = "load-key"
	// demoUsers is how many users the fake serves by default.
	demoUsers = 300
	// requestTimeout bounds one request, so a hung answer is an error.
	requestTimeout = 30 * time.Second
	// maxResponseBytes bounds what is read of one answer.
	maxResponseBytes = 64 << 20
	// trimCalls bounds the fake's record of received requests, which grows
	// by about a kilobyte per call: beyond it the counters are banked and
	// reset, and the count becomes approximate (calls arriving between the
	// read and the reset are lost).
	trimCalls = 250_000
)

// Codes for failures that carry no GraphQL extensions.code.
const (
	codeNetwork = "NETWORK"  // connection refused, reset or dropped
	codeTimeout = "TIMEOUT"  // no complete answer within requestTimeout
	codeBadJSON = "BAD_JSON" // an answer that is not a GraphQL JSON response
	codeNoCode  = "NO_CODE"  // a GraphQL error without extensions.code
	codeHTTP    = "HTTP "    // prefix of a non-200 status, e.g. "HTTP 502"
	errorsKey   = `"errors"` // present in every GraphQL response with errors
	jsonType    = "application/json"
)

// loopbackDialer refuses to connect anywhere but a loopback address, whatever
// a name resolves to.
func loopbackDialer() *net.Dialer {
	return &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("refusing to connect to %s: not a loopback address", address)
			}
			return nil
		},
	}
}

// newHTTPClient is the one client every load client shares: keep-alive
// connections, enough idle ones for all clients, no proxy.
func newHTTPClient(clients int) *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         loopbackDialer().DialContext,
			MaxIdleConns:        clients,
			MaxIdleConnsPerHost: clients,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// upstreamCounter reads the fake's call counters; see trimCalls.
type upstreamCounter struct {
	fake *restclienttest.Server

	mu          sync.Mutex
	list, get   int // banked by trim
	total       int
	approximate bool
}

type callCounts struct{ list, get, total int }

func (u *upstreamCounter) counts() callCounts {
	u.mu.Lock()
	defer u.mu.Unlock()
	return callCounts{
		list:  u.list + u.fake.Calls(restclienttest.RouteList),
		get:   u.get + u.fake.Calls(restclienttest.RouteGet),
		total: u.total + u.fake.TotalCalls(),
	}
}

func (u *upstreamCounter) trim() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fake.TotalCalls() < trimCalls {
		return
	}
	u.list += u.fake.Calls(restclienttest.RouteList)
	u.get += u.fake.Calls(restclienttest.RouteGet)
	u.total += u.fake.TotalCalls()
	u.fake.ResetCounts()
	u.approximate = true
}

// execute prepares the target, drives the load and gathers the summary.
func execute(ctx context.Context, o options, stderr io.Writer) (*summary, error) {
	s := newSummary(o)
	target, pid := o.url, o.pid
	var up *upstreamCounter
	var f *facade
	if o.url == "" {
		fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(loadKey), restclienttest.WithLatency(o.upstreamLatency))
		if err != nil {
			return nil, fmt.Errorf("start the upstream fake: %w", err)
		}
		defer fake.Close()
		up = &upstreamCounter{fake: fake}
		dir, err := os.MkdirTemp("", "usersgraph-load-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)

		env := mergeEnv([]string{"COGNIGY_API_URL=" + fake.URL, "COGNIGY_API_KEY=" + loadKey, "LOG_LEVEL=warn"}, o.facadeEnv)
		fmt.Fprintf(stderr, "building %s and starting it ...\n", facadePackage)
		f, err = startFacade(ctx, dir, env)
		if err != nil {
			return nil, err
		}
		defer f.stop()
		target, pid = "http://"+f.addr+"/graphql", f.pid()
		s.URL, s.FacadePID, s.FacadeRoot = target, pid, f.root
		s.FacadeBuildSeconds, s.FacadeReadySeconds = f.built.Seconds(), f.ready.Seconds()
		for _, kv := range f.env {
			if k, _, _ := strings.Cut(kv, "="); !reservedEnv[k] {
				s.FacadeEnv = append(s.FacadeEnv, kv)
			}
		}
	}

	var rss *rssStats
	if pid != 0 {
		m, err := readMem(pid)
		switch {
		case err == nil:
			rss = &rssStats{IdleBytes: m.RSS, BySecondBytes: []int64{}}
		case o.url != "":
			return nil, fmt.Errorf("-pid %d: %w", pid, err)
		default:
			fmt.Fprintf(stderr, "warning: cannot read the facade's memory, RSS will be unknown: %v\n", err)
		}
	}

	body, err := json.Marshal(map[string]string{"query": o.query})
	if err != nil {
		return nil, err
	}
	client := newHTTPClient(o.clients)
	defer client.CloseIdleConnections()

	// One request first, so an unreachable target fails at once and a
	// query that errs is said plainly before a minute of it.
	var buf bytes.Buffer
	codes, msg, err := doRequest(ctx, client, target, body, &buf, nil)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", target, err)
	}
	if len(codes) > 0 {
		fmt.Fprintf(stderr, "warning: the query fails (%s): %s; every such answer is counted as an error\n", strings.Join(codes, ", "), msg)
	}

	fmt.Fprintf(stderr, "driving %d clients against %s: %s warmup, then %s measured ...\n", o.clients, target, o.warmup, o.duration)
	start := time.Now()
	measureStart := start.Add(o.warmup)
	deadline := measureStart.Add(o.duration)
	lctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	results := make([]clientResult, o.clients)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = loadClient(lctx, client, target, body, measureStart, deadline) })
	}
	if up != nil {
		wg.Go(func() { trimLoop(lctx, up) })
	}

	// At the start of the measured window: the upstream baseline, and one
	// RSS sample per second from then on.
	wait(lctx, measureStart)
	var before callCounts
	if up != nil {
		before = up.counts()
	}
	var samples chan []int64
	if rss != nil {
		samples = make(chan []int64, 1)
		go func() { samples <- sampleRSS(ctx, pid, measureStart, int(o.duration/time.Second)) }()
	}
	wg.Wait()
	end := time.Now()
	if end.After(deadline) {
		end = deadline
	}
	s.Interrupted = ctx.Err() != nil
	s.MeasuredSeconds = max(0, end.Sub(measureStart).Seconds())

	if up != nil {
		after := up.counts()
		s.Upstream = &upstreamStats{
			Total:       after.total - before.total,
			List:        after.list - before.list,
			Get:         after.get - before.get,
			Approximate: up.approximate,
		}
	}
	if rss != nil {
		rss.BySecondBytes = <-samples
		if m, err := readMem(pid); err == nil {
			rss.PeakBytes = m.Peak
		} else {
			fmt.Fprintf(stderr, "warning: cannot read the facade's peak memory: %v\n", err)
			for _, b := range rss.BySecondBytes {
				rss.PeakBytes = max(rss.PeakBytes, b)
			}
		}
		s.RSS = rss
	}
	if f != nil {
		s.FacadeExit = f.exited() // non-empty: it died during the run
		f.stop()
		s.FacadeLogLines = f.output.Lines()
		s.FacadeLogTail = f.output.String()
	}
	if m, err := readMem(0); err == nil {
		s.LoadPeakRSSBytes = m.Peak
	}
	s.merge(results)
	return s, nil
}

// mergeEnv appends extra KEY=VALUE pairs to base; an extra key replaces the
// base entry in place.
func mergeEnv(base, extra []string) []string {
	out := slices.Clone(base)
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		if i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

// wait sleeps until t or until ctx ends.
func wait(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

func trimLoop(ctx context.Context, up *upstreamCounter) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			up.trim()
		}
	}
}

// sampleRSS reads the RSS of pid at start+1s, start+2s, ... n times, on a
// fixed grid so the samples do not drift. It stops early if ctx ends or the
// process can no longer be read.
func sampleRSS(ctx context.Context, pid int, start time.Time, n int) []int64 {
	out := make([]int64, 0, n)
	for i := 1; i <= n; i++ {
		at := start.Add(time.Duration(i) * time.Second)
		if wait(ctx, at); ctx.Err() != nil {
			break
		}
		m, err := readMem(pid)
		if err != nil {
			break
		}
		out = append(out, m.RSS)
	}
	return out
}

// clientResult is what one load client measured; only its own goroutine
// writes it, so recording needs no lock.
type clientResult struct {
	latencies []time.Duration // successful and failed requests alike
	failed    int             // requests with any error
	codes     map[string]int  // error entries by code
}

// loadClient sends the query back to back until ctx ends. A request counts
// when it started at or after measureStart and completed by deadline; one
// cut short by the deadline is not counted at all.
func loadClient(ctx context.Context, c *http.Client, target string, body []byte, measureStart, deadline time.Time) clientResult {
	r := clientResult{codes: map[string]int{}}
	var buf bytes.Buffer
	var codes []string
	for ctx.Err() == nil {
		t0 := time.Now()
		var err error
		codes, _, err = doRequest(ctx, c, target, body, &buf, codes[:0])
		t1 := time.Now()
		if ctx.Err() != nil || t1.After(deadline) {
			break
		}
		if t0.Before(measureStart) {
			continue
		}
		r.latencies = append(r.latencies, t1.Sub(t0))
		if err != nil {
			codes = append(codes[:0], transportCode(err))
		}
		if len(codes) > 0 {
			r.failed++
			for _, code := range codes {
				r.codes[code]++
			}
		}
	}
	return r
}

func transportCode(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return codeTimeout
	}
	return codeNetwork
}

// doRequest POSTs the query once and reads the whole answer into buf. It
// returns the error codes the answer carries (none when it succeeded) and
// the first error message; err is set only when no complete answer arrived.
func doRequest(ctx context.Context, c *http.Client, target string, body []byte, buf *bytes.Buffer, codes []string) ([]string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return codes, "", err
	}
	req.Header.Set("Content-Type", jsonType)
	req.Header.Set("Accept", jsonType)
	resp, err := c.Do(req)
	if err != nil {
		return codes, "", err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := io.Copy(buf, io.LimitReader(resp.Body, maxResponseBytes)); err != nil {
		return codes, "", err
	}
	b := buf.Bytes()
	msg := ""
	if resp.StatusCode != http.StatusOK {
		codes = append(codes, codeHTTP+strconv.Itoa(resp.StatusCode))
		msg = resp.Status
	}
	if !bytes.Contains(b, []byte(errorsKey)) {
		if resp.StatusCode == http.StatusOK && !json.Valid(b) {
			codes, msg = append(codes, codeBadJSON), "the answer is not valid JSON"
		}
		return codes, msg, nil
	}
	var answer struct {
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code any `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &answer); err != nil {
		if resp.StatusCode == http.StatusOK {
			codes, msg = append(codes, codeBadJSON), "the answer is not a GraphQL response: "+err.Error()
		}
		return codes, msg, nil
	}
	for i, e := range answer.Errors {
		code := codeNoCode
		if s, ok := e.Extensions.Code.(string); ok && s != "" {
			code = s
		} else if e.Extensions.Code != nil {
			code = fmt.Sprint(e.Extensions.Code)
		}
		codes = append(codes, code)
		if i == 0 {
			msg = e.Message
		}
	}
	return codes, msg, nil
}

// percentile is the nearest-rank p-th percentile of sorted (p in 0..100].
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func newSummary(o options) *summary {
	s := &summary{
		Mode:              "started",
		URL:               o.url,
		Clients:           o.clients,
		DurationSeconds:   o.duration.Seconds(),
		WarmupSeconds:     o.warmup.Seconds(),
		Query:             o.query,
		QueryOrigin:       o.queryOrigin,
		UpstreamLatencyMs: ms(o.upstreamLatency),
		FacadePID:         o.pid,
		ErrorsByCode:      map[string]int{},
		GoVersion:         runtime.Version(),
		GOOS:              runtime.GOOS,
		GOARCH:            runtime.GOARCH,
		GOMAXPROCS:        runtime.GOMAXPROCS(0),
		NumCPU:            runtime.NumCPU(),
	}
	if o.url != "" {
		s.Mode = "url"
	}
	return s
}

// merge folds the clients' results into s.
func (s *summary) merge(results []clientResult) {
	n := 0
	for _, r := range results {
		n += len(r.latencies)
	}
	all := make([]time.Duration, 0, n)
	for _, r := range results {
		all = append(all, r.latencies...)
		s.Errors += r.failed
		for code, k := range r.codes {
			s.ErrorsByCode[code] += k
		}
	}
	slices.Sort(all)
	s.Requests = len(all)
	if s.MeasuredSeconds > 0 {
		s.RequestsPerSecond = float64(len(all)) / s.MeasuredSeconds
	}
	if len(all) > 0 {
		var sum time.Duration
		for _, d := range all {
			sum += d
		}
		s.LatencyMs = latencyStats{
			P50:  ms(percentile(all, 50)),
			P90:  ms(percentile(all, 90)),
			P99:  ms(percentile(all, 99)),
			Max:  ms(all[len(all)-1]),
			Mean: ms(sum / time.Duration(len(all))),
		}
	}
	if s.Upstream != nil && len(all) > 0 {
		s.Upstream.PerRequest = float64(s.Upstream.Total) / float64(len(all))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
