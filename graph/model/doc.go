// Package model holds the Go types the GraphQL schema is bound to. Users are
// the REST client's own decoded values, viewed through a GraphQL-facing type
// at no copying cost.
package model
