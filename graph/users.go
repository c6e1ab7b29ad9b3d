package graph

import (
	"context"
	"slices"
	"unicode/utf8"

	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/usersgraph/usersgraph/graph/pagination"
	"github.com/usersgraph/usersgraph/restclient"
)

// maxFilterLen bounds the filter argument; Cognigy names and e-mails are far
// shorter.
const maxFilterLen = 256

// usersQuery is the part of a users query that fixes the result's order:
// the filter and the complete upstream sort. Cursors are bound to its key.
type usersQuery struct {
	filter string
	sort   restclient.Sort
	key    uint64
}

var sortFields = map[model.UserOrderField]restclient.SortField{
	model.UserOrderFieldID:          restclient.SortByID,
	model.UserOrderFieldEmail:       restclient.SortByEmail,
	model.UserOrderFieldName:        restclient.SortByName,
	model.UserOrderFieldLastActive:  restclient.SortByLastActive,
	model.UserOrderFieldCreatedAt:   restclient.SortByCreatedAt,
	model.UserOrderFieldLastChanged: restclient.SortByLastChanged,
}

// newUsersQuery validates filter and orderBy and completes the sort with
// the _id tie-breaker, so that the order is total and pages are stable.
func newUsersQuery(filter *string, orderBy []model.UserOrder) (usersQuery, error) {
	var q usersQuery
	if filter != nil {
		q.filter = *filter
	}
	if len(q.filter) > maxFilterLen || !utf8.ValidString(q.filter) {
		return q, badInput("filter must be valid UTF-8 of at most %d bytes", maxFilterLen)
	}
	q.sort = make(restclient.Sort, 0, len(orderBy)+1)
	seen := make(map[model.UserOrderField]bool, len(orderBy))
	for _, o := range orderBy {
		if seen[o.Field] {
			return q, badInput("orderBy names %s more than once", o.Field)
		}
		seen[o.Field] = true
		desc := o.Direction != nil && *o.Direction == model.OrderDirectionDesc
		q.sort = append(q.sort, restclient.SortRule{Field: sortFields[o.Field], Descending: desc})
	}
	if !seen[model.UserOrderFieldID] {
		q.sort = append(q.sort, restclient.SortRule{Field: restclient.SortByID})
	} else if last := q.sort[len(q.sort)-1]; last.Field != restclient.SortByID {
		// Rules after ID can never decide anything; drop them so that
		// equivalent orders share one key and one upstream request.
		i := slices.IndexFunc(q.sort, func(r restclient.SortRule) bool { return r.Field == restclient.SortByID })
		q.sort = q.sort[:i+1]
	}
	q.key = pagination.QueryKey(q.filter, q.sort.String())
	return q, nil
}

// cursor decodes an after/before argument for this query.
func (q usersQuery) cursor(name string, s *string) (*pagination.Cursor, error) {
	if s == nil {
		return nil, nil
	}
	c, err := pagination.Decode(*s, q.key)
	if err != nil {
		return nil, badInput("%s: %v", name, err)
	}
	return &c, nil
}

// options is the upstream request for a plan.
func (q usersQuery) options(p pagination.Plan) restclient.ListUsersOptions {
	sort := q.sort
	if p.Reverse {
		sort = sort.Reverse()
	}
	return restclient.ListUsersOptions{
		Filter: q.filter, Sort: sort, Limit: p.Limit, Skip: p.Skip,
		Next: p.Next, Previous: p.Previous,
	}
}

// listUsers answers a users query with one upstream call.
func (r *Resolver) listUsers(ctx context.Context, q usersQuery, args pagination.Args) (*model.UserConnection, error) {
	plan, err := pagination.NewPlan(args)
	if err != nil {
		return nil, err
	}
	opts := q.options(plan)
	page, _, err := r.upstream.ListUsers(ctx, opts)
	if err != nil {
		return nil, err
	}
	// What the page tells the lookups: how many users there are, and
	// perhaps a window of the list by _id they need not read again.
	loaders.From(ctx).NoteList(opts, page)
	// The page may be shared with other requests (cache, coalescing): never
	// modify it; reverse the fresh slice of pointers instead.
	users := model.Users(page.Items)
	if plan.Reverse {
		slices.Reverse(users)
	}
	w := plan.Place(q.key, pagination.Fetched{
		Items: len(users), Total: page.Total,
		NextCursor: page.NextCursor, PreviousCursor: page.PreviousCursor,
	})
	r.prime(ctx, users)
	conn := model.NewUserConnection(w, users[w.From:w.To])
	if r.prefetchReferences(ctx, users[w.From:w.To]) {
		conn.SetReferenceLookupsSent()
	}
	return conn, nil
}
