package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/graph/graphtest"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// cacheObserver records operations and graphtest.Response cache lookups.
type cacheObserver struct {
	mu      sync.Mutex
	ops     []httpapi.Operation
	lookups []bool
	batches int
}

func (o *cacheObserver) Operation(_ context.Context, op httpapi.Operation) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ops = append(o.ops, op)
}
func (o *cacheObserver) LoaderBatch(int) { o.mu.Lock(); o.batches++; o.mu.Unlock() }
func (o *cacheObserver) ResponseCacheLookup(hit bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lookups = append(o.lookups, hit)
}

func (o *cacheObserver) hits() (hits, misses int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, h := range o.lookups {
		if h {
			hits++
		} else {
			misses++
		}
	}
	return hits, misses
}

func withResponseCache(ttl time.Duration, obs *cacheObserver) []graphtest.Option {
	return []graphtest.Option{
		graphtest.WithClient(restclient.WithCache(ttl, 1000)),
		graphtest.WithConfig(func(c *httpapi.Config) { c.ResponseCacheTTL, c.Observer = ttl, obs }),
	}
}

const cachedQuery = `query Page { users(first: 10) { nodes { name createdBy { name } lastChangedBy { name } } } }`

func TestARepeatedQueryIsAnsweredFromTheResponseCache(t *testing.T) {
	obs := &cacheObserver{}
	other := []restclienttest.User{{ID: restclienttest.NewID(9), Name: "Only in the other tenant"}}
	e := graphtest.Setup(t, append(withResponseCache(time.Minute, obs), graphtest.WithFake(restclienttest.WithTenant("other-key", other)))...)

	first := e.Query(t, cachedQuery, nil, graphtest.APIKey) // first sight: not kept
	first.MustData(t, &struct{}{})
	e.Query(t, cachedQuery, nil, graphtest.APIKey).MustData(t, &struct{}{}) // seen before: kept
	calls := e.Fake.TotalCalls()
	second := e.Query(t, cachedQuery, nil, graphtest.APIKey)
	if string(second.Data) != string(first.Data) {
		t.Fatalf("the repeat answered differently:\n%s\n%s", graphtest.Short(first.Raw), graphtest.Short(second.Raw))
	}
	// The first answer says what it spent; the repeat spent nothing.
	if est, spent := upstreamCalls(t, first); est != 21 || spent == 0 {
		t.Fatalf("the first answer reports %d estimated, %d spent calls", est, spent)
	}
	if est, spent := upstreamCalls(t, second); est != 21 || spent != 0 {
		t.Fatalf("the repeat reports %d estimated, %d spent calls; want 21 and 0", est, spent)
	}
	if n := e.Fake.TotalCalls(); n != calls {
		t.Fatalf("the repeat cost %d upstream calls", n-calls)
	}
	if hits, misses := obs.hits(); hits != 1 || misses != 2 {
		t.Fatalf("%d hits, %d misses; want 1 and 2", hits, misses)
	}
	if obs.batches != 2 {
		t.Fatalf("%d loader batches, want 2: the repeat was executed", obs.batches)
	}
	// A hit still counts as the named operation, answered.
	if last := obs.ops[len(obs.ops)-1]; last.Name != "Page" || last.Outcome != "ok" {
		t.Fatalf("the hit was observed as %+v", last)
	}

	// Another credential never gets this answer: it sees its own tenant.
	var theirs struct {
		Users struct{ Nodes []struct{ Name string } }
	}
	e.Query(t, cachedQuery, nil, graphtest.Header{Name: restclient.HeaderAPIKey, Value: "other-key"}).MustData(t, &theirs)
	if len(theirs.Users.Nodes) != 1 || theirs.Users.Nodes[0].Name != "Only in the other tenant" {
		t.Fatalf("the other credential saw %+v", theirs)
	}
	// Neither does another query, or the same one asking for another
	// media type.
	e.Query(t, `query Page { users(first: 9) { nodes { name } } }`, nil, graphtest.APIKey)
	e.Query(t, cachedQuery, nil, graphtest.APIKey, graphtest.Header{Name: "Accept", Value: "application/graphql-response+json"})
	if hits, misses := obs.hits(); hits != 1 || misses != 5 {
		t.Fatalf("%d hits, %d misses; want 1 and 5", hits, misses)
	}
}

func TestAnswersWithErrorsAreNotKept(t *testing.T) {
	obs := &cacheObserver{}
	e := graphtest.Setup(t, withResponseCache(time.Minute, obs)...)
	// Failed twice: the second failure is of a request seen before, whose
	// answer would be kept if it had none.
	for range 2 {
		e.Fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 500, Times: 1})
		if r := e.Query(t, cachedQuery, nil, graphtest.APIKey); len(r.Errors) == 0 {
			t.Fatalf("the injected 500 gave no error: %s", graphtest.Short(r.Raw))
		}
	}
	e.Query(t, cachedQuery, nil, graphtest.APIKey).MustData(t, &struct{}{})
	e.Query(t, cachedQuery, nil, graphtest.APIKey).MustData(t, &struct{}{})
	if hits, misses := obs.hits(); hits != 1 || misses != 3 {
		t.Fatalf("%d hits, %d misses; want the failed answer not kept (1 hit, 3 misses)", hits, misses)
	}
	// Nor is an error of the caller's.
	for range 2 {
		if r := e.Query(t, `{ users(first: 101) { totalCount } }`, nil, graphtest.APIKey); len(r.Errors) == 0 {
			t.Fatal("first: 101 was accepted")
		}
	}
	if hits, _ := obs.hits(); hits != 1 {
		t.Fatalf("an error answer was served from the cache")
	}
}

// The graphtest.Response cache serves nothing older than the upstream cache would:
// an answer built from cached data expires with that data, not a TTL after
// the answer was made.
func TestCachedAnswersExpireWithTheirData(t *testing.T) {
	obs := &cacheObserver{}
	const ttl = 400 * time.Millisecond
	e := graphtest.Setup(t, withResponseCache(ttl, obs)...)
	// Both queries make the same list call: the second is built from the
	// data the first fetched.
	e.Query(t, `{ users(first: 10) { nodes { name } } }`, nil, graphtest.APIKey).MustData(t, &struct{}{})
	fetched := time.Now()
	time.Sleep(ttl / 2)
	const q = `{ users(first: 10) { nodes { name email } } }`
	e.Query(t, q, nil, graphtest.APIKey).MustData(t, &struct{}{})
	if n := e.Fake.TotalCalls(); n != 1 {
		t.Fatalf("%d upstream calls, want the second query built from the first's data", n)
	}
	time.Sleep(time.Until(fetched.Add(ttl + 50*time.Millisecond)))
	e.Query(t, q, nil, graphtest.APIKey).MustData(t, &struct{}{})
	if hits, _ := obs.hits(); hits != 0 {
		t.Fatalf("an answer was served after the TTL of the data in it")
	}
	if n := e.Fake.TotalCalls(); n != 2 {
		t.Fatalf("%d upstream calls, want the data fetched again", n)
	}
}

func TestNoCacheAsksAgain(t *testing.T) {
	obs := &cacheObserver{}
	e := graphtest.Setup(t, withResponseCache(time.Minute, obs)...)
	e.Query(t, cachedQuery, nil, graphtest.APIKey)
	e.Query(t, cachedQuery, nil, graphtest.APIKey, graphtest.Header{Name: "Cache-Control", Value: "no-cache"})
	if obs.batches != 2 {
		t.Fatalf("Cache-Control: no-cache was answered from the graphtest.Response cache (%d executions)", obs.batches)
	}
}

// A hit runs no GraphQL operation and has no span of its own: the
// request's span, which the server's HTTP tracing starts, says it was a
// hit and of which operation; a miss says it was not.
func TestTheRequestSpanSaysWhetherTheResponseCacheAnswered(t *testing.T) {
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(graphtest.TestKey))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	c, err := restclient.New(fake.URL, restclient.WithCache(time.Minute, 100))
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	h := httpapi.NewHandler(httpapi.Config{Upstream: c, ResponseCacheTTL: time.Minute})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tp.Tracer("test").Start(r.Context(), "POST /graphql")
		defer span.End()
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	defer srv.Close()
	e := &graphtest.Env{Fake: fake, Srv: srv}
	for range 3 {
		e.Query(t, cachedQuery, nil, graphtest.APIKey).MustData(t, &struct{}{})
	}
	var got []string
	for _, s := range spans.Ended() {
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.String()
		}
		got = append(got, fmt.Sprintf("hit=%s op=%s", attrs["usersgraph.response_cache.hit"], attrs["graphql.operation.name"]))
	}
	if s := strings.Join(got, ", "); s != "hit=false op=, hit=false op=, hit=true op=Page" {
		t.Fatalf("request spans: %s", s)
	}
}

// Identical queries arriving while the first executes get its answer,
// with every cache off; with sharing off each executes.
func TestIdenticalQueriesInFlightShareOneExecution(t *testing.T) {
	for _, share := range []bool{true, false} {
		t.Run(fmt.Sprintf("sharing %v", share), func(t *testing.T) {
			obs := &cacheObserver{}
			e := graphtest.Setup(t, graphtest.WithFake(restclienttest.WithLatency(300*time.Millisecond)),
				graphtest.WithConfig(func(c *httpapi.Config) { c.Observer, c.NoInFlightSharing = obs, !share }))
			const n = 10
			answers := make([]graphtest.Response, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { answers[i] = e.Query(t, cachedQuery, nil, graphtest.APIKey) })
			}
			wg.Wait()
			spentNothing := 0
			for _, a := range answers {
				a.MustData(t, &struct{}{})
				if string(a.Data) != string(answers[0].Data) {
					t.Fatalf("answers differ:\n%s\n%s", graphtest.Short(a.Raw), graphtest.Short(answers[0].Raw))
				}
				if _, spent := upstreamCalls(t, a); spent == 0 {
					spentNothing++
				}
			}
			if !share {
				if obs.batches != n || spentNothing != 0 {
					t.Fatalf("without sharing: %d executions (loader batches), %d answers that spent nothing; want %d and 0", obs.batches, spentNothing, n)
				}
				return
			}
			// All ten arrive within the first call's 300 ms: at most a
			// straggler on a loaded machine executes on its own.
			if obs.batches > 2 || spentNothing != n-obs.batches {
				t.Fatalf("with sharing: %d executions (loader batches), %d answers that spent nothing, of %d", obs.batches, spentNothing, n)
			}
		})
	}
}

// TestAWaiterThatRunsOnItsOwnKeepsItsDeadline: a request that waited for
// an identical one, whose answer could not be shared (it ran out of time
// on a slow upstream), executes on its own within what is left of its
// REQUEST_TIMEOUT, not a fresh one: its caller waits about the timeout,
// not the time waited plus the timeout (1.7 s here).
func TestAWaiterThatRunsOnItsOwnKeepsItsDeadline(t *testing.T) {
	const timeout = time.Second
	e := graphtest.Setup(t, graphtest.WithFake(restclienttest.WithLatency(5*time.Second)),
		graphtest.WithConfig(func(c *httpapi.Config) { c.RequestTimeout = timeout }))
	leader := make(chan struct{})
	go func() {
		defer close(leader)
		e.Query(t, cachedQuery, nil, graphtest.APIKey)
	}()
	time.Sleep(300 * time.Millisecond) // the leader is executing: this one waits for it
	start := time.Now()
	r := e.Query(t, cachedQuery, nil, graphtest.APIKey)
	took := time.Since(start)
	<-leader
	if len(r.Errors) == 0 {
		t.Errorf("the waiter got an answer from a 5 s upstream within its 1 s timeout: %+v", r)
	}
	if took > timeout+350*time.Millisecond {
		t.Errorf("the waiter answered after %v; its REQUEST_TIMEOUT is %v", took, timeout)
	}
}
