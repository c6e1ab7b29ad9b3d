package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

const (
	// benchKey is the fake's credential; the bench's clients send it as
	// X-API-Key, to the fake directly and to the facade, which forwards it.
	benchKey = "bench-key"
	// demoUsers and demoSeed make the dataset: DemoUsers(300, 1).
	demoUsers = 300
	demoSeed  = 1
	pageSize  = 25
	bigPage   = 100
	// defaultTTL is the facade's CACHE_TTL when it is not set.
	defaultTTL = 5 * time.Second
	// trimAt bounds the fake's record of received requests during the
	// throughput runs (about a kilobyte per call), so the bench process's
	// heap, which also serves the fake, stays small.
	trimAt = 20_000
	// rssEvery is the VmRSS sampling interval during the highest-concurrency
	// runs.
	rssEvery = 100 * time.Millisecond
	// pprofAddrEnv names the variable the profiling build listens on.
	pprofAddrEnv = "USERSGRAPH_BENCH_PPROF_ADDR"
)

// The measured requests. The facade's selections are the REST items' fields:
// _id → id, id (the login e-mail) → email, name, lastActive, createdAt,
// lastChanged.
const (
	restPath        = "/v2.0/users?limit=25"
	scalarFields    = `id email name lastActive createdAt lastChanged`
	queryScalars25  = `{ users(first: 25) { edges { node { ` + scalarFields + ` } } } }`
	queryCreators25 = `{ users(first: 25) { edges { node { ` + scalarFields + ` createdBy { name } lastChangedBy { name } } } } }`
	queryCreators   = `{ users(first: 100) { edges { node { ` + scalarFields + ` createdBy { name } lastChangedBy { name } } } } }`
)

// Names of the throughput measurements, in the report and the JSON.
const (
	mDirect   = "direct REST"
	mCacheOff = "facade, cache off"
	mCacheOn  = "facade, cache on"
	mCreators = "facade + creators, warm"
)

// pprofOverlay is added to the facade's main package, for the profiling
// build only (go build -overlay), when -cpuprofile-facade is given: it serves
// the CPU and heap profile endpoints on the loopback address the bench
// chooses (the heap one for a look during a soak, with go tool pprof).
const pprofOverlay = `package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("` + pprofAddrEnv + `")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.Handle("/debug/pprof/heap", pprof.Handler("heap"))
	go func() { _ = http.Serve(ln, mux) }()
}
`

// facadeRun is one started facade and what the report keeps of it.
type facadeRun struct {
	name      string
	f         *loadkit.Facade
	pprofAddr string
	rep       *facadeReport
}

// executeGoView runs the measurements with the bench's in-process Go
// clients (the second view, labelled as such) and the cold/warm first:100,
// and fills r.
func executeGoView(ctx context.Context, o options, r *report, env *benchEnv) (*report, error) {
	progress := env.progress
	users := restclienttest.DemoUsers(demoUsers, demoSeed)
	fake, err := restclienttest.NewServer(restclienttest.WithUsers(users), restclienttest.WithAPIKey(benchKey))
	if err != nil {
		return nil, fmt.Errorf("start the upstream fake: %w", err)
	}
	defer fake.Close()
	up := &loadkit.UpstreamCounter{Fake: fake, TrimAt: trimAt}
	tctx, stopTrim := context.WithCancel(ctx)
	defer stopTrim()
	go up.TrimLoop(tctx)

	dir, bin, extra := env.dir, env.bin, env.extra
	start := func(name string, env ...string) (*facadeRun, error) {
		fr := &facadeRun{name: name}
		env = facadeEnv(o, append([]string{"COGNIGY_API_URL=" + fake.URL}, env...))
		if extra != nil {
			addr, err := loadkit.FreeLoopbackAddr()
			if err != nil {
				return nil, err
			}
			fr.pprofAddr = addr
			env = append(env, pprofAddrEnv+"="+addr)
		}
		f, err := loadkit.StartFacade(ctx, bin, dir, env)
		if err != nil {
			return nil, fmt.Errorf("facade (%s): %w", name, err)
		}
		fr.f = f
		fr.rep = &facadeReport{Config: name, PID: f.PID(), Env: publicEnv(f.Env), ReadySeconds: f.Ready.Seconds()}
		if m, err := loadkit.ReadMem(f.PID()); err == nil {
			fr.rep.IdleRSSBytes = m.RSS
		}
		return fr, nil
	}
	off, err := start("cache off", "CACHE_TTL=0")
	if err != nil {
		return nil, err
	}
	defer off.f.Stop()
	on, err := start("cache on")
	if err != nil {
		return nil, err
	}
	defer on.f.Stop()
	r.Facades = []*facadeReport{off.rep, on.rep}
	progress("fake at %s; facades: cache off pid %d at %s, cache on pid %d at %s", fake.URL, off.f.PID(), off.f.Addr, on.f.PID(), on.f.Addr)

	// The requests, each checked once for a complete, correct answer.
	keyHeader := http.Header{"X-Api-Key": {benchKey}}
	direct := loadkit.Request{Method: http.MethodGet, URL: fake.URL + restPath, Header: keyHeader, Check: loadkit.CheckJSONWith(`"items":[`)}
	gql := func(f *loadkit.Facade, q string) loadkit.Request {
		req, _ := loadkit.GraphQL(f.URL(), q, keyHeader) // a constant query always marshals
		return req
	}
	reqs := map[string]loadkit.Request{
		mDirect:   direct,
		mCacheOff: gql(off.f, queryScalars25),
		mCacheOn:  gql(on.f, queryScalars25),
		mCreators: gql(on.f, queryCreators25),
	}
	if err := preflight(ctx, reqs, users); err != nil {
		return nil, err
	}

	top := o.concurrency[len(o.concurrency)-1]
	facadeOf := map[string]*facadeRun{mCacheOff: off, mCacheOn: on, mCreators: on}
	for _, c := range o.concurrency {
		for _, name := range []string{mDirect, mCacheOff, mCacheOn, mCreators} {
			if ctx.Err() != nil {
				return r.interrupted(o), nil
			}
			fr := facadeOf[name]
			progress("%-24s c=%-4d %s warmup, %s measured ...", name, c, o.warmup, o.duration)
			var watch *loadkit.RSSWatch
			var prof chan profileResult
			var before loadkit.Calls
			var other *loadkit.OtherCPU
			atStart := func() {
				before = up.Counts()
				other = loadkit.StartOtherCPU(off.f.PID(), on.f.PID())
				if fr != nil && c == top {
					watch = loadkit.WatchRSS(fr.f.PID(), rssEvery)
					if fr.pprofAddr != "" {
						prof = make(chan profileResult, 1)
						file := fmt.Sprintf("%s-%s.pprof", o.cpuprofile, profileSuffix(name))
						go func() { prof <- collectProfile(ctx, fr.pprofAddr, file, o.duration) }()
					}
				}
			}
			client := loadkit.NewHTTPClient(c)
			res := loadkit.Run(ctx, client, reqs[name], loadkit.RunOptions{Clients: c, Warmup: o.warmup, Duration: o.duration, AtMeasureStart: atStart})
			otherCPU := -1.0
			if other != nil {
				otherCPU = other.Stop()
			}
			client.CloseIdleConnections()
			calls := up.Counts().Sub(before)
			m := newMeasurement(name, c, res, calls, up.Approximate())
			m.OtherCPUPercent = otherCPU
			if fr != nil {
				m.Facade = fr.name
				if watch != nil {
					peak, n := watch.Stop()
					fr.rep.MaxSampledRSSBytes = max(fr.rep.MaxSampledRSSBytes, peak)
					fr.rep.RSSSamples += n
					fr.rep.AtClients = c
					if mem, err := loadkit.ReadMem(fr.f.PID()); err == nil {
						fr.rep.PeakRSSBytes = mem.Peak
					}
				}
				if prof != nil {
					p := <-prof
					if p.err != nil {
						progress("warning: CPU profile of the facade (%s): %v", name, p.err)
					} else {
						r.Profiles = append(r.Profiles, p.file)
					}
				}
				if exit := fr.f.Exited(); exit != "" {
					return nil, fmt.Errorf("the facade (%s) exited during the run: %s; its output:\n%s", fr.name, exit, fr.f.Output.String())
				}
			}
			r.Throughput = append(r.Throughput, m)
			if res.Interrupted {
				return r.interrupted(o), nil
			}
		}
	}
	for _, fr := range []*facadeRun{off, on} {
		fr.f.Stop()
		fr.rep.LogLines = fr.f.Output.Lines()
		fr.rep.LogTail = lastLines(fr.f.Output.String(), 5)
	}
	stopTrim()
	fake.Close()

	cw, err := coldWarm(ctx, o, bin, dir, users, progress)
	if err != nil {
		if ctx.Err() != nil {
			return r.interrupted(o), nil
		}
		return nil, err
	}
	r.ColdWarm = cw
	r.finish(o)
	return r, nil
}

// preflight sends each request once and checks the answer: the facade must
// return the same users as the REST page, with every selected field.
func preflight(ctx context.Context, reqs map[string]loadkit.Request, users []restclienttest.User) error {
	client := loadkit.NewHTTPClient(1)
	defer client.CloseIdleConnections()
	want := slices.Clone(users)
	slices.SortFunc(want, func(a, b restclienttest.User) int { return strings.Compare(a.ID, b.ID) })
	want = want[:pageSize]
	for _, name := range []string{mDirect, mCacheOff, mCacheOn, mCreators} {
		var buf bytes.Buffer
		codes, msg, err := reqs[name].Do(ctx, client, &buf, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(codes) > 0 {
			return fmt.Errorf("%s fails (%s): %s", name, strings.Join(codes, ", "), msg)
		}
		if err := checkPage(name, buf.Bytes(), want, name == mCreators); err != nil {
			return err
		}
	}
	return nil
}

// checkPage compares one answer with the first page of users (by _id).
func checkPage(name string, body []byte, want []restclienttest.User, creators bool) error {
	type node struct {
		ID            string          `json:"id"`
		Email         string          `json:"email"`
		Name          *string         `json:"name"`
		CreatedAt     string          `json:"createdAt"`
		LastChanged   string          `json:"lastChanged"`
		LastActive    *string         `json:"lastActive"`
		CreatedBy     json.RawMessage `json:"createdBy"`
		LastChangedBy json.RawMessage `json:"lastChangedBy"`
	}
	var ids []string
	if name == mDirect {
		var page struct {
			Items []struct {
				ID string `json:"_id"`
			} `json:"items"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
	} else {
		var answer struct {
			Data struct {
				Users struct {
					Edges []struct{ Node node } `json:"edges"`
				} `json:"users"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &answer); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		withCreator := 0
		for _, e := range answer.Data.Users.Edges {
			n := e.Node
			if n.Email == "" || n.CreatedAt == "" || n.LastChanged == "" {
				return fmt.Errorf("%s: user %s lacks a field: %+v", name, n.ID, n)
			}
			if len(n.CreatedBy) > 0 && string(n.CreatedBy) != "null" {
				withCreator++
			}
			ids = append(ids, n.ID)
		}
		if creators && withCreator == 0 {
			return fmt.Errorf("%s: no user has a createdBy", name)
		}
	}
	if len(ids) != len(want) {
		return fmt.Errorf("%s: %d users, want %d", name, len(ids), len(want))
	}
	for i, u := range want {
		if ids[i] != u.ID {
			return fmt.Errorf("%s: user %d is %s, want %s", name, i, ids[i], u.ID)
		}
	}
	return nil
}

// facadeEnv is base, LOG_LEVEL=warn, then -facade-env; a later key replaces
// an earlier one in place.
func facadeEnv(o options, base []string) []string {
	out := slices.Clone(base)
	for _, kv := range append([]string{"LOG_LEVEL=warn"}, o.facadeEnv.Values...) {
		k, _, _ := strings.Cut(kv, "=")
		if i := slices.IndexFunc(out, func(e string) bool { return strings.HasPrefix(e, k+"=") }); i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

// publicEnv is a facade's environment without the address it listens on.
func publicEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != "LISTEN_ADDR" && k != pprofAddrEnv {
			out = append(out, kv)
		}
	}
	return out
}

func profileSuffix(name string) string {
	switch name {
	case mCacheOff:
		return "cache-off"
	case mCacheOn:
		return "cache-on"
	}
	return "creators"
}

type profileResult struct {
	file string
	err  error
}

// collectProfile fetches a CPU profile of d (whole seconds, at least one)
// from the facade's pprof listener and writes it to file.
func collectProfile(ctx context.Context, addr, file string, d time.Duration) profileResult {
	secs := max(1, int(d/time.Second))
	c := &http.Client{Timeout: time.Duration(secs)*time.Second + 30*time.Second, Transport: &http.Transport{Proxy: nil, DialContext: loadkit.LoopbackDialer().DialContext}}
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return profileResult{err: err}
	}
	resp, err := c.Do(req)
	if err != nil {
		return profileResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return profileResult{err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return profileResult{err: fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))}
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return profileResult{err: err}
	}
	return profileResult{file: file}
}

func lastLines(s string, n int) []string {
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	return lines[max(0, len(lines)-n):]
}
