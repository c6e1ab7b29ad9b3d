package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/usersgraph/usersgraph/graph"
)

type opRecorder struct {
	mu      sync.Mutex
	ops     []graph.Operation
	batches []int
}

func (r *opRecorder) Operation(_ context.Context, op graph.Operation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
}

func (r *opRecorder) LoaderBatch(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, n)
}

// operations returns a copy of what was observed so far.
func (r *opRecorder) operations() []graph.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]graph.Operation(nil), r.ops...)
}

func (r *opRecorder) last() graph.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops[len(r.ops)-1]
}

func TestTheObserverSeesEveryOperationWithItsOutcome(t *testing.T) {
	rec := &opRecorder{}
	e := setup(t, withConfig(func(c *graph.Config) { c.Observer = rec }))
	cases := []struct {
		name, query, wantName, wantOutcome string
	}{
		{"a named query that succeeds", `query Page { users(first: 1) { totalCount } }`, "Page", "ok"},
		{"an anonymous query", `{ users(first: 1) { totalCount } }`, "", "ok"},
		{"a resolver error", `query TooMany { users(first: 101) { totalCount } }`, "TooMany", "BAD_USER_INPUT"},
		{"a parse error", `query Broken {`, "", "GRAPHQL_PARSE_FAILED"},
		{"a validation error", `query Unknown { nope }`, "", "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is observed", func(t *testing.T) {
			e.query(t, tc.query, nil, apiKey)
			got := rec.last()
			if got.Name != tc.wantName || got.Outcome != tc.wantOutcome || got.Elapsed <= 0 {
				t.Fatalf("observed %+v, want name %q outcome %s", got, tc.wantName, tc.wantOutcome)
			}
		})
	}
	t.Run("a request error is observed with its code", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL, strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := rec.last(); got.Outcome != "BAD_REQUEST" {
			t.Fatalf("observed %+v", got)
		}
	})
}

func TestTheObserverSeesLookupBatches(t *testing.T) {
	// K = 10 distinct creators and changers, J = 4 of them on the page:
	// six lookups, all in one batch.
	users, _, _ := creatorDataset(10, 4)
	rec := &opRecorder{}
	e := setup(t, withUsers(users), withConfig(func(c *graph.Config) { c.Observer = rec }))
	var v map[string]any
	e.query(t, creatorsQuery, nil, apiKey).mustData(t, &v)
	if got := fmt.Sprint(rec.batches); got != "[6]" {
		t.Fatalf("batches %s, want [6]", got)
	}
}
