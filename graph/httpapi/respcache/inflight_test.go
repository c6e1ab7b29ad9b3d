package respcache

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gated stands for the GraphQL handler: every execution waits for open to
// be closed, then answers with its number, and keeps its answer when keep
// says so; panics when boom is set.
type gated struct {
	open  chan struct{}
	calls atomic.Int32
	keep  bool
	boom  bool
}

func (g *gated) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := g.calls.Add(1)
	<-g.open
	if g.boom {
		panic(http.ErrAbortHandler)
	}
	if g.keep {
		Keep(r.Context(), "Users")
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"data":{"n":` + string(rune('0'+n)) + `},"extensions":{"upstreamCalls":{"estimated":1,"spent":1}}}`))
}

// share runs n identical requests at once through the middleware with
// in-flight sharing and no cache; the gate opens once the other n-1 wait
// for the first.
func share(t *testing.T, g *gated, n int) (bodies []string, shared int) {
	t.Helper()
	var waiting sync.WaitGroup
	waiting.Add(n - 1)
	var sharedN atomic.Int32
	cfg, _ := testConfig(0, 1<<10)
	cfg.ShareInFlight, cfg.MaxShared = true, 1<<16
	cfg.Stored = func(b []byte) []byte { return []byte(strings.Replace(string(b), `"spent":1`, `"spent":0`, 1)) }
	cfg.joined = waiting.Done
	cfg.OnShared = func(*http.Request, *Entry, time.Duration) { sharedN.Add(1) }
	h := Middleware(nil, cfg, g)
	out := make([]string, n)
	var all sync.WaitGroup
	all.Go(func() { out[0] = do(t, h, "k", `{"query":"{ a }"}`).Body.String() })
	for g.calls.Load() == 0 {
		time.Sleep(time.Millisecond) // the first request is executing
	}
	for i := 1; i < n; i++ {
		all.Go(func() { out[i] = do(t, h, "k", `{"query":"{ a }"}`).Body.String() })
	}
	waiting.Wait()
	close(g.open)
	all.Wait()
	return out, int(sharedN.Load())
}

func TestIdenticalRequestsInFlightShareOneExecution(t *testing.T) {
	g := &gated{open: make(chan struct{}), keep: true}
	bodies, shared := share(t, g, 8)
	if g.calls.Load() != 1 || shared != 7 {
		t.Fatalf("%d executions and %d shared answers for 8 identical requests at once; want 1 and 7", g.calls.Load(), shared)
	}
	if !strings.Contains(bodies[0], `"spent":1`) {
		t.Errorf("the executing request answered %s", bodies[0])
	}
	for _, b := range bodies[1:] {
		if b != strings.Replace(bodies[0], `"spent":1`, `"spent":0`, 1) {
			t.Fatalf("a waiting request got %s; the executing one %s", b, bodies[0])
		}
	}
}

func TestAnAnswerNotKeptIsNotShared(t *testing.T) {
	g := &gated{open: make(chan struct{}), keep: false}
	bodies, shared := share(t, g, 5)
	if g.calls.Load() != 5 || shared != 0 {
		t.Fatalf("%d executions, %d shared: an answer with errors was shared", g.calls.Load(), shared)
	}
	seen := map[string]bool{}
	for _, b := range bodies {
		seen[b] = true
	}
	if len(seen) != 5 {
		t.Fatalf("want five answers of their own, got %v", bodies)
	}
}

func TestWhenTheFirstRequestFailsTheOthersRunOnTheirOwn(t *testing.T) {
	g := &gated{open: make(chan struct{}), keep: true, boom: true}
	var waiting sync.WaitGroup
	waiting.Add(3)
	cfg, _ := testConfig(0, 1<<10)
	cfg.ShareInFlight, cfg.MaxShared, cfg.joined = true, 1<<16, waiting.Done
	mw := Middleware(nil, cfg, g)
	serve := func() {
		defer func() { _ = recover() }() // as net/http recovers http.ErrAbortHandler
		do(t, mw, "k", `{"query":"{ a }"}`)
	}
	var all sync.WaitGroup
	all.Go(serve)
	for g.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for range 3 {
		all.Go(serve)
	}
	waiting.Wait()
	close(g.open) // every execution panics from here on
	if !returnsWithin(&all, 10*time.Second) {
		t.Fatal("requests waiting for a request that panicked never returned")
	}
	if g.calls.Load() != 4 {
		t.Fatalf("%d executions: the three waiting requests should each have run after the first failed", g.calls.Load())
	}
}

func TestNoCacheRequestsDoNotWaitForOthers(t *testing.T) {
	g := &gated{open: make(chan struct{}), keep: true}
	cfg, _ := testConfig(0, 1<<10)
	cfg.ShareInFlight, cfg.MaxShared = true, 1<<16
	h := Middleware(nil, cfg, g)
	var all sync.WaitGroup
	for range 3 {
		all.Go(func() { do(t, h, "k", `{"query":"{ a }"}`, "Cache-Control", "no-cache") })
	}
	for deadline := time.Now().Add(5 * time.Second); g.calls.Load() < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // all three must execute: none waits
			close(g.open)
			t.Fatalf("%d of 3 no-cache requests executed: the others waited for them", g.calls.Load())
		}
	}
	close(g.open)
	all.Wait()
}

// A waiting request whose time runs out is answered as next answers any
// request out of time, not with an empty body.
func TestAWaitingRequestOutOfTimeIsAnsweredByTheHandler(t *testing.T) {
	open := make(chan struct{})
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-open:
			Keep(r.Context(), "Users")
			_, _ = w.Write([]byte(`{"data":{}}`))
		case <-r.Context().Done():
			w.WriteHeader(http.StatusGatewayTimeout)
			_, _ = w.Write([]byte(`{"errors":[{"message":"out of time"}]}`))
		}
	})
	joined := make(chan struct{})
	cfg, _ := testConfig(0, 1<<10)
	cfg.ShareInFlight, cfg.MaxShared, cfg.joined = true, 1<<16, func() { close(joined) }
	mw := Middleware(nil, cfg, h)
	var first sync.WaitGroup
	first.Go(func() { do(t, mw, "k", `{"query":"{ a }"}`) })
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ a }"}`)).WithContext(ctx)
	r.Header.Set("X-API-Key", "k")
	w := httptest.NewRecorder()
	mw.ServeHTTP(w, r)
	<-joined
	if w.Code != http.StatusGatewayTimeout || !strings.Contains(w.Body.String(), "out of time") {
		t.Fatalf("the waiting request out of time got %d %q", w.Code, w.Body.String())
	}
	close(open)
	first.Wait()
}

// slowWriter is a caller that does not read: its writes block until
// unblocked.
type slowWriter struct {
	*httptest.ResponseRecorder
	unblock chan struct{}
}

func (w slowWriter) Write(b []byte) (int, error) {
	<-w.unblock
	return w.ResponseRecorder.Write(b)
}

// Waiting requests get the answer as soon as it is complete, not once the
// first request's own caller has read it.
func TestWaitersDoNotWaitForASlowReader(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		Keep(r.Context(), "Users")
		_, _ = w.Write([]byte(`{"data":{"users":[]}}`))
	})
	var waiting sync.WaitGroup
	waiting.Add(3)
	cfg, _ := testConfig(0, 1<<10)
	cfg.ShareInFlight, cfg.joined = true, waiting.Done // MaxShared 0: no bound
	gate, started := make(chan struct{}), make(chan struct{})
	var leading atomic.Bool
	mw := Middleware(nil, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if leading.CompareAndSwap(false, true) {
			close(started)
			<-gate // the first request executes once the others wait
		}
		h.ServeHTTP(w, r)
	}))
	slow := slowWriter{httptest.NewRecorder(), make(chan struct{})}
	var first sync.WaitGroup
	first.Go(func() {
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ a }"}`))
		r.Header.Set("X-API-Key", "k")
		mw.ServeHTTP(slow, r)
	})
	<-started // the slow caller's request leads
	var others sync.WaitGroup
	bodies := make([]string, 3)
	for i := range 3 {
		others.Go(func() { bodies[i] = do(t, mw, "k", `{"query":"{ a }"}`).Body.String() })
	}
	waiting.Wait()
	close(gate)
	if !returnsWithin(&others, 10*time.Second) {
		close(slow.unblock)
		t.Fatal("the waiting requests were held until the first request's caller read its answer")
	}
	close(slow.unblock)
	first.Wait()
	if calls.Load() != 1 || bodies[0] != `{"data":{"users":[]}}` || slow.Body.String() != bodies[0] {
		t.Fatalf("%d executions; answers %q, first %q", calls.Load(), bodies, slow.Body.String())
	}
}

// An answer too large to share frees its waiters at once: they run on their
// own while the first request is still writing.
func TestAnAnswerTooLargeToShareFreesItsWaitersAtOnce(t *testing.T) {
	var calls atomic.Int32
	rest := make(chan struct{})
	var waiting sync.WaitGroup
	waiting.Add(2)
	gate := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-gate
			Keep(r.Context(), "Users")
			_, _ = w.Write([]byte(strings.Repeat("x", 100))) // over MaxShared
			<-rest                                           // still writing
			return
		}
		_, _ = w.Write([]byte(`{"data":{}}`))
	})
	cfg, _ := testConfig(0, 1<<10)
	cfg.ShareInFlight, cfg.MaxShared, cfg.joined = true, 10, waiting.Done
	mw := Middleware(nil, cfg, h)
	var first sync.WaitGroup
	first.Go(func() { do(t, mw, "k", `{"query":"{ a }"}`) })
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	var others sync.WaitGroup
	for range 2 {
		others.Go(func() { do(t, mw, "k", `{"query":"{ a }"}`) })
	}
	waiting.Wait()
	close(gate)
	if !returnsWithin(&others, 10*time.Second) {
		t.Fatal("the waiters of an answer too large to share waited for it to be written")
	}
	close(rest)
	first.Wait()
	if calls.Load() != 3 {
		t.Fatalf("%d executions, want 3", calls.Load())
	}
}

// A second status (a panic recovered after the answer began) makes the
// answer one that is neither shared nor kept.
func TestAnAnswerWithTwoStatusesIsNotKept(t *testing.T) {
	b := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Keep(r.Context(), "Users")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"data":{}}`))
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"errors":[{"message":"internal server error"}]}`))
	})
	cfg, _ := testConfig(time.Minute, 1<<10)
	c := New(1<<20, 1<<16)
	h := Middleware(c, cfg, b)
	for range 3 {
		do(t, h, "k", `{"query":"{ a }"}`)
	}
	if c.Len() != 0 {
		t.Fatalf("an answer with a second status was kept: %d entries", c.Len())
	}
}

// returnsWithin reports whether every goroutine of wg returns within d.
func returnsWithin(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
