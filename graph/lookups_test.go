package graph_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/graph/graphtest"
	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// The lookup matrix: every way a user is looked up by id (createdBy,
// lastChangedBy, user, node, nodes, _entities) against each upstream a
// Cognigy can be (filter matching _id or not, readUser served or not),
// with default settings. Every looked-up user must carry exactly the
// values the list gives for it, lastActive included, and a user that does
// not exist must be null, without an error.

// userFields are a user's scalar fields; with lastActive or without, to
// see that lastActive costs calls only when it is selected.
const (
	fieldsWithLastActive    = `id email name lastActive createdAt lastChanged`
	fieldsWithoutLastActive = `id email name createdAt lastChanged`
)

// listedUser is a user as the facade shows it, for field-by-field checks.
type listedUser map[string]any

type lookupKind struct {
	name string
	// query builds the request; ids are the users it looks up.
	query func(fields string, env lookupEnv) (q string, vars map[string]any)
	// got decodes the answer into the looked-up users, by the id each was
	// asked as, and the ids asked.
	got func(t *testing.T, data json.RawMessage, env lookupEnv) (asked []string, got []listedUser)
}

// lookupEnv is what a kind needs of the dataset.
type lookupEnv struct {
	after   string                         // cursor before the page whose references are looked up
	page    []restclienttest.User          // that page's users, in order
	ids     []string                       // ids to look up directly: existing ones and deleted ones
	byID    map[string]restclienttest.User // the upstream's users
	listed  map[string]listedUser          // every user as the list shows it
	deleted []string
}

func referenceKind(field string) lookupKind {
	return lookupKind{
		name: field,
		query: func(fields string, env lookupEnv) (string, map[string]any) {
			return fmt.Sprintf(`query($after: String) { users(first: 100, after: $after) { nodes { id %s { %s } } } }`, field, fields),
				map[string]any{"after": env.after}
		},
		got: func(t *testing.T, data json.RawMessage, env lookupEnv) ([]string, []listedUser) {
			var v struct {
				Users struct{ Nodes []map[string]json.RawMessage }
			}
			mustUnmarshal(t, data, &v)
			if len(v.Users.Nodes) != len(env.page) {
				t.Fatalf("%d nodes, want %d", len(v.Users.Nodes), len(env.page))
			}
			var asked []string
			var got []listedUser
			for i, n := range v.Users.Nodes {
				u := env.page[i]
				ref := u.CreatedBy
				if field == "lastChangedBy" {
					ref = u.LastChangedBy
				}
				asked = append(asked, ref)
				var r listedUser
				mustUnmarshal(t, n[field], &r)
				got = append(got, r)
			}
			return asked, got
		},
	}
}

func aliasedKind(name, field, typeCondition string) lookupKind {
	return lookupKind{
		name: name,
		query: func(fields string, env lookupEnv) (string, map[string]any) {
			var b strings.Builder
			b.WriteString("{")
			for i, id := range env.ids {
				fmt.Fprintf(&b, " u%d: %s(id: %q) { %s%s } ", i, field, id, typeCondition, fields)
				if typeCondition != "" {
					b.WriteString("}")
				}
			}
			b.WriteString("}")
			q := strings.ReplaceAll(b.String(), "{ ... on User { ", "{ ... on User { ")
			return q, nil
		},
		got: func(t *testing.T, data json.RawMessage, env lookupEnv) ([]string, []listedUser) {
			var v map[string]listedUser
			mustUnmarshal(t, data, &v)
			got := make([]listedUser, len(env.ids))
			for i := range env.ids {
				got[i] = v[fmt.Sprintf("u%d", i)]
			}
			return env.ids, got
		},
	}
}

func listKind(name string) lookupKind {
	return lookupKind{
		name: name,
		query: func(fields string, env lookupEnv) (string, map[string]any) {
			if name == "nodes" {
				return fmt.Sprintf(`query($ids: [ID!]!) { nodes(ids: $ids) { ... on User { %s } } }`, fields), map[string]any{"ids": env.ids}
			}
			reps := make([]map[string]any, len(env.ids))
			for i, id := range env.ids {
				reps[i] = map[string]any{"__typename": "User", "id": id}
			}
			return fmt.Sprintf(`query($r: [_Any!]!) { _entities(representations: $r) { ... on User { %s } } }`, fields), map[string]any{"r": reps}
		},
		got: func(t *testing.T, data json.RawMessage, env lookupEnv) ([]string, []listedUser) {
			var v map[string][]listedUser
			mustUnmarshal(t, data, &v)
			return env.ids, v[name]
		},
	}
}

var lookupKinds = []lookupKind{
	referenceKind("createdBy"),
	referenceKind("lastChangedBy"),
	aliasedKind("user", "user", ""),
	aliasedKind("node", "node", "... on User { "),
	listKind("nodes"),
	listKind("_entities"),
}

func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", graphtest.Short(string(data)), err)
	}
}

// listAll reads every user through the facade's list, as a client sees it,
// and the cursor that ends the second page.
func listAll(t *testing.T, e *graphtest.Env) (map[string]listedUser, string) {
	t.Helper()
	listed := map[string]listedUser{}
	var after any
	var secondEnd string
	for page := 1; ; page++ {
		var v struct {
			Users struct {
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
				Nodes []listedUser
			}
		}
		e.Query(t, `query($after: String) { users(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { `+fieldsWithLastActive+` } } }`,
			map[string]any{"after": after}, graphtest.APIKey).MustData(t, &v)
		for _, u := range v.Users.Nodes {
			listed[u["id"].(string)] = u
		}
		if page == 2 {
			secondEnd = v.Users.PageInfo.EndCursor
		}
		if !v.Users.PageInfo.HasNextPage {
			return listed, secondEnd
		}
		after = v.Users.PageInfo.EndCursor
	}
}

// newLookupEnv reads the list of the demo dataset of n users (names shared
// by several users, users without a name, lastActive in seconds, in
// milliseconds or absent, creators that no longer exist) through a facade
// over case a, and picks what to look up.
func newLookupEnv(t *testing.T, n int) lookupEnv {
	t.Helper()
	users := restclienttest.DemoUsers(n, 1)
	env := lookupEnv{byID: map[string]restclienttest.User{}}
	for _, u := range users {
		env.byID[u.ID] = u
	}
	env.listed, env.after = listAll(t, graphtest.Setup(t, graphtest.WithUsers(users)))
	if len(env.listed) != len(users) {
		t.Fatalf("the list shows %d users, the upstream has %d", len(env.listed), len(users))
	}
	sorted := slices.Sorted(maps.Keys(env.byID))
	env.page = make([]restclienttest.User, 0, 100)
	for _, id := range sorted[200:300] {
		env.page = append(env.page, env.byID[id])
	}
	// Users spread over the directory, asked out of order, and users that
	// do not exist (one before all, one among them, one after all).
	for i := 7; i < len(sorted); i += len(sorted) / 8 {
		env.ids = append(env.ids, sorted[len(sorted)-1-i], sorted[i])
	}
	env.deleted = []string{restclienttest.NewID(-3), "5d0c000000000000000000ff", "ffffffffffffffffffffffff"}
	env.ids = append(env.ids, env.deleted...)
	return env
}

// checkLookedUp compares every looked-up user with the list's, field by field.
func checkLookedUp(t *testing.T, env lookupEnv, asked []string, got []listedUser, withLastActive bool) (resolved, null int) {
	t.Helper()
	if len(got) != len(asked) {
		t.Fatalf("%d answers for %d lookups", len(got), len(asked))
	}
	for i, id := range asked {
		want, exists := env.listed[id]
		switch {
		case !exists && got[i] != nil:
			t.Fatalf("lookup %d: %s does not exist, got %v", i, id, got[i])
		case !exists:
			null++
			continue
		case got[i] == nil:
			t.Fatalf("lookup %d: %s exists (%v), got null", i, id, want)
		}
		resolved++
		for field, w := range want {
			if field == "lastActive" && !withLastActive {
				continue
			}
			if g := got[i][field]; fmt.Sprint(g) != fmt.Sprint(w) {
				t.Fatalf("lookup %d: %s.%s = %v, the list says %v", i, id, field, g, w)
			}
		}
	}
	return resolved, null
}

func TestLookupMatrix(t *testing.T) {
	cases := []string{restclienttest.LookupCaseA, restclienttest.LookupCaseB, restclienttest.LookupCaseC, restclienttest.LookupCaseC405}
	// 300 users: a few windows of the list hold them all; 2,000: a
	// binary search of them costs more than a call per user.
	for _, size := range []int{300, 2000} {
		env := newLookupEnv(t, size)
		users := restclienttest.DemoUsers(size, 1)
		for _, c := range cases {
			for _, kind := range lookupKinds {
				for _, withLastActive := range []bool{true, false} {
					fields := fieldsWithoutLastActive
					if withLastActive {
						fields = fieldsWithLastActive
					}
					name := fmt.Sprintf("%d users, case %s, %s, lastActive selected: %v", size, c, kind.name, withLastActive)
					t.Run(name, func(t *testing.T) {
						opts, err := restclienttest.LookupCaseOptions(c)
						if err != nil {
							t.Fatal(err)
						}
						e := graphtest.Setup(t, graphtest.WithUsers(users), graphtest.WithFake(opts...), graphtest.WithLookup(loaders.RouteAuto))
						q, vars := kind.query(fields, env)
						var calls [2]int
						for round := range calls {
							e.Fake.ResetCounts()
							r := e.Query(t, q, vars, graphtest.APIKey)
							if len(r.Errors) > 0 {
								t.Fatalf("errors: %s", graphtest.Short(r.Raw))
							}
							asked, got := kind.got(t, r.Data, env)
							resolved, null := checkLookedUp(t, env, asked, got, withLastActive)
							if resolved == 0 || null == 0 {
								t.Fatalf("%d resolved and %d null: the request should have both", resolved, null)
							}
							calls[round] = e.Fake.TotalCalls()
						}
						t.Logf("CALLS %d users | %s | %s | lastActive %v | %d first | %d next | lists %d gets %d", size, c, kind.name, withLastActive, calls[0], calls[1],
							e.Fake.Calls(restclienttest.RouteList), e.Fake.Calls(restclienttest.RouteGet))
					})
				}
			}
		}
	}
}

// Against a Cognigy whose filter does not match _id, with default
// settings, a page of 100 resolves every createdBy and lastChangedBy right:
// the users that exist carry the list's values, lastActive included, and
// the deleted ones are null, without an error. The calls are those of the
// first request, what is learnt of the upstream included.
func TestCaseBPageOf100ResolvesEveryReference(t *testing.T) {
	creators, _, _ := graphtest.CreatorDataset(150, 60)
	for _, tc := range []struct {
		name   string
		users  []restclienttest.User
		after  int // the page starts after this many users; 0: the first page
		fields string
		calls  int // upstream calls, the page's included
	}{
		{"the demo dataset's first page", restclienttest.DemoUsers(300, 1), 0, fieldsWithLastActive, 1},
		{"the demo dataset's third page", restclienttest.DemoUsers(300, 1), 200, fieldsWithLastActive, 5},
		{"150 distinct references, 60 on the page, 45 existing off it, 45 deleted", creators, 0, fieldsWithLastActive, 2},
		{"the same without lastActive", creators, 0, fieldsWithoutLastActive, 2},
		{"3,000 users' third page", restclienttest.DemoUsers(3000, 1), 200, fieldsWithLastActive, 32},
		{"3,000 users' third page without lastActive", restclienttest.DemoUsers(3000, 1), 200, fieldsWithoutLastActive, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, _ := restclienttest.LookupCaseOptions(restclienttest.LookupCaseB)
			e := graphtest.Setup(t, graphtest.WithUsers(tc.users), graphtest.WithFake(opts...), graphtest.WithLookup(loaders.RouteAuto))
			listed := map[string]listedUser{}
			var after, cursor any
			for {
				var v struct {
					Users struct {
						PageInfo struct {
							HasNextPage bool
							EndCursor   string
						}
						Nodes []listedUser
					}
				}
				e.Query(t, `query($after: String) { users(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { `+fieldsWithLastActive+` } } }`,
					map[string]any{"after": cursor}, graphtest.APIKey).MustData(t, &v)
				for _, u := range v.Users.Nodes {
					listed[u["id"].(string)] = u
				}
				if tc.after > 0 && len(listed) == tc.after {
					after = v.Users.PageInfo.EndCursor
				}
				if !v.Users.PageInfo.HasNextPage {
					break
				}
				cursor = v.Users.PageInfo.EndCursor
			}
			// A fresh facade: nothing learnt, nothing cached. The page sends
			// its lookups at once (prefetch); a batch window longer than
			// the test keeps a slow machine from splitting them in two
			// batches, which may cost a call or two more.
			e = graphtest.Setup(t, graphtest.WithUsers(tc.users), graphtest.WithFake(opts...), graphtest.WithLookup(loaders.RouteAuto),
				graphtest.WithConfig(func(c *httpapi.Config) { c.Lookup.Wait = time.Minute }))
			q := `query($after: String) { users(first: 100, after: $after) { nodes { id createdBy { ` + tc.fields + ` } lastChangedBy { ` + tc.fields + ` } } } }`
			var v struct {
				Users struct {
					Nodes []struct {
						ID                       string
						CreatedBy, LastChangedBy listedUser
					}
				}
			}
			e.Query(t, q, map[string]any{"after": after}, graphtest.APIKey).MustData(t, &v)
			if len(v.Users.Nodes) != 100 {
				t.Fatalf("%d nodes", len(v.Users.Nodes))
			}
			byID := map[string]restclienttest.User{}
			for _, u := range tc.users {
				byID[u.ID] = u
			}
			env := lookupEnv{listed: listed}
			var asked []string
			var got []listedUser
			for _, n := range v.Users.Nodes {
				asked = append(asked, byID[n.ID].CreatedBy, byID[n.ID].LastChangedBy)
				got = append(got, n.CreatedBy, n.LastChangedBy)
			}
			resolved, null := checkLookedUp(t, env, asked, got, tc.fields == fieldsWithLastActive)
			calls := e.Fake.TotalCalls()
			t.Logf("200 references: %d resolved, %d null (deleted users); %d upstream calls (%d list, %d readUser), the page's included",
				resolved, null, calls, e.Fake.Calls(restclienttest.RouteList), e.Fake.Calls(restclienttest.RouteGet))
			if calls != tc.calls {
				t.Fatalf("%d upstream calls, want %d", calls, tc.calls)
			}
		})
	}
}

// What the lookups learn of the upstream, and the way they use, is logged
// once at info, however many requests follow.
func TestLookupsLogWhatTheyLearnOnce(t *testing.T) {
	opts, _ := restclienttest.LookupCaseOptions(restclienttest.LookupCaseB)
	logs := &graphtest.SyncBuffer{}
	e := graphtest.Setup(t, graphtest.WithUsers(restclienttest.DemoUsers(2000, 1)), graphtest.WithFake(opts...), graphtest.WithLookup(loaders.RouteAuto),
		graphtest.WithConfig(func(c *httpapi.Config) {
			c.Lookup.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		}))
	q := `query($id: ID!) { user(id: $id) { name lastActive } }`
	for i := range 5 {
		var v struct{ User *struct{ Name string } }
		e.Query(t, q, map[string]any{"id": restclienttest.NewID(100 * i)}, graphtest.APIKey).MustData(t, &v)
		if v.User == nil {
			t.Fatalf("user %d not found", 100*i)
		}
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		var rec struct{ Level, Msg string }
		mustUnmarshal(t, []byte(l), &rec)
		if rec.Level != "INFO" || seen[rec.Msg] {
			t.Fatalf("%s logged again or not at info:\n%s", rec.Msg, logs.String())
		}
		seen[rec.Msg] = true
	}
	if len(seen) != 3 {
		t.Fatalf("want 3 lines (readUser served, filter without _id, the way in use), got:\n%s", logs.String())
	}
}
