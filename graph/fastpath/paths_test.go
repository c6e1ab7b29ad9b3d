package fastpath_test

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"

	"github.com/usersgraph/usersgraph/graph/fastpath"
	"github.com/usersgraph/usersgraph/graph/generated"
	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/usersgraph/usersgraph/graph/pagination"
)

// stubRoot answers from memory: a page of two users whose creator is made
// up, and whose connection says its lookups were sent when lookupsSent.
type stubRoot struct {
	generated.ResolverRoot
	lookupsSent bool
}

func (r stubRoot) Query() generated.QueryResolver { return stubQuery(r) }
func (r stubRoot) User() generated.UserResolver   { return stubUsers{} }

type stubQuery stubRoot

func (q stubQuery) Users(context.Context, *int, *string, *int, *string, *string, []model.UserOrder) (*model.UserConnection, error) {
	c := model.NewUserConnection(pagination.Window{}, []*model.User{{ID: "a"}, {ID: "b"}})
	if q.lookupsSent {
		c.SetReferenceLookupsSent()
	}
	return c, nil
}
func (stubQuery) User(context.Context, string) (*model.User, error) { return nil, nil }
func (stubQuery) Node(context.Context, string) (model.Node, error)  { return nil, nil }
func (stubQuery) Nodes(_ context.Context, ids []string) ([]model.Node, error) {
	out := make([]model.Node, len(ids))
	for i, id := range ids {
		out[i] = &model.User{ID: id}
	}
	return out, nil
}

type stubUsers struct{}

func (stubUsers) CreatedBy(_ context.Context, obj *model.User) (*model.User, error) {
	return &model.User{ID: "creator-of-" + obj.ID, Name: "Creator"}, nil
}

func (stubUsers) LastChangedBy(context.Context, *model.User) (*model.User, error) { return nil, nil }

// run executes query with gqlgen's executor over root and returns the
// answer and how its lists were marshalled.
func run(t *testing.T, root stubRoot, query string, executorOnly bool) (string, paths) {
	t.Helper()
	exec := executor.New(generated.NewExecutableSchema(generated.Config{Resolvers: root}))
	exec.Use(extension.Introspection{})
	counts := &fastpath.Counts{}
	ctx := fastpath.CountInto(graphql.StartOperationTrace(t.Context()), counts)
	if executorOnly {
		ctx = fastpath.ExecutorOnly(ctx)
	}
	oc, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: query})
	if errs != nil {
		t.Fatalf("%s: %v", query, errs)
	}
	handler, ctx := exec.DispatchOperation(ctx, oc)
	resp := handler(ctx)
	if len(resp.Errors) > 0 {
		t.Fatalf("%s: %v", query, resp.Errors)
	}
	return string(resp.Data), paths{plain: counts.Plain.Load(), inOrder: counts.InOrder.Load(), concurrent: counts.Concurrent.Load()}
}

// Each list takes the cheapest path that cannot change its answer: plain
// pages are written from the model; lists whose elements can wait on
// nothing are marshalled in order; any other is gqlgen's, concurrently.
// References are resolved in order only on a page whose resolver says it
// sent their lookups: elsewhere each would wait in turn.
func TestEachListTakesTheCheapestPathThatKeepsItsAnswer(t *testing.T) {
	for _, c := range []struct {
		name, query string
		lookupsSent bool
		want        paths
	}{
		{"scalars on edges are plain", `{ users { edges { cursor node { id email name lastActive createdAt lastChanged __typename } } } }`, false, paths{plain: 1}},
		{"scalars on nodes are plain", `{ users { nodes { id name } } }`, false, paths{plain: 1}},
		{"references where the lookups were sent are plain", `{ users { nodes { id createdBy { id name } lastChangedBy { id } } } }`, true, paths{plain: 1}},
		{"references where they were not are concurrent", `{ users { nodes { id createdBy { id name } } } }`, false, paths{concurrent: 1}},
		{"references on edges where they were not are concurrent", `{ users { edges { node { lastChangedBy { id } } } } }`, false, paths{concurrent: 1}},
		{"a reference under a reference is concurrent", `{ users { nodes { createdBy { createdBy { id } } } } }`, true, paths{concurrent: 1}},
		{"a reference through a fragment on Node is concurrent where not sent", `{ users { edges { node { ... on Node { ... on User { createdBy { id } } } } } } }`, false, paths{concurrent: 1}},
		{"a skipped reference is plain", `query($no: Boolean = false) { users { nodes { id createdBy @include(if: $no) { id } } } }`, false, paths{plain: 1}},
		{"a list of an interface is concurrent", `{ nodes(ids: ["a", "b"]) { id } }`, false, paths{concurrent: 1}},
		{"introspection's lists are in order", `{ __schema { directives { name } } }`, false, paths{inOrder: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := stubRoot{lookupsSent: c.lookupsSent}
			got, took := run(t, root, c.query, false)
			if took != c.want {
				t.Errorf("lists marshalled %+v, want %+v", took, c.want)
			}
			if want, _ := run(t, root, c.query, true); got != want {
				t.Errorf("answer differs from the executor's:\nfast     %s\nexecutor %s", got, want)
			}
		})
	}
}
