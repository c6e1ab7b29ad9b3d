// Package hostile is a corpus of hostile GraphQL operations, after the
// attacks of issue 11 and the OWASP GraphQL cheat sheet (aliases, batching,
// directives, duplicated fields, deep nesting, circular fragments, fragment
// explosion, huge variables), each with what the facade must answer: the
// code it is refused with, or an answer within its budget. Small documents
// are files in graph/httpapi/testdata/hostile; large ones are built here.
// The table test of graph/httpapi and cmd/usersgraph-hostile share it.
package hostile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Case is one hostile request.
type Case struct {
	Name string
	// Body is the request's JSON body.
	Body []byte
	// IntrospectionOff runs the case on a facade with introspection off.
	IntrospectionOff bool
	// Want is the code the request is refused with (the first error's,
	// or the last one's for TOO_MANY_ERRORS); "" means it is answered
	// without errors, within its budget.
	Want string
	// NotIn is text the answer must not contain.
	NotIn string
}

// Load reads the documents of dir (*.graphql, with "# want: CODE",
// "# introspection: off", "# variables: {json}" and "# not-in: text"
// header lines) and adds the generated cases.
func Load(dir string) ([]Case, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.graphql"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var cases []Case
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		c, err := parseFile(strings.TrimSuffix(filepath.Base(p), ".graphql"), string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		cases = append(cases, c)
	}
	return append(cases, Generated()...), nil
}

func parseFile(name, doc string) (Case, error) {
	c := Case{Name: name}
	var vars map[string]any
	for line := range strings.SplitSeq(doc, "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "#"), ":")
		if !strings.HasPrefix(line, "#") || !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "want":
			c.Want = v
		case "introspection":
			c.IntrospectionOff = v == "off"
		case "not-in":
			c.NotIn = v
		case "variables":
			if err := json.Unmarshal([]byte(v), &vars); err != nil {
				return c, fmt.Errorf("variables: %w", err)
			}
		}
	}
	c.Body = body(doc, vars)
	return c, nil
}

func body(doc string, vars map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"query": doc, "variables": vars})
	if err != nil {
		panic(err) // strings and JSON values only
	}
	return b
}

func repeat(n int, f func(i int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(f(i))
		b.WriteByte(' ')
	}
	return b.String()
}

// id is a 24-hex id that no user of the fake has.
func id(i int) string { return fmt.Sprintf("%024x", 0xdead0000+i) }

// Generated is the corpus's large cases.
func Generated() []Case {
	fragmentChain := func(levels int, on, last string) string {
		var b strings.Builder
		b.WriteString("query { ...F0 }\n")
		for i := range levels {
			fmt.Fprintf(&b, "fragment F%d on %s { ...F%d ...F%d }\n", i, on, i+1, i+1)
		}
		fmt.Fprintf(&b, "fragment F%d on %s { %s }\n", levels, on, last)
		return b.String()
	}
	var entities []any
	for i := range 1000 {
		entities = append(entities, map[string]any{"__typename": "User", "id": id(i)})
	}
	var ids []string
	for i := range 100000 {
		ids = append(ids, id(i))
	}
	return []Case{
		{Name: "aliases-1000-users-distinct-filters",
			Body: body("{ "+repeat(1000, func(i int) string { return fmt.Sprintf(`a%d: users(first: 1, filter: "q%d") { totalCount }`, i, i) })+"}", nil),
			Want: "TOKEN_LIMIT_EXCEEDED"},
		{Name: "aliases-300-users-distinct-filters",
			Body: body("{ "+repeat(300, func(i int) string { return fmt.Sprintf(`a%d: users(first: 1, filter: "q%d") { totalCount }`, i, i) })+"}", nil),
			Want: "UPSTREAM_BUDGET_EXCEEDED"},
		{Name: "aliases-900-user-unknown-ids",
			Body: body("{ "+repeat(900, func(i int) string { return fmt.Sprintf(`a%d: user(id: "%s") { id }`, i, id(i)) })+"}", nil),
			Want: "UPSTREAM_BUDGET_EXCEEDED"},
		{Name: "aliases-900-nodes",
			Body: body("{ "+repeat(900, func(i int) string { return fmt.Sprintf(`a%d: node(id: "%s") { id }`, i, id(i)) })+"}", nil),
			Want: "UPSTREAM_BUDGET_EXCEEDED"},
		{Name: "aliases-3000-totalCount",
			Body: body("{ users(first: 2) { "+repeat(3000, func(i int) string { return fmt.Sprintf("t%d: totalCount", i) })+"} }", nil),
			Want: "COMPLEXITY_LIMIT_EXCEEDED"},
		{Name: "directives-327649-unknown",
			Body: body("{ users(first: 1) { totalCount "+strings.Repeat("@a ", 327649)+"} }", nil),
			Want: "TOKEN_LIMIT_EXCEEDED"},
		{Name: "directives-4000-unknown",
			Body: body("{ users(first: 1) { totalCount "+strings.Repeat("@a ", 4000)+"} }", nil),
			Want: "TOO_MANY_ERRORS"},
		{Name: "directives-1000-skip",
			Body: body("{ users(first: 1) { totalCount "+strings.Repeat("@skip(if: false) ", 1000)+"} }", nil),
			Want: "TOO_MANY_ERRORS"},
		{Name: "duplicated-fields-20000-totalCount",
			Body: body("{ users { "+strings.Repeat("totalCount ", 20000)+"} }", nil),
			Want: "TOKEN_LIMIT_EXCEEDED"},
		{Name: "duplicated-fields-9000-totalCount",
			Body: body("{ users { "+strings.Repeat("totalCount ", 9000)+"} }", nil),
			Want: "FIELD_REPEAT_LIMIT_EXCEEDED"},
		{Name: "duplicated-fields-50-totalCount",
			Body: body("{ users(first: 1) { "+strings.Repeat("totalCount ", 50)+"} }", nil)},
		{Name: "duplicated-spreads-4000",
			Body: body("{ users(first: 1) { ...C "+strings.Repeat("...C ", 3999)+"} } fragment C on UserConnection { totalCount }", nil),
			Want: "FIELD_REPEAT_LIMIT_EXCEEDED"},
		{Name: "fragment-explosion-28-levels-on-query",
			Body: body(fragmentChain(28, "Query", "users(first: 1) { totalCount }"), nil)},
		{Name: "fragment-explosion-28-levels-on-user",
			Body: body("{ users(first: 1) { nodes { ...F0 } } }\n"+strings.TrimPrefix(fragmentChain(28, "User", "id name"), "query { ...F0 }\n"), nil)},
		{Name: "fragment-explosion-28-levels-wide",
			Body: body("{ users(first: 1) { nodes { ...F0 } } }\n"+wideChain(28), nil),
			Want: "QUERY_TOO_DEEP"},
		{Name: "fragment-explosion-9-levels-wide",
			Body: body("{ users(first: 1) { nodes { ...F0 } } }\n"+wideChain(9), nil),
			Want: "UPSTREAM_BUDGET_EXCEEDED"},
		{Name: "deep-nesting-900-levels",
			Body: body("{ users(first: 1) { nodes { "+strings.Repeat("createdBy { ", 900)+"id"+strings.Repeat(" }", 900)+" } } }", nil),
			Want: "QUERY_TOO_DEEP"},
		{Name: "deep-nesting-3000-levels-over-the-parser-limit",
			Body: body("{ users(first: 1) { nodes { "+strings.Repeat("createdBy { ", 3000)+"id"+strings.Repeat(" }", 3000)+" } } }", nil),
			Want: "GRAPHQL_PARSE_FAILED"},
		{Name: "deep-nesting-20000-levels",
			Body: body("{ users(first: 1) { nodes { "+strings.Repeat("createdBy { ", 20000)+"id"+strings.Repeat(" }", 20000)+" } } }", nil),
			Want: "TOKEN_LIMIT_EXCEEDED"},
		{Name: "entities-1000-distinct-ids",
			Body: mustJSON(map[string]any{"query": `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id } } }`, "variables": map[string]any{"r": entities}}),
			Want: "UPSTREAM_BUDGET_EXCEEDED"},
		{Name: "huge-variables-30000-node-ids",
			Body: mustJSON(map[string]any{"query": `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, "variables": map[string]any{"ids": ids[:30000]}}),
			Want: "COMPLEXITY_LIMIT_EXCEEDED"},
		{Name: "huge-variables-2000-node-ids",
			Body: mustJSON(map[string]any{"query": `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, "variables": map[string]any{"ids": ids[:2000]}}),
			Want: "UPSTREAM_BUDGET_EXCEEDED"},
		{Name: "huge-variables-100000-node-ids-over-the-body-limit",
			Body: mustJSON(map[string]any{"query": `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, "variables": map[string]any{"ids": ids}}),
			Want: "BAD_REQUEST"},
		{Name: "huge-variables-unused-20000-keys",
			Body: mustJSON(map[string]any{"query": `{ users(first: 1) { totalCount } }`, "variables": manyKeys(20000)})},
		{Name: "huge-alias-answer",
			Body: body("{ users(first: 100) { nodes { "+strings.Repeat("x", 12000)+": id } } }", nil),
			Want: "RESPONSE_TOO_LARGE"},
		{Name: "batching-array-of-1000",
			Body: []byte("[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ users(first: 1) { totalCount } }"},`, 1000), ",") + "]"),
			Want: "BAD_REQUEST"},
	}
}

// wideChain doubles the users each level reaches: createdBy and
// lastChangedBy both spread the next level.
func wideChain(levels int) string {
	var b strings.Builder
	for i := range levels {
		fmt.Fprintf(&b, "fragment F%d on User { id a: createdBy { ...F%d } b: lastChangedBy { ...F%d } }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on User { id }\n", levels)
	return b.String()
}

func manyKeys(n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprintf("v%d", i)] = strings.Repeat("x", 32)
	}
	return m
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
