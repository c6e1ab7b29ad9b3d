package restclienttest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var (
	idPattern    = regexp.MustCompile(`^[0-9a-f]{24}$`)
	tracePattern = regexp.MustCompile(`^api--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func TestAuth(t *testing.T) {
	s := start(t, WithUsers(fixture()), WithTenant("tenant-key", nil), WithForbidden("no-role"))
	users := s.URL + "/v2.0/users"
	tests := []struct {
		name   string
		url    string
		header http.Header
		want   int
	}{
		{"x-api-key header", users, keyHeader(testKey), http.StatusOK},
		{"api_key query", users + "?api_key=" + testKey, nil, http.StatusOK},
		{"authorization bearer", users, http.Header{"Authorization": {"Bearer " + testKey}}, http.StatusOK},
		{"bearer scheme is case-insensitive", users, http.Header{"Authorization": {"bearer " + testKey}}, http.StatusOK},
		{"cxone bearer", users, http.Header{"X-Cxone-Authorization": {"Bearer " + testKey}}, http.StatusOK},
		{"tenant key", users, keyHeader("tenant-key"), http.StatusOK},
		{"missing credential", users, nil, http.StatusUnauthorized},
		{"unknown key", users, keyHeader("wrong-secret"), http.StatusUnauthorized},
		{"unknown bearer", users, http.Header{"Authorization": {"Bearer wrong-secret"}}, http.StatusUnauthorized},
		{"bearer without token", users, http.Header{"Authorization": {"Bearer "}}, http.StatusUnauthorized},
		{"basic auth is not accepted", users, http.Header{"Authorization": {"Basic dGVzdC1rZXk6"}}, http.StatusUnauthorized},
		{"get route needs a credential too", users + "/" + NewID(1), nil, http.StatusUnauthorized},
		{"forbidden", users, keyHeader("no-role"), http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := send(t.Context(), newHTTPClient(t), http.MethodGet, tc.url, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.want {
				t.Fatalf("status %d, want %d; body %s", r.Status, tc.want, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			switch tc.want {
			case http.StatusForbidden:
				if len(r.Body) != 0 {
					t.Errorf("403 body %q, want none", r.Body)
				}
			case http.StatusUnauthorized:
				p := decodeProblem(t, r)
				if string(p.Code) != `"401"` {
					t.Errorf("code %s, want the string \"401\"", p.Code)
				}
				if !tracePattern.MatchString(p.TraceID) || p.Details == nil || p.Type == "" || p.Title == "" {
					t.Errorf("incomplete problem %+v", p)
				}
				for _, secret := range []string{testKey, "wrong-secret"} {
					if bytes.Contains(r.Body, []byte(secret)) {
						t.Errorf("problem echoes the credential: %s", r.Body)
					}
				}
			}
		})
	}
}

func TestValidation(t *testing.T) {
	s := start(t, WithUsers(fixture()))
	bogus := strings.Repeat("z", 24) // well formed, never issued
	tests := []struct {
		name  string
		query url.Values
	}{
		{"limit zero", q("limit", "0")},
		{"limit above 100", q("limit", "101")},
		{"limit not a number", q("limit", "ten")},
		{"limit empty", q("limit", "")},
		{"limit fraction", q("limit", "2.5")},
		{"skip negative", q("skip", "-1")},
		{"skip not a number", q("skip", "x")},
		{"sort empty", q("sort", "")},
		{"sort unknown field", q("sort", "email:asc")},
		{"sort bad direction", q("sort", "name:up")},
		{"sort upper-case direction", q("sort", "name:ASC")},
		{"sort without direction", q("sort", "name")},
		{"sort empty rule", q("sort", "name:asc,")},
		{"sort second rule bad", q("sort", "name:asc,bogus:desc")},
		{"next too short", q("next", "abc")},
		{"next upper case", q("next", strings.Repeat("A", 24))},
		{"previous with symbols", q("previous", strings.Repeat("-", 24))},
		{"next and previous", q("next", bogus, "previous", bogus)},
		{"skip with next", q("skip", "0", "next", bogus)},
		{"skip with previous", q("skip", "5", "previous", bogus)},
		{"cursor never issued", q("next", bogus)},
		{"an _id is not a cursor", q("previous", NewID(3))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustGet(t, s, "/v2.0/users", tc.query)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", r.Status, r.Body)
			}
			p := decodeProblem(t, r)
			if string(p.Code) != "1005" {
				t.Errorf("code %s, want the number 1005", p.Code)
			}
			if p.Instance != "/v2.0/users" || p.Detail == "" {
				t.Errorf("problem %+v", p)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	s := start(t, WithUsers(fixture()))
	tests := []struct {
		name   string
		filter string
		want   []string
	}{
		{"empty matches all", "", ids(1, 2, 3, 4, 5, 6, 7)},
		{"name substring", "zoë", ids(1, 3)},
		{"name is case-insensitive beyond ASCII", "ZOË MÜLLER", ids(1, 3)},
		{"e-mail substring", "mueller", ids(1, 3)},
		{"e-mail is case-insensitive", "ANNA.SMITH", ids(5, 7)},
		{"han characters", "李", ids(4)},
		{"exact _id", NewID(4), ids(4)},
		{"partial _id does not match", NewID(4)[:12], nil},
		{"no match", "nobody", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := list(t, s, q("filter", tc.filter))
			if got := p.ids(); !slices.Equal(got, tc.want) && len(got)+len(tc.want) > 0 {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
			if p.Total != len(tc.want) || p.NextCursor != nil || p.PreviousCursor != nil {
				t.Errorf("total %d (want %d), cursors %v %v", p.Total, len(tc.want), p.NextCursor, p.PreviousCursor)
			}
		})
	}
}

func TestSort(t *testing.T) {
	s := start(t, WithUsers(fixture()))
	tests := []struct {
		name string
		sort string // "" sends no sort parameter
		want []string
	}{
		{"default is _id ascending", "", ids(1, 2, 3, 4, 5, 6, 7)},
		{"_id descending", "_id:desc", ids(7, 6, 5, 4, 3, 2, 1)},
		{"name ascending, duplicates by _id, byte order", "name:asc", ids(6, 5, 7, 2, 1, 3, 4)},
		{"name descending keeps _id ascending for ties", "name:desc", ids(4, 1, 3, 2, 5, 7, 6)},
		{"e-mail ascending", "id:asc", ids(7, 5, 2, 4, 6, 3, 1)},
		{"lastActive ascending, missing first", "lastActive:asc", ids(2, 5, 6, 4, 7, 1, 3)},
		{"lastActive descending, missing last", "lastActive:desc", ids(3, 1, 4, 7, 6, 2, 5)},
		{"createdAt desc then name asc", "createdAt:desc,name:asc", ids(6, 5, 7, 3, 2, 4, 1)},
		{"name asc then lastChanged desc", "name:asc,lastChanged:desc", ids(6, 7, 5, 2, 3, 1, 4)},
		{"explicit _id rule wins", "_id:asc,name:desc", ids(1, 2, 3, 4, 5, 6, 7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v url.Values
			if tc.sort != "" {
				v = q("sort", tc.sort)
			}
			if got := list(t, s, v).ids(); !slices.Equal(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestSkipLimit(t *testing.T) {
	s := start(t, WithUsers(fixture()))
	tests := []struct {
		name           string
		query          url.Values
		want           []string
		hasNext, hasPr bool
	}{
		{"first page", q("limit", "3"), ids(1, 2, 3), true, false},
		{"middle page", q("limit", "3", "skip", "3"), ids(4, 5, 6), true, true},
		{"last partial page", q("limit", "3", "skip", "6"), ids(7), false, true},
		{"page ending exactly at the end", q("limit", "2", "skip", "5"), ids(6, 7), false, true},
		{"skip past the end", q("skip", "50"), nil, false, false},
		{"limit 1", q("limit", "1", "sort", "name:desc"), ids(4), true, false},
		{"limit 100", q("limit", "100"), ids(1, 2, 3, 4, 5, 6, 7), false, false},
		{"filter applies before paging", q("filter", "anna", "limit", "1", "skip", "1"), ids(7), false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := list(t, s, tc.query)
			if got := p.ids(); !slices.Equal(got, tc.want) && len(got)+len(tc.want) > 0 {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
			if (p.NextCursor != nil) != tc.hasNext || (p.PreviousCursor != nil) != tc.hasPr {
				t.Errorf("next %v previous %v, want %v %v", p.NextCursor, p.PreviousCursor, tc.hasNext, tc.hasPr)
			}
			wantTotal := 7
			if tc.query.Get("filter") != "" {
				wantTotal = 2
			}
			if p.Total != wantTotal {
				t.Errorf("total %d, want %d", p.Total, wantTotal)
			}
		})
	}
}

func TestCursorWalk(t *testing.T) {
	users := DemoUsers(120, 7)
	s := start(t, WithUsers(users))
	isID := map[string]bool{}
	for _, u := range users {
		isID[u.ID] = true
	}
	tests := []struct {
		name, filter, sort string
		limit              int
	}{
		{"default order", "", "", 25},
		{"uneven pages by name", "", "name:asc", 7},
		{"one per page, filtered", "son", "lastActive:desc,createdAt:asc", 1},
		{"single page", "", "id:desc", 100},
		{"filtered, duplicates", "zoë", "name:desc", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := q("filter", tc.filter, "sort", tc.sort, "limit", strconv.Itoa(tc.limit))
			if tc.sort == "" {
				base.Del("sort")
			}
			with := func(k, v string) url.Values {
				out := cloneValues(base)
				out.Set(k, v)
				return out
			}
			// The reference order comes from skip paging.
			var want []string
			total := -1
			for skip := 0; total < 0 || skip < total; skip += tc.limit {
				p := list(t, s, with("skip", strconv.Itoa(skip)))
				total = p.Total
				want = append(want, p.ids()...)
			}
			if len(want) != total || total == 0 {
				t.Fatalf("skip paging found %d of %d", len(want), total)
			}

			checkCursor := func(c *string) {
				if c != nil && (!cursorPattern.MatchString(*c) || isID[*c]) {
					t.Errorf("cursor %q is malformed or an _id", *c)
				}
			}
			var forward []string
			p := list(t, s, base)
			for pages := 0; ; pages++ {
				forward = append(forward, p.ids()...)
				checkCursor(p.NextCursor)
				if p.NextCursor == nil || pages > total {
					break
				}
				p = list(t, s, with("next", *p.NextCursor))
				if p.PreviousCursor == nil {
					t.Fatal("a page reached by next has no previousCursor")
				}
			}
			if !slices.Equal(forward, want) {
				t.Errorf("forward walk\n got %v\nwant %v", forward, want)
			}

			var backward []string
			p = list(t, s, with("skip", strconv.Itoa((total-1)/tc.limit*tc.limit)))
			for pages := 0; ; pages++ {
				backward = append(p.ids(), backward...)
				checkCursor(p.PreviousCursor)
				if p.PreviousCursor == nil || pages > total {
					break
				}
				p = list(t, s, with("previous", *p.PreviousCursor))
				if len(p.Items) != tc.limit || p.NextCursor == nil {
					t.Fatalf("a page reached by previous has %d items, nextCursor %v", len(p.Items), p.NextCursor)
				}
			}
			if !slices.Equal(backward, want) {
				t.Errorf("backward walk\n got %v\nwant %v", backward, want)
			}
		})
	}

	t.Run("cursor of a deleted user stops resolving", func(t *testing.T) {
		p := list(t, s, q("limit", "5"))
		s.Delete("", p.Items[4].ID)
		if r := mustGet(t, s, "/v2.0/users", q("limit", "5", "next", *p.NextCursor)); r.Status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", r.Status)
		}
	})
}

func TestGetUser(t *testing.T) {
	s := start(t, WithUsers(fixture()))
	t.Run("found", func(t *testing.T) {
		r := mustGet(t, s, "/v2.0/users/"+NewID(7), nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		var got map[string]any
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatal(err)
		}
		if _, ok := got["lastActive"]; ok {
			t.Error("single user has lastActive")
		}
		want := map[string]any{
			"_id": NewID(7), "id": "anna.smith2@example.com", "name": "Anna Smith", "createdAt": 1600000200.0,
			"lastChanged": 1600000400.0, "createdBy": NewID(1), "lastChangedBy": NewID(-1),
			"projects": []any{}, "acceptedTOS": true, "disabled": false,
		}
		for k, v := range want {
			if gb, _ := json.Marshal(got[k]); string(gb) != string(must(json.Marshal(v))) {
				t.Errorf("%s = %s, want %v", k, gb, v)
			}
		}
		if org, _ := got["organisation"].(string); !idPattern.MatchString(org) {
			t.Errorf("organisation %q", org)
		}
		if roles, _ := got["roles"].([]any); len(roles) == 0 {
			t.Errorf("roles %v", got["roles"])
		}
	})
	errs := []struct {
		name   string
		method string
		path   string
		status int
		code   string
	}{
		{"unknown id", http.MethodGet, "/v2.0/users/" + NewID(99), 404, "1002"},
		{"not an id", http.MethodGet, "/v2.0/users/nope", 404, "1002"},
		{"unknown path", http.MethodGet, "/v2.0/flows", 404, "1002"},
		{"post to list", http.MethodPost, "/v2.0/users", 405, "1013"},
		{"delete one", http.MethodDelete, "/v2.0/users/" + NewID(1), 405, "1013"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			r, err := send(t.Context(), newHTTPClient(t), tc.method, s.URL+tc.path, keyHeader(testKey))
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d", r.Status, tc.status)
			}
			if p := decodeProblem(t, r); string(p.Code) != tc.code {
				t.Errorf("code %s, want the number %s", p.Code, tc.code)
			}
		})
	}
}

func TestTenants(t *testing.T) {
	other := []User{{ID: NewID(100), Email: "solo@example.org", Name: "Solo", CreatedAt: 1700000000, LastChanged: 1700000000}}
	s := start(t, WithUsers(fixture()), WithAPIKey(testKey), WithTenant("other-key", other))
	listWith := func(t *testing.T, key string) testPage {
		t.Helper()
		r, err := send(t.Context(), newHTTPClient(t), http.MethodGet, s.URL+"/v2.0/users", keyHeader(key))
		if err != nil || r.Status != http.StatusOK {
			t.Fatalf("status %d, err %v", r.Status, err)
		}
		var p testPage
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("separate datasets", func(t *testing.T) {
		if got := listWith(t, "other-key").ids(); !slices.Equal(got, ids(100)) {
			t.Errorf("tenant sees %v", got)
		}
		if got := listWith(t, testKey); got.Total != 7 {
			t.Errorf("default sees %d users", got.Total)
		}
		if r := mustGet(t, s, "/v2.0/users/"+NewID(100), nil); r.Status != http.StatusNotFound {
			t.Errorf("default credential reads the tenant's user: %d", r.Status)
		}
	})
	t.Run("upsert and delete per tenant", func(t *testing.T) {
		s.Upsert("other-key", User{ID: NewID(101), Name: "Second", CreatedAt: 1, LastChanged: 1})
		s.Upsert("", User{ID: NewID(1), Name: "Renamed", CreatedAt: 1, LastChanged: 2})
		s.Delete("", NewID(2))
		if got := listWith(t, "other-key").ids(); !slices.Equal(got, ids(100, 101)) {
			t.Errorf("tenant sees %v", got)
		}
		def := s.Users("")
		if len(def) != 6 || def[0].Name != "Renamed" || def[1].ID != NewID(3) {
			t.Errorf("default dataset %+v", def)
		}
	})
	t.Run("a list sees every change after its orders were built", func(t *testing.T) {
		byName := q("sort", "name:desc", "filter", "zed")
		if got := list(t, s, byName).ids(); len(got) != 0 {
			t.Fatalf("before: %v", got)
		}
		s.Upsert("", User{ID: NewID(299), Name: "Zed", CreatedAt: 1, LastChanged: 3})
		s.Upsert("", User{ID: NewID(300), Name: "Zedekiah", CreatedAt: 1, LastChanged: 1})
		if got := list(t, s, byName).ids(); !slices.Equal(got, ids(300, 299)) {
			t.Errorf("after two upserts: %v", got)
		}
		s.Delete("", NewID(300))
		s.Delete("", NewID(299))
		if got := list(t, s, byName).ids(); len(got) != 0 {
			t.Errorf("after two deletes: %v", got)
		}
	})
	t.Run("Users returns copies", func(t *testing.T) {
		u := s.Users("")
		*u[1].LastActive = -1
		u[1].Name = "changed"
		if got := s.Users(""); got[1].Name == "changed" || *got[1].LastActive == -1 {
			t.Error("Users shares memory with the dataset")
		}
	})
	t.Run("upsert to a new secret creates a credential", func(t *testing.T) {
		s.Upsert("fresh-key", User{ID: NewID(200), CreatedAt: 1, LastChanged: 1})
		if got := listWith(t, "fresh-key").ids(); !slices.Equal(got, ids(200)) {
			t.Errorf("fresh credential sees %v", got)
		}
	})
}

func TestCounters(t *testing.T) {
	s := start(t, WithUsers(fixture()))
	hc := newHTTPClient(t)
	get := func(path string, h http.Header) {
		if _, err := send(t.Context(), hc, http.MethodGet, s.URL+path, h); err != nil {
			t.Fatal(err)
		}
	}
	get("/v2.0/users?limit=2", keyHeader(testKey))
	get("/v2.0/users", nil) // 401 still counts
	get("/v2.0/users/"+NewID(1), keyHeader(testKey))
	get("/v2.0/other", keyHeader(testKey))
	tests := []struct {
		name      string
		got, want int
	}{
		{"list", s.Calls(RouteList), 2},
		{"get", s.Calls(RouteGet), 1},
		{"total includes unknown paths", s.TotalCalls(), 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %d, want %d", tc.got, tc.want)
			}
		})
	}
	t.Run("requests recorded in order", func(t *testing.T) {
		reqs := s.Requests()
		if len(reqs) != 4 {
			t.Fatalf("%d requests", len(reqs))
		}
		want := []Route{RouteList, RouteList, RouteGet, ""}
		for i, r := range reqs {
			if r.Route != want[i] {
				t.Errorf("request %d route %q, want %q", i, r.Route, want[i])
			}
		}
		if reqs[0].Path != "/new/v2.0/users" || reqs[0].Query.Get("limit") != "2" || reqs[0].Header.Get("X-API-Key") != testKey {
			t.Errorf("first request %+v", reqs[0])
		}
		reqs[0].Query.Set("limit", "99")
		reqs[0].Header.Set("X-API-Key", "changed")
		if again := s.Requests()[0]; again.Query.Get("limit") != "2" || again.Header.Get("X-API-Key") != testKey {
			t.Error("Requests shares memory with the record")
		}
	})
	t.Run("reset", func(t *testing.T) {
		s.ResetCounts()
		if s.TotalCalls() != 0 || s.Calls(RouteList) != 0 || len(s.Requests()) != 0 {
			t.Error("counters survive ResetCounts")
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	s := start(t)
	done := make(chan error)
	for i := range 8 {
		go func() {
			s.Upsert("", User{ID: NewID(1000 + i), CreatedAt: 1, LastChanged: 1})
			r, err := send(t.Context(), newHTTPClient(t), http.MethodGet, s.URL+"/v2.0/users?sort=name:asc", keyHeader(testKey))
			if err == nil && r.Status != http.StatusOK {
				err = errStatus(r.Status)
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if got := s.Calls(RouteList); got != 8 {
		t.Errorf("%d calls, want 8", got)
	}
}

type errStatus int

func (e errStatus) Error() string { return "status " + strconv.Itoa(int(e)) }

func TestCloseIsIdempotent(t *testing.T) {
	s, err := NewServer(WithUsers(nil))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	if _, err := send(t.Context(), newHTTPClient(t), http.MethodGet, s.URL+"/v2.0/users", keyHeader(testKey)); err == nil {
		t.Error("closed server still answers")
	}
}

func TestNewServerErrors(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
	}{
		{"empty key", []Option{WithAPIKey("")}},
		{"bad address", []Option{WithAddr("127.0.0.1:notaport")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := NewServer(tc.opts...); err == nil {
				s.Close()
				t.Error("NewServer succeeded")
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
