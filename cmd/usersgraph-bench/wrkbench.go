package main

import (
	"context"
	_ "embed"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
)

// requestsLua is the wrk script every system is loaded with (wrk/requests.lua).
//
//go:embed wrk/requests.lua
var requestsLua string

// wrkBench runs wrk cells: one system, one request list, one concurrency.
type wrkBench struct {
	bin      string // wrk
	script   string // requests.lua, written to dir
	dir      string
	up       *loadkit.UpstreamCounter
	progress func(string, ...any)
	files    int
	syscalls *syscallCounter // nil: system calls are not counted
}

func newWrkBench(dir string, up *loadkit.UpstreamCounter, progress func(string, ...any)) (*wrkBench, error) {
	bin, err := loadkit.LookWrk()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "requests.lua")
	if err := os.WriteFile(script, []byte(requestsLua), 0o644); err != nil {
		return nil, err
	}
	return &wrkBench{bin: bin, script: script, dir: dir, up: up, progress: progress}, nil
}

// cellSpec is what one cell loads and how.
type cellSpec struct {
	System  string
	Query   string // short name of what is asked
	Clients int
	BaseURL string // scheme://host:port of the server
	Reqs    []loadkit.WrkRequest
	Seq     []int // nil: the requests in order
	// Server is the loaded server's process (0: the fake itself, which is
	// this process); ServerName names it in the CPU figures.
	Server     int
	ServerName string
}

// wrkCell is one measured wrk run and what the processes spent on it.
type wrkCell struct {
	System             string  `json:"system"`
	Query              string  `json:"query"`
	Clients            int     `json:"clients"`
	Threads            int     `json:"threads"`
	Requests           int     `json:"requests"`
	Failed             int     `json:"failed"` // non-200, GraphQL errors, socket errors
	MeasuredSeconds    float64 `json:"measuredSeconds"`
	RequestsPerSecond  float64 `json:"requestsPerSecond"` // successful answers
	LatencyMs          latency `json:"latencyMs"`
	UpstreamCalls      int     `json:"upstreamCalls"`
	UpstreamPerRequest float64 `json:"upstreamPerRequest"`
	// CPUSecondsPer1k is each process's CPU time (user + system) per 1,000
	// completed requests: the server loaded (facade or Tailcall), "fake"
	// (this process, which serves the fake) and "wrk".
	CPUSecondsPer1k map[string]float64 `json:"cpuSecondsPer1k"`
	// OtherCPUPercent is the machine's CPU used by every other process
	// during the window (-1: unknown).
	OtherCPUPercent float64 `json:"otherCpuPercent"`
	LoadAverage     string  `json:"loadAverage"` // at the start of the window
	// SyscallsPerRequest is the system calls the server process entered
	// over the measured run per completed request, counted by perf stat
	// (-syscalls); 0: not counted.
	SyscallsPerRequest float64 `json:"syscallsPerRequest,omitempty"`
}

// run warms up for warmup (a separate wrk run) and measures for d. during,
// when set, is called right before the measured run and its result right
// after it.
func (b *wrkBench) run(ctx context.Context, s cellSpec, warmup, d time.Duration, during func() func()) (*wrkCell, error) {
	u, err := url.Parse(s.BaseURL)
	if err != nil {
		return nil, err
	}
	b.files++
	reqFile := filepath.Join(b.dir, fmt.Sprintf("requests-%d.txt", b.files))
	f, err := os.Create(reqFile)
	if err != nil {
		return nil, err
	}
	err = loadkit.WriteWrkRequests(f, s.Reqs)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	env := []string{"REQUESTS=" + reqFile}
	if s.Seq != nil {
		seqFile := filepath.Join(b.dir, fmt.Sprintf("sequence-%d.txt", b.files))
		f, err := os.Create(seqFile)
		if err != nil {
			return nil, err
		}
		err = loadkit.WriteWrkSequence(f, s.Seq)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		env = append(env, "SEQUENCE="+seqFile)
	}
	threads := min(2, s.Clients)
	w := loadkit.Wrk{Bin: b.bin, Script: b.script, URL: u.Scheme + "://" + u.Host, Threads: threads, Connections: s.Clients, Env: env}
	b.progress("wrk  %-34s %-22s c=%-3d %s warmup, %s measured ...", s.System, s.Query, s.Clients, warmup, d)
	if warmup > 0 {
		w.Duration = warmup
		if _, err := w.Run(ctx); err != nil {
			return nil, fmt.Errorf("%s, %s, c=%d, warmup: %w", s.System, s.Query, s.Clients, err)
		}
	}
	w.Duration = d
	var countSyscalls func() (int64, error)
	if b.syscalls != nil && s.Server != 0 {
		if countSyscalls, err = b.syscalls.start(ctx, s.Server); err != nil {
			return nil, err
		}
	}
	var stop func()
	if during != nil {
		stop = during()
	}
	load := loadAverage()
	before := b.up.Counts()
	pids := []int{0}
	if s.Server != 0 {
		pids = append(pids, s.Server)
	}
	meter := loadkit.StartCPU(pids...)
	machine0, _ := loadkit.ReadCPU()
	res, err := w.Run(ctx)
	cpu := meter.Stop()
	machine1, _ := loadkit.ReadCPU()
	var syscalls int64
	if countSyscalls != nil {
		var serr error
		if syscalls, serr = countSyscalls(); serr != nil && err == nil {
			err = serr
		}
	}
	calls := b.up.Counts().Sub(before)
	if stop != nil {
		stop()
	}
	if err != nil {
		return nil, fmt.Errorf("%s, %s, c=%d: %w", s.System, s.Query, s.Clients, err)
	}
	c := &wrkCell{
		System: s.System, Query: s.Query, Clients: s.Clients, Threads: threads,
		Requests: res.Requests, Failed: res.Failed(), MeasuredSeconds: res.Duration.Seconds(),
		RequestsPerSecond: res.PerSecond(),
		LatencyMs: latency{
			P50: loadkit.Ms(res.P50), P90: loadkit.Ms(res.P90), P99: loadkit.Ms(res.P99),
			Max: loadkit.Ms(res.Max), Mean: loadkit.Ms(res.Mean),
		},
		UpstreamCalls:   calls.Total,
		CPUSecondsPer1k: map[string]float64{},
		OtherCPUPercent: -1,
		LoadAverage:     load,
	}
	if res.Requests > 0 {
		c.UpstreamPerRequest = float64(calls.Total) / float64(res.Requests)
		c.SyscallsPerRequest = float64(syscalls) / float64(res.Requests)
		per1k := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(res.Requests) }
		if cpu[0] >= 0 {
			c.CPUSecondsPer1k["fake"] = per1k(cpu[0])
		}
		if s.Server != 0 && cpu[1] >= 0 {
			c.CPUSecondsPer1k[s.ServerName] = per1k(cpu[1])
		}
		c.CPUSecondsPer1k["wrk"] = per1k(res.CPU)
	}
	if total := machine1.Total - machine0.Total; total > 0 && machine1.Busy >= machine0.Busy {
		var ours time.Duration = res.CPU
		for _, d := range cpu {
			ours += max(0, d)
		}
		busy := float64(machine1.Busy-machine0.Busy) / loadkit.ClockTicksPerSecond
		c.OtherCPUPercent = max(0, min(100, 100*(busy-ours.Seconds())/(float64(total)/loadkit.ClockTicksPerSecond)))
	}
	return c, nil
}

// cpuNote is a cell's CPU per 1,000 requests, server first.
func (c *wrkCell) cpuNote(server string) string {
	var parts []string
	for _, k := range []string{server, "fake", "wrk"} {
		if v, ok := c.CPUSecondsPer1k[k]; ok && k != "" {
			parts = append(parts, fmt.Sprintf("%s %.3f", k, v))
		}
	}
	return strings.Join(parts, ", ")
}
