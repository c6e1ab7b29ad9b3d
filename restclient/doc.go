// Package restclient is a typed client for Cognigy.AI's user directory REST API
// (GET /v2.0/users and GET /v2.0/users/{id}). It knows HTTP and Cognigy's wire
// format, and nothing of GraphQL.
//
// A Client is safe for concurrent use. The caller's credential travels in the
// context (see WithCredential), so one Client serves every caller of a
// gateway while each request is made with that caller's own credential.
package restclient
