package graph_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/usersgraph/usersgraph/graph/graphtest"

	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

const pageQuery = `query($first: Int, $after: String, $last: Int, $before: String, $filter: String, $orderBy: [UserOrder!]) {
  users(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
    nodes { id }
  }
}`

type page struct {
	Users struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       *string
		}
		Edges []struct {
			Cursor string
			Node   struct{ ID string }
		}
		Nodes []struct{ ID string }
	}
}

func (p page) ids() []string {
	out := make([]string, len(p.Users.Edges))
	for i, e := range p.Users.Edges {
		out[i] = e.Node.ID
	}
	return out
}

func fetchPage(t *testing.T, e *graphtest.Env, vars map[string]any) page {
	t.Helper()
	var p page
	e.Query(t, pageQuery, vars, graphtest.APIKey).MustData(t, &p)
	nodes := make([]string, len(p.Users.Nodes))
	for i, n := range p.Users.Nodes {
		nodes[i] = n.ID
	}
	if !slices.Equal(nodes, p.ids()) {
		t.Fatalf("nodes %v differ from edges %v", nodes, p.ids())
	}
	if n := len(p.Users.Edges); n > 0 {
		if *p.Users.PageInfo.StartCursor != p.Users.Edges[0].Cursor || *p.Users.PageInfo.EndCursor != p.Users.Edges[n-1].Cursor {
			t.Fatal("startCursor/endCursor are not the first/last edge's cursors")
		}
	} else if p.Users.PageInfo.StartCursor != nil || p.Users.PageInfo.EndCursor != nil {
		t.Fatal("an empty page has a start or end cursor")
	}
	return p
}

// restOrder walks the upstream directly, with skip, and returns its order.
func restOrder(t *testing.T, e *graphtest.Env, filter string, sort restclient.Sort) []string {
	t.Helper()
	c, err := restclient.New(e.Fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := restclient.WithCredential(t.Context(), restclient.NewCredential(restclient.APIKey, graphtest.TestKey))
	var ids []string
	for {
		p, _, err := c.ListUsers(ctx, restclient.ListUsersOptions{Filter: filter, Sort: sort, Limit: 100, Skip: len(ids)})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range p.Items {
			ids = append(ids, u.ID)
		}
		if len(p.Items) == 0 || len(ids) >= p.Total {
			return ids
		}
	}
}

func TestWalksMatchTheUpstreamOrderForEveryOrder(t *testing.T) {
	e := graphtest.Setup(t)
	fields := map[string]restclient.SortField{
		"ID": restclient.SortByID, "EMAIL": restclient.SortByEmail, "NAME": restclient.SortByName,
		"LAST_ACTIVE": restclient.SortByLastActive, "CREATED_AT": restclient.SortByCreatedAt, "LAST_CHANGED": restclient.SortByLastChanged,
	}
	type order struct {
		name    string
		filter  string
		orderBy any
		sort    restclient.Sort
	}
	var orders []order
	for f, sf := range fields {
		for _, dir := range []string{"ASC", "DESC"} {
			sort := restclient.Sort{{Field: sf, Descending: dir == "DESC"}}
			if sf != restclient.SortByID {
				sort = append(sort, restclient.SortRule{Field: restclient.SortByID})
			}
			orders = append(orders, order{name: f + " " + dir, orderBy: map[string]any{"field": f, "direction": dir}, sort: sort})
		}
	}
	orders = append(orders,
		order{name: "no orderBy", sort: restclient.Sort{{Field: restclient.SortByID}}},
		order{name: "filtered, by NAME DESC then CREATED_AT", filter: "a",
			orderBy: []any{map[string]any{"field": "NAME", "direction": "DESC"}, map[string]any{"field": "CREATED_AT"}},
			sort:    restclient.Sort{{Field: restclient.SortByName, Descending: true}, {Field: restclient.SortByCreatedAt}, {Field: restclient.SortByID}}},
	)
	const size = 23
	for _, o := range orders {
		want := restOrder(t, e, o.filter, o.sort)
		if len(want) < 2*size {
			t.Fatalf("%s: only %d users; the walk would prove little", o.name, len(want))
		}
		t.Run(o.name+" forward", func(t *testing.T) {
			var got []string
			vars := map[string]any{"first": size, "filter": o.filter, "orderBy": o.orderBy}
			for i := 0; ; i++ {
				e.Fake.ResetCounts()
				p := fetchPage(t, e, vars)
				got = append(got, p.ids()...)
				if p.Users.TotalCount != len(want) {
					t.Fatalf("totalCount %d, want %d", p.Users.TotalCount, len(want))
				}
				if p.Users.PageInfo.HasPreviousPage != (i > 0) {
					t.Fatalf("page %d: hasPreviousPage %v", i, p.Users.PageInfo.HasPreviousPage)
				}
				q := e.LastRequest(t).Query
				if e.Fake.TotalCalls() != 1 || q.Get("sort") != o.sort.String() {
					t.Fatalf("page %d: %d calls, sort %q, want 1 call sorted %q", i, e.Fake.TotalCalls(), q.Get("sort"), o.sort.String())
				}
				if i > 0 && (q.Get("next") == "" || q.Has("skip")) {
					t.Fatalf("page %d continued with %v, want next= and no skip", i, q)
				}
				if !p.Users.PageInfo.HasNextPage {
					break
				}
				if i > len(want) {
					t.Fatal("the walk does not end")
				}
				vars["after"] = *p.Users.PageInfo.EndCursor
			}
			if !slices.Equal(got, want) {
				t.Fatalf("forward walk differs from the upstream's order:\n got %v\nwant %v", got, want)
			}
		})
		t.Run(o.name+" backward", func(t *testing.T) {
			var got []string
			vars := map[string]any{"last": size, "filter": o.filter, "orderBy": o.orderBy}
			for i := 0; ; i++ {
				p := fetchPage(t, e, vars)
				got = append(p.ids(), got...)
				if p.Users.PageInfo.HasNextPage != (i > 0) {
					t.Fatalf("page %d: hasNextPage %v", i, p.Users.PageInfo.HasNextPage)
				}
				if q := e.LastRequest(t).Query; i > 0 && q.Has("skip") {
					t.Fatalf("page %d continued with skip: %v", i, q)
				}
				if !p.Users.PageInfo.HasPreviousPage {
					break
				}
				if i > len(want) {
					t.Fatal("the walk does not end")
				}
				vars["before"] = *p.Users.PageInfo.StartCursor
			}
			if !slices.Equal(got, want) {
				t.Fatalf("backward walk differs from the upstream's order:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestCursorsContinueWhereTheyPoint(t *testing.T) {
	e := graphtest.Setup(t)
	all := restOrder(t, e, "", restclient.Sort{{Field: restclient.SortByID}})
	first := fetchPage(t, e, map[string]any{"first": 10})

	t.Run("after endCursor asks for next= without skip", func(t *testing.T) {
		p := fetchPage(t, e, map[string]any{"first": 10, "after": *first.Users.PageInfo.EndCursor})
		if !slices.Equal(p.ids(), all[10:20]) {
			t.Fatalf("got %v, want %v", p.ids(), all[10:20])
		}
		q := e.LastRequest(t).Query
		if len(q.Get("next")) != 24 || q.Has("skip") || q.Has("previous") {
			t.Fatalf("upstream query %v", q)
		}
	})
	t.Run("before the second page's startCursor asks for previous=", func(t *testing.T) {
		second := fetchPage(t, e, map[string]any{"first": 10, "after": *first.Users.PageInfo.EndCursor})
		p := fetchPage(t, e, map[string]any{"last": 10, "before": *second.Users.PageInfo.StartCursor})
		if !slices.Equal(p.ids(), all[:10]) {
			t.Fatalf("got %v, want %v", p.ids(), all[:10])
		}
		q := e.LastRequest(t).Query
		if len(q.Get("previous")) != 24 || q.Has("skip") || q.Get("sort") != "_id:asc" {
			t.Fatalf("upstream query %v", q)
		}
		if p.Users.PageInfo.HasPreviousPage || !p.Users.PageInfo.HasNextPage {
			t.Fatalf("first page again: %+v", p.Users.PageInfo)
		}
	})
	for _, i := range []int{0, 3, 9} {
		t.Run(fmt.Sprintf("after edge %d continues right after it", i), func(t *testing.T) {
			p := fetchPage(t, e, map[string]any{"first": 4, "after": first.Users.Edges[i].Cursor})
			if !slices.Equal(p.ids(), all[i+1:i+5]) {
				t.Fatalf("got %v, want %v", p.ids(), all[i+1:i+5])
			}
		})
		t.Run(fmt.Sprintf("before edge %d ends right before it", i), func(t *testing.T) {
			p := fetchPage(t, e, map[string]any{"last": 4, "before": first.Users.Edges[i].Cursor})
			if want := all[max(i-4, 0):i]; !slices.Equal(p.ids(), want) {
				t.Fatalf("got %v, want %v", p.ids(), want)
			}
		})
	}
	t.Run("last without before is the final users", func(t *testing.T) {
		p := fetchPage(t, e, map[string]any{"last": 5})
		if !slices.Equal(p.ids(), all[len(all)-5:]) || p.Users.PageInfo.HasNextPage || !p.Users.PageInfo.HasPreviousPage {
			t.Fatalf("got %v %+v, want %v", p.ids(), p.Users.PageInfo, all[len(all)-5:])
		}
	})
	t.Run("no size gives a page of 25", func(t *testing.T) {
		p := fetchPage(t, e, map[string]any{})
		if !slices.Equal(p.ids(), all[:25]) {
			t.Fatalf("got %d users", len(p.ids()))
		}
	})
	t.Run("first 0 gives no edges but the total and what follows", func(t *testing.T) {
		p := fetchPage(t, e, map[string]any{"first": 0})
		if len(p.ids()) != 0 || p.Users.TotalCount != len(all) || !p.Users.PageInfo.HasNextPage || p.Users.PageInfo.HasPreviousPage {
			t.Fatalf("got %+v", p.Users)
		}
	})
	t.Run("after the very last edge there is an empty page", func(t *testing.T) {
		end := fetchPage(t, e, map[string]any{"last": 1})
		p := fetchPage(t, e, map[string]any{"first": 10, "after": *end.Users.PageInfo.EndCursor})
		if len(p.ids()) != 0 || p.Users.PageInfo.HasNextPage || !p.Users.PageInfo.HasPreviousPage {
			t.Fatalf("got %+v", p.Users)
		}
	})
}

func TestOrderByBecomesOneUpstreamSort(t *testing.T) {
	e := graphtest.Setup(t)
	cases := []struct {
		name    string
		orderBy string
		want    string
	}{
		{"no orderBy sorts by _id", ``, "_id:asc"},
		{"a single object is a list of one", `orderBy: {field: NAME}`, "name:asc,_id:asc"},
		{"several rules keep their order and end with _id", `orderBy: [{field: NAME}, {field: CREATED_AT, direction: DESC}]`, "name:asc,createdAt:desc,_id:asc"},
		{"an explicit null direction is ascending", `orderBy: {field: EMAIL, direction: null}`, "id:asc,_id:asc"},
		{"ID DESC is its own tie-breaker", `orderBy: {field: ID, direction: DESC}`, "_id:desc"},
		{"rules after ID are dropped as they never decide", `orderBy: [{field: ID}, {field: NAME}]`, "_id:asc"},
		{"every field maps to its wire name", `orderBy: [{field: LAST_ACTIVE}, {field: LAST_CHANGED, direction: DESC}]`, "lastActive:asc,lastChanged:desc,_id:asc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := "first: 1"
			if tc.orderBy != "" {
				args += ", " + tc.orderBy
			}
			var v any
			e.Query(t, `{ users(`+args+`) { totalCount } }`, nil, graphtest.APIKey).MustData(t, &v)
			if got := e.LastRequest(t).Query.Get("sort"); got != tc.want {
				t.Fatalf("sort=%q, want %q", got, tc.want)
			}
		})
	}
}

func TestBadArgumentsNeverReachTheUpstream(t *testing.T) {
	e := graphtest.Setup(t)
	var p page
	e.Query(t, `{ users(first: 2) { edges { cursor } } }`, nil, graphtest.APIKey).MustData(t, &p)
	cursor := p.Users.Edges[1].Cursor
	cases := []struct {
		name, args, wantMsg string
	}{
		{"first over 100", `first: 101`, "between 0 and 100"},
		{"a negative first", `first: -1`, "between 0 and 100"},
		{"last over 100", `last: 500`, "between 0 and 100"},
		{"first and last together", `first: 1, last: 1`, "together"},
		{"a garbled cursor", `after: "not-a-cursor"`, "not valid"},
		{"a cursor with one character changed", `after: "` + flip(cursor) + `"`, "not valid"},
		{"a cursor from another filter", `after: "` + cursor + `", filter: "ann"`, "different filter or orderBy"},
		{"a cursor from another order", `before: "` + cursor + `", orderBy: {field: NAME}`, "different filter or orderBy"},
		{"the same field twice in orderBy", `orderBy: [{field: NAME}, {field: NAME, direction: DESC}]`, "more than once"},
		{"an over-long filter", `filter: "` + strings.Repeat("x", 300) + `"`, "at most 256"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is BAD_USER_INPUT", func(t *testing.T) {
			e.Fake.ResetCounts()
			r := e.Query(t, `{ users(`+tc.args+`) { totalCount } }`, nil, graphtest.APIKey)
			err := r.OnlyError(t)
			if err.Code() != "BAD_USER_INPUT" || !strings.Contains(err.Message, tc.wantMsg) {
				t.Fatalf("got %s %q, want BAD_USER_INPUT mentioning %q", err.Code(), err.Message, tc.wantMsg)
			}
			if n := e.Fake.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls, want none", n)
			}
		})
	}
	t.Run("an id of the wrong shape is BAD_USER_INPUT", func(t *testing.T) {
		e.Fake.ResetCounts()
		err := e.Query(t, `{ user(id: "../../admin") { id } }`, nil, graphtest.APIKey).OnlyError(t)
		if err.Code() != "BAD_USER_INPUT" || e.Fake.TotalCalls() != 0 {
			t.Fatalf("got %s after %d calls", err.Code(), e.Fake.TotalCalls())
		}
	})
}

func flip(s string) string {
	b := []byte(s)
	if b[len(b)/2] == 'A' {
		b[len(b)/2] = 'B'
	} else {
		b[len(b)/2] = 'A'
	}
	return string(b)
}

func TestUserFieldsMapFromTheWire(t *testing.T) {
	ms, secs := 1700000000123.0, 1600000000.0
	users := []restclienttest.User{
		{ID: restclienttest.NewID(1), Email: "zoe@example.com", Name: "Zoë Müller", LastActive: &ms, CreatedAt: 1500000000, LastChanged: 1500000500},
		{ID: restclienttest.NewID(2), LastActive: &secs, CreatedAt: 1500000001},
	}
	e := graphtest.Setup(t, graphtest.WithUsers(users))
	var got struct {
		Users struct {
			Nodes []struct {
				ID, Email, Name                    *string
				LastActive, CreatedAt, LastChanged *string
			}
		}
	}
	e.Query(t, `{ users { nodes { id email name lastActive createdAt lastChanged } } }`, nil, graphtest.APIKey).MustData(t, &got)
	str := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	n := got.Users.Nodes
	checks := []struct{ name, got, want string }{
		{"id is _id", str(n[0].ID), restclienttest.NewID(1)},
		{"email is the REST id", str(n[0].Email), "zoe@example.com"},
		{"name keeps its accents", str(n[0].Name), "Zoë Müller"},
		{"lastActive above 1e11 is milliseconds", str(n[0].LastActive), "2023-11-14T22:13:20.123Z"},
		{"createdAt is Unix seconds in UTC", str(n[0].CreatedAt), "2017-07-14T02:40:00Z"},
		{"lastChanged is Unix seconds in UTC", str(n[0].LastChanged), "2017-07-14T02:48:20Z"},
		{"lastActive below 1e11 is seconds", str(n[1].LastActive), "2020-09-13T12:26:40Z"},
		{"a missing email is null", str(n[1].Email), "null"},
		{"a missing name is null", str(n[1].Name), "null"},
		{"a missing lastChanged is null", str(n[1].LastChanged), "null"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, c.got, c.want)
		}
	}
}

func TestGETQueriesWork(t *testing.T) {
	e := graphtest.Setup(t)
	req, err := graphtest.NewGET(t, e.Srv.URL+`?query=`+url.QueryEscape(`{ users(first: 2) { totalCount } }`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(graphtest.APIKey.Name, graphtest.APIKey.Value)
	var v struct{ Users struct{ TotalCount int } }
	graphtest.Do(t, req).MustData(t, &v)
	if v.Users.TotalCount != 300 {
		t.Fatalf("totalCount %d", v.Users.TotalCount)
	}
}
