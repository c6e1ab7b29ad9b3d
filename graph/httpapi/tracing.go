package httpapi

import (
	"context"
	"errors"

	"github.com/usersgraph/usersgraph/graph"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the spans this package makes.
const tracerName = "github.com/usersgraph/usersgraph/graph"

// tracing makes a span per GraphQL operation and one per field that runs a
// resolver of its own (users, user, node, nodes, _entities, createdBy,
// lastChangedBy); plain fields read from a fetched user are not worth one.
type tracing struct{ tracer trace.Tracer }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.FieldInterceptor
} = tracing{}

func (tracing) ExtensionName() string                   { return "Tracing" }
func (tracing) Validate(graphql.ExecutableSchema) error { return nil }

func (t tracing) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	kind, name := "query", ""
	if oc.Operation != nil {
		kind, name = string(oc.Operation.Operation), oc.Operation.Name
	}
	spanName := kind
	if name != "" {
		spanName += " " + name
	}
	ctx, span := t.tracer.Start(ctx, spanName, trace.WithAttributes(
		attribute.String("graphql.operation.type", kind),
		attribute.String("graphql.operation.name", name),
	))
	handler := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := handler(ctx)
		switch {
		case resp == nil || len(resp.Errors) == 0:
		case errors.Is(ctx.Err(), context.Canceled):
			span.AddEvent("canceled: the caller hung up")
		default:
			span.SetStatus(codes.Error, resp.Errors[0].Message)
			span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
		}
		span.End()
		return resp
	}
}

func (t tracing) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, span := t.tracer.Start(ctx, fc.Object+"."+fc.Field.Name, trace.WithAttributes(
		attribute.String("graphql.field.path", fc.Path().String()),
	))
	defer span.End()
	res, err := next(ctx)
	switch {
	case err == nil:
	case graph.CallerHungUp(ctx, err):
		// Not a failure, of Cognigy or of this server: the status stays
		// unset, as the metrics count it "canceled".
		span.AddEvent("canceled: the caller hung up")
	default:
		span.RecordError(err)
		span.SetStatus(codes.Error, "resolver failed")
	}
	return res, err
}
