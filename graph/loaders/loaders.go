// Package loaders holds the per-request dataloaders that batch and
// deduplicate user lookups. A fresh set is made for every request (so no
// value or credential is shared between callers) and read back with From.
package loaders

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/graph-gophers/dataloader/v7"
	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/usersgraph/usersgraph/restclient"
)

const (
	// batchWait is how long a loader collects keys before it looks them up.
	// A page's createdBy/lastChangedBy fields all ask within microseconds of
	// each other, so one millisecond catches them without visible latency.
	batchWait = time.Millisecond
	// DefaultConcurrency bounds the lookups of one request that run at
	// once: enough for every distinct creator of a 100-user page to go out
	// together.
	DefaultConcurrency = 64
)

// Route selects how a single user is looked up upstream.
type Route string

// The lookup routes.
const (
	// RouteList uses the contract's list endpoint with filter=<id> and keeps
	// the item whose _id matches exactly.
	RouteList Route = "list"
	// RouteByID uses GET /v2.0/users/{id}, which Cognigy has but the
	// contract does not document.
	RouteByID Route = "byid"
)

// Fetcher is what the loaders need of the upstream.
type Fetcher interface {
	ListUsers(ctx context.Context, opts restclient.ListUsersOptions) (*restclient.UserPage, *restclient.Response, error)
	GetUser(ctx context.Context, id string) (*restclient.User, *restclient.Response, error)
}

// Config says how lookups are made.
type Config struct {
	Route       Route
	Concurrency int // at most this many lookups of one request at once; 0 = DefaultConcurrency
	// OnBatch, if set, is told the size of every batch of lookups.
	OnBatch func(size int)
	// Wait is how long keys are collected before a batch is looked up;
	// 0 = one millisecond. A users connection sends the lookups its
	// query asks for without waiting (graph's prefetch).
	Wait time.Duration
}

// Loaders are the dataloaders of one request.
type Loaders struct {
	// UserByID loads a user by _id; a user that does not exist loads as nil.
	UserByID *dataloader.Loader[string, *model.User]
}

// New returns a fresh set of loaders over f.
func New(f Fetcher, cfg Config) *Loaders {
	n := cfg.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	wait := cfg.Wait
	if wait <= 0 {
		wait = batchWait
	}
	l := &userLoader{fetch: f, route: cfg.Route, slots: make(chan struct{}, n), onBatch: cfg.OnBatch}
	return &Loaders{
		UserByID: dataloader.NewBatchedLoader(l.loadUsers, dataloader.WithWait[string, *model.User](wait)),
	}
}

// Prime records users the request already holds, so that loading them
// later costs no upstream call.
func (l *Loaders) Prime(ctx context.Context, users []*model.User) {
	for _, u := range users {
		l.UserByID.Prime(ctx, u.ID, u)
	}
}

type ctxKey struct{}

// Middleware gives every request its own Loaders.
func Middleware(f Fetcher, cfg Config, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), ctxKey{}, New(f, cfg))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// From returns the request's loaders. It panics when Middleware did not run,
// which is a wiring bug, not a runtime condition.
func From(ctx context.Context) *Loaders {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	if !ok {
		panic("loaders: no loaders in context; wrap the handler with loaders.Middleware")
	}
	return l
}

// userLoader does the batched lookups of one request.
type userLoader struct {
	fetch   Fetcher
	route   Route
	slots   chan struct{} // bounds concurrent lookups across all batches
	onBatch func(size int)
}

// loadUsers looks up each (distinct, not primed) id with its own upstream
// call, concurrently up to the bound; one failure fails only its own key.
func (l *userLoader) loadUsers(ctx context.Context, ids []string) []*dataloader.Result[*model.User] {
	if l.onBatch != nil {
		l.onBatch(len(ids))
	}
	results := make([]*dataloader.Result[*model.User], len(ids))
	done := make(chan struct{}, len(ids))
	for i, id := range ids {
		go func() {
			defer func() { done <- struct{}{} }()
			select {
			case l.slots <- struct{}{}:
			case <-ctx.Done():
				results[i] = &dataloader.Result[*model.User]{Error: ctx.Err()}
				return
			}
			defer func() { <-l.slots }()
			u, err := l.lookup(ctx, id)
			results[i] = &dataloader.Result[*model.User]{Data: u, Error: err}
		}()
	}
	for range ids {
		<-done
	}
	return results
}

// lookup fetches one user; nil, nil when it does not exist.
func (l *userLoader) lookup(ctx context.Context, id string) (*model.User, error) {
	if !ValidID(id) {
		// Not an id Cognigy can hold; asking would only cost a call.
		return nil, nil
	}
	if l.route == RouteByID {
		u, _, err := l.fetch.GetUser(ctx, id)
		var er *restclient.ErrorResponse
		if errors.As(err, &er) && er.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return (*model.User)(u), nil
	}
	page, _, err := l.fetch.ListUsers(ctx, restclient.ListUsersOptions{Filter: id, Limit: 100})
	if err != nil {
		return nil, err
	}
	// The filter may match more than the id (it also matches names and
	// e-mails); only an exact _id match is the user.
	for i := range page.Items {
		if page.Items[i].ID == id {
			return (*model.User)(&page.Items[i]), nil
		}
	}
	return nil, nil
}

// ValidID reports whether id has the contract's shape for _id:
// 24 characters of [a-z0-9].
func ValidID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
