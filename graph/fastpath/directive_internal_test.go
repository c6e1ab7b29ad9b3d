package fastpath

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/usersgraph/usersgraph/graph/pagination"
)

// A field the schema wraps in a directive (say `email: String @redact`)
// is answered by the directive's implementation, which only the executor
// runs: a page selecting it is never written from the model. The
// generator marks such fields (fastpathgen's tests show it); this shows
// the mark is honoured, on nodes and on edges.
func TestASchemaDirectiveSendsItsFieldToTheExecutor(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `
		directive @redact on FIELD_DEFINITION
		type Query { users: UserConnection }
		type UserConnection { nodes: [User!]! edges: [UserEdge!]! }
		type UserEdge { cursor: String! node: User! }
		type User { id: ID! name: String email: String @redact }`})
	users := []*model.User{{ID: "a"}, {ID: "b"}}
	conn := model.NewUserConnection(pagination.Window{}, users)
	for _, c := range []struct {
		name, query, list string
		redacted, plain   bool
	}{
		{"plain fields on nodes", `{ users { nodes { id name } } }`, "nodes", true, true},
		{"the directive's field on nodes", `{ users { nodes { id email } } }`, "nodes", true, false},
		{"the directive's field on edges", `{ users { edges { node { email } } } }`, "edges", true, false},
		{"the same field without the directive", `{ users { nodes { id email } } }`, "nodes", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQueryWithRules(schema, c.query, nil)
			if errs != nil {
				t.Fatal(errs)
			}
			s := &Schema{Objects: map[string]Object{
				"User":     {Implementors: []string{"User"}},
				"UserEdge": {Implementors: []string{"UserEdge"}},
			}}
			if c.redacted {
				s.Objects["User"] = Object{Implementors: []string{"User"}, Fields: map[string]Field{"email": {Middleware: true}}}
			}
			oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
			ctx := graphql.WithOperationContext(context.Background(), oc)
			var list *ast.Field
			for _, sel := range doc.Operations[0].SelectionSet[0].(*ast.Field).SelectionSet {
				if f := sel.(*ast.Field); f.Name == c.list {
					list = f
				}
			}
			var got graphql.Array
			if c.list == "edges" {
				got = marshalPlain(ctx, s, nil, list.SelectionSet, conn.Edges())
			} else {
				got = marshalPlain(ctx, s, nil, list.SelectionSet, conn.Nodes())
			}
			if (got != nil) != c.plain {
				t.Errorf("written from the model: %v, want %v", got != nil, c.plain)
			}
		})
	}
}
