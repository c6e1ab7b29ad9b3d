package restclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// basePath is the prefix Cognigy serves its API under.
const basePath = "/new"

// setup starts a test server and returns a Client pointed at it (base URL
// server.URL+"/new"), the mux the test registers its handlers on (patterns
// relative to "/new", e.g. "GET /v2.0/users") and the server's URL. A
// request outside "/new" fails the test.
func setup(t *testing.T, opts ...Option) (client *Client, mux *http.ServeMux, serverURL string) {
	t.Helper()
	mux = http.NewServeMux()
	root := http.NewServeMux()
	root.Handle(basePath+"/", http.StripPrefix(basePath, mux))
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the base path: %s %s", r.Method, r.URL.RequestURI())
		http.Error(w, "outside the base path", http.StatusBadRequest)
	})
	server := httptest.NewServer(root)
	t.Cleanup(server.Close)

	client, err := New(server.URL+basePath, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", server.URL+basePath, err)
	}
	return client, mux, server.URL
}

// doerFunc adapts a function to the Doer interface.
type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// emptyPage is the smallest body the contract allows for GET /v2.0/users.
const emptyPage = `{"items":[],"total":0,"nextCursor":null,"previousCursor":null}`

// writeJSON writes body with a JSON content type and the given status.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// testMethod fails the test when r's method is not want.
func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	if got := r.Method; got != want {
		t.Errorf("request method = %q, want %q", got, want)
	}
}

// testHeader fails the test when r's header key is not want.
func testHeader(t *testing.T, r *http.Request, key, want string) {
	t.Helper()
	if got := r.Header.Get(key); got != want {
		t.Errorf("header %s = %q, want %q", key, got, want)
	}
}

// testNoHeader fails the test when r carries header key at all.
func testNoHeader(t *testing.T, r *http.Request, key string) {
	t.Helper()
	if v, ok := r.Header[http.CanonicalHeaderKey(key)]; ok {
		t.Errorf("header %s = %q, want it absent", key, v)
	}
}

// testQuery fails the test when r's decoded query is not exactly want.
func testQuery(t *testing.T, r *http.Request, want url.Values) {
	t.Helper()
	got := r.URL.Query()
	if len(got) != len(want) {
		t.Errorf("query = %v (raw %q), want %v", got, r.URL.RawQuery, want)
		return
	}
	for k, wv := range want {
		gv, ok := got[k]
		if !ok || strings.Join(gv, "\x00") != strings.Join(wv, "\x00") {
			t.Errorf("query %s = %q, want %q (raw %q)", k, gv, wv, r.URL.RawQuery)
		}
	}
}

func TestNew(t *testing.T) {
	t.Run("it accepts absolute http and https base URLs", func(t *testing.T) {
		for _, base := range []string{
			"http://cognigy.example",
			"http://cognigy.example/",
			"https://cognigy.example/new",
			"https://cognigy.example/new/",
			"https://cognigy.example:8443/new",
			"HTTPS://Cognigy.Example/new",
			"http://127.0.0.1:8080/new",
			"http://[::1]:8080/new",
		} {
			c, err := New(base)
			if err != nil {
				t.Errorf("New(%q) = %v, want no error", base, err)
				continue
			}
			if strings.HasSuffix(c.base, "/") {
				t.Errorf("New(%q).base = %q, want no trailing slash", base, c.base)
			}
		}
	})

	t.Run("it applies its defaults", func(t *testing.T) {
		c, err := New("https://cognigy.example/new")
		if err != nil {
			t.Fatal(err)
		}
		if c.timeout != DefaultTimeout {
			t.Errorf("timeout = %v, want %v", c.timeout, DefaultTimeout)
		}
		if c.maxBytes != DefaultMaxResponseBytes {
			t.Errorf("maxBytes = %d, want %d", c.maxBytes, DefaultMaxResponseBytes)
		}
		if c.doer == nil || c.now == nil {
			t.Errorf("doer = %v, now = %p; want both set", c.doer, c.now)
		}
		if c.base != "https://cognigy.example/new" {
			t.Errorf("base = %q, want %q", c.base, "https://cognigy.example/new")
		}
	})

	t.Run("its options override the defaults", func(t *testing.T) {
		d := doerFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") })
		c, err := New("https://cognigy.example/new", WithTimeout(3*time.Second), WithMaxResponseBytes(1234), WithDoer(d))
		if err != nil {
			t.Fatal(err)
		}
		if c.timeout != 3*time.Second || c.maxBytes != 1234 {
			t.Errorf("timeout, maxBytes = %v, %d; want 3s, 1234", c.timeout, c.maxBytes)
		}
		if _, ok := c.doer.(doerFunc); !ok {
			t.Errorf("doer = %T, want the doerFunc given to WithDoer", c.doer)
		}
	})

	tests := []struct {
		name string
		base string
	}{
		{"an empty URL is rejected", ""},
		{"a host without a scheme is rejected", "cognigy.example/new"},
		{"an absolute path is rejected", "/new"},
		{"a scheme-relative URL is rejected", "//cognigy.example/new"},
		{"an ftp URL is rejected", "ftp://cognigy.example/new"},
		{"a file URL is rejected", "file:///etc/passwd"},
		{"a websocket URL is rejected", "wss://cognigy.example/new"},
		{"an opaque http URL is rejected", "http:cognigy.example"},
		{"an http URL without a host is rejected", "http:///new"},
		{"a bare scheme is rejected", "https://"},
		{"a URL with a query is rejected", "https://cognigy.example/new?api_key=s3cr3t"},
		{"a URL with a fragment is rejected", "https://cognigy.example/new#top"},
		{"a URL with user and password is rejected", "https://admin:s3cr3t@cognigy.example/new"},
		{"a URL with a user name is rejected", "https://s3cr3t@cognigy.example/new"},
		{"a URL with empty user info is rejected", "https://@cognigy.example/new"},
		{"an unparseable URL is rejected", "https://[::1/new"},
		{"a URL with a bad escape is rejected", "https://cognigy.example/%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.base)
			if err == nil {
				t.Fatalf("New(%q) = %+v, nil; want an error", tt.base, c)
			}
			if c != nil {
				t.Errorf("New(%q) returned a client with its error", tt.base)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("New(%q) error %q repeats the secret in the URL", tt.base, err)
			}
		})
	}

	t.Run("a URL with an empty query is rejected or its question mark dropped", func(t *testing.T) {
		for _, base := range []string{"https://cognigy.example/new?", "https://cognigy.example/new/?"} {
			c, err := New(base)
			if err != nil {
				continue
			}
			if c.base != "https://cognigy.example/new" {
				t.Errorf("New(%q).base = %q, want %q or an error", base, c.base, "https://cognigy.example/new")
			}
		}
	})
}

func TestListUsers_requestPath(t *testing.T) {
	tests := []struct {
		name   string
		suffix string // appended to the server URL to make the base URL
		want   string // the path the server must see
	}{
		{"a base without a path calls /v2.0/users", "", "/v2.0/users"},
		{"a base of a lone slash calls /v2.0/users", "/", "/v2.0/users"},
		{"a base with the /new prefix calls /new/v2.0/users", "/new", "/new/v2.0/users"},
		{"a base with /new/ and a trailing slash calls /new/v2.0/users", "/new/", "/new/v2.0/users"},
		{"a base with several trailing slashes calls /new/v2.0/users", "/new///", "/new/v2.0/users"},
		{"a base with a deeper prefix keeps all of it", "/tenant/a/new", "/tenant/a/new/v2.0/users"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			var gotPath string
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				gotPath = r.URL.EscapedPath()
				testMethod(t, r, http.MethodGet)
				writeJSON(w, http.StatusOK, emptyPage)
			}))
			defer server.Close()

			c, err := New(server.URL + tt.suffix)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if _, _, err := c.ListUsers(t.Context(), ListUsersOptions{}); err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			if calls.Load() != 1 {
				t.Fatalf("server saw %d requests, want 1", calls.Load())
			}
			if gotPath != tt.want {
				t.Errorf("path = %q, want %q", gotPath, tt.want)
			}
		})
	}
}

func TestListUsers_queryEncoding(t *testing.T) {
	cursor := "65f0c0ffee0123456789abcd"
	tests := []struct {
		name string
		opts ListUsersOptions
		want url.Values
	}{
		{
			name: "zero options send no query parameters",
			opts: ListUsersOptions{},
			want: url.Values{},
		},
		{
			name: "a filter with spaces, non-ASCII letters and an ampersand arrives intact",
			opts: ListUsersOptions{Filter: "José Müller & Co"},
			want: url.Values{"filter": {"José Müller & Co"}},
		},
		{
			name: "a filter with query metacharacters cannot inject parameters",
			opts: ListUsersOptions{Filter: "a=b&limit=5#x?y+z%20"},
			want: url.Values{"filter": {"a=b&limit=5#x?y+z%20"}},
		},
		{
			name: "a limit is sent as a decimal number",
			opts: ListUsersOptions{Limit: 50},
			want: url.Values{"limit": {"50"}},
		},
		{
			name: "the smallest and largest limits are sent",
			opts: ListUsersOptions{Limit: 100},
			want: url.Values{"limit": {"100"}},
		},
		{
			name: "a limit of one is sent",
			opts: ListUsersOptions{Limit: 1},
			want: url.Values{"limit": {"1"}},
		},
		{
			name: "a skip is sent with a limit for offset paging",
			opts: ListUsersOptions{Limit: 25, Skip: 75},
			want: url.Values{"limit": {"25"}, "skip": {"75"}},
		},
		{
			name: "a single sort rule is sent as field:direction",
			opts: ListUsersOptions{Sort: Sort{{Field: SortByName}}},
			want: url.Values{"sort": {"name:asc"}},
		},
		{
			name: "a multi-rule sort is joined with commas in order",
			opts: ListUsersOptions{Sort: Sort{
				{Field: SortByName},
				{Field: SortByCreatedAt, Descending: true},
				{Field: SortByID},
			}},
			want: url.Values{"sort": {"name:asc,createdAt:desc,_id:asc"}},
		},
		{
			name: "an empty non-nil sort is not sent",
			opts: ListUsersOptions{Sort: Sort{}},
			want: url.Values{},
		},
		{
			name: "a next cursor is sent as next",
			opts: ListUsersOptions{Next: cursor, Limit: 10},
			want: url.Values{"next": {cursor}, "limit": {"10"}},
		},
		{
			name: "a previous cursor is sent as previous",
			opts: ListUsersOptions{Previous: cursor},
			want: url.Values{"previous": {cursor}},
		},
		{
			name: "an opaque cursor with reserved characters arrives intact",
			opts: ListUsersOptions{Next: "a+b/c=d&e"},
			want: url.Values{"next": {"a+b/c=d&e"}},
		},
		{
			name: "every option together is sent",
			opts: ListUsersOptions{
				Filter: "ana",
				Limit:  20,
				Sort:   Sort{{Field: SortByLastActive, Descending: true}, {Field: SortByID, Descending: true}},
				Next:   cursor,
			},
			want: url.Values{
				"filter": {"ana"},
				"limit":  {"20"},
				"sort":   {"lastActive:desc,_id:desc"},
				"next":   {cursor},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			var calls atomic.Int32
			mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				testMethod(t, r, http.MethodGet)
				testHeader(t, r, "Accept", "application/json")
				testQuery(t, r, tt.want)
				if strings.ContainsAny(r.URL.RawQuery, " #") {
					t.Errorf("raw query %q has an unescaped space or #", r.URL.RawQuery)
				}
				writeJSON(w, http.StatusOK, emptyPage)
			})

			page, resp, err := client.ListUsers(t.Context(), tt.opts)
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			if calls.Load() != 1 {
				t.Errorf("server saw %d requests, want 1", calls.Load())
			}
			if page == nil || resp == nil {
				t.Fatalf("ListUsers = %v, %v; want a page and a response", page, resp)
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("resp.StatusCode = %d, want 200", resp.StatusCode)
			}
		})
	}
}

func TestListUsers_requestHeaders(t *testing.T) {
	t.Run("it asks for JSON and names itself", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			testHeader(t, r, "Accept", "application/json")
			testHeader(t, r, "User-Agent", "usersgraph")
			if r.ContentLength > 0 {
				t.Errorf("request has a %d-byte body, want none", r.ContentLength)
			}
			writeJSON(w, http.StatusOK, emptyPage)
		})
		if _, _, err := client.ListUsers(t.Context(), ListUsersOptions{Filter: "x"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("it returns the response's status and headers", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Trace", "abc")
			writeJSON(w, http.StatusOK, emptyPage)
		})
		_, resp, err := client.ListUsers(t.Context(), ListUsersOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Trace") != "abc" {
			t.Errorf("resp = %d %v, want 200 with X-Trace: abc", resp.StatusCode, resp.Header)
		}
	})
}

func TestListUsers_invalidOptions(t *testing.T) {
	cursor := "65f0c0ffee0123456789abcd"
	tests := []struct {
		name string
		opts ListUsersOptions
	}{
		{"next and previous together are refused", ListUsersOptions{Next: cursor, Previous: cursor}},
		{"skip with next is refused", ListUsersOptions{Skip: 10, Next: cursor}},
		{"skip with previous is refused", ListUsersOptions{Skip: 10, Previous: cursor}},
		{"a limit of 101 is refused", ListUsersOptions{Limit: 101}},
		{"a huge limit is refused", ListUsersOptions{Limit: 1 << 40}},
		{"a negative limit is refused", ListUsersOptions{Limit: -1}},
		{"a negative skip is refused", ListUsersOptions{Skip: -1}},
		{"a negative skip with a cursor is refused", ListUsersOptions{Skip: -5, Next: cursor}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			var calls atomic.Int32
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				writeJSON(w, http.StatusOK, emptyPage)
			})

			page, resp, err := client.ListUsers(t.Context(), tt.opts)
			if !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("ListUsers(%+v) error = %v, want ErrInvalidOptions", tt.opts, err)
			}
			if page != nil || resp != nil {
				t.Errorf("ListUsers(%+v) = %v, %v; want nil page and response", tt.opts, page, resp)
			}
			if n := calls.Load(); n != 0 {
				t.Errorf("server saw %d requests, want none", n)
			}
		})
	}

	t.Run("it refuses without calling a custom Doer either", func(t *testing.T) {
		var calls atomic.Int32
		c, err := New("https://cognigy.example/new", WithDoer(doerFunc(func(*http.Request) (*http.Response, error) {
			calls.Add(1)
			return nil, errors.New("must not be called")
		})))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = c.ListUsers(t.Context(), ListUsersOptions{Next: cursor, Previous: cursor})
		if !errors.Is(err, ErrInvalidOptions) || calls.Load() != 0 {
			t.Errorf("err = %v, Doer calls = %d; want ErrInvalidOptions and no call", err, calls.Load())
		}
	})
}

func TestClient_credentials(t *testing.T) {
	authHeaders := []string{HeaderAPIKey, HeaderAuthorization, HeaderCXone, "Api_key"}
	tests := []struct {
		name  string
		creds []Credential // stored in the context in order; none for a bare context
		want  map[string]string
	}{
		{
			name:  "an API key travels as X-API-Key",
			creds: []Credential{NewCredential(APIKey, "k3y")},
			want:  map[string]string{HeaderAPIKey: "k3y"},
		},
		{
			name:  "a bearer token travels as Authorization: Bearer",
			creds: []Credential{NewCredential(Bearer, "t")},
			want:  map[string]string{HeaderAuthorization: "Bearer t"},
		},
		{
			name:  "a CXone token travels as X-Cxone-Authorization: Bearer",
			creds: []Credential{NewCredential(CXone, "t")},
			want:  map[string]string{HeaderCXone: "Bearer t"},
		},
		{
			name: "no credential sends no auth header",
			want: map[string]string{},
		},
		{
			name:  "a credential without a secret sends no auth header",
			creds: []Credential{{Kind: APIKey}},
			want:  map[string]string{},
		},
		{
			name:  "a credential of no known kind sends no auth header",
			creds: []Credential{NewCredential(0, "k3y")},
			want:  map[string]string{},
		},
		{
			name:  "the innermost credential wins",
			creds: []Credential{NewCredential(APIKey, "outer"), NewCredential(Bearer, "inner")},
			want:  map[string]string{HeaderAuthorization: "Bearer inner"},
		},
	}
	for _, tt := range tests {
		for _, call := range []string{"ListUsers", "GetUser"} {
			t.Run(call+"/"+tt.name, func(t *testing.T) {
				client, mux, _ := setup(t)
				var calls atomic.Int32
				check := func(r *http.Request) {
					calls.Add(1)
					for _, h := range authHeaders {
						if want, ok := tt.want[h]; ok {
							testHeader(t, r, h, want)
						} else {
							testNoHeader(t, r, h)
						}
					}
					if r.URL.Query().Has("api_key") {
						t.Errorf("query %q carries api_key", r.URL.RawQuery)
					}
				}
				mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
					check(r)
					writeJSON(w, http.StatusOK, emptyPage)
				})
				mux.HandleFunc("GET /v2.0/users/{id}", func(w http.ResponseWriter, r *http.Request) {
					check(r)
					writeJSON(w, http.StatusOK, `{"_id":"65f0c0ffee0123456789abcd"}`)
				})

				ctx := t.Context()
				for _, c := range tt.creds {
					ctx = WithCredential(ctx, c)
				}
				var err error
				if call == "ListUsers" {
					_, _, err = client.ListUsers(ctx, ListUsersOptions{})
				} else {
					_, _, err = client.GetUser(ctx, "65f0c0ffee0123456789abcd")
				}
				if err != nil {
					t.Fatalf("%s: %v", call, err)
				}
				if calls.Load() != 1 {
					t.Errorf("server saw %d requests, want 1", calls.Load())
				}
			})
		}
	}

	t.Run("concurrent calls each carry their own caller's credential", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			// Echo the key back as the filter-matched user's name.
			key := r.Header.Get(HeaderAPIKey)
			writeJSON(w, http.StatusOK, fmt.Sprintf(`{"items":[{"_id":"65f0c0ffee0123456789abcd","name":%q}],"total":1}`, key))
		})
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Go(func() {
				key := fmt.Sprintf("key-%02d", i)
				ctx := WithCredential(t.Context(), NewCredential(APIKey, key))
				page, _, err := client.ListUsers(ctx, ListUsersOptions{})
				if err != nil {
					t.Errorf("caller %d: %v", i, err)
					return
				}
				if len(page.Items) != 1 || page.Items[0].Name != key {
					t.Errorf("caller %d: server saw key %+v, want %q", i, page.Items, key)
				}
			})
		}
		wg.Wait()
	})

	t.Run("a secret with a line break is refused, not injected as a header", func(t *testing.T) {
		client, mux, _ := setup(t)
		var calls atomic.Int32
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			if r.Header.Get("X-Injected") != "" {
				t.Errorf("header injected: X-Injected = %q", r.Header.Get("X-Injected"))
			}
			writeJSON(w, http.StatusOK, emptyPage)
		})
		const secret = "k3y\r\nX-Injected: yes"
		ctx := WithCredential(t.Context(), NewCredential(APIKey, secret))
		_, _, err := client.ListUsers(ctx, ListUsersOptions{})
		var te *TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v (%T), want *TransportError", err, err)
		}
		if strings.Contains(err.Error(), "k3y") {
			t.Errorf("error %q contains the secret", err)
		}
		if calls.Load() != 0 {
			t.Errorf("server saw %d requests, want none", calls.Load())
		}
	})
}

func TestClient_withDoer(t *testing.T) {
	t.Run("requests go through the given Doer with their headers set", func(t *testing.T) {
		var got *http.Request
		d := doerFunc(func(r *http.Request) (*http.Response, error) {
			got = r
			return &http.Response{
				StatusCode:    http.StatusOK,
				Header:        http.Header{"Content-Type": {"application/json"}},
				Body:          io.NopCloser(strings.NewReader(emptyPage)),
				ContentLength: int64(len(emptyPage)),
				Request:       r,
			}, nil
		})
		c, err := New("https://cognigy.example/new/", WithDoer(d))
		if err != nil {
			t.Fatal(err)
		}
		ctx := WithCredential(t.Context(), NewCredential(Bearer, "t"))
		page, _, err := c.ListUsers(ctx, ListUsersOptions{Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 0 || len(page.Items) != 0 {
			t.Errorf("page = %+v, want an empty page", page)
		}
		if got == nil {
			t.Fatal("the Doer was not called")
		}
		if got.Method != http.MethodGet || got.URL.String() != "https://cognigy.example/new/v2.0/users?limit=5" {
			t.Errorf("request = %s %s, want GET https://cognigy.example/new/v2.0/users?limit=5", got.Method, got.URL)
		}
		if got.Header.Get("Authorization") != "Bearer t" || got.Header.Get("Accept") != "application/json" {
			t.Errorf("request headers = %v", got.Header)
		}
	})

	t.Run("a Doer's *url.Error loses its URL in the TransportError", func(t *testing.T) {
		cause := errors.New("connection reset by peer")
		d := doerFunc(func(r *http.Request) (*http.Response, error) {
			return nil, &url.Error{Op: "Get", URL: r.URL.String(), Err: cause}
		})
		c, err := New("https://cognigy.example/new", WithDoer(d))
		if err != nil {
			t.Fatal(err)
		}
		_, resp, err := c.ListUsers(t.Context(), ListUsersOptions{Filter: "secret-filter"})
		var te *TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v (%T), want *TransportError", err, err)
		}
		if !errors.Is(err, cause) {
			t.Errorf("err = %v, want it to wrap %v", err, cause)
		}
		if resp != nil {
			t.Errorf("resp = %+v, want nil without an HTTP answer", resp)
		}
		if want := "cognigy: request failed: connection reset by peer"; err.Error() != want {
			t.Errorf("err.Error() = %q, want %q", err.Error(), want)
		}
		if te.Timeout() {
			t.Error("Timeout() = true for a reset, want false")
		}
	})

	t.Run("the default timeout puts a deadline on the request and zero removes it", func(t *testing.T) {
		for _, tc := range []struct {
			opts         []Option
			wantDeadline bool
		}{
			{nil, true},
			{[]Option{WithTimeout(0)}, false},
			{[]Option{WithTimeout(-time.Second)}, false},
			{[]Option{WithTimeout(time.Hour)}, true},
		} {
			var hasDeadline bool
			d := doerFunc(func(r *http.Request) (*http.Response, error) {
				_, hasDeadline = r.Context().Deadline()
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(emptyPage)), ContentLength: -1}, nil
			})
			c, err := New("https://cognigy.example/new", append(tc.opts, WithDoer(d))...)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.ListUsers(context.Background(), ListUsersOptions{}); err != nil {
				t.Fatal(err)
			}
			if hasDeadline != tc.wantDeadline {
				t.Errorf("timeout %v: request has a deadline = %v, want %v", c.timeout, hasDeadline, tc.wantDeadline)
			}
		}
	})
}

func TestClient_redirectsAreNotFollowed(t *testing.T) {
	var stolen atomic.Int32
	var stolenKey atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		stolenKey.Store(r.Header.Get(HeaderAPIKey))
		writeJSON(w, http.StatusOK, emptyPage)
	}))
	defer other.Close()

	for _, status := range []int{http.StatusFound, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprintf("a %d to another host returns an *ErrorResponse and leaks no key", status), func(t *testing.T) {
			client, mux, _ := setup(t)
			mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+"/collect", status)
			})
			mux.HandleFunc("GET /v2.0/users/{id}", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+"/collect", status)
			})
			ctx := WithCredential(t.Context(), NewCredential(APIKey, "k3y"))

			_, resp, err := client.ListUsers(ctx, ListUsersOptions{})
			var er *ErrorResponse
			if !errors.As(err, &er) {
				t.Fatalf("ListUsers err = %v (%T), want *ErrorResponse", err, err)
			}
			if er.StatusCode != status {
				t.Errorf("StatusCode = %d, want %d", er.StatusCode, status)
			}
			if resp == nil || resp.StatusCode != status || !strings.HasPrefix(resp.Header.Get("Location"), other.URL) {
				t.Errorf("resp = %+v, want status %d with the Location header", resp, status)
			}
			if strings.Contains(err.Error(), other.URL) {
				t.Errorf("error %q contains the redirect target", err)
			}

			_, _, err = client.GetUser(ctx, "65f0c0ffee0123456789abcd")
			if !errors.As(err, &er) || er.StatusCode != status {
				t.Errorf("GetUser err = %v, want *ErrorResponse %d", err, status)
			}
			if n := stolen.Load(); n != 0 {
				t.Errorf("the other host saw %d requests (X-API-Key %q), want none", n, stolenKey.Load())
			}
		})
	}
}

func TestClient_timeoutAndCancellation(t *testing.T) {
	t.Run("WithTimeout bounds a call to a server that never answers", func(t *testing.T) {
		client, mux, serverURL := setup(t, WithTimeout(50*time.Millisecond))
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		})
		ctx := WithCredential(t.Context(), NewCredential(APIKey, "k3y"))
		page, resp, err := client.ListUsers(ctx, ListUsersOptions{Filter: "needle"})
		var te *TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v (%T), want *TransportError", err, err)
		}
		if !te.Timeout() {
			t.Errorf("Timeout() = false for %v, want true", err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
		}
		if page != nil || resp != nil {
			t.Errorf("page, resp = %v, %v; want nil, nil", page, resp)
		}
		if t.Context().Err() != nil {
			t.Error("the test's own context ended: the deadline was not the client's")
		}
		assertNoLeak(t, err, serverURL, "/v2.0/users", "needle", "k3y")
	})

	t.Run("WithTimeout also bounds reading a body that stalls", func(t *testing.T) {
		client, mux, serverURL := setup(t, WithTimeout(50*time.Millisecond))
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"items":[`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		})
		_, _, err := client.ListUsers(t.Context(), ListUsersOptions{})
		var te *TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v (%T), want *TransportError", err, err)
		}
		if !te.Timeout() {
			t.Errorf("Timeout() = false for %v, want true", err)
		}
		assertNoLeak(t, err, serverURL, "/v2.0/users")
	})

	t.Run("a caller's deadline is honoured", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users/{id}", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, _, err := client.GetUser(ctx, "65f0c0ffee0123456789abcd")
		var te *TransportError
		if !errors.As(err, &te) || !te.Timeout() {
			t.Fatalf("err = %v (%T), want a *TransportError that is a timeout", err, err)
		}
	})

	t.Run("cancelling the context ends a call in flight", func(t *testing.T) {
		client, mux, serverURL := setup(t)
		started := make(chan struct{})
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-r.Context().Done()
		})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() {
			<-started
			cancel()
		}()
		_, resp, err := client.ListUsers(ctx, ListUsersOptions{})
		var te *TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v (%T), want *TransportError", err, err)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want it to wrap context.Canceled", err)
		}
		if te.Timeout() {
			t.Errorf("Timeout() = true for a cancellation, want false")
		}
		if resp != nil {
			t.Errorf("resp = %+v, want nil", resp)
		}
		assertNoLeak(t, err, serverURL, "/v2.0/users")
	})

	t.Run("an already cancelled context fails without an answer", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, emptyPage)
		})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, _, err := client.ListUsers(ctx, ListUsersOptions{})
		var te *TransportError
		if !errors.As(err, &te) || !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v (%T), want a *TransportError wrapping context.Canceled", err, err)
		}
	})

	t.Run("a refused connection is a TransportError without the URL", func(t *testing.T) {
		server := httptest.NewServer(http.NotFoundHandler())
		base := server.URL + basePath
		server.Close()

		c, err := New(base)
		if err != nil {
			t.Fatal(err)
		}
		ctx := WithCredential(t.Context(), NewCredential(APIKey, "k3y"))
		_, resp, err := c.ListUsers(ctx, ListUsersOptions{Filter: "needle"})
		var te *TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v (%T), want *TransportError", err, err)
		}
		if te.Timeout() {
			t.Errorf("Timeout() = true for a refused connection, want false")
		}
		if resp != nil {
			t.Errorf("resp = %+v, want nil", resp)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			t.Errorf("err wraps *url.Error %v, want it unwrapped", ue)
		}
		assertNoLeak(t, err, base, "/v2.0/users", "needle", "k3y")
	})
}

// assertNoLeak fails the test when err's message contains any of secrets.
func assertNoLeak(t *testing.T, err error, secrets ...string) {
	t.Helper()
	msg := err.Error()
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("error %q contains %q", msg, s)
		}
	}
}
