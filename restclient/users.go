package restclient

import (
	"strings"
	"time"
)

// User is one user of the directory, decoded once from Cognigy's wire format
// into Go types: the timestamps are time.Time (the zero Time when Cognigy
// sent none) and absent strings are "".
type User struct {
	// ID is the user's identity, REST "_id" (a MongoDB ObjectId).
	ID string
	// Email is the login e-mail, REST "id".
	Email string
	// Name is the display name.
	Name string
	// LastActive is when the user was last active.
	LastActive time.Time
	// CreatedAt is when the user was created.
	CreatedAt time.Time
	// LastChanged is when the user was last changed.
	LastChanged time.Time
	// CreatedBy is the ID of the user who created this one ("" if none).
	CreatedBy string
	// LastChangedBy is the ID of the user who last changed this one.
	LastChangedBy string
}

// UserPage is one page of GET /v2.0/users.
type UserPage struct {
	Items []User
	// Total counts every user matching the filter, not just this page.
	Total int
	// NextCursor continues after the page's last item; "" when there is none.
	NextCursor string
	// PreviousCursor continues before the page's first item; "" when there is none.
	PreviousCursor string
}

// SortField is a field GET /v2.0/users can sort by.
type SortField string

// The sortable fields, named as on the wire.
const (
	SortByID          SortField = "_id"
	SortByEmail       SortField = "id"
	SortByName        SortField = "name"
	SortByLastActive  SortField = "lastActive"
	SortByCreatedAt   SortField = "createdAt"
	SortByLastChanged SortField = "lastChanged"
)

// SortRule is one rule of a multi-rule sort.
type SortRule struct {
	Field      SortField
	Descending bool
}

// Sort is an ordered list of sort rules.
type Sort []SortRule

// String renders the sort as the wire's sort parameter, e.g.
// "name:asc,_id:desc".
func (s Sort) String() string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(r.Field))
		if r.Descending {
			b.WriteString(":desc")
		} else {
			b.WriteString(":asc")
		}
	}
	return b.String()
}

// Reverse returns the sort with every rule's direction flipped: the exact
// reverse order whenever the sort is total (ends with _id).
func (s Sort) Reverse() Sort {
	r := make(Sort, len(s))
	for i, rule := range s {
		r[i] = SortRule{Field: rule.Field, Descending: !rule.Descending}
	}
	return r
}

// ListUsersOptions are the parameters of GET /v2.0/users. Zero values are
// not sent, so the upstream's defaults apply.
type ListUsersOptions struct {
	// Filter is "the name or id of the user".
	Filter string
	// Limit is the page size, 1..100 (upstream default 25).
	Limit int
	// Skip is the offset for offset paging. Never combined with Next/Previous.
	Skip int
	// Sort is the multi-rule order.
	Sort Sort
	// Next is a NextCursor from an earlier page with the same filter and sort.
	Next string
	// Previous is a PreviousCursor from an earlier page with the same filter and sort.
	Previous string
}
