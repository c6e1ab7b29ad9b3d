package httpapi

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Defaults of the limits an operation must pass before it runs. The
// complexity of a field is 1 plus its children's, multiplied by the page
// size for users and by the number of ids for nodes and _entities, so one
// users(first: 100) selecting ten fields costs about 1,100. The upstream
// budget lets a page of 100 users with both createdBy and lastChangedBy
// through (1 + 2 × 100 calls at most) and refuses a thousand aliases of
// users, each one call, before any of them is made.
const (
	DefaultMaxComplexity    = 5000
	DefaultMaxDepth         = 12
	DefaultMaxUpstreamCalls = 250
	DefaultMaxTokens        = 10000
	DefaultMaxFieldRepeats  = 50
	DefaultMaxResponseBytes = 1 << 20
	// MaxErrors is how many errors an answer lists, as graphql-js stops
	// validating at 100; one more says that the rest were left out.
	MaxErrors = 100
)

// Codes of the refusals of this file and of guard.go, in extensions.code.
const (
	CodeComplexity             = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeTooDeep                = "QUERY_TOO_DEEP"
	CodeUpstreamBudget         = "UPSTREAM_BUDGET_EXCEEDED"
	CodeResponseTooLarge       = "RESPONSE_TOO_LARGE"
	CodeIntrospectionDisabled  = "INTROSPECTION_DISABLED"
	CodeTokenLimit             = "TOKEN_LIMIT_EXCEEDED"
	CodeFieldRepeats           = "FIELD_REPEAT_LIMIT_EXCEEDED"
	CodeTooManyErrors          = "TOO_MANY_ERRORS"
	CodeTrustedDocumentOnly    = "TRUSTED_DOCUMENT_REQUIRED"
	CodeTrustedDocumentUnknown = "TRUSTED_DOCUMENT_NOT_FOUND"
)

// operationLimits refuses, before anything runs, an operation that
// introspects while introspection is off, nests too deep, weighs too much,
// may make more upstream calls than allowed or would answer too much. It
// records the estimated calls for the answer's extensions. The figures
// come from measureOperation, linear in the document.
type operationLimits struct {
	maxComplexity, maxDepth, maxCalls, maxBytes int64 // <= 0: no limit
	noIntrospection                             bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = operationLimits{}

func (operationLimits) ExtensionName() string                   { return "OperationLimits" }
func (operationLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (l operationLimits) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	c := measureOperation(rc.Operation, rc.Doc.Fragments, rc.Variables)
	if m := meterFrom(ctx); m != nil {
		m.estimated.Store(c.calls)
	}
	refuse := func(code, format string, args ...any) *gqlerror.Error {
		return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": code}}
	}
	switch {
	case l.noIntrospection && c.introspect:
		return refuse(CodeIntrospectionDisabled, "introspection is disabled on this server")
	case l.maxDepth > 0 && c.depth > l.maxDepth:
		return refuse(CodeTooDeep, "the operation nests %d fields deep, more than the limit of %d", c.depth, l.maxDepth)
	case l.maxComplexity > 0 && c.complexity > l.maxComplexity:
		// Before the budget: complexity is the older limit, and clients
		// (and gateways) already handle its code.
		return refuse(CodeComplexity, "operation has complexity %d, which exceeds the limit of %d", c.complexity, l.maxComplexity)
	case l.maxCalls > 0 && c.calls > l.maxCalls:
		e := refuse(CodeUpstreamBudget, "the operation may make %d calls to Cognigy, more than the limit of %d per request", c.calls, l.maxCalls)
		e.Extensions["estimated"], e.Extensions["limit"] = c.calls, l.maxCalls
		return e
	case l.maxBytes > 0 && c.bytes > l.maxBytes:
		return refuse(CodeResponseTooLarge, "the answer could take about %d bytes, more than the limit of %d", c.bytes, l.maxBytes)
	}
	return nil
}
