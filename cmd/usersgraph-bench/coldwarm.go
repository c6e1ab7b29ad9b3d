package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// roundTripRecorder is a pass-through in front of the slow fake that notes
// when each upstream request arrived and when its answer was sent, so that
// the number of sequential round trips of a GraphQL request can be counted.
type roundTripRecorder struct {
	URL string // base URL including "/new", for COGNIGY_API_URL

	srv   *http.Server
	proxy *httputil.ReverseProxy

	mu     sync.Mutex
	spans  []span
	active int // requests being proxied
}

type span struct{ start, end time.Time }

func newRecorder(fakeURL string) (*roundTripRecorder, error) {
	target, err := url.Parse(fakeURL)
	if err != nil {
		return nil, err
	}
	target.Path = "" // requests already carry /new
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rec := &roundTripRecorder{URL: "http://" + ln.Addr().String() + "/new"}
	rec.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         loadkit.LoopbackDialer().DialContext,
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 512,
		},
	}
	rec.srv = &http.Server{Handler: rec, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rec.srv.Serve(ln) }()
	return rec, nil
}

func (rec *roundTripRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec.mu.Lock()
	rec.active++
	rec.mu.Unlock()
	rec.proxy.ServeHTTP(w, r)
	end := time.Now()
	rec.mu.Lock()
	rec.spans = append(rec.spans, span{start, end})
	rec.active--
	rec.mu.Unlock()
}

// settle waits, for two seconds at most, until no request is being
// proxied. The facade may hold a whole answer before the proxy's handler
// returns (when the last piece of the body went straight to the socket),
// and so answer its own caller before the span is noted; on a busy
// machine the GraphQL answer can arrive first.
func (rec *roundTripRecorder) settle() {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		rec.mu.Lock()
		n := rec.active
		rec.mu.Unlock()
		if n == 0 {
			return
		}
	}
}

func (rec *roundTripRecorder) reset() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.spans = nil
}

// rounds is the longest chain of upstream requests each of which started
// only after the previous one had been answered: the sequential round trips.
// It also returns how many requests passed, and, for a GraphQL request sent
// at t0 and answered at t1, the facade's own time outside its upstream
// calls: before the first one started, between calls (no call in flight),
// and after the last one was answered.
func (rec *roundTripRecorder) rounds(t0, t1 time.Time) (depth, n int, phases facadePhases) {
	rec.settle()
	rec.mu.Lock()
	spans := slices.Clone(rec.spans)
	rec.mu.Unlock()
	slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
	d := make([]int, len(spans))
	for i, s := range spans {
		d[i] = 1
		for j := range i {
			if !spans[j].end.After(s.start) {
				d[i] = max(d[i], d[j]+1)
			}
		}
		depth = max(depth, d[i])
	}
	if len(spans) == 0 {
		return 0, 0, facadePhases{}
	}
	var gaps time.Duration
	reach := spans[0].end
	for _, s := range spans[1:] {
		if s.start.After(reach) {
			gaps += s.start.Sub(reach)
		}
		if s.end.After(reach) {
			reach = s.end
		}
	}
	phases = facadePhases{
		BeforeMs:  loadkit.Ms(spans[0].start.Sub(t0)),
		BetweenMs: loadkit.Ms(gaps),
		AfterMs:   loadkit.Ms(t1.Sub(reach)),
	}
	return depth, len(spans), phases
}

func (rec *roundTripRecorder) Close() {
	_ = rec.srv.Close()
	rec.proxy.Transport.(*http.Transport).CloseIdleConnections()
}

// coldWarm measures users(first: 100) with creators over a fake that adds
// o.upstreamLatency to every call, with the default cache: on a fresh facade
// (cold cache), then again within the TTL (warm), each trial on new
// processes; after the last trial, once more once the TTL has passed (cold
// cache, warm process).
//
// Each trial runs two facades side by side: one connected straight to the
// fake, whose wall times and call counts are the figures, and one behind the
// round-trip recorder, which counts the sequential round trips (its own wall
// times carry the recorder's small overhead and are kept for reference).
func coldWarm(ctx context.Context, o options, bin *loadkit.Binary, dir string, users []restclienttest.User, progress func(string, ...any)) (*coldWarmReport, error) {
	fake, err := restclienttest.NewServer(restclienttest.WithUsers(users), restclienttest.WithAPIKey(benchKey), restclienttest.WithLatency(o.upstreamLatency))
	if err != nil {
		return nil, fmt.Errorf("start the slow upstream fake: %w", err)
	}
	defer fake.Close()
	rec, err := newRecorder(fake.URL)
	if err != nil {
		return nil, err
	}
	defer rec.Close()

	out := &coldWarmReport{UpstreamLatencyMs: loadkit.Ms(o.upstreamLatency), Query: queryCreators}
	progress("first:100 with creators: timing the upstream's own round trips ...")
	if out.ListRoundTripMs, out.LookupRoundTripMs, err = upstreamRoundTrips(ctx, fake.URL, users[0].ID); err != nil {
		return nil, err
	}
	other := loadkit.StartOtherCPU()
	for trial := 1; trial <= o.coldTrials; trial++ {
		progress("first:100 with creators, upstream +%s: trial %d of %d on fresh facades ...", o.upstreamLatency, trial, o.coldTrials)
		t, expired, err := coldWarmTrial1(ctx, o, bin, dir, fake, rec, trial == o.coldTrials, progress)
		if err != nil {
			return nil, fmt.Errorf("first:100 trial %d: %w", trial, err)
		}
		t.Trial = trial
		out.Trials = append(out.Trials, t)
		if expired != nil {
			out.Expired = expired
		}
	}
	// The facades of the trials have exited by now: their CPU counts as
	// "other" here, which overstates the disturbance a little.
	out.OtherCPUPercent = other.Stop()
	out.summarise()
	return out, nil
}

// probe is a started facade with a client connected to it.
type probe struct {
	f      *loadkit.Facade
	client *http.Client
	req    loadkit.Request
	rec    *roundTripRecorder // nil: straight to the fake
}

func (p *probe) close() error {
	p.client.CloseIdleConnections()
	exit := p.f.Exited()
	p.f.Stop()
	if exit != "" {
		return fmt.Errorf("the facade exited during the run: %s; its output:\n%s", exit, p.f.Output.String())
	}
	return nil
}

// measure sends the query once on the direct facade and once on the
// recorded one and combines the two.
func measure(ctx context.Context, direct, recorded *probe, fake *restclienttest.Server) (single, error) {
	s, err := once(ctx, direct, fake)
	if err != nil {
		return s, err
	}
	r, err := once(ctx, recorded, fake)
	if err != nil {
		return s, err
	}
	s.RoundTrips, s.Proxied, s.RecordedWallMs, s.Phases = r.RoundTrips, r.Proxied, r.WallMs, r.Phases
	return s, nil
}

func coldWarmTrial1(ctx context.Context, o options, bin *loadkit.Binary, dir string, fake *restclienttest.Server, rec *roundTripRecorder, last bool, progress func(string, ...any)) (t coldWarmTrial, expired *single, err error) {
	start := func(base string, r *roundTripRecorder) (*probe, error) {
		f, err := loadkit.StartFacade(ctx, bin, dir, facadeEnv(o, []string{"COGNIGY_API_URL=" + base}))
		if err != nil {
			return nil, fmt.Errorf("facade (first:100): %w", err)
		}
		req, _ := loadkit.GraphQL(f.URL(), queryCreators, http.Header{"X-Api-Key": {benchKey}}) // a constant query always marshals
		p := &probe{f: f, client: loadkit.NewHTTPClient(1), req: req, rec: r}
		// Open the client's connection first: the figure is the query's.
		if err := get(ctx, p.client, "http://"+f.Addr+"/healthz"); err != nil {
			_ = p.close()
			return nil, err
		}
		return p, nil
	}
	direct, err := start(fake.URL, nil)
	if err != nil {
		return t, nil, err
	}
	recorded, err := start(rec.URL, rec)
	if err != nil {
		_ = direct.close()
		return t, nil, err
	}
	defer func() {
		for _, p := range []*probe{direct, recorded} {
			if cerr := p.close(); err == nil {
				err = cerr
			}
		}
	}()
	t.PID = direct.f.PID()
	if t.Cold, err = measure(ctx, direct, recorded, fake); err != nil {
		return t, nil, err
	}
	if t.Warm, err = measure(ctx, direct, recorded, fake); err != nil {
		return t, nil, err
	}
	if !last {
		return t, nil, nil
	}
	wait := defaultTTL + 500*time.Millisecond
	progress("waiting %s for the facades' caches to expire ...", wait)
	if loadkit.Wait(ctx, time.Now().Add(wait)); ctx.Err() != nil {
		return t, nil, ctx.Err()
	}
	e, err := measure(ctx, direct, recorded, fake)
	if err != nil {
		return t, nil, err
	}
	return t, &e, nil
}

// once sends p's query and measures it, with the upstream calls it caused.
func once(ctx context.Context, p *probe, fake *restclienttest.Server) (single, error) {
	fake.ResetCounts()
	if p.rec != nil {
		p.rec.reset()
	}
	var buf bytes.Buffer
	t0 := time.Now()
	codes, msg, err := p.req.Do(ctx, p.client, &buf, nil)
	t1 := time.Now()
	wall := t1.Sub(t0)
	if err != nil {
		return single{}, err
	}
	if len(codes) > 0 {
		return single{}, fmt.Errorf("the query fails (%s): %s", strings.Join(codes, ", "), msg)
	}
	var answer struct {
		Data struct {
			Users struct {
				Edges []json.RawMessage `json:"edges"`
			} `json:"users"`
		} `json:"data"`
	}
	if err := json.Unmarshal(buf.Bytes(), &answer); err != nil || len(answer.Data.Users.Edges) != bigPage {
		return single{}, fmt.Errorf("want %d users, got %d (%v)", bigPage, len(answer.Data.Users.Edges), err)
	}
	s := single{WallMs: loadkit.Ms(wall), UpstreamCalls: fake.TotalCalls(), ListCalls: fake.Calls(restclienttest.RouteList), GetCalls: fake.Calls(restclienttest.RouteGet)}
	if p.rec != nil {
		s.RoundTrips, s.Proxied, s.Phases = p.rec.rounds(t0, t1)
	}
	return s, nil
}

// upstreamRoundTrips times, straight against the slow fake, the two calls
// a cold facade makes in sequence: the list page of 100, then one lookup by
// id (the list endpoint with filter=<id>, the loader's default route). Each
// is sent on a new connection, as a fresh facade's are, five times; the
// medians are the "upstream round trips" of the cold target.
func upstreamRoundTrips(ctx context.Context, fakeURL, id string) (list, lookup float64, err error) {
	time1 := func(u string) ([]float64, error) {
		var ms []float64
		for range 5 {
			c := loadkit.NewHTTPClient(1)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("X-Api-Key", benchKey)
			req.Header.Set("Accept", "application/json")
			t0 := time.Now()
			resp, err := c.Do(req)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ms = append(ms, loadkit.Ms(time.Since(t0)))
			c.CloseIdleConnections()
			if err != nil {
				return nil, err
			}
			if resp.StatusCode != http.StatusOK {
				return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
			}
		}
		return ms, nil
	}
	l, err := time1(fakeURL + "/v2.0/users?limit=100&sort=_id:asc")
	if err != nil {
		return 0, 0, fmt.Errorf("time the upstream list call: %w", err)
	}
	k, err := time1(fakeURL + "/v2.0/users?limit=100&filter=" + url.QueryEscape(id))
	if err != nil {
		return 0, 0, fmt.Errorf("time the upstream lookup call: %w", err)
	}
	return median(l), median(k), nil
}

func get(ctx context.Context, c *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}
