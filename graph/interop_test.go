package graph_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/usersgraph/usersgraph/graph/graphtest"

	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

func TestNodesLookEachDistinctIdUpOnce(t *testing.T) {
	users, refs, deleted := graphtest.CreatorDataset(30, 0)
	e := graphtest.Setup(t, graphtest.WithUsers(users))
	var existing, unknown []string
	for _, id := range refs {
		if deleted[id] {
			unknown = append(unknown, id)
		} else {
			existing = append(existing, id)
		}
	}
	existing, unknown = existing[:10], unknown[:5]
	ids := make([]string, 50)
	for i := range ids {
		if i%4 == 3 {
			ids[i] = unknown[i%len(unknown)]
		} else {
			ids[i] = existing[i%len(existing)]
		}
	}
	var v struct{ Nodes []*struct{ ID, Name string } }
	e.Query(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on User { name } } }`, map[string]any{"ids": ids}, graphtest.APIKey).MustData(t, &v)
	if len(v.Nodes) != len(ids) {
		t.Fatalf("%d nodes for %d ids", len(v.Nodes), len(ids))
	}
	for i, n := range v.Nodes {
		switch {
		case deleted[ids[i]] && n != nil:
			t.Fatalf("nodes[%d]: unknown id %s resolved", i, ids[i])
		case !deleted[ids[i]] && (n == nil || n.ID != ids[i] || n.Name != "Off-page "+ids[i]):
			t.Fatalf("nodes[%d] = %+v, want %s", i, n, ids[i])
		}
	}
	if got, want := e.Fake.TotalCalls(), len(existing)+len(unknown); got != want {
		t.Fatalf("%d upstream calls, want one per distinct id (%d)", got, want)
	}
}

func TestNodeResolvesUsersAndNullOtherwise(t *testing.T) {
	users, refs, deleted := graphtest.CreatorDataset(4, 0)
	e := graphtest.Setup(t, graphtest.WithUsers(users))
	cases := []struct {
		name, id, want string
	}{
		{"an existing user", refs[0], refs[0]},
		{"an id that matches nothing", refs[1], ""},
		{"an id of the wrong shape, without a call", "not-an-id", ""},
	}
	if !deleted[refs[1]] {
		t.Fatal("dataset changed: refs[1] should be deleted")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.Fake.ResetCounts()
			var v struct{ Node *struct{ ID string } }
			e.Query(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": tc.id}, graphtest.APIKey).MustData(t, &v)
			if (tc.want == "") != (v.Node == nil) || (v.Node != nil && v.Node.ID != tc.want) {
				t.Fatalf("got %+v, want %q", v.Node, tc.want)
			}
			if tc.id == "not-an-id" && e.Fake.TotalCalls() != 0 {
				t.Fatal("a malformed id reached the upstream")
			}
		})
	}
	t.Run("more than 100 ids is BAD_USER_INPUT", func(t *testing.T) {
		ids := make([]string, 101)
		for i := range ids {
			ids[i] = restclienttest.NewID(i)
		}
		err := e.Query(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids}, graphtest.APIKey).OnlyError(t)
		if err.Code() != "BAD_USER_INPUT" {
			t.Fatalf("code %s", err.Code())
		}
	})
}

const entitiesQuery = `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id name createdBy { id } } } }`

func TestEntitiesResolveInOneBatchInOrder(t *testing.T) {
	users, refs, deleted := graphtest.CreatorDataset(12, 0)
	e := graphtest.Setup(t, graphtest.WithUsers(users))
	var reps []map[string]any
	distinct := map[string]bool{}
	for i := range 40 {
		id := refs[i%len(refs)]
		distinct[id] = true
		reps = append(reps, map[string]any{"__typename": "User", "id": id})
	}
	var v struct {
		Entities []*struct{ ID, Name string } `json:"_entities"`
	}
	e.Query(t, entitiesQuery, map[string]any{"r": reps}, graphtest.APIKey).MustData(t, &v)
	for i, ent := range v.Entities {
		id := reps[i]["id"].(string)
		if deleted[id] != (ent == nil) || (ent != nil && ent.ID != id) {
			t.Fatalf("_entities[%d] = %+v for %s (deleted: %v)", i, ent, id, deleted[id])
		}
	}
	if got := e.Fake.TotalCalls(); got != len(distinct) {
		t.Fatalf("%d upstream calls for %d distinct ids", got, len(distinct))
	}
}

func TestAFailedEntityFailsOnlyItsIndex(t *testing.T) {
	users, refs, _ := graphtest.CreatorDataset(4, 0)
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(graphtest.TestKey), restclienttest.WithUsers(users))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	c := graphtest.NewClient(t, fake.URL)
	e := graphtest.Setup(t, graphtest.WithUpstream(graphtest.FailLookup{Next: c, ID: refs[2]}))
	reps := []map[string]any{{"__typename": "User", "id": refs[0]}, {"__typename": "User", "id": refs[2]}}
	r := e.Query(t, entitiesQuery, map[string]any{"r": reps}, graphtest.APIKey)
	err1 := r.OnlyError(t)
	if graphtest.PathString(err1.Path) != "_entities.1" || err1.Code() != "UPSTREAM_UNAVAILABLE" {
		t.Fatalf("error %q at %v code %s", err1.Message, err1.Path, err1.Code())
	}
	if !strings.Contains(string(r.Data), refs[0]) {
		t.Fatalf("the good entity is missing: %s", r.Data)
	}
}

func TestServiceSDLDeclaresTheUserEntity(t *testing.T) {
	e := graphtest.Setup(t)
	var v struct {
		Service struct{ SDL string } `json:"_service"`
	}
	e.Query(t, `{ _service { sdl } }`, nil).MustData(t, &v)
	for _, want := range []string{`@link(url: "https://specs.apollo.dev/federation/v2.3"`, `type User implements Node @key(fields: "id")`, "interface Node"} {
		if !strings.Contains(v.Service.SDL, want) {
			t.Fatalf("SDL lacks %q", want)
		}
	}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	e := graphtest.Setup(t)
	q := `{ users(first: 1) { totalCount } }`
	sum := sha256.Sum256([]byte(q))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	send := func(withQuery bool) graphtest.Response {
		body := map[string]any{"extensions": ext}
		if withQuery {
			body["query"] = q
		}
		return e.Post(t, body, graphtest.APIKey)
	}
	if err := send(false).OnlyError(t); err.Message != "PersistedQueryNotFound" {
		t.Fatalf("an unknown hash: %q", err.Message)
	}
	var v struct{ Users struct{ TotalCount int } }
	send(true).MustData(t, &v)
	v.Users.TotalCount = 0
	send(false).MustData(t, &v)
	if v.Users.TotalCount != 300 {
		t.Fatalf("the stored query answered %+v", v)
	}
	t.Run("a hash that does not match its query is refused", func(t *testing.T) {
		ext = map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": fmt.Sprintf("%064d", 0)}}
		if r := send(true); len(r.Errors) != 1 {
			t.Fatalf("got %s", graphtest.Short(r.Raw))
		}
	})
}

func TestMalformedRepresentationsAreTheCallersMistake(t *testing.T) {
	users, refs, _ := graphtest.CreatorDataset(4, 0)
	e := graphtest.Setup(t, graphtest.WithUsers(users))
	good := map[string]any{"__typename": "User", "id": refs[0]}
	cases := []struct {
		name  string
		bad   any
		index string
	}{
		{"a representation that is not an object", "x", "representations[1] must be an object"},
		{"a representation of an unknown type", map[string]any{"__typename": "Review", "id": refs[1]}, `representations[1] must have __typename "User"`},
		{"a representation without __typename", map[string]any{"id": refs[1]}, `representations[1] must have __typename "User"`},
		{"a representation without an id", map[string]any{"__typename": "User"}, "representations[1] must have a non-empty string id"},
		{"a representation with a numeric id", map[string]any{"__typename": "User", "id": 7}, "representations[1] must have a non-empty string id"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is BAD_USER_INPUT naming its index, before any call", func(t *testing.T) {
			e.Fake.ResetCounts()
			logMark := len(e.Logs.String())
			err := e.Query(t, entitiesQuery, map[string]any{"r": []any{good, tc.bad}}, graphtest.APIKey).OnlyError(t)
			if err.Code() != "BAD_USER_INPUT" || !strings.HasPrefix(err.Message, tc.index) {
				t.Fatalf("code %s message %q", err.Code(), err.Message)
			}
			if n := e.Fake.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls", n)
			}
			if logged := e.Logs.String()[logMark:]; strings.Contains(logged, `"level":"ERROR"`) {
				t.Fatalf("logged as a server error: %s", graphtest.Short(logged))
			}
		})
	}
}

func TestEntitiesAreWeighedByTheirRepresentations(t *testing.T) {
	users, refs, _ := graphtest.CreatorDataset(4, 0)
	e := graphtest.Setup(t, graphtest.WithUsers(users))
	reps := make([]map[string]any, 2000)
	for i := range reps {
		reps[i] = map[string]any{"__typename": "User", "id": refs[i%len(refs)]}
	}
	err := e.Query(t, entitiesQuery, map[string]any{"r": reps}, graphtest.APIKey).OnlyError(t)
	if err.Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Fatalf("code %s (%s)", err.Code(), err.Message)
	}
	if n := e.Fake.TotalCalls(); n != 0 {
		t.Fatalf("%d upstream calls before the refusal", n)
	}
}
