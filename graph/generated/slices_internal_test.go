package generated

import (
	"context"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/usersgraph/usersgraph/graph/pagination"
	"github.com/vektah/gqlparser/v2/ast"
)

// A list is marshalled in order only when nothing selected on its elements,
// at any depth and through any fragment, is a field the executor runs
// concurrently (here createdBy and lastChangedBy, which wait on the loader):
// otherwise the elements' lookups would wait one after the other.
func TestListsRunInOrderOnlyWhenNoElementCanWait(t *testing.T) {
	for _, c := range []struct {
		name, query string
		path        []string // from the operation to the list field
		inOrder     bool
	}{
		{"scalars on edges", `{ users(first: 25) { edges { cursor node { id email name lastActive createdAt lastChanged __typename } } } }`, []string{"users", "edges"}, true},
		{"scalars on nodes", `{ users { nodes { id name } } }`, []string{"users", "nodes"}, true},
		{"createdBy on edges", `{ users { edges { node { id createdBy { name } } } } }`, []string{"users", "edges"}, false},
		{"lastChangedBy on nodes", `{ users { nodes { lastChangedBy { id } } } }`, []string{"users", "nodes"}, false},
		{"through a named fragment", `{ users { nodes { ...F } } } fragment F on User { id lastChangedBy { id } }`, []string{"users", "nodes"}, false},
		{"through a fragment on Node", `{ users { edges { node { ... on Node { ... on User { createdBy { id } } } } } } }`, []string{"users", "edges"}, false},
		{"skipped", `query($no: Boolean = false) { users { nodes { id createdBy @include(if: $no) { id } } } }`, []string{"users", "nodes"}, true},
		{"an interface list", `{ nodes(ids: ["a", "b"]) { id } }`, []string{"nodes"}, false},
		{"introspection", `{ __schema { types { name fields { name type { name ofType { name } } } } } }`, []string{"__schema", "types"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := executor.New(NewExecutableSchema(Config{}))
			oc, errs := exec.CreateOperationContext(graphql.StartOperationTrace(context.Background()), &graphql.RawParams{Query: c.query})
			if errs != nil {
				t.Fatalf("%s: %v", c.query, errs)
			}
			var field *ast.Field
			sel := oc.Operation.SelectionSet
			for _, name := range c.path {
				field = find(sel, name)
				if field == nil {
					t.Fatalf("no field %s in %s", name, c.query)
				}
				sel = field.SelectionSet
			}
			ctx := graphql.WithFieldContext(graphql.WithOperationContext(context.Background(), oc),
				&graphql.FieldContext{Field: graphql.CollectedField{Field: field, Selections: field.SelectionSet}})
			if got := blocksNowhere(ctx, field.SelectionSet); got != c.inOrder {
				t.Errorf("in order: %v, want %v", got, c.inOrder)
			}
		})
	}
}

func find(sel ast.SelectionSet, name string) *ast.Field {
	for _, s := range sel {
		if f, ok := s.(*ast.Field); ok && f.Name == name {
			return f
		}
	}
	return nil
}

// A list of lists, or a field context without a field, is left to gqlgen.
func TestWhatCannotBeToldRunsConcurrently(t *testing.T) {
	if blocksNowhere(context.Background(), nil) {
		t.Error("no field context: in order")
	}
	ctx := graphql.WithFieldContext(context.Background(), &graphql.FieldContext{Index: new(int)})
	if blocksNowhere(ctx, nil) {
		t.Error("an element's context: in order")
	}
}

// Pages that select only plain fields are written directly; any other
// field leaves them to the executor.
func TestOnlyPlainPagesAreWrittenDirectly(t *testing.T) {
	users := []*model.User{{ID: "a"}, {ID: "b"}}
	conn := model.NewUserConnection(pagination.Window{}, users)
	for _, c := range []struct {
		query  string
		field  string
		direct bool
	}{
		{`{ users { edges { cursor node { id name } } } }`, "edges", true},
		{`{ users { nodes { __typename id email lastActive } } }`, "nodes", true},
		{`{ users { nodes { id createdBy { id } } } }`, "nodes", false},
		{`{ users { edges { node { lastChangedBy { id } } } } }`, "edges", false},
	} {
		exec := executor.New(NewExecutableSchema(Config{}))
		oc, errs := exec.CreateOperationContext(graphql.StartOperationTrace(context.Background()), &graphql.RawParams{Query: c.query})
		if errs != nil {
			t.Fatalf("%s: %v", c.query, errs)
		}
		field := find(find(oc.Operation.SelectionSet, "users").SelectionSet, c.field)
		ctx := graphql.WithOperationContext(context.Background(), oc)
		var got graphql.Array
		if c.field == "edges" {
			got = marshalPlain(nil, ctx, field.SelectionSet, conn.Edges())
		} else {
			got = marshalPlain(nil, ctx, field.SelectionSet, conn.Nodes())
		}
		if (got != nil) != c.direct {
			t.Errorf("%s: written directly %v, want %v", c.query, got != nil, c.direct)
		}
	}
}

type stubRoot struct{ ResolverRoot }

func (stubRoot) User() UserResolver { return stubUsers{} }

type stubUsers struct{}

func (stubUsers) CreatedBy(_ context.Context, obj *model.User) (*model.User, error) {
	return &model.User{ID: "creator-of-" + obj.ID, Name: "Creator"}, nil
}

func (stubUsers) LastChangedBy(context.Context, *model.User) (*model.User, error) { return nil, nil }

// On a users connection's page, createdBy and lastChangedBy with plain
// fields under them are resolved through the executor's field functions
// and written with the page; anything that would wait under them, or a
// list that is not a connection's, leaves the page to the executor.
func TestReferencesOnAConnectionPageAreWrittenDirectly(t *testing.T) {
	users := []*model.User{{ID: "a"}, {ID: "b"}}
	for _, c := range []struct {
		query, object string
		want          string // the page as written; "" = left to the executor
	}{
		{`{ users { nodes { id createdBy { id name } lastChangedBy { id } } } }`, "UserConnection",
			`[{"id":"a","createdBy":{"id":"creator-of-a","name":"Creator"},"lastChangedBy":null},{"id":"b","createdBy":{"id":"creator-of-b","name":"Creator"},"lastChangedBy":null}]`},
		{`{ users { nodes { c: createdBy { __typename } } } }`, "UserConnection",
			`[{"c":{"__typename":"User"}},{"c":{"__typename":"User"}}]`},
		{`{ users { nodes { createdBy { createdBy { id } } } } }`, "UserConnection", ""},
		{`{ users { nodes { createdBy { id } } } }`, "SomethingElse", ""},
	} {
		exec := executor.New(NewExecutableSchema(Config{}))
		ctx := graphql.StartOperationTrace(context.Background())
		oc, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: c.query})
		if errs != nil {
			t.Fatalf("%s: %v", c.query, errs)
		}
		field := find(find(oc.Operation.SelectionSet, "users").SelectionSet, "nodes")
		ctx = graphql.WithResponseContext(graphql.WithOperationContext(ctx, oc), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
		ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: c.object, Field: graphql.CollectedField{Field: field, Selections: field.SelectionSet}})
		ec := newExecutionContext(oc, &executableSchema{Resolvers: stubRoot{}}, nil)
		got := marshalPlain(ec, ctx, field.SelectionSet, users)
		if c.want == "" {
			if got != nil {
				t.Errorf("%s under %s: written directly", c.query, c.object)
			}
			continue
		}
		if got == nil {
			t.Errorf("%s: left to the executor", c.query)
			continue
		}
		var b strings.Builder
		got.MarshalGQL(&b)
		if b.String() != c.want {
			t.Errorf("%s:\ngot  %s\nwant %s", c.query, b.String(), c.want)
		}
	}
}
