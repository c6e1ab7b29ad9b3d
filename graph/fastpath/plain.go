package fastpath

import (
	"context"
	"io"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/usersgraph/usersgraph/graph/model"
)

// marshalPlain writes a page of users or of user edges straight from the
// model when the fields selected on the elements are plain ones (scalars,
// __typename, the edge's cursor, the edge's node): the answer gqlgen's
// executor would give, byte for byte. The selection is collected once per
// list with gqlgen's own CollectFields, so fragments, aliases and
// skip/include mean exactly what they mean to the executor.
//
// On a list whose parent has sent its lookups already (LookupsSender),
// references to other users (createdBy, lastChangedBy) may be selected
// too, provided nothing under them waits in turn: each is resolved through
// the executor's own field function, one element after the other.
//
// Anything else (another field, a field the schema wraps in a directive, a
// directive in the query, a deferred fragment, a nil element) returns nil
// and the executor runs.
func marshalPlain[T any](ctx context.Context, s *Schema, x Executor, sel ast.SelectionSet, v []T) graphql.Array {
	if !graphql.HasOperationContext(ctx) {
		return nil
	}
	b := planner{schema: s, x: x, oc: graphql.GetOperationContext(ctx)}
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Parent != nil {
		if p, ok := fc.Parent.Result.(LookupsSender); ok {
			b.lookupsSent = p.ReferenceLookupsSent()
		}
	}
	switch v := any(v).(type) {
	case []*model.User:
		fields, ok := b.user(sel)
		if !ok {
			return nil
		}
		p := newPlan(fields)
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
				b.resolve(graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i, Result: &v[i]}), out[i].u, fields, out[i].refs)
			}
		}
		return ret
	case []model.UserEdge:
		fields, ok := b.edge(sel)
		if !ok {
			return nil
		}
		p := newPlan(fields)
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
					if f.kind != kNode {
						continue
					}
					fc, err := b.x.FieldContext(ictx, edgeType, f.field)
					if err != nil {
						return nil
					}
					b.resolve(graphql.WithFieldContext(ictx, fc), v[i].Node(), f.node, out[i].refs)
				}
			}
		}
		return ret
	}
	return nil
}

const (
	userType = "User"
	edgeType = "UserEdge"
)

type fieldKind uint8

const (
	kTypename fieldKind = iota
	kID
	kEmail
	kName
	kLastActive
	kCreatedAt
	kLastChanged
	kReference
	kCursor
	kNode
)

// userKinds are the User fields read straight from the model.
var userKinds = map[string]fieldKind{
	"__typename": kTypename, "id": kID, "email": kEmail, "name": kName,
	"lastActive": kLastActive, "createdAt": kCreatedAt, "lastChanged": kLastChanged,
}

// plainField is one selected field: its response key, already quoted with
// its colon, and what to write.
type plainField struct {
	key   string
	kind  fieldKind
	field graphql.CollectedField
	node  []plainField // kNode, and kReference when subPlain: the user's fields
	slot  int          // kReference: where the element keeps its resolved value
	// subPlain: the referenced user's fields are plain (in node).
	subPlain bool
	// marshal writes the referenced user (kReference when subPlain): made
	// once per list (newPlan), not once per element.
	marshal func(context.Context, ast.SelectionSet, *model.User) graphql.Marshaler
}

// planner turns a list's selection into plain fields.
type planner struct {
	schema *Schema
	x      Executor
	oc     *graphql.OperationContext
	// lookupsSent: the list's parent has sent its references' lookups.
	lookupsSent bool
	slots       int // resolved fields per element
}

func (b *planner) user(sel ast.SelectionSet) ([]plainField, bool) {
	return b.plan(sel, userType, func(f graphql.CollectedField) (plainField, bool) {
		sf := b.schema.field(userType, f.Name)
		if sf.Middleware || len(f.Directives) > 0 {
			return plainField{}, false
		}
		if k, ok := userKinds[f.Name]; ok {
			// A field that became a resolver (redaction, say) is the
			// resolver's to answer, not the model's.
			return plainField{kind: k}, !sf.Concurrent
		}
		// A reference, only where its lookups are under way, and only
		// when nothing under the referenced user waits in turn.
		if !sf.Reference || !b.lookupsSent || !selectsNoConcurrentField(b.oc, b.schema, userType, f.Selections, 0) {
			return plainField{}, false
		}
		b.slots++
		pf := plainField{kind: kReference, slot: b.slots - 1}
		// The referenced user's own fields are written directly too when
		// they are plain; if not, the executor marshals that user.
		sub := planner{schema: b.schema, x: b.x, oc: b.oc}
		pf.node, pf.subPlain = sub.user(f.Selections)
		return pf, true
	})
}

func (b *planner) edge(sel ast.SelectionSet) ([]plainField, bool) {
	return b.plan(sel, edgeType, func(f graphql.CollectedField) (plainField, bool) {
		if sf := b.schema.field(edgeType, f.Name); sf.Middleware || sf.Concurrent || len(f.Directives) > 0 {
			return plainField{}, false
		}
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
	o, ok := b.schema.Objects[typeName]
	if !ok {
		return nil, false
	}
	fields := graphql.CollectFields(b.oc, sel, o.Implementors)
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

// resolve resolves the references among fields for u, in ctx (the
// element's field context), keeping their values in refs. When the
// referenced user's fields are plain, only its marshalling is plain;
// otherwise the executor's field function does everything.
func (b *planner) resolve(ctx context.Context, u *model.User, fields []plainField, refs []graphql.Marshaler) {
	for _, f := range fields {
		if f.kind != kReference {
			continue
		}
		if !f.subPlain {
			refs[f.slot] = b.x.MarshalReference(ctx, f.field, u)
			continue
		}
		refs[f.slot] = b.x.ResolveReference(ctx, f.field, u, f.marshal)
	}
}

// newPlan returns the plan of a list selecting fields.
func newPlan(fields []plainField) *plainPlan {
	p := &plainPlan{fields: fields}
	p.bind(fields)
	return p
}

// bind gives the references among fields, at any depth, their marshal.
func (p *plainPlan) bind(fields []plainField) {
	for i := range fields {
		f := &fields[i]
		switch {
		case f.kind == kNode:
			p.bind(f.node)
		case f.kind == kReference && f.subPlain:
			node := f.node
			f.marshal = func(_ context.Context, _ ast.SelectionSet, v *model.User) graphql.Marshaler {
				if v == nil {
					return graphql.Null
				}
				return &plainRef{u: v, fields: node, plan: p}
			}
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
			graphql.MarshalString(edgeType).MarshalGQL(w)
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
			graphql.MarshalString(userType).MarshalGQL(w)
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
		case kReference:
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
