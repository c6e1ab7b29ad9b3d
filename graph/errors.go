package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/usersgraph/usersgraph/graph/pagination"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Error codes, in extensions.code of every error this server makes.
const (
	CodeUnauthenticated     = "UNAUTHENTICATED"
	CodeForbidden           = "FORBIDDEN"
	CodeBadUserInput        = "BAD_USER_INPUT"
	CodeNotFound            = "NOT_FOUND"
	CodeQuotaExceeded       = "QUOTA_EXCEEDED"
	CodeRateLimited         = "RATE_LIMITED"
	CodeUpstreamUnavailable = "UPSTREAM_UNAVAILABLE"
	CodeUpstreamError       = "UPSTREAM_ERROR"
	CodeInternal            = "INTERNAL_SERVER_ERROR"
)

// MsgOutOfTime is the message of an error caused by the request's own
// deadline.
const MsgOutOfTime = "the request ran out of time"

// errNoCredential is returned, before any upstream call, when the caller
// sent no credential and none is configured.
var errNoCredential = errors.New("no credential")

// inputError is an argument the client must change.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// ErrorPresenter turns every resolver error into a GraphQL error with an
// extensions.code, a message fit for the client, and the upstream's status,
// code and trace id where it gave them. It never repeats a URL, a header or
// a credential; unexpected errors are logged and shown as a generic message.
func ErrorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		var existing *gqlerror.Error
		if errors.As(err, &existing) && existing.Extensions["code"] != nil {
			return gerr // gqlgen's own parse and validation errors carry their code
		}
		code, msg, ext := classify(err)
		switch {
		case CallerHungUp(ctx, err):
			// Nothing failed, and no one will read the answer.
			logger.DebugContext(ctx, "caller hung up", "path", gerr.Path.String(), "err", err)
		case code == CodeInternal:
			logger.ErrorContext(ctx, "resolver failed", "path", gerr.Path.String(), "err", err)
		case ext["upstreamStatus"] != nil:
			// Cognigy's traceId is what its support asks for.
			logger.WarnContext(ctx, "upstream error", "path", gerr.Path.String(), "code", code,
				"upstreamStatus", ext["upstreamStatus"], "upstreamCode", ext["upstreamCode"], "traceId", ext["traceId"])
		case code == CodeUpstreamUnavailable || code == CodeUpstreamError:
			logger.WarnContext(ctx, "upstream error", "path", gerr.Path.String(), "code", code, "err", msg)
		}
		gerr.Message = msg
		if gerr.Extensions == nil {
			gerr.Extensions = make(map[string]any, 1+len(ext))
		}
		gerr.Extensions["code"] = code
		for k, v := range ext {
			gerr.Extensions[k] = v
		}
		return gerr
	}
}

// Recover turns a panic in a resolver into INTERNAL_SERVER_ERROR, with the
// details only in the log.
func Recover(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "resolver panicked", "panic", fmt.Sprint(p))
		return &gqlerror.Error{Message: "internal server error", Extensions: map[string]any{"code": CodeInternal}}
	}
}

func classify(err error) (code, msg string, ext map[string]any) {
	var (
		in  *inputError
		arg *pagination.ArgumentError
		er  *restclient.ErrorResponse
		de  *restclient.DecodeError
		le  *restclient.LimitError
		te  *restclient.TransportError
	)
	switch {
	case errors.As(err, &in):
		return CodeBadUserInput, in.msg, nil
	case errors.As(err, &arg):
		return CodeBadUserInput, arg.Msg, map[string]any{"argument": arg.Arg}
	case errors.Is(err, pagination.ErrInvalidCursor), errors.Is(err, pagination.ErrForeignCursor):
		return CodeBadUserInput, err.Error(), nil
	case errors.Is(err, errNoCredential):
		return CodeUnauthenticated, "a credential is required: send X-API-Key, Authorization: Bearer or x-cxone-authorization", nil
	case errors.As(err, &er):
		return classifyStatus(er)
	case errors.As(err, &le):
		return CodeRateLimited, "too many requests to Cognigy right now; retry later",
			map[string]any{"retryAfter": int(math.Ceil(le.RetryAfter.Seconds()))}
	case errors.Is(err, restclient.ErrCircuitOpen):
		return CodeUpstreamUnavailable, "Cognigy is failing; calls to it are paused for a moment", nil
	case errors.As(err, &de):
		if errors.Is(de, restclient.ErrResponseTooLarge) {
			return CodeUpstreamError, "Cognigy sent a response larger than allowed", nil
		}
		return CodeUpstreamError, "Cognigy sent a response that could not be read", nil
	case errors.As(err, &te):
		if te.Timeout() || errors.Is(te, context.DeadlineExceeded) {
			return CodeUpstreamUnavailable, "Cognigy did not answer in time", nil
		}
		return CodeUpstreamUnavailable, "Cognigy could not be reached", nil
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return CodeUpstreamUnavailable, MsgOutOfTime, nil
	}
	return CodeInternal, "internal server error", nil
}

// CallerHungUp reports whether err is the caller's own cancellation: it
// wraps context.Canceled and the request's context was canceled, not timed
// out. Such an error is no failure, of Cognigy or of this server.
func CallerHungUp(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled)
}

// classifyStatus maps an upstream error status onto a code.
func classifyStatus(er *restclient.ErrorResponse) (code, msg string, ext map[string]any) {
	ext = map[string]any{"upstreamStatus": er.StatusCode}
	if er.Code != "" {
		ext["upstreamCode"] = er.Code
	}
	if er.TraceID != "" {
		ext["traceId"] = er.TraceID
	}
	s := er.StatusCode
	switch {
	case s == http.StatusUnauthorized:
		return CodeUnauthenticated, "Cognigy did not accept the credential", ext
	case s == http.StatusForbidden:
		return CodeForbidden, "the credential may not list users (it needs the admin, userManager or userDetailsViewer role)", ext
	case s == http.StatusPaymentRequired:
		return CodeQuotaExceeded, "the Cognigy plan's quota is used up", ext
	case s == http.StatusTooManyRequests:
		if er.RetryAfter > 0 {
			ext["retryAfter"] = int(math.Ceil(er.RetryAfter.Seconds()))
		}
		return CodeRateLimited, "Cognigy's rate limit was reached; retry later", ext
	case s == http.StatusBadRequest:
		return CodeBadUserInput, "Cognigy rejected the request" + upstreamDetail(er), ext
	case s == http.StatusNotFound:
		return CodeNotFound, "not found" + upstreamDetail(er), ext
	case s == http.StatusRequestTimeout, s == http.StatusBadGateway, s == http.StatusServiceUnavailable, s == http.StatusGatewayTimeout:
		return CodeUpstreamUnavailable, fmt.Sprintf("Cognigy is unavailable (HTTP %d)", s), ext
	default:
		return CodeUpstreamError, fmt.Sprintf("Cognigy answered with an error (HTTP %d)", s), ext
	}
}

func upstreamDetail(er *restclient.ErrorResponse) string {
	if er.Detail == "" {
		return ""
	}
	return ": " + er.Detail
}
