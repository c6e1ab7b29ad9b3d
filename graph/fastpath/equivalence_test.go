package fastpath_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/usersgraph/usersgraph/graph/fastpath"
	"github.com/usersgraph/usersgraph/graph/graphtest"

	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// Pages whose elements select only plain fields are written straight from
// the model, without gqlgen's executor: the answers must be the executor's,
// byte for byte, whatever the selection (aliases, repeated keys,
// __typename, fragments on the type, on Node, named or inline, skip and
// include) and whatever the data (quotes, backslashes, control characters,
// HTML, non-ASCII, U+2028, missing names, e-mails and times).
func TestPlainPagesAnswerExactlyAsTheExecutor(t *testing.T) {
	ms := 1.7e12
	s := 1.6e9
	users := []restclienttest.User{
		{ID: restclienttest.NewID(1), Email: "a@example.com", Name: `Quote " and \ backslash`, LastActive: &ms, CreatedAt: 1600000000, LastChanged: 1650000000},
		{ID: restclienttest.NewID(2), Name: "tab\tnew\nline\u0001ctl", LastActive: &s, CreatedAt: 1600000001},
		{ID: restclienttest.NewID(3), Email: "<b>&amp;</b>@example.com", Name: "Zoë Müller 🦊 \u2028 sep"},
		{ID: restclienttest.NewID(4)},
		{ID: restclienttest.NewID(5), Email: "e@example.com", Name: "Søren", CreatedAt: 1, LastChanged: 2, CreatedBy: restclienttest.NewID(1)},
	}
	e, counts := setupCounting(t, graphtest.WithUsers(users))
	x := graphtest.Setup(t, graphtest.WithUsers(users), executorOnly)
	vars := map[string]any{"yes": true, "no": false}
	for _, c := range []struct {
		query string
		want  paths
	}{
		{`{ users(first: 10) { edges { cursor node { id email name lastActive createdAt lastChanged } } } }`, paths{plain: 1}},
		{`{ users(first: 10) { nodes { id email name lastActive createdAt lastChanged } } }`, paths{plain: 1}},
		{`{ users(first: 10) { edges { c: cursor __typename node { __typename i: id id name n: name } cursor } nodes { email e: email } pageInfo { endCursor } totalCount } }`, paths{plain: 2}},
		{`query Q { users(last: 3) { ...C } } fragment C on UserConnection { edges { node { ...U ... on Node { id } } } } fragment U on User { name email }`, paths{plain: 1}},
		// A directive in the query leaves the field to the executor.
		{`query($yes: Boolean!, $no: Boolean!) { users(first: 4) { edges { cursor @include(if: $no) node { id @skip(if: $yes) name @include(if: $yes) ... on User @skip(if: $no) { email } } } } }`, paths{inOrder: 1}},
		{`{ a: users(first: 2) { nodes { id } } b: users(last: 2, orderBy: {field: NAME, direction: DESC}) { edges { node { name } } } }`, paths{plain: 2}},
		{`{ users(first: 5) { edges { node { name } } nodes { id createdBy { name } } } }`, paths{plain: 2}},
		{`{ users(first: 5) { edges { node { ... on User { lastActive } } } } }`, paths{plain: 1}},
		{`{ users(first: 5, filter: "example.com") { edges { n1: node { id } n2: node { name } } } }`, paths{plain: 1}},
		{`{ users(first: 0) { edges { cursor } nodes { id } } }`, paths{}},
	} {
		plain := e.Query(t, c.query, vars, graphtest.APIKey)
		executor := x.Query(t, c.query, vars, graphtest.APIKey)
		if len(plain.Errors) > 0 || plain.Status != 200 {
			t.Errorf("%s: %d %s", c.query, plain.Status, graphtest.Short(plain.Raw))
			continue
		}
		if plain.Raw != executor.Raw {
			t.Errorf("%s:\nplain    %s\nexecutor %s", c.query, plain.Raw, executor.Raw)
		}
		if got := counts.take(); got != c.want {
			t.Errorf("%s: lists marshalled %+v, want %+v", c.query, got, c.want)
		}
	}
}

// createdBy and lastChangedBy written with a plain page answer exactly as
// the executor does: the same data, byte for byte, deleted users as null,
// and a failed lookup as null with the same error at the same path.
func TestPlainPagesWithReferencesAnswerExactlyAsTheExecutor(t *testing.T) {
	users, refs, _ := graphtest.CreatorDataset(20, 6)
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(graphtest.TestKey), restclienttest.WithUsers(users))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	c, err := restclient.New(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	// refs[7] is off the page and exists; its lookups fail.
	e, counts := setupCounting(t, graphtest.WithUpstream(graphtest.FailLookup{Next: c, ID: refs[7]}))
	x := graphtest.Setup(t, graphtest.WithUpstream(graphtest.FailLookup{Next: c, ID: refs[7]}), executorOnly)
	for _, c := range []struct {
		query string
		want  paths
	}{
		{graphtest.CreatorsQuery, paths{plain: 1}},
		{`{ users(first: 100) { edges { cursor node { id createdBy { id name email createdAt } lastChangedBy { __typename id } } } } }`, paths{plain: 1}},
		{`{ users(first: 60) { nodes { c: createdBy { name } createdBy { id } by: lastChangedBy { id } } } }`, paths{plain: 1}},
		{`{ users(first: 50) { edges { n: node { ...R } } } } fragment R on User { createdBy { ... on Node { id } } }`, paths{plain: 1}},
		{`{ users(last: 30) { edges { node { name createdBy { name } } } nodes { lastChangedBy { name } } } }`, paths{plain: 2}},
		// A reference under a reference would wait element by element.
		{`{ users(first: 20) { nodes { createdBy { id createdBy { id } } } } }`, paths{concurrent: 1}},
	} {
		q := c.query
		plain := e.Query(t, q, nil, graphtest.APIKey)
		executor := x.Query(t, q, nil, graphtest.APIKey)
		if plain.Status != 200 || len(plain.Data) == 0 {
			t.Errorf("%s: %d %s", q, plain.Status, graphtest.Short(plain.Raw))
			continue
		}
		if string(plain.Data) != string(executor.Data) {
			t.Errorf("%s: data differs\nplain    %s\nexecutor %s", q, graphtest.Short(string(plain.Data)), graphtest.Short(string(executor.Data)))
		}
		// The executor resolves fields concurrently: its errors come in
		// any order.
		if p, x := errorSet(plain.Errors), errorSet(executor.Errors); !slices.Equal(p, x) {
			t.Errorf("%s: errors differ\nplain    %v\nexecutor %v", q, p, x)
		}
		if strings.Contains(q, "createdBy { id name }") && len(plain.Errors) == 0 {
			t.Errorf("%s: the failing lookup gave no error", q)
		}
		if got := counts.take(); got != c.want {
			t.Errorf("%s: lists marshalled %+v, want %+v", q, got, c.want)
		}
	}
}

// paths counts the lists of one request by how they were marshalled.
type paths struct{ plain, inOrder, concurrent int64 }

// counter puts fresh fastpath.Counts in every request's context and
// gives the last request's.
type counter struct {
	last atomic.Pointer[fastpath.Counts]
}

func (c *counter) take() paths {
	n := c.last.Swap(nil)
	if n == nil {
		return paths{}
	}
	return paths{plain: n.Plain.Load(), inOrder: n.InOrder.Load(), concurrent: n.Concurrent.Load()}
}

// setupCounting is graphtest.Setup with every request's lists counted.
func setupCounting(t *testing.T, opts ...graphtest.Option) (*graphtest.Env, *counter) {
	c := &counter{}
	e := graphtest.Setup(t, append(opts, graphtest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Stored first: the lists are counted while the answer is
			// built, before it is written.
			n := &fastpath.Counts{}
			c.last.Store(n)
			next.ServeHTTP(w, r.WithContext(fastpath.CountInto(r.Context(), n)))
		})
	}))...)
	return e, c
}

// executorOnly answers every list through gqlgen's executor.
var executorOnly = graphtest.WithConfig(func(c *httpapi.Config) { c.ExecutorOnly = true })

func errorSet(errs []graphtest.Error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s %s %s", graphtest.PathString(e.Path), e.Code(), e.Message))
	}
	slices.Sort(out)
	return out
}
