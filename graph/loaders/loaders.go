// Package loaders holds the per-request dataloaders that batch and
// deduplicate user lookups. A fresh set is made for every request (so no
// value or credential is shared between callers) and read back with From.
package loaders

import (
	"context"
	"log/slog"
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
	// RouteAuto, the default, finds out how the upstream answers (whether
	// filter matches _id, whether GET /v2.0/users/{id} is served) from the
	// answers it gets, and looks each batch of users up in the way that is
	// right for that upstream and costs the fewest calls; see lookup.go.
	RouteAuto Route = "auto"
	// RouteList uses the contract's list endpoint with filter=<id> and keeps
	// the item whose _id matches exactly. It trusts that filter matches _id:
	// on an upstream whose filter does not, every user looks deleted.
	RouteList Route = "list"
	// RouteByID uses GET /v2.0/users/{id}, which Cognigy has but the
	// contract does not document, and adds lastActive, which that answer
	// lacks, from filter=<e-mail> when the query selects it.
	RouteByID Route = "byid"
)

// Fetcher is what the loaders need of the upstream.
type Fetcher interface {
	ListUsers(ctx context.Context, opts restclient.ListUsersOptions) (*restclient.UserPage, *restclient.Response, error)
	GetUser(ctx context.Context, id string) (*restclient.User, *restclient.Response, error)
}

// Config says how lookups are made.
type Config struct {
	Route       Route // "" = RouteAuto
	Concurrency int   // at most this many lookups of one request at once; 0 = DefaultConcurrency
	// OnBatch, if set, is told the size of every batch of lookups.
	OnBatch func(size int)
	// Wait is how long keys are collected before a batch is looked up;
	// 0 = one millisecond. A users connection sends the lookups its
	// query asks for without waiting (graph's prefetch).
	Wait time.Duration
	// Logger is told, once each, what RouteAuto learns of the upstream;
	// nil = slog.Default().
	Logger *slog.Logger
}

// Loaders are the dataloaders of one request.
type Loaders struct {
	// UserByID loads a user by _id; a user that does not exist loads as nil.
	UserByID *dataloader.Loader[string, *model.User]
	// UserByEmail loads a user by login e-mail, matched without regard to
	// case (byemail.go); a user that does not exist loads as nil.
	UserByEmail *dataloader.Loader[string, *model.User]

	users *userLoader
}

// New returns a fresh set of loaders over f, which learns what it needs of
// the upstream anew; Middleware's share what they learn.
func New(f Fetcher, cfg Config) *Loaders {
	return newLoaders(f, cfg, newKnowledge(cfg))
}

func newKnowledge(cfg Config) *knowledge {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &knowledge{log: log}
}

func newLoaders(f Fetcher, cfg Config, known *knowledge) *Loaders {
	n := cfg.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	wait := cfg.Wait
	if wait <= 0 {
		wait = batchWait
	}
	route := cfg.Route
	if route == "" {
		route = RouteAuto
	}
	slots := make(chan struct{}, n)
	l := &userLoader{fetch: f, route: route, slots: slots, onBatch: cfg.OnBatch, known: known, scan: newScanner(f, slots)}
	return &Loaders{
		UserByID:    dataloader.NewBatchedLoader(l.loadUsers, dataloader.WithWait[string, *model.User](wait)),
		UserByEmail: newUserByEmail(f, slots, cfg.OnBatch, wait),
		users:       l,
	}
}

// Prime records users the request already holds, so that loading them
// later costs no upstream call.
func (l *Loaders) Prime(ctx context.Context, users []*model.User) {
	for _, u := range users {
		l.UserByID.Prime(ctx, u.ID, u)
	}
	if len(users) > 0 {
		l.users.noteExisting(users[0].ID)
	}
}

// NoteList hands the loaders a list answer the request got: an unfiltered
// one says how many users there are, which tells what looking users up in
// the list costs, and one that is a window of the list sorted by _id is
// not read again by such a lookup.
func (l *Loaders) NoteList(opts restclient.ListUsersOptions, page *restclient.UserPage) {
	l.users.scan.note(opts, page)
}

type ctxKey struct{}

// Middleware gives every request its own Loaders; what they learn of the
// upstream is shared by all requests.
func Middleware(f Fetcher, cfg Config, next http.Handler) http.Handler {
	known := newKnowledge(cfg)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), ctxKey{}, newLoaders(f, cfg, known))
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
