package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/usersgraph/usersgraph/graph/graphtest"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

const byEmailQuery = `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email name } } }`

type entityUser struct{ ID, Email, Name string }

// emailDataset has users whose addresses contain one another, as
// filter=<e-mail> may match more than the exact address.
func emailDataset() []restclienttest.User {
	return []restclienttest.User{
		{ID: restclienttest.NewID(1), Email: "ann@example.com", Name: "Ann", CreatedAt: 1600000000},
		{ID: restclienttest.NewID(2), Email: "joann@example.com", Name: "Joann", CreatedAt: 1600000000},
		{ID: restclienttest.NewID(3), Email: "bob@example.com", Name: "Bob", CreatedAt: 1600000000},
	}
}

func emailReps(emails ...string) []map[string]any {
	reps := make([]map[string]any, len(emails))
	for i, e := range emails {
		reps[i] = map[string]any{"__typename": "User", "email": e}
	}
	return reps
}

func TestEntitiesByEmail(t *testing.T) {
	e := graphtest.Setup(t, graphtest.WithUsers(emailDataset()))
	t.Run("references resolve in order, without regard to case, one call per distinct address, null for none", func(t *testing.T) {
		e.Fake.ResetCounts()
		reps := emailReps("ANN@Example.com", "joann@example.com", "gone@example.com", "ann@example.com", "bob@example.com", "Bob@example.com")
		var v struct {
			Entities []*entityUser `json:"_entities"`
		}
		e.Query(t, byEmailQuery, map[string]any{"r": reps}, graphtest.APIKey).MustData(t, &v)
		want := []string{"Ann", "Joann", "", "Ann", "Bob", "Bob"}
		if len(v.Entities) != len(want) {
			t.Fatalf("%d entities for %d representations", len(v.Entities), len(want))
		}
		for i, name := range want {
			got := v.Entities[i]
			switch {
			case name == "" && got != nil:
				t.Errorf("entities[%d] = %+v, want null", i, got)
			case name != "" && (got == nil || got.Name != name):
				t.Errorf("entities[%d] = %+v, want %s", i, got, name)
			}
		}
		// ann, joann, gone, bob: four distinct addresses.
		if n := e.Fake.Calls(restclienttest.RouteList); n != 4 || e.Fake.TotalCalls() != 4 {
			t.Fatalf("%d list calls, %d in all; want one per distinct address (4)", n, e.Fake.TotalCalls())
		}
	})
	t.Run("a user found by e-mail is not looked up again by id", func(t *testing.T) {
		e.Fake.ResetCounts()
		q := `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { name } } u: user(id: "` + restclienttest.NewID(1) + `") { name } }`
		r := e.Query(t, q, map[string]any{"r": emailReps("ann@example.com")}, graphtest.APIKey)
		if len(r.Errors) != 0 {
			t.Fatalf("errors: %s", graphtest.Short(string(r.Raw)))
		}
		// The two root fields run at once: the lookup by id may go out
		// before the e-mail's answer primes it, never more than that.
		if n := e.Fake.TotalCalls(); n > 2 {
			t.Fatalf("%d upstream calls", n)
		}
	})
}

func TestEntitiesByEmailPageThroughNearMatches(t *testing.T) {
	// 150 addresses end in ann@example.com; the exact one sorts last by
	// _id, so filter=<e-mail> has it on its second page only.
	var users []restclienttest.User
	for i := range 150 {
		users = append(users, restclienttest.User{ID: restclienttest.NewID(i), Email: fmt.Sprintf("x%03dann@example.com", i), CreatedAt: 1600000000})
	}
	users = append(users, restclienttest.User{ID: restclienttest.NewID(900), Email: "ann@example.com", Name: "Ann", CreatedAt: 1600000000})
	e := graphtest.Setup(t, graphtest.WithUsers(users))
	var v struct {
		Entities []*entityUser `json:"_entities"`
	}
	e.Query(t, byEmailQuery, map[string]any{"r": emailReps("ann@example.com")}, graphtest.APIKey).MustData(t, &v)
	if len(v.Entities) != 1 || v.Entities[0] == nil || v.Entities[0].Name != "Ann" {
		t.Fatalf("entities %+v", v.Entities)
	}
	if n := e.Fake.TotalCalls(); n != 2 {
		t.Fatalf("%d upstream calls, want the two pages of filter=<e-mail>", n)
	}
}

func TestEntitiesOfOneCallUseOneKey(t *testing.T) {
	e := graphtest.Setup(t, graphtest.WithUsers(emailDataset()))
	byID := map[string]any{"__typename": "User", "id": restclienttest.NewID(1)}
	byEmail := map[string]any{"__typename": "User", "email": "bob@example.com"}
	cases := []struct {
		name string
		reps []any
		msg  string
	}{
		{"an e-mail after an id", []any{byID, byEmail}, "representations[1] has no id"},
		{"an id after an e-mail", []any{byEmail, byID}, "representations[1] has no email"},
		{"a null e-mail", []any{map[string]any{"__typename": "User", "email": nil}}, "representations[0] must have a non-empty string id or email"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is BAD_USER_INPUT before any call", func(t *testing.T) {
			e.Fake.ResetCounts()
			err := e.Query(t, byEmailQuery, map[string]any{"r": tc.reps}, graphtest.APIKey).OnlyError(t)
			if err.Code() != "BAD_USER_INPUT" || !strings.HasPrefix(err.Message, tc.msg) {
				t.Fatalf("code %s message %q", err.Code(), err.Message)
			}
			if n := e.Fake.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls", n)
			}
		})
	}
	t.Run("a representation with both keys goes by id", func(t *testing.T) {
		both := map[string]any{"__typename": "User", "id": restclienttest.NewID(3), "email": "someone-else@example.com"}
		var v struct {
			Entities []*entityUser `json:"_entities"`
		}
		e.Query(t, byEmailQuery, map[string]any{"r": []any{byID, both}}, graphtest.APIKey).MustData(t, &v)
		if len(v.Entities) != 2 || v.Entities[0] == nil || v.Entities[0].Name != "Ann" || v.Entities[1] == nil || v.Entities[1].Name != "Bob" {
			t.Fatalf("entities %+v", v.Entities)
		}
	})
}

func TestSubgraphSDLComposesBesideOtherRelaySubgraphs(t *testing.T) {
	e := graphtest.Setup(t, graphtest.WithUsers(emailDataset()))
	var v struct {
		Service struct{ SDL string } `json:"_service"`
	}
	e.Query(t, `{ _service { sdl } }`, nil).MustData(t, &v)
	sdl := v.Service.SDL
	t.Run("it declares both keys and a shareable PageInfo", func(t *testing.T) {
		for _, want := range []string{`@key(fields: "id") @key(fields: "email")`, `type PageInfo @shareable`, `import: ["@key", "@shareable"]`} {
			if !strings.Contains(sdl, want) {
				t.Errorf("SDL lacks %q", want)
			}
		}
	})
	t.Run("it leaves node and nodes out", func(t *testing.T) {
		for _, field := range []string{"node(", "nodes("} {
			if strings.Contains(sdl, field) {
				t.Errorf("SDL has %q", field)
			}
		}
	})
	t.Run("direct clients still have node", func(t *testing.T) {
		var n struct{ Node struct{ ID, Name string } }
		e.Query(t, `{ node(id: "`+restclienttest.NewID(2)+`") { id ... on User { name } } }`, nil, graphtest.APIKey).MustData(t, &n)
		if n.Node.Name != "Joann" {
			t.Fatalf("node %+v", n.Node)
		}
	})
}
