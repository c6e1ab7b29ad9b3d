package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/graph/graphtest"

	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

type creatorsPage struct {
	Users struct {
		Nodes []struct {
			ID            string
			CreatedBy     *struct{ ID, Name string }
			LastChangedBy *struct{ ID string }
		}
	}
}

func TestCreatorsCostOneCallPerDistinctUserNotOnThePage(t *testing.T) {
	cases := []struct{ k, j int }{{1, 1}, {10, 0}, {40, 15}, {150, 60}, {200, 100}}
	for _, route := range []loaders.Route{loaders.RouteList, loaders.RouteByID} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("route %s, K=%d distinct, J=%d on the page: 1+%d calls", route, tc.k, tc.j, tc.k-tc.j), func(t *testing.T) {
				users, _, deleted := graphtest.CreatorDataset(tc.k, tc.j)
				e := graphtest.Setup(t, graphtest.WithUsers(users), graphtest.WithLookup(route))
				var p creatorsPage
				e.Query(t, graphtest.CreatorsQuery, nil, graphtest.APIKey).MustData(t, &p)

				lists, gets := e.Fake.Calls(restclienttest.RouteList), e.Fake.Calls(restclienttest.RouteGet)
				if route == loaders.RouteList && (lists != 1+tc.k-tc.j || gets != 0) {
					t.Fatalf("%d list + %d get calls, want %d list calls", lists, gets, 1+tc.k-tc.j)
				}
				if route == loaders.RouteByID && (lists != 1 || gets != tc.k-tc.j) {
					t.Fatalf("%d list + %d get calls, want 1 list and %d get calls", lists, gets, tc.k-tc.j)
				}
				if len(p.Users.Nodes) != 100 {
					t.Fatalf("%d nodes", len(p.Users.Nodes))
				}
				for i, n := range p.Users.Nodes {
					want := users[i]
					checkRef(t, n.ID+".createdBy", want.CreatedBy, deleted, n.CreatedBy == nil, func() string { return n.CreatedBy.ID })
					checkRef(t, n.ID+".lastChangedBy", want.LastChangedBy, deleted, n.LastChangedBy == nil, func() string { return n.LastChangedBy.ID })
				}
			})
		}
	}
}

func checkRef(t *testing.T, what, want string, deleted map[string]bool, isNull bool, got func() string) {
	t.Helper()
	switch {
	case deleted[want] && !isNull:
		t.Fatalf("%s: a deleted user resolved to %s, want null", what, got())
	case !deleted[want] && isNull:
		t.Fatalf("%s: null, want %s", what, want)
	case !deleted[want] && got() != want:
		t.Fatalf("%s: got %s, want %s", what, got(), want)
	}
}

func TestOneUserIsLookedUpOncePerRequest(t *testing.T) {
	users, refs, _ := graphtest.CreatorDataset(10, 0)
	e := graphtest.Setup(t, graphtest.WithUsers(users))
	off := refs[0] // an existing user that is not on the first page
	var v struct {
		A, B  *struct{ ID string }
		Users struct {
			Nodes []struct{ CreatedBy *struct{ ID string } }
		}
	}
	e.Query(t, `query($id: ID!) { a: user(id: $id) { id } b: user(id: $id) { id } users(first: 1) { nodes { createdBy { id } } } }`,
		map[string]any{"id": off}, graphtest.APIKey).MustData(t, &v)
	if v.A == nil || v.B == nil || v.A.ID != off || v.Users.Nodes[0].CreatedBy.ID != off {
		t.Fatalf("got %+v", v)
	}
	if n := e.Fake.Calls(restclienttest.RouteList); n != 2 {
		t.Fatalf("%d list calls, want 2 (the page and one lookup)", n)
	}
}

func TestUserByID(t *testing.T) {
	users, refs, _ := graphtest.CreatorDataset(10, 0)
	e := graphtest.Setup(t, graphtest.WithUsers(users))
	t.Run("an existing user is found", func(t *testing.T) {
		var v struct{ User *struct{ ID, Name string } }
		e.Query(t, `query($id: ID!) { user(id: $id) { id name } }`, map[string]any{"id": refs[0]}, graphtest.APIKey).MustData(t, &v)
		if v.User == nil || v.User.ID != refs[0] || v.User.Name != "Off-page "+refs[0] {
			t.Fatalf("got %+v", v.User)
		}
	})
	t.Run("an unknown user is null without an error", func(t *testing.T) {
		var v struct{ User *struct{ ID string } }
		e.Query(t, `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": restclienttest.NewID(99999)}, graphtest.APIKey).MustData(t, &v)
		if v.User != nil {
			t.Fatalf("got %+v", v.User)
		}
	})
}

func TestAFailedLookupFailsOnlyItsField(t *testing.T) {
	users, refs, _ := graphtest.CreatorDataset(10, 0)
	t.Run("list route", func(t *testing.T) {
		fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(graphtest.TestKey), restclienttest.WithUsers(users))
		if err != nil {
			t.Fatal(err)
		}
		defer fake.Close()
		c, err := restclient.New(fake.URL)
		if err != nil {
			t.Fatal(err)
		}
		e := graphtest.Setup(t, graphtest.WithUpstream(graphtest.FailLookup{Next: c, ID: refs[0]}))
		assertOnlyFieldsOf(t, e.Query(t, graphtest.CreatorsQuery, nil, graphtest.APIKey), users, refs[0], "UPSTREAM_UNAVAILABLE")
	})
	t.Run("by-id route", func(t *testing.T) {
		e := graphtest.Setup(t, graphtest.WithUsers(users), graphtest.WithLookup(loaders.RouteByID))
		e.Fake.InjectFault(restclienttest.RouteGet, restclienttest.Fault{Status: 500, Times: 1})
		r := e.Query(t, graphtest.CreatorsQuery, nil, graphtest.APIKey)
		if len(r.Errors) == 0 {
			t.Fatalf("no error: %s", graphtest.Short(r.Raw))
		}
		// Which lookup met the fault is up to the scheduler; the first
		// error's path says which user it was.
		path := r.Errors[0].Path
		if len(path) != 4 {
			t.Fatalf("error at %v", path)
		}
		i := int(path[2].(float64))
		failed := users[i].CreatedBy
		if path[3] == "lastChangedBy" {
			failed = users[i].LastChangedBy
		}
		assertOnlyFieldsOf(t, r, users, failed, "UPSTREAM_ERROR")
	})
}

// assertOnlyFieldsOf checks that exactly the fields referring to failedID
// are null with an error of code at their path, and all else resolved.
func assertOnlyFieldsOf(t *testing.T, r graphtest.Response, users []restclienttest.User, failedID, code string) {
	t.Helper()
	var p creatorsPage
	if err := json.Unmarshal(r.Data, &p); err != nil {
		t.Fatalf("data: %v\n%s", err, graphtest.Short(r.Raw))
	}
	wantPaths := map[string]bool{}
	for i, n := range p.Users.Nodes {
		for _, f := range []struct {
			name   string
			ref    string
			isNull bool
		}{{"createdBy", users[i].CreatedBy, n.CreatedBy == nil}, {"lastChangedBy", users[i].LastChangedBy, n.LastChangedBy == nil}} {
			if f.ref == failedID {
				wantPaths[fmt.Sprintf("users.nodes.%d.%s", i, f.name)] = true
				if !f.isNull {
					t.Fatalf("node %d %s resolved despite the failure", i, f.name)
				}
			}
		}
	}
	if len(wantPaths) == 0 || len(r.Errors) != len(wantPaths) {
		t.Fatalf("%d errors for %d failed fields: %s", len(r.Errors), len(wantPaths), graphtest.Short(r.Raw))
	}
	for _, e := range r.Errors {
		if !wantPaths[graphtest.PathString(e.Path)] || e.Code() != code {
			t.Fatalf("error %q at %s with code %s; want code %s at one of %v", e.Message, graphtest.PathString(e.Path), e.Code(), code, wantPaths)
		}
	}
}

// concurrencyProbe counts the lookups in flight at once.
type concurrencyProbe struct {
	next *restclient.Client
	mu   sync.Mutex
	cur  int
	peak int
}

func (c *concurrencyProbe) ListUsers(ctx context.Context, o restclient.ListUsersOptions) (*restclient.UserPage, *restclient.Response, error) {
	if o.Filter != "" {
		c.mu.Lock()
		c.cur++
		c.peak = max(c.peak, c.cur)
		c.mu.Unlock()
		defer func() { c.mu.Lock(); c.cur--; c.mu.Unlock() }()
	}
	return c.next.ListUsers(ctx, o)
}

func (c *concurrencyProbe) GetUser(ctx context.Context, id string) (*restclient.User, *restclient.Response, error) {
	return nil, nil, errors.New("not used")
}

func TestLookupsRunConcurrentlyWithinTheBound(t *testing.T) {
	users, _, _ := graphtest.CreatorDataset(60, 0)
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(graphtest.TestKey), restclienttest.WithUsers(users), restclienttest.WithLatency(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	c, err := restclient.New(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	probe := &concurrencyProbe{next: c}
	e := graphtest.Setup(t, graphtest.WithUpstream(probe), graphtest.WithConcurrency(5))
	var p creatorsPage
	e.Query(t, graphtest.CreatorsQuery, nil, graphtest.APIKey).MustData(t, &p)
	if probe.peak < 2 || probe.peak > 5 {
		t.Fatalf("peak of %d lookups at once, want 2..5", probe.peak)
	}
	if !strings.HasPrefix(p.Users.Nodes[0].ID, restclienttest.NewID(0)[:4]) {
		t.Fatalf("unexpected first node %s", p.Users.Nodes[0].ID)
	}
}

// A users connection sends the lookups of the createdBy/lastChangedBy users
// its query asks for as soon as its page resolves, without waiting for the
// loader's batch window: with a window of half a minute, the query still
// answers at once, with one call per distinct user off the page, whether
// the fields are asked on nodes, on edges or through fragments. Fields not
// asked are not looked up.
func TestAPageSendsItsLookupsWithoutWaitingForTheBatchWindow(t *testing.T) {
	users, _, _ := graphtest.CreatorDataset(40, 15)
	onPage := map[string]bool{}
	offPageCreators := map[string]bool{}
	for _, u := range users[:100] {
		onPage[u.ID] = true
	}
	for _, u := range users[:100] {
		if !onPage[u.CreatedBy] {
			offPageCreators[u.CreatedBy] = true
		}
	}
	for _, tc := range []struct {
		name, query string
		calls       int
	}{
		{"nodes", graphtest.CreatorsQuery, 1 + 25},
		{"edges and a fragment", `{ users(first: 100) { edges { node { ...Refs } } } } fragment Refs on User { id createdBy { name } lastChangedBy { name } }`, 1 + 25},
		{"an inline fragment, createdBy only", `{ users(first: 100) { nodes { ... on User { createdBy { name } } } } }`, 1 + len(offPageCreators)},
		{"neither", `{ users(first: 100) { nodes { name } } }`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := graphtest.Setup(t, graphtest.WithUsers(users), graphtest.WithConfig(func(c *httpapi.Config) { c.Lookup.Wait = 30 * time.Second }))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			body := strings.NewReader(`{"query":` + strconv.Quote(tc.query) + `}`)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(graphtest.APIKey.Name, graphtest.APIKey.Value)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("no answer within 10s, the batch window being 30s: %v", err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || strings.Contains(string(raw), `"errors"`) {
				t.Fatalf("status %d: %s", resp.StatusCode, graphtest.Short(string(raw)))
			}
			if calls := e.Fake.TotalCalls(); calls != tc.calls {
				t.Fatalf("%d upstream calls, want %d", calls, tc.calls)
			}
		})
	}
}
