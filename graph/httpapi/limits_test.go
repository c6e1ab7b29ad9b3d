package httpapi_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/usersgraph/usersgraph/graph/graphtest"

	"github.com/usersgraph/usersgraph/graph/httpapi"
)

func TestQueryLimits(t *testing.T) {
	e := graphtest.Setup(t)
	introspection, err := os.ReadFile("testdata/hostile/standard-introspection.graphql")
	if err != nil {
		t.Fatal(err)
	}
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 100 {
		aliases.WriteString(" a")
		aliases.WriteString(strings.Repeat("x", i%7))
		aliases.WriteString(string(rune('a' + i%26)))
		aliases.WriteString(strings.Repeat("y", i/26))
		aliases.WriteString(": users(first: 100) { nodes { id name } }")
	}
	aliases.WriteString(" }")
	deep := "{ users(first: 1) { nodes { " + strings.Repeat("createdBy { ", 12) + "id" + strings.Repeat(" }", 12) + " } } }"
	full := `{ a: users(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id email name lastActive createdAt lastChanged createdBy { name } lastChangedBy { name } } } } }`
	twoFull := `{ a: users(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id email name lastActive createdAt lastChanged createdBy { name } lastChangedBy { name } } } }
	           b: users(last: 100, orderBy: {field: NAME}) { nodes { id name createdBy { id name } } } }`

	cases := []struct {
		name, query, code string
	}{
		{"a hundred aliases of users(first: 100) are refused", aliases.String(), "COMPLEXITY_LIMIT_EXCEEDED"},
		{"createdBy nested 12 deep is refused", deep, "QUERY_TOO_DEEP"},
		{"a full page with both references is allowed", full, ""},
		{"two full pages with creators may make 302 calls and are refused", twoFull, "UPSTREAM_BUDGET_EXCEEDED"},
		{"the standard introspection query is allowed", string(introspection), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.Fake.ResetCounts()
			r := e.Query(t, tc.query, nil, graphtest.APIKey)
			if tc.code == "" {
				var v map[string]any
				r.MustData(t, &v)
				return
			}
			if err := r.OnlyError(t); err.Code() != tc.code {
				t.Fatalf("code %s (%s)", err.Code(), err.Message)
			}
			if n := e.Fake.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls before the refusal", n)
			}
		})
	}
}

// upstreamCalls reads extensions.upstreamCalls of an answer.
func upstreamCalls(t *testing.T, r graphtest.Response) (estimated, spent int64) {
	t.Helper()
	var v struct {
		Extensions struct {
			UpstreamCalls *struct{ Estimated, Spent int64 }
		}
	}
	if err := json.Unmarshal([]byte(r.Raw), &v); err != nil || v.Extensions.UpstreamCalls == nil {
		t.Fatalf("no extensions.upstreamCalls: %s", graphtest.Short(r.Raw))
	}
	return v.Extensions.UpstreamCalls.Estimated, v.Extensions.UpstreamCalls.Spent
}

func TestIntrospectionCanBeTurnedOff(t *testing.T) {
	e := graphtest.Setup(t, graphtest.WithConfig(func(c *httpapi.Config) { c.DisableIntrospection = true }))
	if err := e.Query(t, `{ __schema { queryType { name } } }`, nil).OnlyError(t); err.Code() != httpapi.CodeIntrospectionDisabled {
		t.Fatalf("introspection answered %s: %s", err.Code(), err.Message)
	}
	var v struct{ Users struct{ TotalCount int } }
	e.Query(t, `{ users(first: 1) { totalCount } }`, nil, graphtest.APIKey).MustData(t, &v)
}
