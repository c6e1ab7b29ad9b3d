package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/usersgraph/usersgraph/graph/graphtest"

	"github.com/usersgraph/usersgraph/graph/httpapi"
)

func TestTheObserverSeesEveryOperationWithItsOutcome(t *testing.T) {
	rec := &graphtest.OpRecorder{}
	e := graphtest.Setup(t, graphtest.WithConfig(func(c *httpapi.Config) { c.Observer = rec }))
	cases := []struct {
		name, query, wantName, wantOutcome string
	}{
		{"a named query that succeeds", `query Page { users(first: 1) { totalCount } }`, "Page", "ok"},
		{"an anonymous query", `{ users(first: 1) { totalCount } }`, "", "ok"},
		{"a resolver error", `query TooMany { users(first: 101) { totalCount } }`, "TooMany", "BAD_USER_INPUT"},
		{"a parse error", `query Broken {`, "", "GRAPHQL_PARSE_FAILED"},
		{"a validation error", `query Unknown { nope }`, "", "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is observed", func(t *testing.T) {
			e.Query(t, tc.query, nil, graphtest.APIKey)
			got := rec.Last()
			if got.Name != tc.wantName || got.Outcome != tc.wantOutcome || got.Elapsed <= 0 {
				t.Fatalf("observed %+v, want name %q outcome %s", got, tc.wantName, tc.wantOutcome)
			}
		})
	}
	t.Run("a request error is observed with its code", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.Srv.URL, strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := rec.Last(); got.Outcome != "BAD_REQUEST" {
			t.Fatalf("observed %+v", got)
		}
	})
}

func TestTheObserverSeesLookupBatches(t *testing.T) {
	// K = 10 distinct creators and changers, J = 4 of them on the page:
	// six lookups, all in one batch.
	users, _, _ := graphtest.CreatorDataset(10, 4)
	rec := &graphtest.OpRecorder{}
	e := graphtest.Setup(t, graphtest.WithUsers(users), graphtest.WithConfig(func(c *httpapi.Config) { c.Observer = rec }))
	var v map[string]any
	e.Query(t, graphtest.CreatorsQuery, nil, graphtest.APIKey).MustData(t, &v)
	if got := fmt.Sprint(rec.Batches()); got != "[6]" {
		t.Fatalf("batches %s, want [6]", got)
	}
}
