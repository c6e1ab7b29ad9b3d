package model

import "github.com/usersgraph/usersgraph/restclient"

// User is the GraphQL User: the REST client's User under a type of its own,
// so that GraphQL-only accessors live here. A *restclient.User converts to a
// *User without copying (see Users).
type User restclient.User

// EmailOrNull is the email field: null, not "", when Cognigy sent none.
func (u *User) EmailOrNull() *string { return nonEmpty(&u.Email) }

// NameOrNull is the name field: null, not "", when Cognigy sent none.
func (u *User) NameOrNull() *string { return nonEmpty(&u.Name) }

func nonEmpty(s *string) *string {
	if *s == "" {
		return nil
	}
	return s
}

// Users views a page of REST users as GraphQL users, sharing their memory.
func Users(items []restclient.User) []*User {
	out := make([]*User, len(items))
	for i := range items {
		out[i] = (*User)(&items[i])
	}
	return out
}

// IsNode marks User as a Relay Node.
func (*User) IsNode() {}

// GetID is the Node's id.
func (u *User) GetID() string { return u.ID }

// IsEntity marks User as a federation entity.
func (*User) IsEntity() {}
