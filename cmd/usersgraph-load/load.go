package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

const (
	// loadKey is the fake's credential, handed to the facade as its default.
	loadKey = "load-key"
	// demoUsers is how many users the fake serves by default.
	demoUsers = 300
	// facadePackage is what this tool builds and starts.
	facadePackage = loadkit.FacadePackage
)

// execute prepares the target, drives the load and gathers the summary.
func execute(ctx context.Context, o options, stderr io.Writer) (*summary, error) {
	s := newSummary(o)
	target, pid := o.url, o.pid
	var up *loadkit.UpstreamCounter
	var f *loadkit.Facade
	if o.url == "" {
		fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(loadKey), restclienttest.WithLatency(o.upstreamLatency))
		if err != nil {
			return nil, fmt.Errorf("start the upstream fake: %w", err)
		}
		defer fake.Close()
		up = &loadkit.UpstreamCounter{Fake: fake}
		dir, err := os.MkdirTemp("", "usersgraph-load-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)

		env := mergeEnv([]string{"COGNIGY_API_URL=" + fake.URL, "COGNIGY_API_KEY=" + loadKey, "LOG_LEVEL=warn"}, o.facadeEnv.Values)
		fmt.Fprintf(stderr, "building %s and starting it ...\n", facadePackage)
		bin, err := loadkit.BuildFacade(ctx, dir, "usersgraph", nil)
		if err != nil {
			return nil, fmt.Errorf("%w (or pass -url)", err)
		}
		f, err = loadkit.StartFacade(ctx, bin, dir, env)
		if err != nil {
			return nil, err
		}
		defer f.Stop()
		target, pid = f.URL(), f.PID()
		s.URL, s.FacadePID, s.FacadeRoot = target, pid, bin.Root
		s.FacadeBuildSeconds, s.FacadeReadySeconds = bin.BuildTime.Seconds(), f.Ready.Seconds()
		for _, kv := range f.Env {
			if k, _, _ := strings.Cut(kv, "="); !reservedEnv[k] {
				s.FacadeEnv = append(s.FacadeEnv, kv)
			}
		}
	}

	var rss *rssStats
	if pid != 0 {
		m, err := loadkit.ReadMem(pid)
		switch {
		case err == nil:
			rss = &rssStats{IdleBytes: m.RSS, BySecondBytes: []int64{}}
		case o.url != "":
			return nil, fmt.Errorf("-pid %d: %w", pid, err)
		default:
			fmt.Fprintf(stderr, "warning: cannot read the facade's memory, RSS will be unknown: %v\n", err)
		}
	}

	req, err := loadkit.GraphQL(target, o.query, nil)
	if err != nil {
		return nil, err
	}
	client := loadkit.NewHTTPClient(o.clients)
	defer client.CloseIdleConnections()

	// One request first, so an unreachable target fails at once and a
	// query that errs is said plainly before a minute of it.
	var buf bytes.Buffer
	codes, msg, err := req.Do(ctx, client, &buf, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", http.MethodPost, target, err)
	}
	if len(codes) > 0 {
		fmt.Fprintf(stderr, "warning: the query fails (%s): %s; every such answer is counted as an error\n", strings.Join(codes, ", "), msg)
	}

	fmt.Fprintf(stderr, "driving %d clients against %s: %s warmup, then %s measured ...\n", o.clients, target, o.warmup, o.duration)
	tctx, stopTrim := context.WithCancel(ctx)
	defer stopTrim()
	if up != nil {
		go up.TrimLoop(tctx)
	}
	// At the start of the measured window: the upstream baseline, and one
	// RSS sample per second from then on.
	var before loadkit.Calls
	var samples chan []int64
	atStart := func() {
		if up != nil {
			before = up.Counts()
		}
		if rss != nil {
			samples = make(chan []int64, 1)
			go func() { samples <- loadkit.SampleRSS(ctx, pid, time.Now(), time.Second, int(o.duration/time.Second)) }()
		}
	}
	res := loadkit.Run(ctx, client, req, loadkit.RunOptions{Clients: o.clients, Warmup: o.warmup, Duration: o.duration, AtMeasureStart: atStart})
	stopTrim()
	s.Interrupted = res.Interrupted
	s.MeasuredSeconds = res.Measured.Seconds()

	if up != nil {
		d := up.Counts().Sub(before)
		s.Upstream = &upstreamStats{Total: d.Total, List: d.List, Get: d.Get, Approximate: up.Approximate()}
	}
	if rss != nil {
		if samples != nil {
			rss.BySecondBytes = <-samples
		}
		// The kernel updates VmHWM lazily: a sample of VmRSS taken just
		// before may be higher. The peak is the higher of them all.
		if m, err := loadkit.ReadMem(pid); err == nil {
			rss.PeakBytes = m.Peak
		} else {
			fmt.Fprintf(stderr, "warning: cannot read the facade's peak memory: %v\n", err)
		}
		for _, b := range rss.BySecondBytes {
			rss.PeakBytes = max(rss.PeakBytes, b)
		}
		s.RSS = rss
	}
	if f != nil {
		s.FacadeExit = f.Exited() // non-empty: it died during the run
		f.Stop()
		s.FacadeLogLines = f.Output.Lines()
		s.FacadeLogTail = f.Output.String()
	}
	if m, err := loadkit.ReadMem(0); err == nil {
		s.LoadPeakRSSBytes = m.Peak
	}
	s.apply(res.Stats)
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

func newSummary(o options) *summary {
	s := &summary{
		Mode:              "started",
		URL:               o.url,
		Clients:           o.clients,
		DurationSeconds:   o.duration.Seconds(),
		WarmupSeconds:     o.warmup.Seconds(),
		Query:             o.query,
		QueryOrigin:       o.queryOrigin,
		UpstreamLatencyMs: loadkit.Ms(o.upstreamLatency),
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

// apply folds the measured window's statistics into s.
func (s *summary) apply(st loadkit.Stats) {
	s.Requests = st.Requests
	s.Errors += st.Errors
	for code, k := range st.ErrorsByCode {
		s.ErrorsByCode[code] += k
	}
	if s.MeasuredSeconds > 0 {
		s.RequestsPerSecond = float64(st.Requests) / s.MeasuredSeconds
	}
	if st.Requests > 0 {
		s.LatencyMs = latencyStats{
			P50: loadkit.Ms(st.P50), P90: loadkit.Ms(st.P90), P99: loadkit.Ms(st.P99),
			Max: loadkit.Ms(st.Max), Mean: loadkit.Ms(st.Mean),
		}
	}
	if s.Upstream != nil && st.Requests > 0 {
		s.Upstream.PerRequest = float64(s.Upstream.Total) / float64(st.Requests)
	}
}
