package generated

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// objectInfo is one object type of the executor (see objectfields.go,
// written by internal/gqlgenpost from generated.go).
type objectInfo struct {
	implementors []string
	concurrent   map[string]bool
}

// marshalSlice stands in for graphql.MarshalSliceConcurrently in the
// generated code (internal/gqlgenpost routes every call here). gqlgen
// marshals each element of a list of objects in its own goroutine, so that
// elements whose resolvers wait (on a dataloader, say) wait together. When
// nothing selected on the elements, at any depth, is run concurrently by the
// executor, no element can wait: they are marshalled in order on this
// goroutine, which saves a goroutine, its stack growth and its scheduling
// per element (a quarter of the facade's CPU on a 25-user page, at c=64).
// Otherwise gqlgen's own function runs. Pages of users and edges selecting
// only plain fields skip the executor altogether (see marshalPlain).
func marshalSlice[T any](ec *executionContext, ctx context.Context, sel ast.SelectionSet, v []T, workerLimit int64, omitPanicHandler bool, marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	length := len(v)
	if length == 0 {
		return graphql.Array{}
	}
	if ret := marshalPlain(ec, ctx, sel, v); ret != nil {
		return ret
	}
	if !blocksNowhere(ctx, sel) {
		return graphql.MarshalSliceConcurrently(ctx, length, workerLimit, omitPanicHandler, marshalElement)
	}
	ret := make(graphql.Array, length)
	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(childCtx, graphql.Recover(childCtx, r))
					ret[i] = graphql.Null
				}
			}()
			ret[i] = marshalElement(childCtx, i)
		}()
	}
	return ret
}

// blocksNowhere reports whether the elements of the list field in ctx,
// selected by sel, select no concurrent field at any depth. Whatever it
// cannot tell (an element of an interface or union type, a list of lists)
// counts as possibly blocking.
func blocksNowhere(ctx context.Context, sel ast.SelectionSet) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || fc.Field.Definition == nil || !graphql.HasOperationContext(ctx) {
		return false
	}
	t := fc.Field.Definition.Type
	if t.Elem == nil || t.Elem.Elem != nil {
		return false
	}
	return selectsNoConcurrentField(graphql.GetOperationContext(ctx), t.Name(), sel, 0)
}

// maxWalk bounds the depth blocksNowhere looks to; deeper selections count
// as possibly blocking. The depth limit refuses deeper queries anyway.
const maxWalk = 16

func selectsNoConcurrentField(oc *graphql.OperationContext, typeName string, sel ast.SelectionSet, depth int) bool {
	o, ok := objectFields[typeName]
	if !ok || depth > maxWalk {
		return false
	}
	for _, f := range graphql.CollectFields(oc, sel, o.implementors) {
		if o.concurrent[f.Name] {
			return false
		}
		if len(f.Selections) > 0 && (f.Definition == nil || !selectsNoConcurrentField(oc, f.Definition.Type.Name(), f.Selections, depth+1)) {
			return false
		}
	}
	return true
}
