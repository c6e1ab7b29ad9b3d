package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/graph/graphtest"

	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/graph/pagination"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// fuzzEnv is a facade over the Cognigy fake for a fuzz target. setup needs
// a *testing.T, which a fuzz target only gets per input, so this builds the
// same stack once per fuzzing process from the *testing.F.
type fuzzEnv struct {
	srv      *httptest.Server
	client   *http.Client
	upstream string                // the fake's host:port, which no answer may reveal
	logs     *graphtest.SyncBuffer // the handler's log
	httpLog  *graphtest.SyncBuffer // the HTTP server's own log (handler panics end up here)
}

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(graphtest.TestKey))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(fake.Close)
	u, err := url.Parse(fake.URL)
	if err != nil {
		tb.Fatal(err)
	}
	up, err := restclient.New(fake.URL, restclient.WithTimeout(5*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	e := &fuzzEnv{upstream: u.Host, logs: &graphtest.SyncBuffer{}, httpLog: &graphtest.SyncBuffer{}}
	h := httpapi.NewHandler(httpapi.Config{
		Upstream: up,
		// Callers without a credential act with the fake's key, so that
		// fuzzed queries reach the upstream.
		DefaultCredential: restclient.NewCredential(restclient.APIKey, graphtest.TestKey),
		RequestTimeout:    10 * time.Second,
		Logger:            slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	e.srv = httptest.NewUnstartedServer(h)
	e.srv.Config.ErrorLog = log.New(e.httpLog, "", 0)
	e.srv.Start()
	tb.Cleanup(e.srv.Close) // also closes the client's idle connections
	e.client = e.srv.Client()
	e.client.Timeout = 20 * time.Second
	return e
}

// FuzzRequest sends arbitrary GraphQL-over-HTTP requests through the real
// handler and checks that every answer is a well-formed GraphQL response
// that never is a server error and never leaks internals.
func FuzzRequest(f *testing.F) {
	q := pagination.QueryKey("", "_id:asc")
	after := pagination.Cursor{Query: q, Offset: 24}.Encode()
	afterTok := pagination.Cursor{Query: q, Offset: 24, Forward: "0123456789abcdef01234567"}.Encode()
	beforeRev := pagination.Cursor{Query: q, Offset: 40, Reversed: true, Backward: "0123456789abcdef01234567"}.Encode()
	farAway := pagination.Cursor{Query: q, Offset: 1 << 40}.Encode()
	foreign := pagination.Cursor{Query: pagination.QueryKey("x", "_id:asc"), Offset: 1}.Encode()
	id := restclienttest.NewID(1)

	const (
		jsonCT   = "application/json"
		gqlResp  = "application/graphql-response+json"
		page     = `users(first: 3) { totalCount edges { cursor node { id email name lastActive createdAt lastChanged createdBy { id name } lastChangedBy { id } } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }`
		nodesSel = `{ id ... on User { name createdBy { id } } }`
	)
	post := func(query string, vars map[string]any) string {
		b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
		if err != nil {
			f.Fatal(err)
		}
		return string(b)
	}
	deep := strings.Repeat("createdBy { ", 20) + "id" + strings.Repeat(" }", 20)
	seeds := []struct{ method, contentType, accept, body, rawQuery string }{
		// Valid queries.
		{"POST", jsonCT, "", `{"query":"{ __typename }"}`, ""},
		{"POST", jsonCT, gqlResp, post(`{ `+page+` }`, nil), ""},
		{"POST", jsonCT, "", post(`query($a: String) { users(first: 5, after: $a) { edges { cursor node { id } } pageInfo { endCursor } } }`, map[string]any{"a": after}), ""},
		{"POST", jsonCT, "", post(`query($a: String) { users(first: 100, after: $a) { totalCount nodes { id } } }`, map[string]any{"a": afterTok}), ""},
		{"POST", jsonCT, "", post(`query($b: String) { users(last: 10, before: $b) { totalCount nodes { id } } }`, map[string]any{"b": beforeRev}), ""},
		{"POST", jsonCT, "", post(`query($a: String, $b: String) { users(last: 2, after: $a, before: $b) { nodes { id } } }`, map[string]any{"a": after, "b": farAway}), ""},
		{"POST", jsonCT, "", post(`query($a: String) { users(after: $a) { totalCount } }`, map[string]any{"a": foreign}), ""},
		{"POST", jsonCT, "", post(`{ users(last: 5, orderBy: [{field: NAME, direction: DESC}, {field: ID}, {field: EMAIL}]) { nodes { id name } } }`, nil), ""},
		{"POST", jsonCT, "", post(`{ users(first: 2) { nodes { `+deep+` } } }`, nil), ""},
		{"POST", jsonCT, "", post(`query($id: ID!) { user(id: $id) { id name } node(id: $id) `+nodesSel+` }`, map[string]any{"id": id}), ""},
		{"POST", jsonCT, "", post(`query($ids: [ID!]!) { nodes(ids: $ids) `+nodesSel+` }`, map[string]any{"ids": []string{id, "nope", id, strings.Repeat("f", 24)}}), ""},
		{"POST", jsonCT, "", post(`query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id name createdBy { id } } } }`, map[string]any{"r": []any{map[string]any{"__typename": "User", "id": id}, map[string]any{"__typename": "User"}, map[string]any{"__typename": "Nope", "id": 1}, "x"}}), ""},
		{"POST", jsonCT, "", `{"query":"{ _service { sdl } }"}`, ""},
		{"POST", jsonCT, "", `{"query":"{ __schema { types { name fields { name } } } }"}`, ""},
		// Unicode and odd filters.
		{"POST", jsonCT, "", post(`query($f: String) { users(filter: $f) { totalCount nodes { name } } }`, map[string]any{"f": "Zoë Müller 𝄞 \u202e\u0000"}), ""},
		{"POST", jsonCT, "", `{"query":"query($f: String) { users(filter: $f) { totalCount } }","variables":{"f":"\udc00\ud800 lone surrogates"}}`, ""},
		{"POST", jsonCT, "", `{"query":"{ users(filter: \"` + strings.Repeat("ä", 200) + `\") { totalCount } }"}`, ""},
		// Huge and odd numbers.
		{"POST", jsonCT, "", `{"query":"{ users(first: 99999999999999999999) { totalCount } }"}`, ""},
		{"POST", jsonCT, "", `{"query":"query($n: Int) { users(first: $n) { totalCount } }","variables":{"n":1e400}}`, ""},
		{"POST", jsonCT, "", `{"query":"query($n: Int) { users(last: $n) { totalCount } }","variables":{"n":-9223372036854775808}}`, ""},
		{"POST", jsonCT, "", `{"query":"query($n: Int) { users(first: $n) { totalCount } }","variables":{"n":2.5}}`, ""},
		// Malformed requests.
		{"POST", jsonCT, "", `{"query": "{ __typename }"`, ""},
		{"POST", jsonCT, "", `{"query":"{ __typename }"} {"query":"{ __typename }"}`, ""},
		{"POST", jsonCT, "", `null`, ""},
		{"POST", jsonCT, "", `{"query":1,"variables":"x"}`, ""},
		{"POST", jsonCT, "", `{"query":"{ __typename }","variables":{"v":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}}`, ""},
		{"POST", jsonCT, "", `{"query":"` + strings.Repeat("{ users { nodes ", 300) + `"}`, ""},
		{"POST", jsonCT, "", `{"query":"{ a: __typename b: __typename }","operationName":"Missing"}`, ""},
		{"POST", jsonCT, "", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + strings.Repeat("0", 64) + `"}}}`, ""},
		{"POST", jsonCT, "", `{"extensions":{"persistedQuery":7}}`, ""},
		{"POST", jsonCT, "", "", ""},
		// Content types and Accept.
		{"POST", "text/plain", "", `{"query":"{ __typename }"}`, ""},
		{"POST", "", "", `{"query":"{ __typename }"}`, ""},
		{"POST", "application/json; charset=latin1", "", `{"query":"{ __typename }"}`, ""},
		{"POST", "application/json; charset=\"", "", `{"query":"{ __typename }"}`, ""},
		{"POST", jsonCT, "text/html", `{"query":"{ __typename }"}`, ""},
		{"POST", jsonCT, gqlResp + ";q=0.5, */*;q=0.9", `{"query":"{ nope }"}`, ""},
		{"POST", jsonCT, "application/json;q=NaN, application/*;q=-1", `{"query":"{ __typename }"}`, ""},
		// GET.
		{"GET", "", "", "", "query=" + url.QueryEscape(`{ users(first: 2) { nodes { id } } }`)},
		{"GET", "", gqlResp, "", "query=" + url.QueryEscape(`mutation { x }`)},
		{"GET", "", "", "", "query=" + url.QueryEscape(`mutation M { x } query Q { __typename }`) + "&operationName=M"},
		{"GET", "", "", "", "query=%7B&variables=%7B&extensions=%5B"},
		{"GET", "", "", "", "query=%zz;&&=="},
		{"GET", "", "", "", ""},
		{"HEAD", "", "", "", "query=" + url.QueryEscape(`{ __typename }`)},
		{"PUT", jsonCT, "", `{"query":"{ __typename }"}`, ""},
		{"DELETE", "", "", "", ""},
		{"OPTIONS", "", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.contentType, s.accept, s.body, s.rawQuery)
	}

	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, method, contentType, accept, body, rawQuery string) {
		if !validMethod(method) {
			return // the client refuses it; nothing reaches the handler
		}
		u, err := url.Parse(e.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		u.RawQuery = requestURIQuery(rawQuery)
		req, err := http.NewRequestWithContext(t.Context(), method, u.String(), strings.NewReader(body))
		if err != nil {
			return
		}
		if v := headerValue(contentType); v != "" {
			req.Header.Set("Content-Type", v)
		}
		if v := headerValue(accept); v != "" {
			req.Header.Set("Accept", v)
		}
		logMark, httpMark := len(e.logs.String()), len(e.httpLog.String())
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatalf("%s: no answer: %v\nserver log: %s\nhandler log: %s", describeRequest(req, body), err, graphtest.Short(e.httpLog.String()), graphtest.Short(e.logs.String()))
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: reading the answer: %v", describeRequest(req, body), err)
		}
		got := string(b)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s: status %d: %s\nhandler log: %s", describeRequest(req, body), resp.StatusCode, graphtest.Short(got), graphtest.Short(e.logs.String()))
		}
		if s := e.httpLog.String()[httpMark:]; strings.Contains(s, "panic") {
			t.Fatalf("%s: the handler panicked: %s", describeRequest(req, body), graphtest.Short(s))
		}
		logged := e.logs.String()[logMark:]
		if strings.Contains(logged, "resolver panicked") {
			// Recovered, so the answer only says "internal server error".
			t.Fatalf("%s: a resolver panicked: %s", describeRequest(req, body), graphtest.Short(logged))
		}
		// No input may earn the generic INTERNAL_SERVER_ERROR, the answer
		// to an error the presenter could not classify.
		if strings.Contains(logged, "resolver failed") {
			t.Fatalf("%s: an unclassified error reached the error presenter: %s", describeRequest(req, body), graphtest.Short(logged))
		}
		if req.Method == http.MethodHead || req.Method == http.MethodOptions {
			return // no body: HEAD by definition, OPTIONS is the CORS and Allow answer
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal([]byte(got), &doc); err != nil {
			t.Fatalf("%s: status %d, body is not a JSON object: %v\n%s", describeRequest(req, body), resp.StatusCode, err, graphtest.Short(got))
		}
		var errs []json.RawMessage
		if v, ok := doc["errors"]; ok {
			if err := json.Unmarshal(v, &errs); err != nil || len(errs) == 0 {
				t.Fatalf("%s: errors is not a non-empty array: %s", describeRequest(req, body), graphtest.Short(got))
			}
		}
		if _, ok := doc["data"]; !ok && len(errs) == 0 {
			t.Fatalf("%s: neither data nor errors: %s", describeRequest(req, body), graphtest.Short(got))
		}
		for _, bad := range []string{"goroutine ", "panic", e.upstream} {
			if strings.Contains(got, bad) && !echoed(bad, method, contentType, accept, body, rawQuery) {
				t.Fatalf("%s: the answer contains %q: %s", describeRequest(req, body), bad, graphtest.Short(got))
			}
		}
		if strings.Contains(got, `"INTERNAL_SERVER_ERROR"`) {
			t.Fatalf("%s: an internal error reached the client: %s", describeRequest(req, body), graphtest.Short(got))
		}
	})
}

// validMethod reports whether m is a method the HTTP client sends as is: an
// RFC 9110 token ("" means GET). CONNECT is left out: the client sends it
// in authority form, which never names the endpoint.
func validMethod(m string) bool {
	if m == "" {
		return true
	}
	if m == http.MethodConnect {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// headerValue drops the bytes a header value cannot carry on the wire, so
// the rest of a fuzzed value still reaches the handler.
func headerValue(v string) string {
	return strings.Map(func(r rune) rune {
		if (r < ' ' && r != '\t') || r == 0x7f {
			return -1
		}
		return r
	}, v)
}

// requestURIQuery escapes only what cannot stand in a request line (space,
// controls, '#'), leaving every other byte, malformed escapes included, for
// the handler's own parsing.
func requestURIQuery(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c <= ' ' || c == 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// echoed reports whether s occurs in what the client sent, in any of the
// forms the server may legitimately repeat (an unknown field's name, say).
func echoed(s string, inputs ...string) bool {
	for _, in := range inputs {
		if strings.Contains(in, s) {
			return true
		}
		if un, err := url.QueryUnescape(in); err == nil && strings.Contains(un, s) {
			return true
		}
		var v any
		if json.Unmarshal([]byte(in), &v) == nil && jsonContains(v, s) {
			return true
		}
	}
	return false
}

func jsonContains(v any, s string) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, s)
	case map[string]any:
		for k, x := range v {
			if strings.Contains(k, s) || jsonContains(x, s) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if jsonContains(x, s) {
				return true
			}
		}
	}
	return false
}

func describeRequest(req *http.Request, body string) string {
	return fmt.Sprintf("%s %s (Content-Type %q, Accept %q, body %q)", req.Method, req.URL.RequestURI(), req.Header.Get("Content-Type"), req.Header.Get("Accept"), graphtest.Short(body))
}
