package model

import (
	"github.com/usersgraph/usersgraph/graph/pagination"
)

// UserConnection is one page of users. Edges and cursors are computed only
// when a query selects them.
type UserConnection struct {
	window pagination.Window
	users  []*User // the window's users, in order
	// lookupsSent: the resolver has sent the lookups of the references
	// the query selects on these users.
	lookupsSent bool
}

// NewUserConnection returns the connection for users, which are exactly the
// window's edges in order.
func NewUserConnection(w pagination.Window, users []*User) *UserConnection {
	return &UserConnection{window: w, users: users}
}

// SetReferenceLookupsSent records that the lookups of every reference
// (createdBy, lastChangedBy) the query selects on the page's users have
// been sent: resolving them one user after the other waits for nothing
// more than that one batch.
func (c *UserConnection) SetReferenceLookupsSent() { c.lookupsSent = true }

// ReferenceLookupsSent reports whether SetReferenceLookupsSent was called;
// graph/fastpath reads it.
func (c *UserConnection) ReferenceLookupsSent() bool { return c.lookupsSent }

// Edges returns the page's edges.
func (c *UserConnection) Edges() []UserEdge {
	edges := make([]UserEdge, len(c.users))
	for i := range edges {
		edges[i] = UserEdge{conn: c, i: i}
	}
	return edges
}

// Nodes returns the page's users.
func (c *UserConnection) Nodes() []*User { return c.users }

// TotalCount is the number of users matching the filter.
func (c *UserConnection) TotalCount() int { return c.window.Total }

// PageInfo returns the page's position.
func (c *UserConnection) PageInfo() PageInfo {
	pi := PageInfo{HasNextPage: c.window.HasNextPage, HasPreviousPage: c.window.HasPreviousPage}
	if n := len(c.users); n > 0 {
		start, end := c.cursor(0), c.cursor(n-1)
		pi.StartCursor, pi.EndCursor = &start, &end
	}
	return pi
}

func (c *UserConnection) cursor(i int) string { return c.window.Cursor(i).Encode() }

// UserEdge is one user and its cursor.
type UserEdge struct {
	conn *UserConnection
	i    int
}

// Cursor is the edge's opaque cursor.
func (e UserEdge) Cursor() string { return e.conn.cursor(e.i) }

// Node is the edge's user.
func (e UserEdge) Node() *User { return e.conn.users[e.i] }

// PageInfo is the Relay page info.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}
