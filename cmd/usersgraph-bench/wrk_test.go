package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// TestLuaScriptSendsTheListInSequence runs wrk with the committed script
// against a recording server: what arrives is exactly the listed requests
// (method, path, key, body), in the sequence's choice, and the RESULT line
// counts non-200 answers and GraphQL errors.
func TestLuaScriptSendsTheListInSequence(t *testing.T) {
	if testing.Short() {
		t.Skip("runs wrk for a second")
	}
	if _, err := loadkit.LookWrk(); err != nil {
		t.Skip(err)
	}
	type got struct{ method, path, key, body, ctype string }
	var mu sync.Mutex
	var seen []got
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, got{r.Method, r.URL.RequestURI(), r.Header.Get("X-Api-Key"), string(b), r.Header.Get("Content-Type")})
		mu.Unlock()
		switch r.Header.Get("X-Api-Key") {
		case "fails":
			w.WriteHeader(http.StatusInternalServerError)
		case "errs":
			io.WriteString(w, `{"errors":[{"message":"no"}],"data":null}`)
		default:
			io.WriteString(w, `{"data":{}}`)
		}
	}))
	defer srv.Close()
	reqs := []loadkit.WrkRequest{
		{Method: http.MethodGet, Path: "/new/v2.0/users?limit=25&filter=z%C3%B6e", Key: "k"},
		{Method: http.MethodPost, Path: "/graphql", Key: "k", Body: mixBody(true, mixVars{Filter: ptr("a b")})},
		{Method: http.MethodPost, Path: "/graphql", Key: "fails", Body: `{"query":"{ x }"}`},
		{Method: http.MethodPost, Path: "/graphql", Key: "errs", Body: `{"query":"{ y }"}`},
	}
	dir := t.TempDir()
	wb, err := newWrkBench(dir, nil, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, seq []int) loadkit.WrkRun {
		t.Helper()
		mu.Lock()
		seen = nil
		mu.Unlock()
		reqFile, seqFile := filepath.Join(dir, "r.txt"), filepath.Join(dir, "s.txt")
		f, _ := os.Create(reqFile)
		if err := loadkit.WriteWrkRequests(f, reqs); err != nil {
			t.Fatal(err)
		}
		f.Close()
		env := []string{"REQUESTS=" + reqFile}
		if seq != nil {
			f, _ := os.Create(seqFile)
			loadkit.WriteWrkSequence(f, seq)
			f.Close()
			env = append(env, "SEQUENCE="+seqFile)
		}
		w := loadkit.Wrk{Bin: wb.bin, Script: wb.script, URL: srv.URL, Threads: 2, Connections: 2, Duration: time.Second, Env: env}
		res, err := w.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	t.Run("a sequence of one request sends only that request, as listed", func(t *testing.T) {
		res := run(t, []int{1})
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 || res.Requests == 0 {
			t.Fatalf("nothing sent: %+v", res)
		}
		want := got{http.MethodPost, "/graphql", "k", reqs[1].Body, "application/json"}
		for _, g := range seen {
			if g != want {
				t.Fatalf("received %+v, want %+v", g, want)
			}
		}
		if res.Failed() != 0 {
			t.Errorf("failures counted: %+v", res.WrkResult)
		}
	})
	t.Run("without a sequence every request is sent, and failures are counted by kind", func(t *testing.T) {
		res := run(t, nil)
		mu.Lock()
		defer mu.Unlock()
		var methods []string
		for _, g := range seen {
			if g.method == http.MethodGet && (g.path != reqs[0].Path || g.body != "" || g.ctype != "") {
				t.Fatalf("GET received as %+v", g)
			}
			methods = append(methods, g.key)
		}
		for _, k := range []string{"k", "fails", "errs"} {
			if !slices.Contains(methods, k) {
				t.Errorf("no request with key %q arrived", k)
			}
		}
		if res.Non200 == 0 || res.GraphQLErrors == 0 || res.SocketErrors != 0 {
			t.Errorf("counted %+v", res.WrkResult)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestMixBodyCarriesOnlyTheVariablesSet(t *testing.T) {
	body := mixBody(false, mixVars{First: ptr(25), After: ptr("c1"), OrderBy: []userOrder{{"NAME", "DESC"}}})
	var got struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Variables) != 3 || got.Variables["first"] != float64(25) || got.Variables["after"] != "c1" {
		t.Errorf("variables %v", got.Variables)
	}
	if strings.Contains(got.Query, "createdBy") || !strings.Contains(got.Query, "pageInfo") || !strings.Contains(got.Query, "totalCount") {
		t.Errorf("query %s", got.Query)
	}
	if refs := mixBody(true, mixVars{}); !strings.Contains(refs, "createdBy { name } lastChangedBy { name }") || strings.Contains(refs, `"first"`) {
		t.Errorf("with references: %s", refs)
	}
}

func TestZipfSequence(t *testing.T) {
	seq := zipfSequence(500, 20000, 7)
	t.Run("is the same for the same seed", func(t *testing.T) {
		if !slices.Equal(seq, zipfSequence(500, 20000, 7)) {
			t.Fatal("differs")
		}
	})
	t.Run("stays within the queries and repeats the popular ones", func(t *testing.T) {
		counts := map[int]int{}
		for _, i := range seq {
			if i < 0 || i >= 500 {
				t.Fatalf("index %d", i)
			}
			counts[i]++
		}
		top, top10 := popularity(seq, 500)
		// Uniform would give 0.2% and 2%; Zipf with s=1.1 far more.
		if top < 0.05 || top10 < 0.2 || top10 < top || len(counts) < 50 {
			t.Errorf("top %.3f, top10 %.3f, %d distinct", top, top10, len(counts))
		}
	})
	t.Run("one query is all there is", func(t *testing.T) {
		if s := zipfSequence(1, 3, 1); !slices.Equal(s, []int{0, 0, 0}) {
			t.Errorf("got %v", s)
		}
	})
}

func TestShuffledSequenceSendsEachQueryOnce(t *testing.T) {
	s := shuffledSequence(100, 3)
	sorted := slices.Sorted(slices.Values(s))
	for i, v := range sorted {
		if v != i {
			t.Fatalf("not a permutation: %v", s)
		}
	}
}

func TestRestMixFlattensEachQueryIntoItsGETs(t *testing.T) {
	qs := []mixQuery{
		{Key: "a", REST: []string{"/new/v2.0/users?limit=3"}},
		{Key: "a", REST: []string{"/new/v2.0/users?limit=5", "/new/v2.0/users?filter=x&limit=1", "/new/v2.0/users?filter=y&limit=1"}},
		{Key: "b", REST: []string{"/new/v2.0/users?limit=3"}},
	}
	reqs, seq, per := restMix(qs, []int{1, 0, 1, 2})
	if len(reqs) != 5 {
		t.Fatalf("distinct GETs %+v", reqs)
	}
	if !slices.Equal(seq, []int{0, 1, 2, 3, 0, 1, 2, 4}) {
		t.Errorf("sequence %v", seq)
	}
	if per != 2 {
		t.Errorf("GETs per query %v, want 8/4", per)
	}
	if reqs[4].Key != "b" || reqs[4].Method != http.MethodGet || reqs[4].Body != "" {
		t.Errorf("same path, other credential: %+v", reqs[4])
	}
}

func TestDistinctQueries(t *testing.T) {
	tenants := map[string][]restclienttest.User{"k1": restclienttest.DemoUsers(200, 1), "k2": restclienttest.DemoUsers(200, 2)}
	qs, err := distinctQueries(newMixPicker(9, tenants), 3000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	keys := map[string]bool{}
	kinds := map[string]int{}
	refs := 0
	for _, q := range qs {
		k := q.Key + "\x00" + q.Body
		if seen[k] {
			t.Fatalf("repeated %s", k)
		}
		seen[k], keys[q.Key] = true, true
		kinds[q.Kind]++
		if q.Refs {
			refs++
		}
		if strings.Contains(q.Body, `"after"`) || strings.Contains(q.Body, `"before"`) {
			t.Fatalf("a cursor in %s", q.Body)
		}
	}
	if len(qs) != 3000 || len(keys) != 2 || kinds[kindFirst] == 0 || kinds[kindLast] == 0 || refs == 0 || refs == len(qs) {
		t.Errorf("%d queries, keys %v, kinds %v, %d with references", len(qs), keys, kinds, refs)
	}
	again, _ := distinctQueries(newMixPicker(9, tenants), 3000)
	if again[17].Body != qs[17].Body {
		t.Error("not deterministic for a seed")
	}
}

func TestFilterPoolDrawsFromTheUsers(t *testing.T) {
	users := restclienttest.DemoUsers(300, 1)
	pool := filterPool(newMixPicker(1, nil).r, users, 20)
	if len(pool) != 20 {
		t.Fatalf("pool %v", pool)
	}
	for _, f := range pool {
		found := false
		for _, u := range users {
			if strings.Contains(strings.ToLower(u.Name), strings.ToLower(f)) || strings.Contains(u.Email, f) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("filter %q matches no user", f)
		}
	}
}
