package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// Names of the systems the wrk parts load.
const (
	sysDirect   = "direct REST"
	sysFacade   = "usersgraph, every cache off"
	sysTailcall = "Tailcall tuned"
	sysDefault  = "usersgraph, default config"
	// The net/http floor (cmd/usersgraph-bench/floor): the facade's
	// answer written by a bare net/http server, as is and after one GET.
	sysFloor    = "net/http floor, constant"
	sysFloorGet = "net/http floor, GET+answer"
	procFloor   = "floor"
	qPage       = "page"
	qCreators   = "page + creators"
	procFacade  = "usersgraph"
	procTC      = "tailcall"
)

// The side-by-side requests: users(first: 25) with every scalar,
// totalCount, pageInfo and cursors, and the same with the references.
const (
	wrkPageFields = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { ` + scalarFields + `%s } }`
	wrkPage       = `{ users(first: 25) { ` + wrkPageFields + ` } }`
)

func wrkQuery(refs bool) string {
	if refs {
		return fmt.Sprintf(wrkPage, ` createdBy { name } lastChangedBy { name }`)
	}
	return fmt.Sprintf(wrkPage, "")
}

// sideBySideReport is the external-load comparison of direct REST, the
// facade with every cache off and Tailcall, on one upstream fake.
type sideBySideReport struct {
	Wrk             string            `json:"wrk"`
	DurationSeconds float64           `json:"durationSeconds"`
	WarmupSeconds   float64           `json:"warmupSeconds"`
	Users           int               `json:"users"`
	Requests        map[string]string `json:"requests"` // "system / query" → what is sent
	FacadeEnv       []string          `json:"facadeEnv"`
	Tailcall        string            `json:"tailcall"` // where it ran from, or why not
	Cells           []*wrkCell        `json:"cells"`
	// IdleRSSBytes and PeakRSSBytes are the servers' resident memory before
	// the cells and its high-water mark (VmHWM) after them, by process.
	IdleRSSBytes map[string]int64 `json:"idleRssBytes"`
	PeakRSSBytes map[string]int64 `json:"peakRssBytes"`
}

func (r *sideBySideReport) find(system, query string, clients int) *wrkCell {
	for _, c := range r.Cells {
		if c.System == system && c.Query == query && c.Clients == clients {
			return c
		}
	}
	return nil
}

// cacheOffEnv turns off both caches of the facade: Cognigy's answers and
// complete GraphQL answers.
var cacheOffEnv = []string{"CACHE_TTL=0", "RESPONSE_CACHE_MAX_BYTES=0"}

func toBody(q string) string {
	b, _ := json.Marshal(map[string]string{"query": q}) // a string always marshals
	return string(b)
}

// runSideBySide loads direct REST, the cache-off facade and, where it can be
// started, Tailcall tuned, with the same wrk script, at each concurrency.
func runSideBySide(ctx context.Context, o options, env *benchEnv) (*sideBySideReport, error) {
	fake, err := restclienttest.NewServer(restclienttest.WithUsers(restclienttest.DemoUsers(demoUsers, demoSeed)), restclienttest.WithAPIKey(benchKey))
	if err != nil {
		return nil, fmt.Errorf("start the upstream fake: %w", err)
	}
	defer fake.Close()
	up := &loadkit.UpstreamCounter{Fake: fake, TrimAt: trimAt}
	tctx, stopTrim := context.WithCancel(ctx)
	defer stopTrim()
	go up.TrimLoop(tctx)
	wb, err := newWrkBench(env.dir, up, env.progress)
	if err != nil {
		return nil, err
	}
	if o.syscalls {
		if wb.syscalls, err = newSyscallCounter(ctx, env.dir); err != nil {
			return nil, err
		}
	}
	rep := &sideBySideReport{Wrk: wrkVersion(wb.bin), DurationSeconds: o.duration.Seconds(), WarmupSeconds: o.warmup.Seconds(), Users: demoUsers,
		Requests: map[string]string{}, IdleRSSBytes: map[string]int64{}, PeakRSSBytes: map[string]int64{}}
	memory := func(into map[string]int64, peak bool, name string, pid int) {
		if m, err := loadkit.ReadMem(pid); err == nil {
			into[name] = m.RSS
			if peak {
				into[name] = m.Peak
			}
		}
	}

	f, pprofAddr, err := env.startFacade(ctx, "every cache off", fake.URL, cacheOffEnv...)
	if err != nil {
		return nil, err
	}
	defer f.Stop()
	rep.FacadeEnv = publicEnv(f.Env)
	fu, _ := url.Parse(fake.URL)
	restPathFull := fu.Path + restPath
	direct := loadkit.WrkRequest{Method: http.MethodGet, Path: restPathFull, Key: benchKey}
	facadeReq := func(refs bool) loadkit.WrkRequest {
		return loadkit.WrkRequest{Method: http.MethodPost, Path: "/graphql", Key: benchKey, Body: toBody(wrkQuery(refs))}
	}
	rep.Requests[sysDirect+" / "+qPage] = "GET " + restPathFull
	rep.Requests[sysFacade+" / "+qPage] = wrkQuery(false)
	rep.Requests[sysFacade+" / "+qCreators] = wrkQuery(true)

	var tc *tailcallPeer
	switch {
	case o.tailcall == "":
		rep.Tailcall = fmt.Sprintf("skipped: no -tailcall folder and no %s (a writable copy of the peer with npm ci done)", tailcallEnv)
	default:
		tc, err = startTailcall(ctx, o.tailcall, fake.URL)
		if err != nil {
			rep.Tailcall = "skipped: " + err.Error()
			env.progress("Tailcall: %s", rep.Tailcall)
			tc = nil
		} else {
			defer tc.Stop()
			rep.Tailcall = fmt.Sprintf("%s/start.sh cached (pid %d)", o.tailcall, tc.PID)
			rep.Requests[sysTailcall+" / "+qPage] = tailcallPage
			rep.Requests[sysTailcall+" / "+qCreators] = tailcallCreators
		}
	}
	tcReq := func(refs bool) loadkit.WrkRequest {
		q := tailcallPage
		if refs {
			q = tailcallCreators
		}
		return loadkit.WrkRequest{Method: http.MethodPost, Path: "/graphql", Key: benchKey, Body: toBody(q)}
	}

	// Each request once, checked: 25 users and no error.
	checks := []struct {
		name, url string
		r         loadkit.WrkRequest
	}{
		{sysDirect, "http://" + fu.Host, direct},
		{sysFacade + " " + qPage, "http://" + f.Addr, facadeReq(false)},
		{sysFacade + " " + qCreators, "http://" + f.Addr, facadeReq(true)},
	}
	if tc != nil {
		tu, _ := url.Parse(tc.URL)
		checks = append(checks, struct {
			name, url string
			r         loadkit.WrkRequest
		}{sysTailcall + " " + qPage, "http://" + tu.Host, tcReq(false)}, struct {
			name, url string
			r         loadkit.WrkRequest
		}{sysTailcall + " " + qCreators, "http://" + tu.Host, tcReq(true)})
	}
	for _, c := range checks {
		if err := checkOnce(ctx, c.url, c.r); err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
	}

	floor, err := startFloor(ctx, env, f, "http://"+fu.Host+restPathFull)
	if err != nil {
		return nil, err
	}
	defer floor.Stop()
	floorReq := func(path string) loadkit.WrkRequest {
		return loadkit.WrkRequest{Method: http.MethodPost, Path: path, Key: benchKey, Body: toBody(wrkQuery(false))}
	}
	rep.Requests[sysFloor+" / "+qPage] = "POST /constant: the facade's answer to its page, as is"
	rep.Requests[sysFloorGet+" / "+qPage] = "POST /get: GET " + restPathFull + ", then the same answer"

	memory(rep.IdleRSSBytes, false, procFacade, f.PID())
	if tc != nil {
		memory(rep.IdleRSSBytes, false, procTC, tc.PID)
	}
	defer func() {
		memory(rep.PeakRSSBytes, true, procFacade, f.PID())
		if tc != nil {
			memory(rep.PeakRSSBytes, true, procTC, tc.PID)
		}
	}()
	concurrency := []int{64, 1}
	if len(o.wrkClients) > 0 {
		concurrency = o.wrkClients
	}
	top := concurrency[0]
	for _, c := range concurrency {
		for _, refs := range []bool{false, true} {
			qname := qPage
			if refs {
				qname = qCreators
			}
			type sys struct {
				spec cellSpec
				prof string
			}
			systems := []sys{}
			if !refs {
				systems = append(systems, sys{spec: cellSpec{System: sysDirect, BaseURL: "http://" + fu.Host, Reqs: []loadkit.WrkRequest{direct}}})
			}
			systems = append(systems, sys{spec: cellSpec{System: sysFacade, BaseURL: "http://" + f.Addr, Reqs: []loadkit.WrkRequest{facadeReq(refs)}, Server: f.PID(), ServerName: procFacade}, prof: "wrk-" + strings.ReplaceAll(qname, " + ", "-")})
			if tc != nil {
				systems = append(systems, sys{spec: cellSpec{System: sysTailcall, BaseURL: tc.URL, Reqs: []loadkit.WrkRequest{tcReq(refs)}, Server: tc.PID, ServerName: procTC}})
			}
			if !refs {
				floorAt := func(system, path string) sys {
					return sys{spec: cellSpec{System: system, BaseURL: "http://" + floor.Addr, Reqs: []loadkit.WrkRequest{floorReq(path)}, Server: floor.PID(), ServerName: procFloor}}
				}
				systems = append(systems, floorAt(sysFloor, "/constant"), floorAt(sysFloorGet, "/get"))
			}
			for _, s := range systems {
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				s.spec.Query, s.spec.Clients = qname, c
				var during func() func()
				if pprofAddr != "" && s.prof != "" && c == top {
					during = env.profileDuring(ctx, pprofAddr, s.prof, o.duration)
				}
				cell, err := wb.run(ctx, s.spec, o.warmup, o.duration, during)
				if err != nil {
					return rep, err
				}
				rep.Cells = append(rep.Cells, cell)
				if exit := f.Exited(); exit != "" {
					return rep, fmt.Errorf("the facade exited during the run: %s; its output:\n%s", exit, f.Output.String())
				}
			}
		}
	}
	return rep, nil
}

// startFloor builds and starts the net/http floor, answering with the
// facade's own answer to the side-by-side page query (fetched from f), and
// fetching upstream (the direct REST page) on /get.
func startFloor(ctx context.Context, env *benchEnv, f *loadkit.Facade, upstream string) (*loadkit.Facade, error) {
	env.progress("building the net/http floor ...")
	bin, err := loadkit.BuildMain(ctx, env.dir, "floor", "./cmd/usersgraph-bench/floor", nil)
	if err != nil {
		return nil, err
	}
	req, err := loadkit.GraphQL(f.URL(), wrkQuery(false), http.Header{"X-Api-Key": {benchKey}})
	if err != nil {
		return nil, err
	}
	client := loadkit.NewHTTPClient(1)
	defer client.CloseIdleConnections()
	var answer bytes.Buffer
	codes, msg, err := req.Do(ctx, client, &answer, nil)
	if err == nil && len(codes) > 0 {
		err = fmt.Errorf("fails (%s): %s", strings.Join(codes, ", "), msg)
	}
	if err != nil {
		return nil, fmt.Errorf("the facade's answer for the floor: %w", err)
	}
	file := filepath.Join(env.dir, "floor-answer.json")
	if err := os.WriteFile(file, answer.Bytes(), 0o600); err != nil {
		return nil, err
	}
	floor, err := loadkit.StartFacade(ctx, bin, env.dir, []string{"FLOOR_ANSWER=" + file, "FLOOR_UPSTREAM=" + upstream})
	if err != nil {
		return nil, fmt.Errorf("the net/http floor: %w", err)
	}
	for _, path := range []string{"/constant", "/get"} {
		if err := checkOnce(ctx, "http://"+floor.Addr, loadkit.WrkRequest{Method: http.MethodPost, Path: path, Key: benchKey, Body: toBody(wrkQuery(false))}); err != nil {
			floor.Stop()
			return nil, fmt.Errorf("the net/http floor, %s: %w", path, err)
		}
	}
	return floor, nil
}

// checkOnce sends r once and wants a 200 answer without errors and with 25
// users.
func checkOnce(ctx context.Context, base string, r loadkit.WrkRequest) error {
	req := loadkit.Request{Method: r.Method, URL: base + r.Path, Header: http.Header{"X-Api-Key": {r.Key}, "Accept": {"application/json"}}}
	if r.Body != "" {
		req.Body = []byte(r.Body)
		req.Check = loadkit.CheckGraphQL
	} else {
		req.Check = loadkit.CheckJSONWith(`"items":[`)
	}
	client := loadkit.NewHTTPClient(1)
	defer client.CloseIdleConnections()
	var buf bytes.Buffer
	codes, msg, err := req.Do(ctx, client, &buf, nil)
	if err != nil {
		return err
	}
	if len(codes) > 0 {
		return fmt.Errorf("fails (%s): %s", strings.Join(codes, ", "), msg)
	}
	if n := bytes.Count(buf.Bytes(), []byte(`"createdAt"`)); n != pageSize {
		return fmt.Errorf("answer holds %d users, want %d: %.300s", n, pageSize, buf.String())
	}
	return nil
}

// mixReport is the mixed workload against the facade in its default
// configuration and against direct REST.
type mixReport struct {
	Credentials        int            `json:"credentials"`
	UsersPerCredential int            `json:"usersPerCredential"`
	Distinct           int            `json:"distinctQueries"`
	Kinds              map[string]int `json:"kinds"` // distinct queries by kind
	WithReferences     int            `json:"withReferences"`
	Zipf               float64        `json:"zipfS"`
	SequenceLength     int            `json:"sequenceLength"`
	TopQueryShare      float64        `json:"topQueryShare"` // of the sequence
	Top10Share         float64        `json:"top10Share"`
	GenerationSeconds  float64        `json:"generationSeconds"`
	RESTGetsPerQuery   float64        `json:"restGetsPerQuery"`
	FacadeEnv          []string       `json:"facadeEnv"`
	Facade             *wrkCell       `json:"facade"`
	REST               *wrkCell       `json:"rest"` // per GET
	// RESTQueriesPerSecond is REST's GETs per second divided by the GETs a
	// query needs on average: the same mix's queries answered per second.
	RESTQueriesPerSecond float64      `json:"restQueriesPerSecond"`
	Caches               cacheFigures `json:"caches"`
	PeakRSSBytes         int64        `json:"peakRssBytes"`
}

// cacheFigures are the facade's cache counters over a window, from /metrics.
type cacheFigures struct {
	ResponseHitRate float64 `json:"responseCacheHitRate"` // -1: no lookups
	ResponseLookups float64 `json:"responseCacheLookups"`
	AnswerHitRate   float64 `json:"answerCacheHitRate"`
	AnswerLookups   float64 `json:"answerCacheLookups"`
	Coalesced       float64 `json:"coalescedCalls"`
}

func cachesOf(d loadkit.Counters) cacheFigures {
	var c cacheFigures
	c.ResponseHitRate, c.ResponseLookups = d.HitRate("usersgraph_response_cache_lookups_total")
	c.AnswerHitRate, c.AnswerLookups = d.HitRate("usersgraph_upstream_cache_lookups_total")
	c.Coalesced = d["usersgraph_upstream_coalesced_total"]
	return c
}

// mixFake starts the fake of the mixed workload: o.mixCredentials
// credentials, each with its own o.mixUsers users.
func mixFake(o options) (*restclienttest.Server, map[string][]restclienttest.User, error) {
	tenants := map[string][]restclienttest.User{}
	opts := []restclienttest.Option{}
	for i := range o.mixCredentials {
		key := fmt.Sprintf("mix-key-%d", i+1)
		users := restclienttest.DemoUsers(o.mixUsers, uint64(100+i))
		tenants[key] = users
		if i == 0 {
			opts = append(opts, restclienttest.WithAPIKey(key), restclienttest.WithUsers(users))
		} else {
			opts = append(opts, restclienttest.WithTenant(key, users))
		}
	}
	fake, err := restclienttest.NewServer(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("start the upstream fake: %w", err)
	}
	return fake, tenants, nil
}

// mixSetup is the fake, its tenants and the recorded mix, shared by the mix
// and the soak.
type mixSetup struct {
	fake    *restclienttest.Server
	tenants map[string][]restclienttest.User
	queries []mixQuery
	seconds float64
}

func prepareMix(ctx context.Context, o options, env *benchEnv) (*mixSetup, error) {
	fake, tenants, err := mixFake(o)
	if err != nil {
		return nil, err
	}
	ms := &mixSetup{fake: fake, tenants: tenants}
	if !slices.Contains(o.parts, partMix) && o.soakWorkload != "zipf" {
		return ms, nil // the distinct soak needs no recorded queries
	}
	f, _, err := env.startFacade(ctx, "generator, every cache off", fake.URL, cacheOffEnv...)
	if err != nil {
		fake.Close()
		return nil, err
	}
	defer f.Stop()
	env.progress("generating %d distinct queries through the cache-off facade, recording their upstream calls ...", o.mixQueries)
	t0 := time.Now()
	client := loadkit.NewHTTPClient(1)
	defer client.CloseIdleConnections()
	rec := &mixRecorder{url: f.URL(), fake: fake, client: client}
	ms.queries, err = generateMix(ctx, rec, newMixPicker(o.seed, tenants), o.mixQueries)
	fake.ResetCounts()
	if err != nil {
		fake.Close()
		return nil, fmt.Errorf("generate the mix: %w", err)
	}
	ms.seconds = time.Since(t0).Seconds()
	return ms, nil
}

// mixWrkBench is a wrk bench counting the calls of the mix's fake, whose
// request log is trimmed until stop is called.
func mixWrkBench(ctx context.Context, env *benchEnv, ms *mixSetup) (wb *wrkBench, stop func(), err error) {
	up := &loadkit.UpstreamCounter{Fake: ms.fake, TrimAt: trimAt}
	tctx, stopTrim := context.WithCancel(ctx)
	go up.TrimLoop(tctx)
	if wb, err = newWrkBench(env.dir, up, env.progress); err != nil {
		stopTrim()
		return nil, nil, err
	}
	return wb, stopTrim, nil
}

// runMix loads the facade in its default configuration with the Zipf mix,
// then direct REST with the GETs the same sequence needs.
func runMix(ctx context.Context, o options, env *benchEnv, ms *mixSetup) (*mixReport, error) {
	wb, stop, err := mixWrkBench(ctx, env, ms)
	if err != nil {
		return nil, err
	}
	defer stop()
	seq := zipfSequence(len(ms.queries), o.mixSequence, o.seed)
	rep := &mixReport{
		Credentials: o.mixCredentials, UsersPerCredential: o.mixUsers, Distinct: len(ms.queries),
		Kinds: map[string]int{}, Zipf: zipfS, SequenceLength: len(seq), GenerationSeconds: ms.seconds,
	}
	for _, q := range ms.queries {
		rep.Kinds[q.Kind]++
		if q.Refs {
			rep.WithReferences++
		}
	}
	rep.TopQueryShare, rep.Top10Share = popularity(seq, len(ms.queries))

	f, pprofAddr, err := env.startFacade(ctx, "default config", ms.fake.URL)
	if err != nil {
		return nil, err
	}
	defer f.Stop()
	rep.FacadeEnv = publicEnv(f.Env)
	metrics := "http://" + f.Addr + "/metrics"
	var before loadkit.Counters
	var watch *loadkit.RSSWatch
	var profStop func()
	during := func() func() {
		before, _ = loadkit.ScrapeCounters(ctx, metrics)
		watch = loadkit.WatchRSS(f.PID(), rssEvery)
		if pprofAddr != "" {
			profStop = env.profileDuring(ctx, pprofAddr, "mix", o.duration)()
		}
		return func() {
			if profStop != nil {
				profStop()
			}
		}
	}
	rep.Facade, err = wb.run(ctx, cellSpec{System: sysDefault, Query: "Zipf mix", Clients: o.mixClients, BaseURL: "http://" + f.Addr,
		Reqs: graphQLRequests("/graphql", ms.queries), Seq: seq, Server: f.PID(), ServerName: procFacade}, o.warmup, o.duration, during)
	if err != nil {
		return rep, err
	}
	peak, _ := watch.Stop()
	if m, err := loadkit.ReadMem(f.PID()); err == nil {
		peak = max(peak, m.Peak)
	}
	rep.PeakRSSBytes = peak
	if after, err := loadkit.ScrapeCounters(ctx, metrics); err == nil && before != nil {
		rep.Caches = cachesOf(after.Sub(before))
	} else {
		env.progress("warning: the facade's /metrics could not be read: %v", err)
	}
	f.Stop()

	rep.REST, rep.RESTGetsPerQuery, rep.RESTQueriesPerSecond, err = runREST(ctx, o, wb, ms, "same mix, its GETs", ms.queries, seq, o.duration)
	return rep, err
}

// runREST sends the GETs recorded for qs, in the order seq, straight to the
// fake under wrk for d: the REST side of a workload, per GET, and the
// queries per second that makes.
func runREST(ctx context.Context, o options, wb *wrkBench, ms *mixSetup, what string, qs []mixQuery, seq []int, d time.Duration) (cell *wrkCell, getsPerQuery, queriesPerSecond float64, err error) {
	reqs, restSeq, per := restMix(qs, seq)
	fu, _ := url.Parse(ms.fake.URL)
	cell, err = wb.run(ctx, cellSpec{System: sysDirect, Query: what, Clients: o.mixClients, BaseURL: "http://" + fu.Host,
		Reqs: reqs, Seq: restSeq}, o.warmup, d, nil)
	if err == nil && per > 0 {
		queriesPerSecond = cell.RequestsPerSecond / per
	}
	return cell, per, queriesPerSecond, err
}

// popularity is the share of the sequence taken by its most frequent query
// and by its ten most frequent.
func popularity(seq []int, n int) (top, top10 float64) {
	if len(seq) == 0 {
		return 0, 0
	}
	counts := make([]int, n)
	for _, i := range seq {
		counts[i]++
	}
	sorted := append([]int(nil), counts...)
	for i := range sorted { // descending, only the first ten matter
		for j := i + 1; j < len(sorted) && i < 10; j++ {
			if sorted[j] > sorted[i] {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
		if i >= 10 {
			break
		}
	}
	sum := 0
	for _, c := range sorted[:min(10, len(sorted))] {
		sum += c
	}
	return float64(sorted[0]) / float64(len(seq)), float64(sum) / float64(len(seq))
}

// soakReport is the facade under a long run of the mix: memory over time.
type soakReport struct {
	Workload        string       `json:"workload"` // distinct or zipf
	Distinct        int          `json:"distinctQueries"`
	DurationSeconds float64      `json:"durationSeconds"`
	FacadeEnv       []string     `json:"facadeEnv"`
	Cell            *wrkCell     `json:"cell"`
	IdleRSSBytes    int64        `json:"idleRssBytes"`
	RSSBytes        []int64      `json:"rssBytesEverySecond"`
	PeakRSSBytes    int64        `json:"peakRssBytes"` // VmHWM at the end, or the highest sample
	Caches          cacheFigures `json:"caches"`
	// The same workload sent to Cognigy directly: the GETs a sample of
	// its queries caused through a cache-off facade, under wrk for at most
	// a minute after the soak. Distinct workload only.
	RESTSample           int      `json:"restSampleQueries,omitempty"`
	RESTGetsPerQuery     float64  `json:"restGetsPerQuery,omitempty"`
	REST                 *wrkCell `json:"rest,omitempty"` // per GET
	RESTQueriesPerSecond float64  `json:"restQueriesPerSecond,omitempty"`
}

// soakRESTSample is how many of the soak's distinct queries are sent
// through a cache-off facade to learn their GETs (about 2 ms each).
const soakRESTSample = 2000

// runSoak loads a fresh facade (default config plus -soak-env) for
// o.soakDuration, sampling its RSS every second.
func runSoak(ctx context.Context, o options, env *benchEnv, ms *mixSetup) (*soakReport, error) {
	wb, stop, err := mixWrkBench(ctx, env, ms)
	if err != nil {
		return nil, err
	}
	defer stop()
	rep := &soakReport{Workload: o.soakWorkload, DurationSeconds: o.soakDuration.Seconds()}
	var qs []mixQuery
	var seq []int
	switch o.soakWorkload {
	case "zipf":
		qs = ms.queries
		seq = zipfSequence(len(qs), o.mixSequence, o.seed+1)
	default:
		if qs, err = distinctQueries(newMixPicker(o.seed+2, ms.tenants), o.soakQueries); err != nil {
			return nil, err
		}
		seq = shuffledSequence(len(qs), o.seed+3)
	}
	rep.Distinct = len(qs)
	f, pprofAddr, err := env.startFacade(ctx, "soak", ms.fake.URL, o.soakEnv.Values...)
	if err != nil {
		return nil, err
	}
	defer f.Stop()
	rep.FacadeEnv = publicEnv(f.Env)
	if m, err := loadkit.ReadMem(f.PID()); err == nil {
		rep.IdleRSSBytes = m.RSS
	}
	metrics := "http://" + f.Addr + "/metrics"
	var before loadkit.Counters
	samples := make(chan []int64, 1)
	during := func() func() {
		before, _ = loadkit.ScrapeCounters(ctx, metrics)
		sctx, cancel := context.WithCancel(ctx)
		n := int(o.soakDuration / time.Second)
		go func() { samples <- loadkit.SampleRSS(sctx, f.PID(), time.Now(), time.Second, n) }()
		var profStop func()
		if pprofAddr != "" { // the first minute at most: enough samples, a small file
			profStop = env.profileDuring(ctx, pprofAddr, "soak", min(o.soakDuration, time.Minute))()
		}
		return func() {
			cancel()
			if profStop != nil {
				profStop()
			}
		}
	}
	rep.Cell, err = wb.run(ctx, cellSpec{System: "usersgraph, soak", Query: o.soakWorkload + " queries", Clients: o.mixClients, BaseURL: "http://" + f.Addr,
		Reqs: graphQLRequests("/graphql", qs), Seq: seq, Server: f.PID(), ServerName: procFacade}, 0, o.soakDuration, during)
	if err != nil {
		return rep, err
	}
	rep.RSSBytes = <-samples
	for _, b := range rep.RSSBytes {
		rep.PeakRSSBytes = max(rep.PeakRSSBytes, b)
	}
	if m, err := loadkit.ReadMem(f.PID()); err == nil {
		rep.PeakRSSBytes = max(rep.PeakRSSBytes, m.Peak)
	}
	if after, err := loadkit.ScrapeCounters(ctx, metrics); err == nil && before != nil {
		rep.Caches = cachesOf(after.Sub(before))
	}
	if exit := f.Exited(); exit != "" {
		return rep, fmt.Errorf("the facade exited during the soak: %s; its output:\n%s", exit, f.Output.String())
	}
	f.Stop()
	if o.soakWorkload == "distinct" {
		err = soakREST(ctx, o, env, ms, wb, rep, qs, seq)
	}
	return rep, err
}

// soakREST records the GETs of a sample of the distinct queries through a
// cache-off facade, then sends those GETs, in the soak's order, straight
// to the fake under wrk.
func soakREST(ctx context.Context, o options, env *benchEnv, ms *mixSetup, wb *wrkBench, rep *soakReport, qs []mixQuery, seq []int) error {
	gen, _, err := env.startFacade(ctx, "soak's REST sample, every cache off", ms.fake.URL, cacheOffEnv...)
	if err != nil {
		return err
	}
	defer gen.Stop()
	client := loadkit.NewHTTPClient(1)
	defer client.CloseIdleConnections()
	rec := &mixRecorder{url: gen.URL(), fake: ms.fake, client: client}
	n := min(soakRESTSample, len(seq))
	env.progress("recording the GETs of %d of the soak's queries through a cache-off facade ...", n)
	sample := make([]mixQuery, 0, n)
	for _, i := range seq[:n] {
		q := qs[i]
		if _, err := rec.do(ctx, &q); err != nil {
			return fmt.Errorf("soak's REST sample: %w", err)
		}
		sample = append(sample, q)
	}
	ms.fake.ResetCounts()
	gen.Stop()
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	rep.RESTSample = n
	rep.REST, rep.RESTGetsPerQuery, rep.RESTQueriesPerSecond, err = runREST(ctx, o, wb, ms, "the soak's GETs", sample, order, min(o.soakDuration, time.Minute))
	return err
}
