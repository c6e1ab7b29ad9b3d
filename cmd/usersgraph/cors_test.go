package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// keyedApp serves a facade holding a server key over a Cognigy fake.
func keyedApp(t *testing.T, vars map[string]string) (*httptest.Server, *restclienttest.Server) {
	t.Helper()
	const key = "server-key-4b1c"
	fake, err := restclienttest.NewServer(restclienttest.WithUsers(restclienttest.DemoUsers(5, 1)), restclienttest.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	vars["COGNIGY_API_URL"], vars["COGNIGY_API_KEY"] = fake.URL, key
	return serveApp(t, vars), fake
}

func TestAServerKeyServesNoKeylessPageOfAnotherOrigin(t *testing.T) {
	const page = "https://evil.example"
	query := "/graphql?query=" + url.QueryEscape("{ users(first: 1) { totalCount } }")
	cases := []struct {
		name   string
		vars   map[string]string
		method string
		header map[string]string
		status int
		acao   string // Access-Control-Allow-Origin
		calls  bool   // whether Cognigy is called
	}{
		{"a keyless GET from another origin is refused without a call", nil, "GET",
			map[string]string{"Origin": page}, 403, "", false},
		{"a keyless GET without an Origin (a server, curl) is served", nil, "GET",
			nil, 200, "", true},
		{"a GET from another origin with its own key is served to it", nil, "GET",
			map[string]string{"Origin": page, restclient.HeaderAPIKey: "server-key-4b1c"}, 200, page, true},
		{"a preflight announcing a key is allowed", nil, "OPTIONS",
			map[string]string{"Origin": page, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key"}, 204, page, false},
		{"a preflight announcing no key is not allowed", nil, "OPTIONS",
			map[string]string{"Origin": page, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}, 204, "", false},
		{"an explicit setting lets any page use the server's key", map[string]string{"CORS_ALLOW_KEYLESS_ANY_ORIGIN": "true"}, "GET",
			map[string]string{"Origin": page}, 200, "*", true},
		{"a listed origin may call without a key", map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example"}, "GET",
			map[string]string{"Origin": "https://app.example"}, 200, "https://app.example", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range tc.vars {
				vars[k] = v
			}
			srv, fake := keyedApp(t, vars)
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+query, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != tc.acao {
				t.Fatalf("status %d, Access-Control-Allow-Origin %q: %.300s", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), b)
			}
			if tc.status == 403 && !strings.Contains(string(b), "FORBIDDEN_ORIGIN") {
				t.Fatalf("body %.300s", b)
			}
			if called := fake.TotalCalls() > 0; called != tc.calls {
				t.Fatalf("Cognigy called: %v", called)
			}
		})
	}
}

func TestTheSameOriginPlaygroundMayUseTheServerKey(t *testing.T) {
	srv, _ := keyedApp(t, map[string]string{})
	req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/graphql", strings.NewReader(`{"query":"{ users(first: 1) { totalCount } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", srv.URL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"totalCount":5`) {
		t.Fatalf("status %d: %.300s", resp.StatusCode, b)
	}
}
