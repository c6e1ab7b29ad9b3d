package generated

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/vektah/gqlparser/v2/ast"
)

// plainLists switches marshalPlain on; tests turn it off to compare with
// gqlgen's executor (see SetPlainLists).
var plainLists atomic.Bool

func init() { plainLists.Store(true) }

// SetPlainLists turns the direct marshalling of plain pages on or off and
// returns the previous setting. It exists for tests that compare the
// answers with gqlgen's executor.
func SetPlainLists(on bool) (was bool) { return plainLists.Swap(on) }

// marshalPlain writes a page of users or of user edges straight from the
// model when every field selected on the elements is a plain one (a scalar,
// the edge's cursor, the edge's node with plain fields): the answer gqlgen's
// executor would give, byte for byte, without its per-field contexts,
// field sets and closures (about 110 allocations per user). The selection
// is collected once per list with gqlgen's own CollectFields, so fragments,
// aliases and skip/include mean exactly what they mean to the executor.
// Anything else (another field, a deferred fragment, a nil element) returns
// nil and the executor runs.
func marshalPlain[T any](ctx context.Context, sel ast.SelectionSet, v []T) graphql.Array {
	if !plainLists.Load() || !graphql.HasOperationContext(ctx) {
		return nil
	}
	oc := graphql.GetOperationContext(ctx)
	switch v := any(v).(type) {
	case []*model.User:
		plan, ok := planUser(oc, sel)
		if !ok {
			return nil
		}
		p := &plainPlan{fields: plan}
		out := make([]plainUser, len(v))
		ret := make(graphql.Array, len(v))
		for i, u := range v {
			if u == nil {
				return nil
			}
			out[i] = plainUser{u: u, plan: p}
			ret[i] = &out[i]
		}
		return ret
	case []model.UserEdge:
		plan, ok := planEdge(oc, sel)
		if !ok {
			return nil
		}
		p := &plainPlan{fields: plan}
		out := make([]plainEdge, len(v))
		ret := make(graphql.Array, len(v))
		for i := range v {
			if v[i].Node() == nil {
				return nil
			}
			out[i] = plainEdge{e: v[i], plan: p}
			ret[i] = &out[i]
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
	kCursor
	kNode
)

// plainField is one selected field: its response key, already quoted with
// its colon, and what to write.
type plainField struct {
	key  string
	kind fieldKind
	node []plainField // kNode: the user's fields
}

var userKinds = map[string]fieldKind{
	"__typename": kTypename, "id": kID, "email": kEmail, "name": kName,
	"lastActive": kLastActive, "createdAt": kCreatedAt, "lastChanged": kLastChanged,
}

func planUser(oc *graphql.OperationContext, sel ast.SelectionSet) ([]plainField, bool) {
	return plan(oc, sel, "User", func(f graphql.CollectedField) (plainField, bool) {
		k, ok := userKinds[f.Name]
		return plainField{kind: k}, ok
	})
}

func planEdge(oc *graphql.OperationContext, sel ast.SelectionSet) ([]plainField, bool) {
	return plan(oc, sel, "UserEdge", func(f graphql.CollectedField) (plainField, bool) {
		switch f.Name {
		case "__typename":
			return plainField{kind: kTypename}, true
		case "cursor":
			return plainField{kind: kCursor}, true
		case "node":
			node, ok := planUser(oc, f.Selections)
			return plainField{kind: kNode, node: node}, ok
		}
		return plainField{}, false
	})
}

func plan(oc *graphql.OperationContext, sel ast.SelectionSet, typeName string, field func(graphql.CollectedField) (plainField, bool)) ([]plainField, bool) {
	o, ok := objectFields[typeName]
	if !ok {
		return nil, false
	}
	fields := graphql.CollectFields(oc, sel, o.implementors)
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
		var key []byte
		key = appendQuoted(key, f.Alias)
		p.key = string(append(key, ':'))
		out = append(out, p)
	}
	return out, true
}

// appendQuoted quotes a response key as the executor does; keys are
// GraphQL names, which need no escaping.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainPlan is a list's selection, with a scratch buffer for its
// elements, which are marshalled one after the other.
type plainPlan struct {
	fields  []plainField
	scratch []byte
}

type plainUser struct {
	u    *model.User
	plan *plainPlan
}

func (p *plainUser) MarshalGQL(w io.Writer) { writeUser(w, p.u, p.plan.fields, p.plan) }

type plainEdge struct {
	e    model.UserEdge
	plan *plainPlan
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
			writeUser(w, p.e.Node(), f.node, p.plan)
		}
	}
	_, _ = io.WriteString(w, "}")
}

func writeUser(w io.Writer, u *model.User, fields []plainField, p *plainPlan) {
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
