// Package graph answers the GraphQL schema by calling Cognigy's REST API
// through the small Upstream interface: the resolvers, the errors they
// give, and the prefetch of a page's references. Generated code lives in
// graph/generated, the HTTP endpoint in graph/httpapi.
package graph

//go:generate go run -C .. ./internal/gqlgen

import (
	"context"

	"github.com/usersgraph/usersgraph/graph/generated"
	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/usersgraph/usersgraph/restclient"
)

// Upstream is what the resolvers need of Cognigy; *restclient.Client
// implements it, and so does any middleware around one.
type Upstream interface {
	ListUsers(ctx context.Context, opts restclient.ListUsersOptions) (*restclient.UserPage, *restclient.Response, error)
	GetUser(ctx context.Context, id string) (*restclient.User, *restclient.Response, error)
}

// Resolver is the root resolver; it holds the dependencies of all others.
type Resolver struct {
	upstream Upstream
}

// NewResolver returns the root resolver over up (see RequireCredential).
func NewResolver(up Upstream) *Resolver {
	return &Resolver{upstream: up}
}

// The resolvers satisfy the generated interfaces; checked at compile time.
var (
	_ generated.ResolverRoot   = (*Resolver)(nil)
	_ generated.QueryResolver  = (*queryResolver)(nil)
	_ generated.UserResolver   = (*userResolver)(nil)
	_ generated.EntityResolver = (*entityResolver)(nil)
)

// loadUser loads one user through the request's loader; "" is no user.
func (r *Resolver) loadUser(ctx context.Context, id string) (*model.User, error) {
	if id == "" {
		return nil, nil
	}
	return loaders.From(ctx).UserByID.Load(ctx, id)()
}

// maxNodes bounds Query.nodes, like a page.
const maxNodes = 100

// loadUsers loads users by id through the request's loader, in order, with
// nil for ids that match no user. errs is nil when no lookup failed, else it
// holds each id's error (nil where that id succeeded).
func (r *Resolver) loadUsers(ctx context.Context, ids []string) (users []*model.User, errs []error) {
	users, all := loaders.From(ctx).UserByID.LoadMany(ctx, ids)()
	for _, err := range all {
		if err != nil {
			return users, all
		}
	}
	return users, nil
}

// prime hands the users a request fetched to its loader, so that a
// createdBy or lastChangedBy pointing at one of them costs no call.
func (r *Resolver) prime(ctx context.Context, users []*model.User) {
	loaders.From(ctx).Prime(ctx, users)
}

// RequireCredential returns next behind a check that refuses, before any
// call, an upstream request that would carry no credential: the answer is
// known, so the call is not made.
func RequireCredential(next Upstream) Upstream { return requireCredential{next: next} }

type requireCredential struct{ next Upstream }

func (u requireCredential) ListUsers(ctx context.Context, opts restclient.ListUsersOptions) (*restclient.UserPage, *restclient.Response, error) {
	if _, ok := restclient.CredentialFrom(ctx); !ok {
		return nil, nil, errNoCredential
	}
	return u.next.ListUsers(ctx, opts)
}

func (u requireCredential) GetUser(ctx context.Context, id string) (*restclient.User, *restclient.Response, error) {
	if _, ok := restclient.CredentialFrom(ctx); !ok {
		return nil, nil, errNoCredential
	}
	return u.next.GetUser(ctx, id)
}
