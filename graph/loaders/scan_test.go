package loaders

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// sortedDirectory answers list calls sorted by _id from memory, counting
// them; shuffle makes it ignore the sort, as an upstream might.
type sortedDirectory struct {
	ids     []string
	shuffle bool

	mu    sync.Mutex
	calls int
}

func (d *sortedDirectory) ListUsers(_ context.Context, o restclient.ListUsersOptions) (*restclient.UserPage, *restclient.Response, error) {
	d.mu.Lock()
	d.calls++
	d.mu.Unlock()
	start := min(o.Skip, len(d.ids))
	end := min(start+o.Limit, len(d.ids))
	p := &restclient.UserPage{Total: len(d.ids)}
	for _, id := range d.ids[start:end] {
		p.Items = append(p.Items, restclient.User{ID: id})
	}
	if d.shuffle && len(p.Items) > 1 {
		p.Items[0], p.Items[1] = p.Items[1], p.Items[0]
	}
	if end < len(d.ids) {
		p.NextCursor = "more"
	}
	return p, nil, nil
}

func (d *sortedDirectory) GetUser(context.Context, string) (*restclient.User, *restclient.Response, error) {
	return nil, nil, errors.New("not used")
}

func directory(n int) *sortedDirectory {
	d := &sortedDirectory{}
	for i := range n {
		d.ids = append(d.ids, fmt.Sprintf("%024x", 2*i+2)) // odd values are missing
	}
	return d
}

func TestScanFindsEveryUserAndOnlyThem(t *testing.T) {
	for _, n := range []int{0, 1, 99, 100, 101, 199, 298, 1000} {
		t.Run(fmt.Sprintf("%d users", n), func(t *testing.T) {
			d := directory(n)
			s := newScanner(d, make(chan struct{}, 4))
			for i := range 2*n + 3 {
				id := fmt.Sprintf("%024x", i)
				u, err := s.find(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				_, exists := slices.BinarySearch(d.ids, id)
				if exists != (u != nil) || (u != nil && u.ID != id) {
					t.Fatalf("%s: got %v, exists %v", id, u, exists)
				}
			}
			if d.calls > windowCount(n) {
				t.Fatalf("%d calls for %d windows", d.calls, windowCount(n))
			}
		})
	}
}

func TestScanCostsAtMostItsEstimate(t *testing.T) {
	d := directory(2000)
	for _, k := range []int{1, 3, 10} {
		t.Run(fmt.Sprintf("%d ids", k), func(t *testing.T) {
			d.calls = 0
			s := newScanner(d, make(chan struct{}, 4))
			s.noteTotal(len(d.ids))
			for i := range k {
				if _, err := s.find(t.Context(), d.ids[i*len(d.ids)/k]); err != nil {
					t.Fatal(err)
				}
			}
			if want := scanCost(k, len(d.ids)); d.calls > want {
				t.Fatalf("%d calls, estimated %d", d.calls, want)
			}
		})
	}
}

func TestAnUpstreamThatIgnoresTheSortFailsTheLookupRatherThanGuess(t *testing.T) {
	d := directory(300)
	d.shuffle = true
	_, err := newScanner(d, make(chan struct{}, 4)).find(t.Context(), d.ids[150])
	if !errors.Is(err, errNotSortedByID) {
		t.Fatalf("err = %v, want errNotSortedByID", err)
	}
}

func TestWindowsOverlapByOneUser(t *testing.T) {
	for _, tc := range []struct{ n, windows int }{{0, 1}, {100, 1}, {101, 2}, {199, 2}, {200, 3}, {298, 3}, {299, 4}} {
		if got := windowCount(tc.n); got != tc.windows {
			t.Errorf("windowCount(%d) = %d, want %d", tc.n, got, tc.windows)
		}
		// The last window must reach the last user.
		if last := (windowCount(tc.n)-1)*scanStride + scanLimit; tc.n > 0 && last < tc.n {
			t.Errorf("%d users: the last window ends at %d", tc.n, last)
		}
	}
}

func TestSelectsLookedUpLastActive(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{`{ users { nodes { lastActive } } }`, false},
		{`{ users { nodes { createdBy { name } } } }`, false},
		{`{ users { nodes { createdBy { lastActive } } } }`, true},
		{`{ users { edges { node { lastChangedBy { ...F } } } } } fragment F on User { lastActive }`, true},
		{`{ users { nodes { createdBy { createdBy { lastActive } } } } }`, true},
		{`{ user(id: "x") { lastActive } }`, true},
		{`{ node(id: "x") { ... on User { lastActive } } }`, true},
		{`{ nodes(ids: ["x"]) { id } }`, false},
		{`{ ...Q } fragment Q on Query { _entities(representations: []) { ... on User { lastActive } } }`, true},
		{`{ users { nodes { ...F } } } fragment F on User { lastActive }`, false},
	} {
		doc, err := parser.ParseQuery(&ast.Source{Input: tc.query})
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]})
		if got := selectsLookedUpLastActive(ctx); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	if !selectsLookedUpLastActive(context.Background()) {
		t.Error("without an operation, lastActive must be assumed selected")
	}
}
