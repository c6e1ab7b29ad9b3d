// Package fastpath marshals lists of users and user edges without gqlgen's
// per-element machinery, where that cannot change the answer.
//
// gqlgen marshals every element of a list of objects in a goroutine of its
// own, and every field of every element through a field context, a field
// set and closures (about 110 allocations per user). For a page of users
// that selects plain fields, none of that can matter: nothing waits, no
// resolver runs, no directive applies. MarshalSlice, which the generated
// executor calls for every list of objects (see internal/gqlgen), then
// writes the page straight from the model; when elements could wait on
// nothing it marshals them in order on the caller's goroutine; otherwise
// it calls gqlgen's own MarshalSliceConcurrently.
//
// What it decides with comes from gqlgen's model, written by the
// generator into the generated package (Schema), and from the executor's
// own field functions (Executor): a field that runs a resolver, a method
// taking a context, or carries a schema directive or field middleware is
// the executor's, never this package's.
package fastpath

import (
	"context"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/usersgraph/usersgraph/graph/model"
)

// Schema is what the fast path knows of the executable schema: every object
// type the executor marshals, by name. The generated package builds it from
// gqlgen's own model.
type Schema struct {
	Objects map[string]Object
}

// Object is one object type of the executor.
type Object struct {
	// Implementors are the names the type is selected under: itself, its
	// interfaces and unions (the executor's own list).
	Implementors []string
	// Fields holds the fields that are not plain reads of the model; a
	// field absent from it is one.
	Fields map[string]Field
}

// Field is what makes a field the executor's to run.
type Field struct {
	// Concurrent: the executor runs it in a goroutine of its own (a
	// resolver, or a method taking a context): it may wait.
	Concurrent bool
	// Middleware: a schema directive, or field middleware for directives
	// at the FIELD location, wraps its resolution.
	Middleware bool
	// Reference: a resolver without arguments returning another user
	// (createdBy, lastChangedBy), which Executor resolves.
	Reference bool
}

func (s *Schema) field(object, name string) Field { return s.Objects[object].Fields[name] }

// Executor is the generated executor's glue, for the fields the fast path
// resolves through the executor rather than reading them from the model.
type Executor interface {
	// ResolveReference resolves obj's field, a Reference, exactly as the
	// executor's own field function does (field context, resolver,
	// middleware, panic recovery, nullability), marshalling the user with
	// marshal.
	ResolveReference(ctx context.Context, field graphql.CollectedField, obj *model.User,
		marshal func(context.Context, ast.SelectionSet, *model.User) graphql.Marshaler) graphql.Marshaler
	// MarshalReference is the executor's own field function for a
	// Reference: resolution and marshalling both the executor's.
	MarshalReference(ctx context.Context, field graphql.CollectedField, obj *model.User) graphql.Marshaler
	// FieldContext is the field context the executor gives object's field.
	FieldContext(ctx context.Context, object string, field graphql.CollectedField) (*graphql.FieldContext, error)
}

// LookupsSender is implemented by a list's parent (a users connection)
// whose resolver has already sent the lookups of the references its query
// selects. Only on such a list are references resolved element after
// element: the first waits for the one batch, the others find their users
// in the loader. Anywhere else they would wait one after the other.
type LookupsSender interface {
	ReferenceLookupsSent() bool
}

type executorOnlyKey struct{}

// ExecutorOnly returns a context in which every list is marshalled by
// gqlgen's executor: for comparing the two, and for field middleware that
// must see every field.
func ExecutorOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, executorOnlyKey{}, true)
}

// Counts tells how the lists of a request were marshalled.
type Counts struct {
	Plain      atomic.Int64 // written straight from the model
	InOrder    atomic.Int64 // elements marshalled by the executor, in order
	Concurrent atomic.Int64 // gqlgen's MarshalSliceConcurrently
}

type countsKey struct{}

// CountInto returns a context in which every list marshalled is counted in
// c: how tests and benchmarks see which path a query takes.
func CountInto(ctx context.Context, c *Counts) context.Context {
	return context.WithValue(ctx, countsKey{}, c)
}

func count(ctx context.Context, pick func(*Counts) *atomic.Int64) {
	if c, ok := ctx.Value(countsKey{}).(*Counts); ok {
		pick(c).Add(1)
	}
}

// MarshalSlice stands in for graphql.MarshalSliceConcurrently in the
// generated executor; its arguments after v are that function's. Plain
// pages of users and edges are written directly (see marshalPlain); a list
// whose elements select no concurrent field at any depth is marshalled in
// order on this goroutine, which saves a goroutine, its stack growth and
// its scheduling per element; any other goes to gqlgen.
func MarshalSlice[T any](ctx context.Context, s *Schema, x Executor, sel ast.SelectionSet, v []T, workerLimit int64, omitPanicHandler bool, marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if len(v) == 0 {
		return graphql.Array{}
	}
	if ctx.Value(executorOnlyKey{}) == nil {
		if ret := marshalPlain(ctx, s, x, sel, v); ret != nil {
			count(ctx, func(c *Counts) *atomic.Int64 { return &c.Plain })
			return ret
		}
	}
	if !blocksNowhere(ctx, s, sel) {
		count(ctx, func(c *Counts) *atomic.Int64 { return &c.Concurrent })
		return graphql.MarshalSliceConcurrently(ctx, len(v), workerLimit, omitPanicHandler, marshalElement)
	}
	count(ctx, func(c *Counts) *atomic.Int64 { return &c.InOrder })
	ret := make(graphql.Array, len(v))
	for i := range v {
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
func blocksNowhere(ctx context.Context, s *Schema, sel ast.SelectionSet) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || fc.Field.Definition == nil || !graphql.HasOperationContext(ctx) {
		return false
	}
	t := fc.Field.Definition.Type
	if t.Elem == nil || t.Elem.Elem != nil {
		return false
	}
	return selectsNoConcurrentField(graphql.GetOperationContext(ctx), s, t.Name(), sel, 0)
}

// maxWalk bounds the depth blocksNowhere looks to; deeper selections count
// as possibly blocking. The depth limit refuses deeper queries anyway.
const maxWalk = 16

func selectsNoConcurrentField(oc *graphql.OperationContext, s *Schema, typeName string, sel ast.SelectionSet, depth int) bool {
	o, ok := s.Objects[typeName]
	if !ok || depth > maxWalk {
		return false
	}
	for _, f := range graphql.CollectFields(oc, sel, o.Implementors) {
		if o.Fields[f.Name].Concurrent {
			return false
		}
		if len(f.Selections) > 0 && (f.Definition == nil || !selectsNoConcurrentField(oc, s, f.Definition.Type.Name(), f.Selections, depth+1)) {
			return false
		}
	}
	return true
}
