package loaders

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// lookupRootFields are the Query fields whose users are looked up by id.
var lookupRootFields = map[string]bool{"user": true, "node": true, "nodes": true, "_entities": true}

// lookupUserFields are the User fields whose users are looked up by id.
var lookupUserFields = map[string]bool{"createdBy": true, "lastChangedBy": true}

// selectsLookedUpLastActive reports whether the operation in ctx selects
// lastActive on a user that is looked up by id (createdBy, lastChangedBy,
// user, node, nodes, _entities), at any depth and through fragments.
// lastActive on a page's own users does not count: the list has it. It
// errs towards true: without an operation, and whatever @skip/@include
// would do.
func selectsLookedUpLastActive(ctx context.Context) bool {
	if !graphql.HasOperationContext(ctx) {
		return true
	}
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil {
		return true
	}
	w := selectionWalk{doc: oc.Doc, seen: map[walkKey]bool{}}
	return w.walk(oc.Operation.SelectionSet, true, false)
}

type walkKey struct {
	fragment       string
	root, inLookup bool
}

type selectionWalk struct {
	doc  *ast.QueryDocument
	seen map[walkKey]bool
}

// walk reports whether lastActive is selected inside a looked-up user in
// set; root says set is the operation's (Query's), inLookup that it is
// the selection of a looked-up user or below one.
func (w *selectionWalk) walk(set ast.SelectionSet, root, inLookup bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "lastActive" && inLookup {
				return true
			}
			lookup := inLookup || lookupUserFields[s.Name] || (root && lookupRootFields[s.Name])
			if len(s.SelectionSet) > 0 && w.walk(s.SelectionSet, false, lookup) {
				return true
			}
		case *ast.InlineFragment:
			if w.walk(s.SelectionSet, root, inLookup) {
				return true
			}
		case *ast.FragmentSpread:
			k := walkKey{s.Name, root, inLookup}
			if w.seen[k] {
				continue
			}
			w.seen[k] = true
			def := s.Definition
			if def == nil && w.doc != nil {
				def = w.doc.Fragments.ForName(s.Name)
			}
			if def == nil || w.walk(def.SelectionSet, root, inLookup) {
				return true // an unknown fragment: assume it does
			}
		}
	}
	return false
}
