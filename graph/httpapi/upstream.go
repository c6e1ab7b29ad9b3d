package httpapi

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/usersgraph/usersgraph/graph"
	"github.com/usersgraph/usersgraph/restclient"
)

// meter is one request's upstream calls: estimated before it runs (by
// operationLimits) and spent while it runs (by countingUpstream).
type meter struct {
	estimated, spent atomic.Int64
}

type meterKey struct{}

func meterFrom(ctx context.Context) *meter {
	m, _ := ctx.Value(meterKey{}).(*meter)
	return m
}

// withMeter gives every request a meter.
func withMeter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), meterKey{}, &meter{})))
	})
}

// countingUpstream counts the calls a request hands to the Cognigy client.
// The client's cache and its coalescing of identical calls answer some of
// them without a request, so spent is an upper bound of what reached
// Cognigy.
type countingUpstream struct{ next graph.Upstream }

func (u countingUpstream) ListUsers(ctx context.Context, opts restclient.ListUsersOptions) (*restclient.UserPage, *restclient.Response, error) {
	if m := meterFrom(ctx); m != nil {
		m.spent.Add(1)
	}
	return u.next.ListUsers(ctx, opts)
}

func (u countingUpstream) GetUser(ctx context.Context, id string) (*restclient.User, *restclient.Response, error) {
	if m := meterFrom(ctx); m != nil {
		m.spent.Add(1)
	}
	return u.next.GetUser(ctx, id)
}
