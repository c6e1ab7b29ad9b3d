package redisstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/usersgraph/usersgraph/graph/graphtest"
	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/redisstore"
	"github.com/usersgraph/usersgraph/redisstore/redisstoretest"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

const (
	keyA = "tenant-a-key"
	keyB = "tenant-b-key"
)

// sharing is the store's command timeout in tests of what replicas share:
// a loaded test machine can pause a process longer than DefaultTimeout,
// and these tests are not about a failing Redis.
var sharing = redisstore.WithTimeout(5 * time.Second)

// replica is one facade instance wired to the shared store, as
// cmd/usersgraph wires it when REDIS_URL is set.
func replica(t *testing.T, url, upstream string, opts ...restclient.Option) *httptest.Server {
	t.Helper()
	store, err := redisstore.Open(t.Context(), url, sharing)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hashKey, err := store.HashKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c, err := restclient.New(upstream, append([]restclient.Option{
		restclient.WithCache(time.Minute, 100),
		restclient.WithSharedCache(store.Cache(), hashKey),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Upstream: c, PersistedQueries: store.PersistedQueries(nil), RequestTimeout: 2 * time.Second}))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func ask(t *testing.T, srv *httptest.Server, apiKey string, body map[string]any) answer {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(restclient.HeaderAPIKey, apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

func tenants(t *testing.T) *restclienttest.Server {
	t.Helper()
	a := restclienttest.DemoUsers(30, 1)
	b := restclienttest.DemoUsers(30, 2)
	for i := range b {
		b[i].Name = "Tenant B " + b[i].Name
	}
	fake, err := restclienttest.NewServer(restclienttest.WithTenant(keyA, a), restclienttest.WithTenant(keyB, b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	return fake
}

func TestTwoReplicasShareOneCacheButNeverAcrossCredentials(t *testing.T) {
	url := redisstoretest.Start(t)
	fake := tenants(t)
	one, two := replica(t, url, fake.URL), replica(t, url, fake.URL)
	const q = `{ users(first: 5) { totalCount nodes { id name } } }`

	fromOne := ask(t, one, keyA, map[string]any{"query": q})
	if len(fromOne.Errors) > 0 || fake.TotalCalls() != 1 {
		t.Fatalf("first replica: %d calls, %+v", fake.TotalCalls(), fromOne.Errors)
	}
	fromTwo := ask(t, two, keyA, map[string]any{"query": q})
	if fake.TotalCalls() != 1 {
		t.Fatalf("the second replica called the upstream again: %d calls", fake.TotalCalls())
	}
	if string(fromTwo.Data) != string(fromOne.Data) {
		t.Fatalf("the replicas disagree:\n%s\n%s", fromOne.Data, fromTwo.Data)
	}
	otherTenant := ask(t, two, keyB, map[string]any{"query": q})
	if fake.TotalCalls() != 2 {
		t.Fatalf("another credential was answered from the cache: %d calls", fake.TotalCalls())
	}
	if string(otherTenant.Data) == string(fromOne.Data) {
		t.Fatal("tenant B sees tenant A's users")
	}
	wrong := ask(t, one, "wrong-key", map[string]any{"query": q})
	if len(wrong.Errors) == 0 || wrong.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
		t.Fatalf("a wrong key was answered: %s", wrong.Data)
	}
}

func TestTwoReplicasSpendOneRateBudget(t *testing.T) {
	url := redisstoretest.Start(t)
	fake := tenants(t)
	store, err := redisstore.Open(t.Context(), url, sharing)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// One request a minute, in bursts of 3: three requests go at once,
	// then the budget is spent for every replica.
	budget := func() restclient.Option { return restclient.WithSharedRateLimit(store.RateLimit(1.0/60, 3)) }
	one, two := replica(t, url, fake.URL, budget()), replica(t, url, fake.URL, budget())
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for i := range 6 {
		srv := one
		if i%2 == 1 {
			srv = two
		}
		wg.Go(func() {
			// Distinct filters: no cache or coalescing can save a call.
			a := ask(t, srv, keyA, map[string]any{"query": fmt.Sprintf(`{ users(filter: "x%d") { totalCount } }`, i)})
			code := "ok"
			if len(a.Errors) > 0 {
				code, _ = a.Errors[0].Extensions["code"].(string)
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes["ok"] != 3 || codes["RATE_LIMITED"] != 3 || fake.TotalCalls() != 3 {
		t.Fatalf("outcomes %v with %d upstream calls; want 3 ok, 3 RATE_LIMITED, 3 calls", codes, fake.TotalCalls())
	}
}

func TestAQueryPersistedOnOneReplicaRunsOnTheOther(t *testing.T) {
	url := redisstoretest.Start(t)
	fake := tenants(t)
	one, two := replica(t, url, fake.URL), replica(t, url, fake.URL)
	q := `{ users(first: 1) { totalCount } }`
	sum := sha256.Sum256([]byte(q))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	if a := ask(t, two, keyA, map[string]any{"extensions": ext}); len(a.Errors) != 1 || a.Errors[0].Message != "PersistedQueryNotFound" {
		t.Fatalf("an unknown hash: %+v", a)
	}
	if a := ask(t, one, keyA, map[string]any{"query": q, "extensions": ext}); len(a.Errors) > 0 {
		t.Fatalf("registering: %+v", a.Errors)
	}
	a := ask(t, two, keyA, map[string]any{"extensions": ext})
	if len(a.Errors) > 0 || !strings.Contains(string(a.Data), `"totalCount":30`) {
		t.Fatalf("the other replica: %s %+v", a.Data, a.Errors)
	}
}

func TestReplicasAgreeOnTheHashKey(t *testing.T) {
	url := redisstoretest.Start(t)
	var keys [][]byte
	for range 2 {
		s, err := redisstore.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.HashKey(t.Context())
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if !bytes.Equal(keys[0], keys[1]) || len(keys[0]) != 32 {
		t.Fatalf("hash keys %x and %x", keys[0], keys[1])
	}
}

func TestABadURLOrADeadRedisIsAClearError(t *testing.T) {
	if _, err := redisstore.Open(t.Context(), "http://example"); err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Fatalf("a non-redis URL: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := redisstore.Open(ctx, "redis://:hunter2@"+addr); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a dead redis: %v", err)
	}
}

// recorder is a redisstore.Observer that counts.
type recorder struct {
	mu     sync.Mutex
	ops    map[string]int // "operation result" → count
	states []redisstore.BreakerState
}

func (r *recorder) RedisOperation(op, result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ops == nil {
		r.ops = map[string]int{}
	}
	r.ops[op+" "+result]++
}

func (r *recorder) RedisBreakerChanged(s redisstore.BreakerState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, s)
}

func (r *recorder) count(op, result string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops[op+" "+result]
}

// faults are the ways Redis fails, and how it comes back.
var faults = []struct {
	name         string
	fail, repair func(*redisstoretest.Server)
}{
	{"frozen (SIGSTOP), then thawed", (*redisstoretest.Server).Freeze, (*redisstoretest.Server).Thaw},
	{"killed, then restarted empty", (*redisstoretest.Server).Kill, (*redisstoretest.Server).Restart},
}

// untilClosed asks Redis through get until the store's breaker has closed
// again, bounded: each probe waits for the cool-down.
func untilClosed(t *testing.T, store *redisstore.Store, get func()) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for store.Breaker() != redisstore.BreakerClosed {
		select {
		case <-deadline:
			t.Fatalf("the breaker is still %s", store.Breaker())
		case <-tick.C:
			get()
		}
	}
}

func TestAFailingRedisIsAskedOnceThenLeftAloneUntilItAnswersAgain(t *testing.T) {
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			srv := redisstoretest.StartServer(t)
			var rec recorder
			store, err := redisstore.Open(t.Context(), srv.URL, redisstore.WithObserver(&rec), redisstore.WithCooldown(500*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			c := store.Cache()
			if err := c.Set(t.Context(), "k", []byte("v"), time.Minute); err != nil {
				t.Fatal(err)
			}

			f.fail(srv)
			start := time.Now()
			if _, _, err := c.Get(t.Context(), "k"); err == nil {
				t.Fatal("a failed Redis answered")
			}
			t.Logf("the first command after the fault failed in %s", time.Since(start))
			if store.Breaker() != redisstore.BreakerOpen || rec.count(redisstore.OpCacheGet, redisstore.ResultError) != 1 {
				t.Fatalf("breaker %s, %d errors after a failed command", store.Breaker(), rec.count(redisstore.OpCacheGet, redisstore.ResultError))
			}
			for range 5 {
				if _, _, err := c.Get(t.Context(), "k"); err == nil {
					t.Fatal("a failed Redis answered")
				}
			}
			if n := rec.count(redisstore.OpCacheGet, redisstore.ResultSkipped); n != 5 {
				t.Fatalf("%d of 5 commands skipped while the breaker was open", n)
			}

			f.repair(srv)
			// Written and read back once the breaker has closed; a
			// loaded machine may take more than one try.
			untilClosed(t, store, func() {
				if c.Set(t.Context(), "k", []byte("again"), time.Minute) != nil {
					return
				}
				if b, ok, err := c.Get(t.Context(), "k"); err != nil || !ok || string(b) != "again" {
					t.Fatalf("Redis is back, and reads %q, %v, %v", b, ok, err)
				}
			})
		})
	}
}

func TestWhileRedisFailsAReplicaKeepsItsOwnBudgetAndQueries(t *testing.T) {
	srv := redisstoretest.StartServer(t)
	store, err := redisstore.Open(t.Context(), srv.URL, redisstore.WithCooldown(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	apq := store.PersistedQueries(nil)
	apq.Add(t.Context(), "before", "{ a }")
	srv.Kill()

	t.Run("the budget is the replica's own, of the same size", func(t *testing.T) {
		budget := store.RateLimit(1.0/60, 2) // a burst of 2, then one a minute
		var waits []time.Duration
		for range 3 {
			w, err := budget.Take(t.Context())
			if err != nil {
				t.Fatalf("an error, which lets every request go: %v", err)
			}
			waits = append(waits, w)
		}
		if waits[0] != 0 || waits[1] != 0 || waits[2] < 50*time.Second {
			t.Fatalf("waits %v, want 0, 0, then about a minute", waits)
		}
	})
	t.Run("persisted queries seen before and during the failure are found", func(t *testing.T) {
		apq.Add(t.Context(), "during", "{ b }")
		for hash, want := range map[string]string{"before": "{ a }", "during": "{ b }"} {
			if q, ok := apq.Get(t.Context(), hash); !ok || q != want {
				t.Errorf("%s: %q, %v", hash, q, ok)
			}
		}
	})
}

func TestARestartedRedisGetsTheCacheHashKeyBack(t *testing.T) {
	srv := redisstoretest.StartServer(t)
	store, err := redisstore.Open(t.Context(), srv.URL, redisstore.WithCooldown(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	key, err := store.HashKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	srv.Restart() // empty: the key is gone
	c := store.Cache()
	_, _, _ = c.Get(t.Context(), "k") // fails on the dead connection, or succeeds
	untilClosed(t, store, func() { _, _, _ = c.Get(t.Context(), "k") })

	opts, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		got, err := rdb.Get(t.Context(), "usersgraph:cache-hash-key").Bytes()
		if err == nil {
			if !bytes.Equal(got, key) {
				t.Fatalf("Redis holds another hash key")
			}
			return
		}
		select {
		case <-deadline:
			t.Fatalf("the hash key is not back: %v", err)
		case <-tick.C:
		}
	}
}

func TestGoRedisLogsThroughSlog(t *testing.T) {
	var buf graphtest.SyncBuffer
	redisstore.SetLibraryLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { redisstore.SetLibraryLogger(slog.New(slog.DiscardHandler)) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if _, err := redisstore.Open(t.Context(), "redis://"+addr); err == nil {
		t.Fatal("a dead Redis opened")
	}
	out := buf.String()
	if !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, `"component":"go-redis"`) {
		t.Fatalf("go-redis' lines are not slog's: %q", out)
	}
}
