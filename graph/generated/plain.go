package generated

import (
	"context"
	"io"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/vektah/gqlparser/v2/ast"
)

type executorOnlyKey struct{}

// ExecutorOnly returns a context in which every list is marshalled by
// gqlgen's executor, never by marshalPlain: for comparing the two.
func ExecutorOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, executorOnlyKey{}, true)
}

// marshalPlain writes a page of users or of user edges straight from the
// model when the fields selected on the elements are plain ones (scalars,
// __typename, the edge's cursor, the edge's node): the answer gqlgen's
// executor would give, byte for byte, without its per-field contexts,
// field sets and closures (about 110 allocations per user). The selection
// is collected once per list with gqlgen's own CollectFields, so fragments,
// aliases and skip/include mean exactly what they mean to the executor.
//
// On a page of a users connection, createdBy and lastChangedBy may be
// selected too, provided nothing under them waits in turn: each is
// resolved through the executor's own field function (resolver, field
// middleware such as tracing, errors at the field's path, panics), one
// element after the other. That does not serialise the lookups: the users
// resolver has already queued and sent them all (graph's prefetch), so the
// first element waits for that one batch and the others find their users
// in the loader.
//
// Anything else (another field, a deferred fragment, a nil element)
// returns nil and the executor runs.
func marshalPlain[T any](ec *executionContext, ctx context.Context, sel ast.SelectionSet, v []T) graphql.Array {
	if !graphql.HasOperationContext(ctx) || ctx.Value(executorOnlyKey{}) != nil {
		return nil
	}
	b := planner{ec: ec, oc: graphql.GetOperationContext(ctx)}
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "UserConnection" {
		b.refsResolved = true
	}
	switch v := any(v).(type) {
	case []*model.User:
		fields, ok := b.user(sel)
		if !ok {
			return nil
		}
		p := &plainPlan{fields: fields}
		out := make([]plainUser, len(v))
		ret := make(graphql.Array, len(v))
		for i, u := range v {
			if u == nil {
				return nil
			}
			out[i] = plainUser{u: u, plan: p}
			ret[i] = &out[i]
		}
		if b.slots > 0 {
			refs := make([]graphql.Marshaler, len(v)*b.slots)
			for i := range out {
				out[i].refs = refs[i*b.slots : (i+1)*b.slots]
				b.resolve(graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i, Result: &v[i]}), p, out[i].u, fields, out[i].refs)
			}
		}
		return ret
	case []model.UserEdge:
		fields, ok := b.edge(sel)
		if !ok {
			return nil
		}
		p := &plainPlan{fields: fields}
		out := make([]plainEdge, len(v))
		ret := make(graphql.Array, len(v))
		for i := range v {
			if v[i].Node() == nil {
				return nil
			}
			out[i] = plainEdge{e: v[i], plan: p}
			ret[i] = &out[i]
		}
		if b.slots > 0 {
			refs := make([]graphql.Marshaler, len(v)*b.slots)
			for i := range out {
				out[i].refs = refs[i*b.slots : (i+1)*b.slots]
				ictx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i, Result: &v[i]})
				for _, f := range fields {
					if f.kind == kNode {
						nctx := graphql.WithFieldContext(ictx, b.nodeContext(f.field))
						b.resolve(nctx, p, v[i].Node(), f.node, out[i].refs)
					}
				}
			}
		}
		return ret
	}
	return nil
}

type fieldKind uint8

const (
	kTypename fieldKind = iota
	kID
	kEmail
	kName
	kLastActive
	kCreatedAt
	kLastChanged
	kCreatedBy
	kLastChangedBy
	kCursor
	kNode
)

// plainField is one selected field: its response key, already quoted with
// its colon, and what to write.
type plainField struct {
	key   string
	kind  fieldKind
	field graphql.CollectedField
	node  []plainField // kNode, and kCreatedBy/kLastChangedBy when subPlain: the user's fields
	slot  int          // kCreatedBy, kLastChangedBy: where the element keeps its resolved value
	// subPlain: the referenced user's fields are plain (in node).
	subPlain bool
}

var userKinds = map[string]fieldKind{
	"__typename": kTypename, "id": kID, "email": kEmail, "name": kName,
	"lastActive": kLastActive, "createdAt": kCreatedAt, "lastChanged": kLastChanged,
	"createdBy": kCreatedBy, "lastChangedBy": kLastChangedBy,
}

// planner turns a list's selection into plain fields.
type planner struct {
	ec *executionContext
	oc *graphql.OperationContext
	// refsResolved: the list is a users connection's, whose resolver has
	// sent the createdBy/lastChangedBy lookups already.
	refsResolved bool
	slots        int // resolved fields per element
}

func (b *planner) user(sel ast.SelectionSet) ([]plainField, bool) {
	return b.plan(sel, "User", func(f graphql.CollectedField) (plainField, bool) {
		k, ok := userKinds[f.Name]
		if !ok || len(f.Directives) > 0 {
			return plainField{}, false
		}
		if k != kCreatedBy && k != kLastChangedBy && objectFields["User"].concurrent[f.Name] {
			// A field that became a resolver (redaction, say) is the
			// resolver's to answer, not the model's.
			return plainField{}, false
		}
		if k == kCreatedBy || k == kLastChangedBy {
			// Only where the lookups are under way, and only when nothing
			// under the referenced user waits in turn.
			if !b.refsResolved || !selectsNoConcurrentField(b.oc, "User", f.Selections, 0) {
				return plainField{}, false
			}
			b.slots++
			pf := plainField{kind: k, slot: b.slots - 1}
			// The referenced user's own fields, written directly too when
			// they are plain (they can only be, having passed the check
			// above; if not, the executor marshals that user).
			sub := planner{ec: b.ec, oc: b.oc}
			pf.node, pf.subPlain = sub.user(f.Selections)
			return pf, true
		}
		return plainField{kind: k}, true
	})
}

func (b *planner) edge(sel ast.SelectionSet) ([]plainField, bool) {
	return b.plan(sel, "UserEdge", func(f graphql.CollectedField) (plainField, bool) {
		switch f.Name {
		case "__typename":
			return plainField{kind: kTypename}, true
		case "cursor":
			return plainField{kind: kCursor}, true
		case "node":
			node, ok := b.user(f.Selections)
			return plainField{kind: kNode, node: node}, ok
		}
		return plainField{}, false
	})
}

func (b *planner) plan(sel ast.SelectionSet, typeName string, field func(graphql.CollectedField) (plainField, bool)) ([]plainField, bool) {
	o, ok := objectFields[typeName]
	if !ok {
		return nil, false
	}
	fields := graphql.CollectFields(b.oc, sel, o.implementors)
	out := make([]plainField, 0, len(fields))
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if len(f.Deferrables) > 0 {
			return nil, false
		}
		if seen[f.Alias] { // the executor writes a response key once
			continue
		}
		seen[f.Alias] = true
		p, ok := field(f)
		if !ok {
			return nil, false
		}
		p.field = f
		p.key = `"` + f.Alias + `":` // a GraphQL name needs no escaping
		out = append(out, p)
	}
	return out, true
}

// nodeContext is the field context the executor gives an edge's node.
func (b *planner) nodeContext(f graphql.CollectedField) *graphql.FieldContext {
	return &graphql.FieldContext{
		Object: "UserEdge", Field: f, IsMethod: true,
		Child: func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
			return b.ec.childFields_User(ctx, field)
		},
	}
}

// resolve runs the executor's own field functions for the createdBy and
// lastChangedBy fields of u, in ctx (the element's field context), keeping
// their values in refs.
//
// When the referenced user's fields are plain, it is resolved through
// graphql.ResolveField exactly as the generated _User_createdBy does (the
// same field context, resolver, middleware, panic recovery and nullability)
// and only its marshalling is plain.
func (b *planner) resolve(ctx context.Context, p *plainPlan, u *model.User, fields []plainField, refs []graphql.Marshaler) {
	ec := b.ec
	for _, f := range fields {
		if f.kind != kCreatedBy && f.kind != kLastChangedBy {
			continue
		}
		if !f.subPlain {
			if f.kind == kCreatedBy {
				refs[f.slot] = ec._User_createdBy(ctx, f.field, u)
			} else {
				refs[f.slot] = ec._User_lastChangedBy(ctx, f.field, u)
			}
			continue
		}
		marshal := func(_ context.Context, _ ast.SelectionSet, v *model.User) graphql.Marshaler {
			if v == nil {
				return graphql.Null
			}
			return &plainRef{u: v, fields: f.node, plan: p}
		}
		if f.kind == kCreatedBy {
			refs[f.slot] = graphql.ResolveField(ctx, ec.OperationContext, f.field, ec.fieldContext_User_createdBy,
				func(ctx context.Context) (any, error) { return ec.Resolvers.User().CreatedBy(ctx, u) },
				nil, marshal, true, false)
		} else {
			refs[f.slot] = graphql.ResolveField(ctx, ec.OperationContext, f.field, ec.fieldContext_User_lastChangedBy,
				func(ctx context.Context) (any, error) { return ec.Resolvers.User().LastChangedBy(ctx, u) },
				nil, marshal, true, false)
		}
	}
}

// plainRef is a referenced user written directly.
type plainRef struct {
	u      *model.User
	fields []plainField
	plan   *plainPlan
}

func (r *plainRef) MarshalGQL(w io.Writer) { r.plan.writeUser(w, r.u, r.fields, nil) }

// plainPlan is a list's selection, with a scratch buffer for its
// elements, which are marshalled one after the other.
type plainPlan struct {
	fields  []plainField
	scratch []byte
}

type plainUser struct {
	u    *model.User
	plan *plainPlan
	refs []graphql.Marshaler
}

func (p *plainUser) MarshalGQL(w io.Writer) { p.plan.writeUser(w, p.u, p.plan.fields, p.refs) }

type plainEdge struct {
	e    model.UserEdge
	plan *plainPlan
	refs []graphql.Marshaler
}

func (p *plainEdge) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, "{")
	for i, f := range p.plan.fields {
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		_, _ = io.WriteString(w, f.key)
		switch f.kind {
		case kTypename:
			graphql.MarshalString("UserEdge").MarshalGQL(w)
		case kCursor:
			graphql.MarshalString(p.e.Cursor()).MarshalGQL(w)
		case kNode:
			p.plan.writeUser(w, p.e.Node(), f.node, p.refs)
		}
	}
	_, _ = io.WriteString(w, "}")
}

func (p *plainPlan) writeUser(w io.Writer, u *model.User, fields []plainField, refs []graphql.Marshaler) {
	_, _ = io.WriteString(w, "{")
	for i, f := range fields {
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		_, _ = io.WriteString(w, f.key)
		switch f.kind {
		case kTypename:
			graphql.MarshalString("User").MarshalGQL(w)
		case kID:
			graphql.MarshalID(u.ID).MarshalGQL(w)
		case kEmail:
			writeOptional(w, u.EmailOrNull())
		case kName:
			writeOptional(w, u.NameOrNull())
		case kLastActive:
			p.writeDateTime(w, u.LastActive)
		case kCreatedAt:
			p.writeDateTime(w, u.CreatedAt)
		case kLastChanged:
			p.writeDateTime(w, u.LastChanged)
		case kCreatedBy, kLastChangedBy:
			refs[f.slot].MarshalGQL(w)
		}
	}
	_, _ = io.WriteString(w, "}")
}

func (p *plainPlan) writeDateTime(w io.Writer, t time.Time) {
	p.scratch = model.AppendDateTime(p.scratch[:0], t)
	_, _ = w.Write(p.scratch)
}

func writeOptional(w io.Writer, s *string) {
	if s == nil {
		graphql.Null.MarshalGQL(w)
		return
	}
	graphql.MarshalString(*s).MarshalGQL(w)
}

// UserImplementors returns the names a User is selected under (itself and
// its interfaces and unions), from the generated executor.
func UserImplementors() []string { return objectFields["User"].implementors }
