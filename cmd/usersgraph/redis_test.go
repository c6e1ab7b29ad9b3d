package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/usersgraph/usersgraph/redisstore/redisstoretest"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

func TestTwoServersWithOneRedisShareTheirCache(t *testing.T) {
	url := redisstoretest.Start(t)
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey("k"), restclienttest.WithUsers(restclienttest.DemoUsers(20, 1)))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	vars := map[string]string{"COGNIGY_API_URL": fake.URL, "COGNIGY_API_KEY": "k", "REDIS_URL": url, "CACHE_TTL": "1m"}
	var servers []*httptest.Server
	for range 2 {
		a, err := appFor(t, vars)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.handler)
		defer srv.Close()
		servers = append(servers, srv)
	}
	for i, srv := range servers {
		resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(`{"query":"{ users(first: 3) { totalCount } }"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"totalCount":20`) {
			t.Fatalf("server %d: %s", i, b)
		}
	}
	if n := fake.TotalCalls(); n != 1 {
		t.Fatalf("%d upstream calls for one query asked of two servers", n)
	}
	// Each server's metrics say where its answer came from.
	for i, want := range []string{
		`usersgraph_upstream_shared_cache_lookups_total{result="miss"} 1`,
		`usersgraph_upstream_shared_cache_lookups_total{result="hit"} 1`,
	} {
		if _, body := get(t, servers[i].URL+"/metrics"); !strings.Contains(body, want) {
			t.Errorf("server %d's metrics lack %s", i, want)
		}
	}
}

func TestRedisSettingsFailClearlyAndQuietly(t *testing.T) {
	if _, err := loadConfig(nil, env(map[string]string{"REDIS_URL": "localhost:6379"}), io.Discard); err == nil || !strings.Contains(err.Error(), "REDIS_URL must be") {
		t.Fatalf("a URL without scheme: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = appFor(t, map[string]string{"REDIS_URL": "redis://:s3cret-pass@" + addr + "/0"})
	if err == nil || !strings.HasPrefix(err.Error(), "REDIS_URL: ") || strings.Contains(err.Error(), "s3cret-pass") {
		t.Fatalf("a dead Redis: %v", err)
	}
}
