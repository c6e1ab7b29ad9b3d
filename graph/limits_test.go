package graph_test

import (
	"os"
	"strings"
	"testing"

	"github.com/usersgraph/usersgraph/graph"
)

func TestQueryLimits(t *testing.T) {
	e := setup(t)
	introspection, err := os.ReadFile("testdata/introspection.graphql")
	if err != nil {
		t.Fatal(err)
	}
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 1000 {
		aliases.WriteString(" a")
		aliases.WriteString(strings.Repeat("x", i%7))
		aliases.WriteString(string(rune('a' + i%26)))
		aliases.WriteString(strings.Repeat("y", i/26))
		aliases.WriteString(": users(first: 100) { nodes { id name } }")
	}
	aliases.WriteString(" }")
	deep := "{ users(first: 1) { nodes { " + strings.Repeat("createdBy { ", 12) + "id" + strings.Repeat(" }", 12) + " } } }"
	full := `{ a: users(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id email name lastActive createdAt lastChanged createdBy { name } lastChangedBy { name } } } }
	           b: users(last: 100, orderBy: {field: NAME}) { nodes { id name createdBy { id name } } } }`

	cases := []struct {
		name, query, code string
	}{
		{"a thousand aliases of users(first: 100) are refused", aliases.String(), "COMPLEXITY_LIMIT_EXCEEDED"},
		{"createdBy nested 12 deep is refused", deep, "QUERY_TOO_DEEP"},
		{"two full pages with creators are allowed", full, ""},
		{"the standard introspection query is allowed", string(introspection), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.fake.ResetCounts()
			r := e.query(t, tc.query, nil, apiKey)
			if tc.code == "" {
				var v map[string]any
				r.mustData(t, &v)
				return
			}
			if err := r.onlyError(t); err.code() != tc.code {
				t.Fatalf("code %s (%s)", err.code(), err.Message)
			}
			if n := e.fake.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls before the refusal", n)
			}
		})
	}
}

func TestIntrospectionCanBeTurnedOff(t *testing.T) {
	e := setup(t, withConfig(func(c *graph.Config) { c.DisableIntrospection = true }))
	if r := e.query(t, `{ __schema { queryType { name } } }`, nil); len(r.Errors) == 0 {
		t.Fatalf("introspection answered: %s", short(r.Raw))
	}
	var v struct{ Users struct{ TotalCount int } }
	e.query(t, `{ users(first: 1) { totalCount } }`, nil, apiKey).mustData(t, &v)
}
