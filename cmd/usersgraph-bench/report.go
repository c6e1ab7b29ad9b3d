package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
)

// report is everything one run measured; its JSON form is what -json prints.
// Memory is in bytes, latency and wall times in milliseconds.
type report struct {
	Machine              machine           `json:"machine"`
	DurationSeconds      float64           `json:"durationSeconds"` // per throughput measurement
	WarmupSeconds        float64           `json:"warmupSeconds"`
	Concurrency          []int             `json:"concurrency"`
	Users                int               `json:"users"`
	RESTRequest          string            `json:"restRequest"`
	Query                string            `json:"query"`
	CreatorsQuery        string            `json:"creatorsQuery"`
	FacadeModuleRoot     string            `json:"facadeModuleRoot"`
	FacadeBuildSeconds   float64           `json:"facadeBuildSeconds"`
	FacadeProfilingBuild bool              `json:"facadeProfilingBuild"` // built with the pprof listener
	Parts                []string          `json:"parts"`
	SideBySide           *sideBySideReport `json:"sideBySide,omitempty"`
	Mix                  *mixReport        `json:"mix,omitempty"`
	Soak                 *soakReport       `json:"soak,omitempty"`
	Throughput           []*measurement    `json:"throughput"`
	Facades              []*facadeReport   `json:"facades"`
	ColdWarm             *coldWarmReport   `json:"coldWarm"`
	Targets              []target          `json:"targets"`
	Missed               int               `json:"missed"`
	Disturbed            string            `json:"disturbed,omitempty"` // measurements other processes disturbed
	Profiles             []string          `json:"cpuProfiles,omitempty"`
	Interrupted          bool              `json:"interrupted"`
	StartedAt            time.Time         `json:"startedAt"`
	ElapsedSeconds       float64           `json:"elapsedSeconds"`
	LoadAverageAfter     string            `json:"loadAverageAfter"`
	benchPeakRSS         int64             // this process, fake included
}

type machine struct {
	CPUModel         string `json:"cpuModel"`
	NumCPU           int    `json:"numCpu"`
	GOMAXPROCS       int    `json:"gomaxprocs"`
	MemTotalBytes    int64  `json:"memTotalBytes"`
	GoVersion        string `json:"goVersion"`
	GOOS             string `json:"goos"`
	GOARCH           string `json:"goarch"`
	LoadAverageStart string `json:"loadAverageStart"` // /proc/loadavg: 1, 5, 15 minutes
}

// measurement is one throughput run.
type measurement struct {
	Name               string         `json:"name"`
	Facade             string         `json:"facade,omitempty"` // which facade process served it
	Clients            int            `json:"clients"`
	Requests           int            `json:"requests"`
	Errors             int            `json:"errors"`
	ErrorsByCode       map[string]int `json:"errorsByCode,omitempty"`
	MeasuredSeconds    float64        `json:"measuredSeconds"`
	RequestsPerSecond  float64        `json:"requestsPerSecond"` // successful requests only
	LatencyMs          latency        `json:"latencyMs"`
	UpstreamCalls      int            `json:"upstreamCalls"`
	UpstreamPerRequest float64        `json:"upstreamPerRequest"`
	UpstreamApprox     bool           `json:"upstreamApproximate"` // the fake's counters were reset during the run
	// OtherCPUPercent is the machine's CPU that processes other than the
	// bench and its facades used during the measured window (-1: unknown).
	OtherCPUPercent float64 `json:"otherCpuPercent"`
}

type latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func newMeasurement(name string, clients int, res loadkit.RunResult, calls loadkit.Calls, approx bool) *measurement {
	m := &measurement{
		Name: name, Clients: clients, Requests: res.Requests, Errors: res.Errors,
		MeasuredSeconds: res.Measured.Seconds(),
		LatencyMs: latency{
			P50: loadkit.Ms(res.P50), P90: loadkit.Ms(res.P90), P99: loadkit.Ms(res.P99),
			Max: loadkit.Ms(res.Max), Mean: loadkit.Ms(res.Mean),
		},
		UpstreamCalls: calls.Total, UpstreamApprox: approx,
	}
	if len(res.ErrorsByCode) > 0 {
		m.ErrorsByCode = res.ErrorsByCode
	}
	if res.Measured > 0 {
		m.RequestsPerSecond = float64(res.Requests-res.Errors) / res.Measured.Seconds()
	}
	if res.Requests > 0 {
		m.UpstreamPerRequest = float64(calls.Total) / float64(res.Requests)
	}
	return m
}

// facadeReport is one facade process of the throughput runs.
type facadeReport struct {
	Config             string   `json:"config"`
	PID                int      `json:"pid"`
	Env                []string `json:"env"`
	ReadySeconds       float64  `json:"readySeconds"`
	IdleRSSBytes       int64    `json:"idleRssBytes"`
	AtClients          int      `json:"peakMeasuredAtClients"`
	PeakRSSBytes       int64    `json:"peakRssBytes"`       // VmHWM after the highest-concurrency runs
	MaxSampledRSSBytes int64    `json:"maxSampledRssBytes"` // highest VmRSS sample during them
	RSSSamples         int      `json:"rssSamples"`
	LogLines           int      `json:"logLines"` // at warn or above
	LogTail            []string `json:"logTail,omitempty"`
}

// single is one first:100 request.
type single struct {
	WallMs        float64 `json:"wallMs"`
	UpstreamCalls int     `json:"upstreamCalls"` // counted by the fake
	ListCalls     int     `json:"listCalls"`
	GetCalls      int     `json:"getCalls"`
	// Counted on the twin facade behind the round-trip recorder: the
	// longest chain of sequential upstream requests, the calls that passed,
	// and that facade's wall time (the recorder adds a little per call).
	RoundTrips     int     `json:"roundTrips"`
	Proxied        int     `json:"recordedCalls"`
	RecordedWallMs float64 `json:"recordedWallMs"`
	// Where the recorded facade's own time went.
	Phases facadePhases `json:"recordedPhasesMs"`
}

// facadePhases is a GraphQL request's wall time outside upstream calls, as
// seen from the client and the recorder: before the first upstream call,
// between calls (none in flight), after the last answer.
type facadePhases struct {
	BeforeMs  float64 `json:"before"`
	BetweenMs float64 `json:"between"`
	AfterMs   float64 `json:"after"`
}

type coldWarmTrial struct {
	Trial int    `json:"trial"`
	PID   int    `json:"pid"`
	Cold  single `json:"cold"`
	Warm  single `json:"warm"`
}

type coldWarmReport struct {
	UpstreamLatencyMs float64         `json:"upstreamLatencyMs"`
	Query             string          `json:"query"`
	Trials            []coldWarmTrial `json:"trials"`
	OtherCPUPercent   float64         `json:"otherCpuPercent"` // during the whole phase, the trials' exited facades included
	Expired           *single         `json:"expiredCacheWarmProcess"`
	// Medians over the trials (wall), maxima (calls, round trips).
	ColdWallMs    float64 `json:"coldMedianWallMs"`
	ColdMaxCalls  int     `json:"coldMaxUpstreamCalls"`
	ColdMaxRounds int     `json:"coldMaxRoundTrips"`
	WarmWallMs    float64 `json:"warmMedianWallMs"`
	WarmMaxCalls  int     `json:"warmMaxUpstreamCalls"`
	WarmMaxRounds int     `json:"warmMaxRoundTrips"`
	ColdMinWallMs float64 `json:"coldMinWallMs"`
	ColdMaxWallMs float64 `json:"coldMaxWallMs"`
	WarmMinWallMs float64 `json:"warmMinWallMs"`
	WarmMaxWallMs float64 `json:"warmMaxWallMs"`
	// The upstream's own round trips, timed directly on new connections
	// (medians): the list page, then a lookup.
	ListRoundTripMs   float64 `json:"listRoundTripMs"`
	LookupRoundTripMs float64 `json:"lookupRoundTripMs"`
	// ColdLimitMs is the two round trips plus 5 ms; NominalColdLimitMs
	// counts each round trip as the added latency alone.
	NominalColdLimitMs float64 `json:"nominalColdLimitMs"`
	ColdLimitMs        float64 `json:"coldLimitMs"`
	WarmLimitMs        float64 `json:"warmLimitMs"`
	ExpiredLimitMs     float64 `json:"expiredLimitMs"`
}

func (c *coldWarmReport) summarise() {
	var cold, warm []float64
	for _, t := range c.Trials {
		cold, warm = append(cold, t.Cold.WallMs), append(warm, t.Warm.WallMs)
		c.ColdMaxCalls = max(c.ColdMaxCalls, t.Cold.UpstreamCalls)
		c.ColdMaxRounds = max(c.ColdMaxRounds, t.Cold.RoundTrips)
		c.WarmMaxCalls = max(c.WarmMaxCalls, t.Warm.UpstreamCalls)
		c.WarmMaxRounds = max(c.WarmMaxRounds, t.Warm.RoundTrips)
	}
	c.ColdWallMs, c.ColdMinWallMs, c.ColdMaxWallMs = median(cold), slices.Min(cold), slices.Max(cold)
	c.WarmWallMs, c.WarmMinWallMs, c.WarmMaxWallMs = median(warm), slices.Min(warm), slices.Max(warm)
	c.NominalColdLimitMs = 2*c.UpstreamLatencyMs + 5
	c.ColdLimitMs = c.NominalColdLimitMs
	if c.ListRoundTripMs > 0 && c.LookupRoundTripMs > 0 {
		c.ColdLimitMs = c.ListRoundTripMs + c.LookupRoundTripMs + 5
	}
	c.WarmLimitMs = c.UpstreamLatencyMs + 5
	c.ExpiredLimitMs = c.ColdLimitMs
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// target is one checked goal.
type target struct {
	Name     string `json:"name"`
	Measured string `json:"measured"`
	Status   string `json:"status"` // PASS, MISS, or SKIP when not measured (-c without 1 or 64)
}

const (
	pass = "PASS"
	miss = "MISS"
	skip = "SKIP"
)

// rssLimit is the facade's memory target: 50 MB, decimal.
const rssLimit = 50_000_000

func newReport(o options) *report {
	return &report{
		Machine:         readMachine(),
		DurationSeconds: o.duration.Seconds(),
		WarmupSeconds:   o.warmup.Seconds(),
		Concurrency:     o.concurrency,
		Parts:           o.parts,
		Users:           demoUsers,
		RESTRequest:     "GET " + restPath + " (X-API-Key)",
		Query:           queryScalars25,
		CreatorsQuery:   queryCreators25,
		Throughput:      []*measurement{},
		StartedAt:       time.Now(),
	}
}

func (r *report) interrupted(o options) *report {
	r.Interrupted = true
	r.finish(o)
	return r
}

func (r *report) find(name string, clients int) *measurement {
	for _, m := range r.Throughput {
		if m.Name == name && m.Clients == clients {
			return m
		}
	}
	return nil
}

// finish computes the targets and closes the report.
func (r *report) finish(o options) {
	r.ElapsedSeconds = time.Since(r.StartedAt).Seconds()
	r.LoadAverageAfter = loadAverage()
	if m, err := loadkit.ReadMem(0); err == nil {
		r.benchPeakRSS = m.Peak
	}
	r.Targets = nil
	add := func(name, measured string, ok, measuredAtAll bool) {
		status := skip
		switch {
		case !measuredAtAll:
			measured = "not measured"
		case ok:
			status = pass
		default:
			status = miss
		}
		r.Targets = append(r.Targets, target{Name: name, Measured: measured, Status: status})
	}
	ratio := func(name string, clients int, min float64, strict bool) {
		label := fmt.Sprintf("%s c=%d ≥ %.2g × direct REST", name, clients, min)
		if strict {
			label = fmt.Sprintf("%s c=%d > %.2g × direct REST", name, clients, min)
		}
		d, f := r.find(mDirect, clients), r.find(name, clients)
		if d == nil || f == nil || d.RequestsPerSecond == 0 {
			add(label, "", false, false)
			return
		}
		x := f.RequestsPerSecond / d.RequestsPerSecond
		ok := x >= min
		if strict {
			ok = x > min
		}
		if f.Errors > 0 || d.Errors > 0 {
			ok = false
		}
		add(label, fmt.Sprintf("%s req/s = %.2f × %s req/s%s", num(f.RequestsPerSecond), x, num(d.RequestsPerSecond), errNote(d, f)), ok, true)
	}
	ratio(mCacheOff, 64, 0.5, false)
	ratio(mCacheOn, 64, 1.0, true)
	ratio(mCreators, 64, 0.75, false)
	for _, name := range []string{mCacheOff, mCacheOn} {
		label := fmt.Sprintf("added latency, %s, c=1: p50 facade − p50 direct ≤ 1 ms", strings.TrimPrefix(name, "facade, "))
		d, f := r.find(mDirect, 1), r.find(name, 1)
		if d == nil || f == nil {
			add(label, "", false, false)
			continue
		}
		added := f.LatencyMs.P50 - d.LatencyMs.P50
		add(label, fmt.Sprintf("%+.3f ms (%.3f − %.3f)", added, f.LatencyMs.P50, d.LatencyMs.P50), added <= 1 && f.Errors == 0, true)
	}
	if cw := r.ColdWarm; cw != nil && len(cw.Trials) > 0 {
		n := len(cw.Trials)
		nominal := "within"
		if cw.ColdWallMs > cw.NominalColdLimitMs {
			nominal = fmt.Sprintf("%.1f ms over", cw.ColdWallMs-cw.NominalColdLimitMs)
		}
		add(fmt.Sprintf("first:100 + creators, +%gms upstream, cold: ≤ 2 round trips + 5 ms = %.1f ms", cw.UpstreamLatencyMs, cw.ColdLimitMs),
			fmt.Sprintf("%.1f ms (median of %d trials, fresh facades; %.1f–%.1f); round trips %.1f + %.1f ms timed directly; %s %g ms counting each as +%gms alone",
				cw.ColdWallMs, n, cw.ColdMinWallMs, cw.ColdMaxWallMs, cw.ListRoundTripMs, cw.LookupRoundTripMs, nominal, cw.NominalColdLimitMs, cw.UpstreamLatencyMs),
			cw.ColdWallMs <= cw.ColdLimitMs, true)
		add("first:100 + creators, cold: ≤ 2 upstream round trips",
			fmt.Sprintf("%d round trips, %d upstream calls (at most, %d trials)", cw.ColdMaxRounds, cw.ColdMaxCalls, n), cw.ColdMaxRounds <= 2, true)
		add(fmt.Sprintf("first:100 + creators, warm (within the TTL): ≤ %g ms", cw.WarmLimitMs),
			fmt.Sprintf("%.2f ms (median of %d; %.2f–%.2f)", cw.WarmWallMs, n, cw.WarmMinWallMs, cw.WarmMaxWallMs), cw.WarmWallMs <= cw.WarmLimitMs, true)
		add("first:100 + creators, warm: ≤ 1 round trip, 0 or 1 upstream calls",
			fmt.Sprintf("%d round trips, %d upstream calls (at most)", cw.WarmMaxRounds, cw.WarmMaxCalls), cw.WarmMaxRounds <= 1 && cw.WarmMaxCalls <= 1, true)
	} else {
		add("first:100 + creators: cold and warm", "", false, false)
	}
	// VmHWM and VmRSS come from the kernel's lazily synced per-thread
	// counters, so a sample may exceed the high-water mark by a little: the
	// larger of the two counts.
	var peak *facadeReport
	var peakBytes int64
	for _, f := range r.Facades {
		if b := max(f.PeakRSSBytes, f.MaxSampledRSSBytes); b > 0 && b > peakBytes {
			peak, peakBytes = f, b
		}
	}
	if peak != nil {
		add("facade peak RSS ≤ 50 MB",
			fmt.Sprintf("%.1f MB = %.1f MiB (%s, highest of VmHWM and VmRSS samples, c=%d runs)", float64(peakBytes)/1e6, float64(peakBytes)/mib, peak.Config, peak.AtClients),
			peakBytes <= rssLimit, true)
	} else {
		add("facade peak RSS ≤ 50 MB", "", false, false)
	}
	r.Disturbed = r.disturbed()
	r.Missed = 0
	for _, t := range r.Targets {
		if t.Status == miss {
			r.Missed++
		}
	}
}

// disturbedAbove is the share of the machine that other processes may take
// during a measurement before the report warns.
const disturbedAbove = 5.0

// disturbed says which measurements other processes disturbed, or "".
func (r *report) disturbed() string {
	var names []string
	for _, m := range r.Throughput {
		if m.OtherCPUPercent > disturbedAbove {
			names = append(names, fmt.Sprintf("%s c=%d (%.0f%%)", m.Name, m.Clients, m.OtherCPUPercent))
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("other processes used more than %.0f%% of the CPU during: %s; those figures and ratios are unreliable, run again on a quiet machine", disturbedAbove, strings.Join(names, ", "))
}

func pct(v float64) string {
	if v < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f%%", v)
}

func errNote(ms ...*measurement) string {
	n := 0
	for _, m := range ms {
		n += m.Errors
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d failed requests)", n)
}

const mib = 1 << 20

// writeTable prints the human-readable report.
func writeTable(w io.Writer, r *report) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	p := func(format string, args ...any) { fmt.Fprintf(bw, format+"\n", args...) }
	m := r.Machine
	p("usersgraph-bench: REST GET /v2.0/users (fake) vs the usersgraph facade over it")
	p("machine   %d CPUs (%s), GOMAXPROCS %d, %.1f GiB RAM, %s %s/%s", m.NumCPU, m.CPUModel, m.GOMAXPROCS, float64(m.MemTotalBytes)/(1<<30), m.GoVersion, m.GOOS, m.GOARCH)
	p("load avg  %s at start, %s at the end (1, 5, 15 min)", m.LoadAverageStart, r.LoadAverageAfter)
	p("setup     the fakes in this process, each facade as its own process, wrk as its own; all share the machine")
	p("          each throughput figure: %gs measured after %gs warmup, keep-alive connections", r.DurationSeconds, r.WarmupSeconds)
	for _, f := range r.Facades {
		p("          facade %-9s env: %s", f.Config, strings.Join(f.Env, " "))
	}
	if r.FacadeProfilingBuild {
		p("          facade built with a pprof listener; runs at c=%d were CPU-profiled (a few %% overhead)", r.Concurrency[len(r.Concurrency)-1])
	}
	if r.Interrupted {
		p("          INTERRUPTED: the figures are incomplete")
	}
	p("")
	writeWrkTables(bw, r)
	if !slices.Contains(r.Parts, partGo) {
		return
	}
	p("second view: the bench's in-process Go clients (figures only they produce)")
	p("throughput                  REST: %s", r.RESTRequest)
	p("                            facade: %s", r.Query)
	p("                            creators: %s", r.CreatorsQuery)
	p("%-26s %5s %11s %9s %9s %9s %7s %12s %6s", "", "c", "req/s", "p50", "p90", "p99", "errors", "upstream/req", "other")
	for _, c := range r.Concurrency {
		for _, name := range []string{mDirect, mCacheOff, mCacheOn, mCreators} {
			x := r.find(name, c)
			if x == nil {
				continue
			}
			label := name
			switch name {
			case mCacheOff:
				label += " (TTL 0)"
			case mCacheOn:
				label += " (5s)"
			}
			ratio := ""
			if d := r.find(mDirect, c); d != nil && name != mDirect && d.RequestsPerSecond > 0 {
				ratio = fmt.Sprintf("  %.2f×", x.RequestsPerSecond/d.RequestsPerSecond)
			}
			up := fmt.Sprintf("%.3f", x.UpstreamPerRequest)
			if name == mDirect {
				up = "1"
			} else if x.UpstreamApprox {
				up += "~"
			}
			p("%-26s %5d %11s %9s %9s %9s %7d %12s %6s%s", label, c, num(x.RequestsPerSecond), loadkit.FmtMs(x.LatencyMs.P50), loadkit.FmtMs(x.LatencyMs.P90), loadkit.FmtMs(x.LatencyMs.P99), x.Errors, up, pct(x.OtherCPUPercent), ratio)
			if len(x.ErrorsByCode) > 0 {
				var parts []string
				for _, code := range slices.Sorted(maps.Keys(x.ErrorsByCode)) {
					parts = append(parts, fmt.Sprintf("%s %d", code, x.ErrorsByCode[code]))
				}
				p("%-26s errors by code: %s", "", strings.Join(parts, ", "))
			}
		}
	}
	p("(req/s counts successful requests; other: CPU of the machine used by other processes during the")
	p(" window; ×: throughput relative to direct REST at the same c; ~: approximate)")
	if w := r.disturbed(); w != "" {
		p("WARNING: %s", w)
	}
	p("")
	if cw := r.ColdWarm; cw != nil {
		p("first:100 with createdBy/lastChangedBy, fake +%gms per call, default cache (5s); other CPU %s", cw.UpstreamLatencyMs, pct(cw.OtherCPUPercent))
		p("%-36s %9s %9s %7s %12s %14s   %s", "", "wall", "upstream", "(list)", "round trips", "recorded wall", "facade before/between/after calls")
		row := func(label string, s single) {
			phases := "-"
			if s.Proxied > 0 {
				phases = fmt.Sprintf("%.2f / %.2f / %.2f ms", s.Phases.BeforeMs, s.Phases.BetweenMs, s.Phases.AfterMs)
			}
			p("%-36s %9s %9d %7d %12d %14s   %s", label, loadkit.FmtMs(s.WallMs), s.UpstreamCalls, s.ListCalls, s.RoundTrips, loadkit.FmtMs(s.RecordedWallMs), phases)
		}
		for _, t := range cw.Trials {
			row(fmt.Sprintf("trial %d: cold (fresh facade)", t.Trial), t.Cold)
			row(fmt.Sprintf("trial %d: warm (repeat within TTL)", t.Trial), t.Warm)
		}
		if e := cw.Expired; e != nil {
			row("cold cache, warm process (TTL+0.5s)", *e)
		}
		p("(wall and upstream calls: a facade connected straight to the fake; round trips: its twin behind a")
		p(" recording pass-through, counting the longest chain of calls each sent after the previous was answered)")
		p("")
	}
	if len(r.Facades) > 0 {
		p("facade memory               idle RSS   peak (VmHWM)   max sampled VmRSS   at c   log lines ≥ warn")
		for _, f := range r.Facades {
			p("%-27s %9s %14s %19s %6d %18d", f.Config, mibs(f.IdleRSSBytes), mibs(f.PeakRSSBytes), fmt.Sprintf("%s (%d)", mibs(f.MaxSampledRSSBytes), f.RSSSamples), f.AtClients, f.LogLines)
			for _, l := range f.LogTail {
				p("    %s", shorten(l, 200))
			}
		}
		if r.benchPeakRSS > 0 {
			p("(bench process peak RSS, clients and fake: %s)", mibs(r.benchPeakRSS))
		}
		p("")
	}
	for _, f := range r.Profiles {
		p("CPU profile of the facade: %s   (go tool pprof -top %s)", f, f)
	}
	if len(r.Profiles) > 0 {
		p("")
	}
	p("targets")
	for _, t := range r.Targets {
		p("  %-4s  %-66s %s", t.Status, t.Name, t.Measured)
	}
	p("%d of %d targets missed; elapsed %.0fs", r.Missed, len(r.Targets), r.ElapsedSeconds)
}

func writeJSON(w io.Writer, r *report) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// num formats a rate with a thousands separator.
func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	if v >= 100 {
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func mibs(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/mib) }

// shorten cuts s to at most n bytes on a rune boundary.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}

func readMachine() machine {
	m := machine{
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		CPUModel: "unknown", LoadAverageStart: loadAverage(),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					m.MemTotalBytes = kb << 10
				}
			}
		}
	}
	return m
}

// loadAverage is the first three fields of /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
