package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/usersgraph/usersgraph/graph/generated"
	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/vektah/gqlparser/v2/ast"
)

// prefetchReferences starts, as soon as a page has resolved, the lookups of
// the createdBy and lastChangedBy users that the query asks for on it, and
// sends them at once rather than after the loader's batch window: they go
// out while the page is still being marshalled, instead of after every
// edge's resolvers have run and the window has passed. The field resolvers
// then find the users (or their errors) in the loader. Users on the page
// are primed already and cost nothing; each distinct id is asked once.
//
// It reports whether it sent them (or there were none to send): the fast
// path (graph/fastpath) then resolves the page's references in order.
func (r *Resolver) prefetchReferences(ctx context.Context, users []*model.User) (sent bool) {
	createdBy, lastChangedBy := referencesAsked(ctx)
	if !createdBy && !lastChangedBy {
		return false
	}
	ids := make([]string, 0, 2*len(users))
	seen := make(map[string]bool, 2*len(users))
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, u := range users {
		if createdBy {
			add(u.CreatedBy)
		}
		if lastChangedBy {
			add(u.LastChangedBy)
		}
	}
	if len(ids) == 0 {
		return true
	}
	// Load, not LoadMany: LoadMany queues its keys from goroutines, which
	// could still be queueing when Flush runs. The thunks are dropped: the
	// field resolvers read the results from the loader's cache.
	l := loaders.From(ctx).UserByID
	for _, id := range ids {
		l.Load(ctx, id)
	}
	l.Flush()
	return true
}

// userImplementors are the names a User is selected under, the executor's.
var userImplementors = generated.FastPathSchema().Objects["User"].Implementors

// referencesAsked reports whether the users connection being resolved
// selects createdBy or lastChangedBy on its nodes or its edges' nodes
// (through fragments too, as the executor will see them).
func referencesAsked(ctx context.Context) (createdBy, lastChangedBy bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return false, false
	}
	oc := graphql.GetOperationContext(ctx)
	user := func(sel ast.SelectionSet) {
		for _, f := range graphql.CollectFields(oc, sel, userImplementors) {
			switch f.Name {
			case "createdBy":
				createdBy = true
			case "lastChangedBy":
				lastChangedBy = true
			}
		}
	}
	for _, f := range graphql.CollectFields(oc, fc.Field.Selections, []string{"UserConnection"}) {
		switch f.Name {
		case "nodes":
			user(f.Selections)
		case "edges":
			for _, e := range graphql.CollectFields(oc, f.Selections, []string{"UserEdge"}) {
				if e.Name == "node" {
					user(e.Selections)
				}
			}
		}
	}
	return createdBy, lastChangedBy
}
