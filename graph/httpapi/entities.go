package httpapi

import (
	"context"
	"fmt"

	"github.com/usersgraph/usersgraph/graph"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// representationCheck refuses an _entities query whose representations are
// not all User references, before anything runs. Without it, a malformed
// representation reaches gqlgen's generated federation code, which fails
// the whole User group with an unclassified error; a gateway that sends one
// has a bug its operators must see as BAD_USER_INPUT, naming the index.
type representationCheck struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = representationCheck{}

func (representationCheck) ExtensionName() string                   { return "RepresentationCheck" }
func (representationCheck) Validate(graphql.ExecutableSchema) error { return nil }

func (representationCheck) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	for _, f := range graphql.CollectFields(rc, rc.Operation.SelectionSet, []string{"Query"}) {
		if f.Name != "_entities" {
			continue
		}
		reps := asList(f.ArgumentMap(rc.Variables)["representations"])
		key := ""
		for i, rep := range reps {
			msg := representationProblem(rep)
			if msg == "" {
				// gqlgen resolves all the users of one call by the key
				// of the first: one call holds one key form.
				if key == "" {
					key = representationKey(rep)
				} else if k := representationKey(rep); k != key {
					msg = fmt.Sprintf("has no %s, as representations[0] has: the users of one _entities call are referenced all by id or all by email", key)
				}
			}
			if msg != "" {
				return &gqlerror.Error{
					Message:    fmt.Sprintf("representations[%d] %s", i, msg),
					Path:       ast.Path{ast.PathName(f.Alias)},
					Extensions: map[string]any{"code": graph.CodeBadUserInput},
				}
			}
		}
	}
	return nil
}

// representationProblem says what is wrong with one representation, or "".
func representationProblem(rep any) string {
	m, ok := rep.(map[string]any)
	if !ok {
		return "must be an object"
	}
	if tn, _ := m["__typename"].(string); tn != "User" {
		return `must have __typename "User", the only entity of this subgraph`
	}
	if _, ok := m["id"]; !ok {
		if email, _ := m["email"].(string); email != "" {
			return ""
		}
		return "must have a non-empty string id or email"
	}
	if id, _ := m["id"].(string); id == "" {
		return "must have a non-empty string id"
	}
	return ""
}

// representationKey is the key a valid representation references its user
// by: id when it has one, else email.
func representationKey(rep any) string {
	if _, ok := rep.(map[string]any)["id"]; ok {
		return "id"
	}
	return "email"
}

// asList is a list argument's value; GraphQL input coercion lets a single
// value stand for a list of one.
func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		return []any{v}
	}
}
