package restclient_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
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
	replica := func() *restclient.Client {
		c, err := restclient.New(fake.URL, restclient.WithCache(time.Minute, 10), restclient.WithSharedCache(shared, hashKey))
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

	shared.broken = true
	fake.ResetCounts()
	if _, _, err := replica().ListUsers(ctx, restclient.ListUsersOptions{Limit: 3}); err != nil || fake.TotalCalls() != 1 {
		t.Fatalf("with the shared cache down: %v, %d calls", err, fake.TotalCalls())
	}
}
