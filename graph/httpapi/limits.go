package httpapi

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/usersgraph/usersgraph/graph/generated"
	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/usersgraph/usersgraph/graph/pagination"
)

// Defaults of the query limits. The complexity of a field is 1 plus its
// children's, multiplied by the page size for users and by the number of ids
// for nodes and _entities, so one users(first: 100) selecting ten fields
// costs about 1,100; the limit admits a few of those in one request and
// refuses a thousand aliases of them before any upstream call.
const (
	DefaultMaxComplexity = 5000
	DefaultMaxDepth      = 12
)

// complexity weighs fields by the rows they can return.
func complexity() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	c.Query.Users = func(child int, first *int, _ *string, last *int, _ *string, _ *string, _ []model.UserOrder) int {
		n := pagination.DefaultPageSize
		switch {
		case first != nil:
			n = *first
		case last != nil:
			n = *last
		}
		// Out-of-range sizes are refused by the resolver with a clearer
		// message; clamping also keeps the product from overflowing.
		return 1 + min(max(n, 1), pagination.MaxPageSize)*child
	}
	c.Query.Nodes = func(child int, ids []string) int { return 1 + max(len(ids), 1)*child }
	return c
}

// weighedSchema weighs _entities by its representations, as nodes is weighed
// by its ids. gqlgen generates that field's complexity hook unexported, so
// it cannot be set in the ComplexityRoot; the schema is wrapped instead.
type weighedSchema struct{ graphql.ExecutableSchema }

func (s weighedSchema) Complexity(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	if typeName == "Query" && field == "_entities" {
		return 1 + max(len(asList(args["representations"])), 1)*child, true
	}
	return s.ExecutableSchema.Complexity(ctx, typeName, field, child, args)
}

// depthLimit refuses operations nested deeper than max fields. Introspection
// fields are not counted: the standard introspection query that GraphiQL,
// Relay and Apollo tools send nests ofType about 13 levels and costs no
// upstream call.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(rc.Operation.SelectionSet, rc.Doc.Fragments, 0, map[string]bool{}); depth > d.max {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("the operation nests %d fields deep, more than the limit of %d", depth, d.max),
			Extensions: map[string]any{"code": "QUERY_TOO_DEEP"},
		}
	}
	return nil
}

func selectionDepth(set ast.SelectionSet, frags ast.FragmentDefinitionList, depth int, visiting map[string]bool) int {
	deepest := depth
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.Name) > 1 && s.Name[:2] == "__" {
				continue
			}
			deepest = max(deepest, selectionDepth(s.SelectionSet, frags, depth+1, visiting))
		case *ast.InlineFragment:
			deepest = max(deepest, selectionDepth(s.SelectionSet, frags, depth, visiting))
		case *ast.FragmentSpread:
			// Validation has refused fragment cycles; guard anyway.
			if f := frags.ForName(s.Name); f != nil && !visiting[s.Name] {
				visiting[s.Name] = true
				deepest = max(deepest, selectionDepth(f.SelectionSet, frags, depth, visiting))
				delete(visiting, s.Name)
			}
		}
	}
	return deepest
}
