package restclient_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// mapCache is a SharedCache in memory; broken makes every call fail.
type mapCache struct {
	mu     sync.Mutex
	m      map[string][]byte
	broken bool
}

func (c *mapCache) Get(_ context.Context, k string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken {
		return nil, false, errors.New("down")
	}
	v, ok := c.m[k]
	return v, ok, nil
}

func (c *mapCache) Set(_ context.Context, k string, v []byte, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken {
		return errors.New("down")
	}
	c.m[k] = v
	return nil
}

func TestASharedCacheServesOtherReplicasAndFailsOpen(t *testing.T) {
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	shared := &mapCache{m: map[string][]byte{}}
	hashKey := bytes.Repeat([]byte{7}, 32)
	seen := &sharedRecorder{}
	replica := func() *restclient.Client {
		c, err := restclient.New(fake.URL, restclient.WithCache(time.Minute, 10), restclient.WithSharedCache(shared, hashKey), restclient.WithObserver(seen))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	one, two := replica(), replica()
	ctx := withKey(t.Context(), key)
	unknown := strings.Repeat("0", 24)

	p1, _, err := one.ListUsers(ctx, restclient.ListUsersOptions{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err1 := one.GetUser(ctx, unknown)
	p2, _, err := two.ListUsers(ctx, restclient.ListUsersOptions{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err2 := two.GetUser(ctx, unknown)
	var er *restclient.ErrorResponse
	if !errors.As(err1, &er) || !errors.As(err2, &er) || er.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown id: %v, then %v", err1, err2)
	}
	if fake.TotalCalls() != 2 || p2.Total != p1.Total || p2.Items[2].ID != p1.Items[2].ID {
		t.Fatalf("%d upstream calls; pages %+v and %+v", fake.TotalCalls(), p1, p2)
	}
	for k := range shared.m {
		if strings.Contains(k, key) {
			t.Fatalf("a cache key holds the credential: %q", k)
		}
	}

	// Each replica's own cache was empty: one missed the shared cache
	// twice, the other found both answers there. Its own cache answers a
	// repeat without asking the shared one.
	if _, _, err := two.ListUsers(ctx, restclient.ListUsersOptions{Limit: 3}); err != nil {
		t.Fatal(err)
	}
	if got := seen.outcomes(); got != "miss miss hit hit" {
		t.Fatalf("shared cache lookups: %s", got)
	}

	shared.broken = true
	fake.ResetCounts()
	if _, _, err := replica().ListUsers(ctx, restclient.ListUsersOptions{Limit: 3}); err != nil || fake.TotalCalls() != 1 {
		t.Fatalf("with the shared cache down: %v, %d calls", err, fake.TotalCalls())
	}
	if got := seen.outcomes(); got != "miss miss hit hit error" {
		t.Fatalf("shared cache lookups: %s", got)
	}
}

// sharedRecorder notes shared cache lookups.
type sharedRecorder struct {
	recorder
	mu   sync.Mutex
	seen []string
}

func (r *sharedRecorder) SharedCacheLookup(outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, outcome)
}

func (r *sharedRecorder) outcomes() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.seen, " ")
}

// Every answer reports when the upstream gave it, through the local cache
// and the shared one, and a replica serves a shared answer only for the
// TTL counted from then: data is never older than the TTL, however many
// caches it passed through.
func TestAnswersCarryWhenTheUpstreamGaveThem(t *testing.T) {
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	shared := &mapCache{m: map[string][]byte{}}
	hashKey := bytes.Repeat([]byte{7}, 32)
	const ttl = time.Minute
	replica := func() *restclient.Client {
		c, err := restclient.New(fake.URL, restclient.WithCache(ttl, 10), restclient.WithSharedCache(shared, hashKey))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	list := func(c *restclient.Client) time.Time {
		t.Helper()
		var mu sync.Mutex
		var notes []time.Time
		ctx := restclient.WithDataNotes(withKey(t.Context(), key), func(at time.Time) {
			mu.Lock()
			notes = append(notes, at)
			mu.Unlock()
		})
		if _, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Limit: 2}); err != nil {
			t.Fatal(err)
		}
		if len(notes) != 1 {
			t.Fatalf("%d notes for one answer", len(notes))
		}
		return notes[0]
	}

	one := replica()
	before := time.Now()
	fetched := list(one)
	if fetched.Before(before) || fetched.After(time.Now()) {
		t.Fatalf("fetched %v, not during the call (from %v)", fetched, before)
	}
	time.Sleep(20 * time.Millisecond)
	if again := list(one); !again.Equal(fetched) {
		t.Fatalf("a local cache hit reported %v, want the original %v", again, fetched)
	}
	if other := list(replica()); other.UnixMilli() != fetched.UnixMilli() {
		t.Fatalf("a shared cache hit reported %v, want the original %v", other, fetched)
	}
	if n := fake.TotalCalls(); n != 1 {
		t.Fatalf("%d upstream calls, want 1", n)
	}

	// An entry whose data is older than the TTL (the store's own expiry
	// lagging), and one in a format this version does not write, are
	// not served.
	for k, v := range shared.m {
		_, body, _ := bytes.Cut(v, []byte{'\n'})
		for _, stale := range [][]byte{
			append([]byte("200t"+strconv.FormatInt(time.Now().Add(-ttl-time.Second).UnixMilli(), 10)+"\n"), body...),
			append([]byte("200"), body...),
		} {
			shared.m[k] = stale
			fake.ResetCounts()
			if got := list(replica()); time.Since(got) > time.Second || fake.TotalCalls() != 1 {
				t.Fatalf("stale shared entry %.20q: noted %v, %d upstream calls", stale, got, fake.TotalCalls())
			}
		}
	}
}
