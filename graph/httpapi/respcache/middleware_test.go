package respcache

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// backend stands for the GraphQL handler: it counts executions, reports
// the data it used as fetched at dataAt (zero: none), and keeps its answer
// when keep says so.
type backend struct {
	calls    atomic.Int32
	dataAt   time.Time
	keep     bool
	status   int
	lastBody string
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := b.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	b.lastBody = string(body)
	if !b.dataAt.IsZero() {
		noteData(r.Context(), b.dataAt)
	}
	if b.keep {
		Keep(r.Context(), "Users")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if b.status != 0 {
		w.WriteHeader(b.status)
	}
	_, _ = io.WriteString(w, `{"data":{"n":`+string(rune('0'+n))+`}}`)
}

// noteData is what restclient's tracking does in the real server.
type noteKey struct{}

// A request seen for the first time is not tracked: its answer is not kept.
func noteData(ctx context.Context, t time.Time) {
	if note, ok := ctx.Value(noteKey{}).(func(time.Time)); ok {
		note(t)
	}
}

func testConfig(ttl time.Duration, maxBody int64) (Config, *[]bool) {
	var lookups []bool
	return Config{
		TTL:     ttl,
		MaxBody: maxBody,
		Key: func(r *http.Request, body []byte) (Key, bool) {
			return sha256.Sum256([]byte(r.Method + " " + r.Header.Get("X-API-Key") + " " + r.URL.RawQuery + " " + string(body))), true
		},
		TrackData: func(ctx context.Context, note func(time.Time)) context.Context {
			return context.WithValue(ctx, noteKey{}, note)
		},
		OnLookup: func(_ *http.Request, hit *Entry, _ time.Duration) { lookups = append(lookups, hit != nil) },
	}, &lookups
}

func do(t *testing.T, h http.Handler, key, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	r.Header.Set("X-API-Key", key)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestARepeatedRequestIsAnsweredFromTheCache(t *testing.T) {
	b := &backend{keep: true, dataAt: time.Now()}
	cfg, lookups := testConfig(time.Minute, 1<<10)
	h := Middleware(New(1<<20, 1<<16), cfg, b)
	do(t, h, "k1", `{"query":"{ a }"}`) // first sight: executed, not kept
	second := do(t, h, "k1", `{"query":"{ a }"}`)
	third := do(t, h, "k1", `{"query":"{ a }"}`)
	if b.calls.Load() != 2 {
		t.Fatalf("the handler ran %d times for three identical requests, want 2", b.calls.Load())
	}
	if third.Body.String() != second.Body.String() || third.Code != 200 || third.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("cached answer %d %q %q, kept %q", third.Code, third.Header().Get("Content-Type"), third.Body, second.Body)
	}
	if got := *lookups; len(got) != 3 || got[0] || got[1] || !got[2] {
		t.Fatalf("lookups %v, want two misses then a hit", got)
	}
	// Another credential, another body: executed again.
	for range 2 {
		do(t, h, "k2", `{"query":"{ a }"}`)
		do(t, h, "k1", `{"query":"{ b }"}`)
	}
	if b.calls.Load() != 6 {
		t.Fatalf("the handler ran %d times, want 6: a cached answer crossed keys", b.calls.Load())
	}
}

// Distinct requests, which no cache can serve, are not copied or kept: only
// a request seen before is.
func TestOnlyARequestSeenBeforeIsKept(t *testing.T) {
	b := &backend{keep: true, dataAt: time.Now()}
	cfg, _ := testConfig(time.Minute, 1<<10)
	c := New(1<<20, 1<<16)
	h := Middleware(c, cfg, b)
	for i := range 100 {
		do(t, h, "k", `{"query":"{ a }","n":`+strconv.Itoa(i)+`}`)
	}
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Fatalf("100 distinct requests left %d answers (%d bytes) in the cache", c.Len(), c.Bytes())
	}
	do(t, h, "k", `{"query":"{ a }","n":7}`)
	if c.Len() != 1 {
		t.Fatalf("a request seen before was not kept: %d answers", c.Len())
	}
}

func TestOnlyAnswersTheHandlerKeepsAreCached(t *testing.T) {
	for name, b := range map[string]*backend{
		"not kept (errors, say)": {keep: false},
		"status 400":             {keep: true, status: http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, _ := testConfig(time.Minute, 1<<10)
			h := Middleware(New(1<<20, 1<<16), cfg, b)
			for range 3 {
				do(t, h, "k", `{"query":"{ a }"}`)
			}
			if b.calls.Load() != 3 {
				t.Fatalf("ran %d times, want 3", b.calls.Load())
			}
		})
	}
	t.Run("larger than an entry may be", func(t *testing.T) {
		b := &backend{keep: true}
		cfg, _ := testConfig(time.Minute, 1<<10)
		h := Middleware(New(1<<20, 10), cfg, b)
		for range 3 {
			do(t, h, "k", `{"query":"{ a }"}`)
		}
		if b.calls.Load() != 3 {
			t.Fatalf("ran %d times, want 3", b.calls.Load())
		}
	})
}

// The TTL counts from when the oldest data in the answer was fetched, so
// an answer built from cached upstream data is never served past that
// data's age limit.
func TestAnAnswerIsNoOlderThanItsData(t *testing.T) {
	b := &backend{keep: true, dataAt: time.Now().Add(-time.Minute - time.Second)}
	cfg, _ := testConfig(time.Minute, 1<<10)
	h := Middleware(New(1<<20, 1<<16), cfg, b)
	for range 3 {
		do(t, h, "k", `{"query":"{ a }"}`)
	}
	if b.calls.Load() != 3 {
		t.Fatalf("an answer built from data older than the TTL was served again (%d executions of 3)", b.calls.Load())
	}
}

func TestNoCacheRequestsAreExecuted(t *testing.T) {
	b := &backend{keep: true}
	cfg, _ := testConfig(time.Minute, 1<<10)
	h := Middleware(New(1<<20, 1<<16), cfg, b)
	do(t, h, "k", `{"query":"{ a }"}`)
	do(t, h, "k", `{"query":"{ a }"}`, "Cache-Control", "no-cache")
	if b.calls.Load() != 2 {
		t.Fatalf("Cache-Control: no-cache was answered from the cache")
	}
	do(t, h, "k", `{"query":"{ a }"}`)
	if b.calls.Load() != 2 {
		t.Fatalf("the no-cache request's answer was not kept")
	}
}

func TestALargeBodyReachesTheHandlerWhole(t *testing.T) {
	b := &backend{keep: true}
	cfg, _ := testConfig(time.Minute, 16)
	h := Middleware(New(1<<20, 1<<16), cfg, b)
	body := `{"query":"{ a }", "pad": "` + strings.Repeat("x", 100) + `"}`
	for range 3 {
		do(t, h, "k", body)
	}
	if b.lastBody != body {
		t.Fatalf("the handler read %q", b.lastBody)
	}
	if b.calls.Load() != 3 {
		t.Fatalf("a body over MaxBody was cached")
	}
}

func TestOtherMethodsPassThrough(t *testing.T) {
	b := &backend{keep: true}
	cfg, lookups := testConfig(time.Minute, 1<<10)
	h := Middleware(New(1<<20, 1<<16), cfg, b)
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, "/graphql", nil))
	}
	if b.calls.Load() != 2 || len(*lookups) != 0 {
		t.Fatalf("PUT: %d executions, %d lookups", b.calls.Load(), len(*lookups))
	}
}
