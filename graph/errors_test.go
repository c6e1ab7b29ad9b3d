package graph_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/graph/graphtest"

	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

func TestUpstreamFailuresGetTheirCode(t *testing.T) {
	e := graphtest.Setup(t, graphtest.WithTimeout(300*time.Millisecond))
	retryAfter := http.Header{"Retry-After": {"7"}}
	cases := []struct {
		name      string
		fault     restclienttest.Fault
		code      string
		status    int // upstreamStatus in extensions; 0 = none
		wantExt   map[string]any
		withTrace bool
	}{
		{"401 with no body is UNAUTHENTICATED", restclienttest.Fault{Status: 401, NoBody: true}, "UNAUTHENTICATED", 401, nil, false},
		{"403 with no body is FORBIDDEN", restclienttest.Fault{Status: 403, NoBody: true}, "FORBIDDEN", 403, nil, false},
		{"400 is BAD_USER_INPUT with Cognigy's code", restclienttest.Fault{Status: 400}, "BAD_USER_INPUT", 400, nil, true},
		{"402 is QUOTA_EXCEEDED", restclienttest.Fault{Status: 402}, "QUOTA_EXCEEDED", 402, nil, true},
		{"404 is NOT_FOUND", restclienttest.Fault{Status: 404}, "NOT_FOUND", 404, nil, true},
		{"429 is RATE_LIMITED with retryAfter", restclienttest.Fault{Status: 429, Header: retryAfter}, "RATE_LIMITED", 429, map[string]any{"retryAfter": 7.0}, true},
		{"500 is UPSTREAM_ERROR", restclienttest.Fault{Status: 500}, "UPSTREAM_ERROR", 500, nil, true},
		{"501 is UPSTREAM_ERROR", restclienttest.Fault{Status: 501}, "UPSTREAM_ERROR", 501, nil, true},
		{"502 is UPSTREAM_UNAVAILABLE", restclienttest.Fault{Status: 502}, "UPSTREAM_UNAVAILABLE", 502, nil, true},
		{"503 is UPSTREAM_UNAVAILABLE", restclienttest.Fault{Status: 503, Header: retryAfter}, "UPSTREAM_UNAVAILABLE", 503, nil, true},
		{"504 is UPSTREAM_UNAVAILABLE", restclienttest.Fault{Status: 504}, "UPSTREAM_UNAVAILABLE", 504, nil, true},
		{"malformed JSON is UPSTREAM_ERROR", restclienttest.Fault{Status: 200, Body: `{"items": [`}, "UPSTREAM_ERROR", 0, nil, false},
		{"the wrong shape is UPSTREAM_ERROR", restclienttest.Fault{WrongShape: true}, "UPSTREAM_ERROR", 0, nil, false},
		{"a 50 MB body is UPSTREAM_ERROR", restclienttest.Fault{HugeBody: 50 << 20}, "UPSTREAM_ERROR", 0, nil, false},
		{"a hang is UPSTREAM_UNAVAILABLE after the timeout", restclienttest.Fault{Hang: true}, "UPSTREAM_UNAVAILABLE", 0, nil, false},
		{"a connection reset is UPSTREAM_UNAVAILABLE", restclienttest.Fault{Reset: true}, "UPSTREAM_UNAVAILABLE", 0, nil, false},
		{"a truncated body is UPSTREAM_UNAVAILABLE", restclienttest.Fault{Truncated: true}, "UPSTREAM_UNAVAILABLE", 0, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.Fake.ClearFaults()
			e.Fake.InjectFault(restclienttest.RouteList, tc.fault)
			r := e.Query(t, `{ users(first: 3) { totalCount nodes { name } } }`, nil, graphtest.APIKey)
			err := r.OnlyError(t)
			if err.Code() != tc.code {
				t.Fatalf("code %s (%q), want %s", err.Code(), err.Message, tc.code)
			}
			if r.Status != http.StatusOK || string(r.Data) != "null" {
				t.Fatalf("status %d data %s: want 200 with null data", r.Status, r.Data)
			}
			if graphtest.PathString(err.Path) != "users" {
				t.Fatalf("path %v", err.Path)
			}
			if got, _ := err.Extensions["upstreamStatus"].(float64); int(got) != tc.status {
				t.Fatalf("upstreamStatus %v, want %d", err.Extensions["upstreamStatus"], tc.status)
			}
			if tc.withTrace {
				if tr, _ := err.Extensions["traceId"].(string); !strings.HasPrefix(tr, "api--") {
					t.Fatalf("traceId %v", err.Extensions["traceId"])
				}
				if c, _ := err.Extensions["upstreamCode"].(string); c == "" {
					t.Fatalf("upstreamCode missing: %v", err.Extensions)
				}
				if tr := err.Extensions["traceId"].(string); !strings.Contains(e.Logs.String(), `"traceId":"`+tr+`"`) {
					t.Fatalf("the upstream's traceId %s is not logged", tr)
				}
			}
			for k, v := range tc.wantExt {
				if err.Extensions[k] != v {
					t.Fatalf("extensions[%s] = %v, want %v", k, err.Extensions[k], v)
				}
			}
			assertNothingLeaks(t, e, r.Raw)
		})
	}
	t.Run("after the faults clear, queries succeed again", func(t *testing.T) {
		e.Fake.ClearFaults()
		var v struct{ Users struct{ TotalCount int } }
		e.Query(t, `{ users(first: 1) { totalCount } }`, nil, graphtest.APIKey).MustData(t, &v)
		if v.Users.TotalCount != 300 {
			t.Fatalf("totalCount %d", v.Users.TotalCount)
		}
	})
}

// assertNothingLeaks checks that a graphtest.Response and the logs repeat no
// credential and no upstream address.
func assertNothingLeaks(t *testing.T, e *graphtest.Env, body string) {
	t.Helper()
	u, err := url.Parse(e.Fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{graphtest.TestKey, "secret-bearer-token", "secret-cxone-token", u.Host, "/v2.0", "127.0.0.1"} {
		if strings.Contains(body, secret) {
			t.Fatalf("the graphtest.Response repeats %q: %s", secret, graphtest.Short(body))
		}
		if secret != "127.0.0.1" && secret != u.Host && strings.Contains(e.Logs.String(), secret) {
			t.Fatalf("the log repeats %q", secret)
		}
	}
}

func TestCredentialsAreForwardedAsTheyCame(t *testing.T) {
	mine := []restclienttest.User{{ID: restclienttest.NewID(1), Name: "Only in the bearer tenant"}}
	theirs := []restclienttest.User{{ID: restclienttest.NewID(2), Name: "Only in the cxone tenant"}}
	e := graphtest.Setup(t, graphtest.WithFake(restclienttest.WithTenant("secret-bearer-token", mine), restclienttest.WithTenant("secret-cxone-token", theirs)))
	cases := []struct {
		name       string
		sent       graphtest.Header
		wantHeader string
		wantValue  string
		wantName   string
	}{
		{"an API key goes on as X-API-Key", graphtest.APIKey, "X-Api-Key", graphtest.TestKey, ""},
		{"a bearer token goes on as Authorization: Bearer", graphtest.Header{Name: "Authorization", Value: "Bearer secret-bearer-token"}, "Authorization", "Bearer secret-bearer-token", "Only in the bearer tenant"},
		{"a CXone token goes on as x-cxone-authorization", graphtest.Header{Name: "x-cxone-authorization", Value: "Bearer secret-cxone-token"}, "X-Cxone-Authorization", "Bearer secret-cxone-token", "Only in the cxone tenant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v struct {
				Users struct{ Nodes []struct{ Name string } }
			}
			e.Query(t, `{ users(first: 1) { nodes { name } } }`, nil, tc.sent).MustData(t, &v)
			h := e.LastRequest(t).Header
			if h.Get(tc.wantHeader) != tc.wantValue {
				t.Fatalf("upstream got %s=%q", tc.wantHeader, h.Get(tc.wantHeader))
			}
			for _, other := range []string{"X-Api-Key", "Authorization", "X-Cxone-Authorization"} {
				if other != tc.wantHeader && h.Get(other) != "" {
					t.Fatalf("upstream also got %s", other)
				}
			}
			if tc.wantName != "" && (len(v.Users.Nodes) != 1 || v.Users.Nodes[0].Name != tc.wantName) {
				t.Fatalf("got %+v, want the %q tenant", v.Users.Nodes, tc.wantName)
			}
		})
	}
}

func TestTheDefaultKeyIsOnlyAFallback(t *testing.T) {
	e := graphtest.Setup(t, graphtest.WithDefaultKey(graphtest.TestKey), graphtest.WithFake(restclienttest.WithTenant("secret-bearer-token", nil)))
	t.Run("a caller without a credential uses the default key", func(t *testing.T) {
		var v struct{ Users struct{ TotalCount int } }
		e.Query(t, `{ users(first: 1) { totalCount } }`, nil).MustData(t, &v)
		if e.LastRequest(t).Header.Get("X-Api-Key") != graphtest.TestKey || v.Users.TotalCount != 300 {
			t.Fatalf("upstream header %v, total %d", e.LastRequest(t).Header, v.Users.TotalCount)
		}
	})
	t.Run("a caller's own credential wins over the default key", func(t *testing.T) {
		var v struct{ Users struct{ TotalCount int } }
		e.Query(t, `{ users(first: 1) { totalCount } }`, nil, graphtest.Header{Name: "Authorization", Value: "Bearer secret-bearer-token"}).MustData(t, &v)
		h := e.LastRequest(t).Header
		if h.Get("X-Api-Key") != "" || h.Get("Authorization") != "Bearer secret-bearer-token" || v.Users.TotalCount != 0 {
			t.Fatalf("upstream header %v, total %d", h, v.Users.TotalCount)
		}
	})
}

func TestNoCredentialIsUnauthenticatedWithoutACall(t *testing.T) {
	e := graphtest.Setup(t)
	for _, q := range []string{
		`{ users { totalCount } }`,
		`{ user(id: "` + restclienttest.NewID(1) + `") { id } }`,
	} {
		t.Run(q, func(t *testing.T) {
			e.Fake.ResetCounts()
			r := e.Query(t, q, nil, graphtest.Header{Name: "Authorization", Value: "Basic dXNlcjpwYXNz"})
			if err := r.OnlyError(t); err.Code() != "UNAUTHENTICATED" {
				t.Fatalf("code %s", err.Code())
			}
			if n := e.Fake.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls", n)
			}
		})
	}
}

// panicking is an upstream with a bug.
type panicking struct{}

func (panicking) ListUsers(context.Context, restclient.ListUsersOptions) (*restclient.UserPage, *restclient.Response, error) {
	panic("nil map write")
}

func (panicking) GetUser(context.Context, string) (*restclient.User, *restclient.Response, error) {
	panic("unreachable")
}

func TestABugIsAGenericInternalError(t *testing.T) {
	e := graphtest.Setup(t, graphtest.WithUpstream(panicking{}))
	r := e.Query(t, `{ users { totalCount } }`, nil, graphtest.APIKey)
	err := r.OnlyError(t)
	if err.Code() != "INTERNAL_SERVER_ERROR" || err.Message != "internal server error" {
		t.Fatalf("got %s %q", err.Code(), err.Message)
	}
	if strings.Contains(r.Raw, "nil map") || strings.Contains(r.Raw, "goroutine") {
		t.Fatalf("the graphtest.Response shows the panic: %s", graphtest.Short(r.Raw))
	}
	if !strings.Contains(e.Logs.String(), "nil map write") {
		t.Fatal("the panic is not in the log")
	}
}
