package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/usersgraph/usersgraph/internal/loadkit"
)

// writeWrkTables prints the parts measured with wrk.
func writeWrkTables(bw *bufio.Writer, r *report) {
	p := func(format string, args ...any) { fmt.Fprintf(bw, format+"\n", args...) }
	header := func() {
		p("%-28s %-22s %4s %9s %6s %9s %9s %7s %9s  %-44s %6s  %s", "system", "query", "c", "req/s", "×REST", "p50", "p99", "failed", "upstr/req", "CPU s per 1,000 requests", "other", "load avg")
	}
	row := func(c *wrkCell, server string, ratio string) {
		p("%-28s %-22s %4d %9s %6s %9s %9s %7d %9.3f  %-44s %6s  %s", c.System, c.Query, c.Clients, num(c.RequestsPerSecond), ratio,
			loadkit.FmtMs(c.LatencyMs.P50), loadkit.FmtMs(c.LatencyMs.P99), c.Failed, c.UpstreamPerRequest, c.cpuNote(server), pct(c.OtherCPUPercent), c.LoadAverage)
	}
	serverOf := func(system string) string {
		switch system {
		case sysTailcall:
			return procTC
		case sysFloor, sysFloorGet:
			return procFloor
		case sysDirect:
			return ""
		}
		return procFacade
	}
	if s := r.SideBySide; s != nil {
		p("side by side under wrk (%s, the same Lua script for every system), one upstream fake (%d users)", s.Wrk, s.Users)
		p("each cell: %gs measured after %gs warmup; facade env: %s", s.DurationSeconds, s.WarmupSeconds, strings.Join(s.FacadeEnv, " "))
		p("Tailcall: %s", s.Tailcall)
		for _, k := range []string{sysDirect + " / " + qPage, sysFacade + " / " + qPage, sysFacade + " / " + qCreators, sysTailcall + " / " + qPage, sysTailcall + " / " + qCreators, sysFloor + " / " + qPage, sysFloorGet + " / " + qPage} {
			if q, ok := s.Requests[k]; ok {
				p("  %-38s %s", k, q)
			}
		}
		header()
		for _, c := range s.Cells {
			ratio := ""
			if d := s.find(sysDirect, qPage, c.Clients); d != nil && d.RequestsPerSecond > 0 {
				ratio = fmt.Sprintf("%.2f", c.RequestsPerSecond/d.RequestsPerSecond)
			}
			row(c, serverOf(c.System), ratio)
		}
		for _, c := range s.Cells {
			if c.SyscallsPerRequest > 0 {
				p("system calls per request (perf stat, %s of the server's process): %-28s %-16s c=%-3d %.2f", syscallEvent, c.System, c.Query, c.Clients, c.SyscallsPerRequest)
			}
		}
		if d := s.find(sysDirect, qPage, 1); d != nil {
			for _, sys := range []string{sysFacade, sysTailcall, sysFloorGet} {
				for _, q := range []string{qPage, qCreators} {
					if c := s.find(sys, q, 1); c != nil {
						p("added p50 at c=1 over direct REST: %-28s %-16s %+.3f ms (%.3f − %.3f)", sys, q, c.LatencyMs.P50-d.LatencyMs.P50, c.LatencyMs.P50, d.LatencyMs.P50)
					}
				}
			}
		}
		for _, proc := range []string{procFacade, procTC} {
			if peak, ok := s.PeakRSSBytes[proc]; ok {
				p("memory of %s: idle %s, peak (VmHWM) %s over the cells", proc, mibs(s.IdleRSSBytes[proc]), mibs(peak))
			}
		}
		p("(net/http floor: a bare net/http server, no GraphQL, writing the facade's answer to the page, as is or")
		p(" after one GET of the REST page; the least any net/http server spends on these requests)")
		p("(req/s: successful answers; ×REST: to direct REST's page at the same c; upstr/req: calls the fake")
		p(" counted over wrk's requests; CPU: user+system time of each process over the measured window; fake =")
		p(" this process; other: CPU of the machine used by any other process; load avg: 1, 5, 15 min at start)")
		p("")
	}
	if m := r.Mix; m != nil {
		p("mixed workload under wrk: %d distinct queries (%s; %d with createdBy/lastChangedBy), %d credentials × %d users,",
			m.Distinct, kinds(m.Kinds), m.WithReferences, m.Credentials, m.UsersPerCredential)
		p("  Zipf s=%.2g over a sequence of %d (top query %.1f%%, top 10 %.1f%% of requests); generated in %.1fs", m.Zipf, m.SequenceLength, 100*m.TopQueryShare, 100*m.Top10Share, m.GenerationSeconds)
		p("  facade env: %s", strings.Join(m.FacadeEnv, " "))
		header()
		if m.Facade != nil {
			ratio := ""
			if m.RESTQueriesPerSecond > 0 {
				ratio = fmt.Sprintf("%.2f", m.Facade.RequestsPerSecond/m.RESTQueriesPerSecond)
			}
			row(m.Facade, procFacade, ratio)
		}
		if m.REST != nil {
			row(m.REST, "", "")
			p("direct REST: %.3f GETs per query (each query's list call plus, with references, one lookup per distinct", m.RESTGetsPerQuery)
			p("  referenced user, as the cache-off facade sent them): %s GETs/s = %s queries/s; its latencies are per GET", num(m.REST.RequestsPerSecond), num(m.RESTQueriesPerSecond))
		}
		p("facade caches over the window: %s; peak RSS %s", m.Caches, mibs(m.PeakRSSBytes))
		p("")
	}
	if s := r.Soak; s != nil {
		p("soak under wrk: %s workload, %d distinct queries, %gs; facade env: %s", s.Workload, s.Distinct, s.DurationSeconds, strings.Join(s.FacadeEnv, " "))
		if s.Cell != nil {
			header()
			ratio := ""
			if s.RESTQueriesPerSecond > 0 {
				ratio = fmt.Sprintf("%.2f", s.Cell.RequestsPerSecond/s.RESTQueriesPerSecond)
			}
			row(s.Cell, procFacade, ratio)
		}
		if s.REST != nil {
			row(s.REST, "", "")
			p("direct REST: the GETs %d of the soak's queries caused through a cache-off facade, %.3f per query, in the", s.RESTSample, s.RESTGetsPerQuery)
			p("  soak's order: %s GETs/s = %s queries/s; its latencies are per GET; its failed are 404s, lookups of", num(s.REST.RequestsPerSecond), num(s.RESTQueriesPerSecond))
			p("  users that createdBy/lastChangedBy name but the tenant no longer has (the facade answers null)")
		}
		p("facade caches over the soak: %s", s.Caches)
		p("RSS: idle %s; %s; peak %s", mibs(s.IdleRSSBytes), rssSeries(s.RSSBytes), mibs(s.PeakRSSBytes))
		p("")
	}
}

func (c cacheFigures) String() string {
	rate := func(v, n float64) string {
		if v < 0 {
			return "no lookups"
		}
		return fmt.Sprintf("%.1f%% of %s", 100*v, num(n))
	}
	return fmt.Sprintf("response cache hits %s lookups, answer cache hits %s, coalesced calls %s",
		rate(c.ResponseHitRate, c.ResponseLookups), rate(c.AnswerHitRate, c.AnswerLookups), num(c.Coalesced))
}

func kinds(k map[string]int) string {
	var parts []string
	for _, name := range []string{kindFirst, kindAfter, kindBefore, kindLast} {
		if k[name] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k[name], name))
		}
	}
	return strings.Join(parts, ", ")
}

// rssSeries picks samples at 1, 2, 5, 10, 20, 30 s and every minute, and
// the last.
func rssSeries(rss []int64) string {
	if len(rss) == 0 {
		return "no samples"
	}
	var parts []string
	for i, b := range rss {
		sec := i + 1
		if sec == 1 || sec == 2 || sec == 5 || sec == 10 || sec == 20 || sec == 30 || sec%60 == 0 || i == len(rss)-1 {
			parts = append(parts, fmt.Sprintf("%ds %.1f", sec, float64(b)/mib))
		}
	}
	return "MiB at " + strings.Join(parts, ", ")
}
