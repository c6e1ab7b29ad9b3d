package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
)

// summary is the result of one run; its JSON form is what -json prints.
// Memory is in bytes, latency in milliseconds.
type summary struct {
	Mode               string         `json:"mode"` // "started": this tool started the facade; "url": it was running
	URL                string         `json:"url"`
	Clients            int            `json:"clients"`
	DurationSeconds    float64        `json:"durationSeconds"` // requested
	MeasuredSeconds    float64        `json:"measuredSeconds"` // shorter only when interrupted
	WarmupSeconds      float64        `json:"warmupSeconds"`
	Interrupted        bool           `json:"interrupted"`
	Query              string         `json:"query"`
	QueryOrigin        string         `json:"queryOrigin"`
	FacadeEnv          []string       `json:"facadeEnv"`
	UpstreamLatencyMs  float64        `json:"upstreamLatencyMs"`
	FacadeRoot         string         `json:"facadeModuleRoot,omitempty"`
	FacadePID          int            `json:"facadePid,omitempty"`
	FacadeBuildSeconds float64        `json:"facadeBuildSeconds,omitempty"`
	FacadeReadySeconds float64        `json:"facadeReadySeconds,omitempty"`
	FacadeExit         string         `json:"facadeExitedDuringRun,omitempty"`
	FacadeLogLines     int            `json:"facadeLogLines"`
	FacadeLogTail      string         `json:"-"`
	Requests           int            `json:"requests"`
	RequestsPerSecond  float64        `json:"requestsPerSecond"`
	LatencyMs          latencyStats   `json:"latencyMs"`
	Errors             int            `json:"errors"`        // requests with any error
	ErrorsByCode       map[string]int `json:"errorsByCode"`  // error entries
	Upstream           *upstreamStats `json:"upstreamCalls"` // null: unknown
	RSS                *rssStats      `json:"facadeRss"`     // null: unknown
	LoadPeakRSSBytes   int64          `json:"loadProcessPeakRssBytes"`
	GoVersion          string         `json:"goVersion"`
	GOOS               string         `json:"goos"`
	GOARCH             string         `json:"goarch"`
	GOMAXPROCS         int            `json:"gomaxprocs"`
	NumCPU             int            `json:"numCpu"`
}

type latencyStats struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

type upstreamStats struct {
	Total       int     `json:"total"`
	List        int     `json:"list"`
	Get         int     `json:"get"`
	PerRequest  float64 `json:"perRequest"`
	Approximate bool    `json:"approximate"` // see loadkit.UpstreamCounter
}

type rssStats struct {
	IdleBytes     int64   `json:"idleBytes"` // before the load
	PeakBytes     int64   `json:"peakBytes"` // VmHWM since the process started, or a higher sample
	BySecondBytes []int64 `json:"bySecondBytes"`
}

const mib = 1 << 20

// writeReport prints the human-readable summary, one aligned label a line.
func writeReport(w io.Writer, s *summary) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-17s%s\n", label, fmt.Sprintf(format, args...))
	}
	cfg := fmt.Sprintf("%d clients, %s measured after %s warmup, keep-alive", s.Clients, secs(s.DurationSeconds), secs(s.WarmupSeconds))
	if s.Interrupted {
		cfg += fmt.Sprintf("; INTERRUPTED after %.1fs measured", s.MeasuredSeconds)
	}
	line("config", "%s", cfg)
	line("query", "%s (%s, %d bytes)", shorten(s.Query, 160), s.QueryOrigin, len(s.Query))
	if s.Mode == "started" {
		env := strings.Join(s.FacadeEnv, " ")
		line("facade", "pid %d at %s, built from %s in %.1fs, ready in %.2fs", s.FacadePID, s.URL, s.FacadeRoot, s.FacadeBuildSeconds, s.FacadeReadySeconds)
		line("facade env", "%s", env)
		latency := "no added latency"
		if s.UpstreamLatencyMs > 0 {
			latency = "added latency " + time.Duration(s.UpstreamLatencyMs*float64(time.Millisecond)).String()
		}
		line("upstream", "in-process fake with %d demo users, %s", demoUsers, latency)
	} else {
		pid := "no -pid: RSS unknown"
		if s.FacadePID != 0 {
			pid = fmt.Sprintf("pid %d", s.FacadePID)
		}
		line("facade", "%s (already running, %s)", s.URL, pid)
	}
	line("requests", "%d", s.Requests)
	line("requests/s", "%.1f", s.RequestsPerSecond)
	l := s.LatencyMs
	line("latency", "p50 %s   p90 %s   p99 %s   max %s   (mean %s)", loadkit.FmtMs(l.P50), loadkit.FmtMs(l.P90), loadkit.FmtMs(l.P99), loadkit.FmtMs(l.Max), loadkit.FmtMs(l.Mean))
	if s.Errors == 0 {
		line("errors", "0")
	} else {
		var parts []string
		for _, code := range slices.Sorted(maps.Keys(s.ErrorsByCode)) {
			parts = append(parts, fmt.Sprintf("%s %d", code, s.ErrorsByCode[code]))
		}
		line("errors", "%d requests (%.2f%%); by code: %s", s.Errors, 100*float64(s.Errors)/float64(max(s.Requests, 1)), strings.Join(parts, ", "))
	}
	if u := s.Upstream; u != nil {
		approx := ""
		if u.Approximate {
			approx = ", approximate: counters were reset to bound memory"
		}
		line("upstream calls", "%d (%.4f per request; list %d, get %d%s)", u.Total, u.PerRequest, u.List, u.Get, approx)
	} else {
		line("upstream calls", "unknown (the facade was not started by this tool)")
	}
	if r := s.RSS; r != nil {
		line("facade RSS peak", "%.1f MiB (VmHWM; %.1f MiB idle before the load)", float64(r.PeakBytes)/mib, float64(r.IdleBytes)/mib)
		if len(r.BySecondBytes) == 0 {
			line("RSS by second", "no sample")
		}
		for i := 0; i < len(r.BySecondBytes); i += 10 {
			label := ""
			if i == 0 {
				label = "RSS by second"
			}
			chunk := r.BySecondBytes[i:min(i+10, len(r.BySecondBytes))]
			vals := make([]string, len(chunk))
			for j, b := range chunk {
				vals[j] = fmt.Sprintf("%5.1f", float64(b)/mib)
			}
			line(label, "s%-3d %s MiB", i+1, strings.Join(vals, " "))
		}
	} else {
		line("facade RSS peak", "unknown (pass -pid)")
	}
	if s.LoadPeakRSSBytes > 0 {
		what := "this process"
		if s.Mode == "started" {
			what += ", upstream fake included"
		}
		line("load RSS peak", "%.1f MiB (%s)", float64(s.LoadPeakRSSBytes)/mib, what)
	}
	line("go", "%s %s/%s, GOMAXPROCS %d, NumCPU %d", s.GoVersion, s.GOOS, s.GOARCH, s.GOMAXPROCS, s.NumCPU)
	if s.FacadeExit != "" {
		line("FACADE EXITED", "during the run: %s", s.FacadeExit)
	}
	if s.FacadeLogLines > 0 {
		line("facade log", "%d lines at warn or above; the last ones:", s.FacadeLogLines)
		tail := strings.Split(s.FacadeLogTail, "\n")
		for _, t := range tail[max(0, len(tail)-5):] {
			line("", "%s", shorten(t, 200))
		}
	}
}

// writeJSON prints s as one line of JSON.
func writeJSON(w io.Writer, s *summary) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// shorten collapses whitespace and cuts s to at most n bytes on a rune
// boundary.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func secs(v float64) string { return fmt.Sprintf("%gs", v) }
