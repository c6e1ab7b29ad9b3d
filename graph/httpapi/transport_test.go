package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/graph/graphtest"
	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/restclient"
)

func TestGraphQLOverHTTP(t *testing.T) {
	e := graphtest.Setup(t, graphtest.WithDefaultKey(graphtest.TestKey))
	const gqlResp = "application/graphql-response+json"
	big := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`
	cases := []struct {
		name        string
		method      string
		query       string // GET query string
		contentType string
		accept      string
		body        string
		status      int
		wantType    string
		wantData    bool   // the body has a data entry
		wantIn      string // the body contains this
		notIn       string // and not this
	}{
		{name: "a POST query answers 200 with data", method: "POST", contentType: "application/json", body: `{"query":"{ __typename }"}`, status: 200, wantType: "application/json", wantData: true},
		{name: "graphql-response+json is chosen when accepted", method: "POST", contentType: "application/json", accept: gqlResp + ", application/json;q=0.9", body: `{"query":"{ __typename }"}`, status: 200, wantType: gqlResp, wantData: true},
		{name: "a weight decides between the two types", method: "POST", contentType: "application/json", accept: gqlResp + ";q=0.5, application/json", body: `{"query":"{ __typename }"}`, status: 200, wantType: "application/json", wantData: true},
		{name: "an unacceptable Accept is 406", method: "POST", contentType: "application/json", accept: "text/html", body: `{"query":"{ __typename }"}`, status: 406, wantType: "application/json"},
		{name: "a parse error is 200 without data for application/json", method: "POST", contentType: "application/json", accept: "application/json", body: `{"query":"{"}`, status: 200, wantType: "application/json", wantIn: "GRAPHQL_PARSE_FAILED"},
		{name: "a parse error is 400 without data for graphql-response+json", method: "POST", contentType: "application/json", accept: gqlResp, body: `{"query":"{"}`, status: 400, wantType: gqlResp, wantIn: "GRAPHQL_PARSE_FAILED"},
		{name: "a validation error is 400 for graphql-response+json", method: "POST", contentType: "application/json", accept: gqlResp, body: `{"query":"{ nope }"}`, status: 400, wantType: gqlResp, wantIn: "GRAPHQL_VALIDATION_FAILED"},
		{name: "a variable coercion error is 400 for graphql-response+json", method: "POST", contentType: "application/json", accept: gqlResp, body: `{"query":"query($n: Int) { users(first: $n) { totalCount } }","variables":{"n":"many"}}`, status: 400, wantType: gqlResp},
		{name: "a huge integer is a clear argument error, not a 500", method: "POST", contentType: "application/json", body: `{"query":"query($n: Int) { users(first: $n) { totalCount } }","variables":{"n":99999999999}}`, status: 200, wantType: "application/json", wantData: true, wantIn: "between 0 and 100"},
		{name: "a resolver error is still 200 with data", method: "POST", contentType: "application/json", accept: gqlResp, body: `{"query":"{ users(first: 101) { totalCount } }"}`, status: 200, wantType: gqlResp, wantData: true, wantIn: "BAD_USER_INPUT"},
		{name: "malformed JSON is 400 and not echoed", method: "POST", contentType: "application/json", body: `{"query": "{ __typename }" SECRET-ECHO`, status: 400, wantType: "application/json", notIn: "SECRET-ECHO"},
		{name: "a JSON array body is 400", method: "POST", contentType: "application/json", body: `[{"query":"{ __typename }"}]`, status: 400, wantType: "application/json", wantIn: "the body must be a JSON object"},
		{name: "a null body is 400", method: "POST", contentType: "application/json", body: ` null`, status: 400, wantType: "application/json", wantIn: "the body must be a JSON object"},
		{name: "data after the object is 400", method: "POST", contentType: "application/json", body: `{"query":"{ __typename }"} {}`, status: 400, wantType: "application/json", wantIn: "the body must be a JSON object"},
		{name: "variables that are not an object are 400", method: "POST", contentType: "application/json", body: `{"query":"{ __typename }","variables":[1]}`, status: 400, wantType: "application/json", wantIn: "variables and extensions objects"},
		{name: "a query that is not a string is 400", method: "POST", contentType: "application/json", body: `{"query":5}`, status: 400, wantType: "application/json", wantIn: "query and operationName must be strings"},
		{name: "a documentId that is not a string is 400", method: "POST", contentType: "application/json", body: `{"documentId":5}`, status: 400, wantType: "application/json", wantIn: "documentId must be a string"},
		{name: "a body without a query is 400", method: "POST", contentType: "application/json", body: `{"qeury":"{ __typename }"}`, status: 400, wantType: "application/json"},
		{name: "another content type is 415", method: "POST", contentType: "text/plain", body: `{"query":"{ __typename }"}`, status: 415, wantType: "application/json"},
		{name: "no content type is 415", method: "POST", body: `{"query":"{ __typename }"}`, status: 415, wantType: "application/json"},
		{name: "a body over the limit is 413", method: "POST", contentType: "application/json", body: big, status: 413, wantType: "application/json"},
		{name: "a GET query answers 200", method: "GET", query: "query=" + url.QueryEscape("{ __typename }"), status: 200, wantType: "application/json", wantData: true},
		{name: "a GET mutation is 405", method: "GET", query: "query=" + url.QueryEscape("mutation { x }"), status: 405, wantType: "application/json"},
		{name: "GET variables that are not JSON are 400", method: "GET", query: "query=" + url.QueryEscape("{ __typename }") + "&variables=%7B", status: 400, wantType: "application/json"},
		{name: "a persisted query whose hash does not match is 400 BAD_REQUEST", method: "POST", contentType: "application/json", accept: gqlResp, body: `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + strings.Repeat("0", 64) + `"}}}`, status: 400, wantType: gqlResp, wantIn: `"BAD_REQUEST"`},
		{name: "an unknown persisted query version is BAD_REQUEST", method: "POST", contentType: "application/json", body: `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":2,"sha256Hash":"x"}}}`, status: 200, wantType: "application/json", wantIn: `"BAD_REQUEST"`},
		{name: "a persistedQuery that is not an object is BAD_REQUEST", method: "POST", contentType: "application/json", body: `{"extensions":{"persistedQuery":7}}`, status: 200, wantType: "application/json", wantIn: `"BAD_REQUEST"`},
		{name: "PUT is 405", method: "PUT", contentType: "application/json", body: `{"query":"{ __typename }"}`, status: 405, wantType: "application/json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := e.Srv.URL
			if tc.query != "" {
				u += "?" + tc.query
			}
			req, err := http.NewRequestWithContext(t.Context(), tc.method, u, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.wantType) {
				t.Fatalf("status %d type %q, want %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.wantType, graphtest.Short(string(b)))
			}
			var body map[string]json.RawMessage
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("not JSON: %s", graphtest.Short(string(b)))
			}
			if _, has := body["data"]; has != tc.wantData {
				t.Fatalf("data entry present=%v, want %v: %s", has, tc.wantData, graphtest.Short(string(b)))
			}
			if !tc.wantData && len(body["errors"]) == 0 {
				t.Fatalf("no errors: %s", graphtest.Short(string(b)))
			}
			if tc.wantIn != "" && !strings.Contains(string(b), tc.wantIn) {
				t.Fatalf("body lacks %q: %s", tc.wantIn, graphtest.Short(string(b)))
			}
			if tc.notIn != "" && strings.Contains(string(b), tc.notIn) {
				t.Fatalf("body repeats %q", tc.notIn)
			}
			if resp.StatusCode == 405 && resp.Header.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
		})
	}
}

// Answers are written into buffers lent from a pool: concurrent requests
// of different sizes each get their own answer, whole.
func TestConcurrentAnswersDoNotShareABuffer(t *testing.T) {
	e := graphtest.Setup(t)
	var wg sync.WaitGroup
	for i := range 40 {
		n := 1 + i%20
		wg.Go(func() {
			for range 5 {
				var got struct {
					Users struct {
						Nodes []struct{ ID, Name string }
					}
				}
				e.Query(t, `query($n: Int) { users(first: $n, orderBy: {field: NAME, direction: DESC}) { nodes { id name } } }`,
					map[string]any{"n": n}, graphtest.APIKey).MustData(t, &got)
				if len(got.Users.Nodes) != n || got.Users.Nodes[n-1].ID == "" {
					t.Errorf("first: %d answered %d users: %+v", n, len(got.Users.Nodes), got.Users.Nodes)
					return
				}
			}
		})
	}
	wg.Wait()
}

// An answer, executed, shared or cached, says its length: it goes out in
// one piece, not in chunks.
func TestAnswersCarryTheirLength(t *testing.T) {
	e := graphtest.Setup(t, graphtest.WithClient(restclient.WithCache(time.Minute, 100)),
		graphtest.WithConfig(func(c *httpapi.Config) { c.ResponseCacheTTL = time.Minute }))
	for i := range 3 { // executed, executed and kept, then from the response cache
		req, _ := http.NewRequest(http.MethodPost, e.Srv.URL, strings.NewReader(`{"query":"{ users(first: 30) { nodes { id name } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(restclient.HeaderAPIKey, graphtest.TestKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 || !strings.HasSuffix(string(body), "}}}") {
			t.Fatalf("answer %d: Content-Length %d, Transfer-Encoding %v, %d bytes: %.80s", i, resp.ContentLength, resp.TransferEncoding, len(body), body)
		}
	}
}
