package loaders

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"
	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/usersgraph/usersgraph/restclient"
)

// maxEmailPages bounds the pages one e-mail lookup reads. Cognigy's filter
// may match more than the exact address (which it matches is undocumented),
// so the user can be on a later page of filter=<e-mail>; more than this many
// pages of near matches is not a directory this lookup can serve.
const maxEmailPages = 5

// byEmail are the e-mail lookups of one request: filter=<e-mail>, keeping
// the item whose login e-mail equals the key without regard to case. It
// shares the request's bound on upstream calls with the id lookups.
type byEmail struct {
	fetch   Fetcher
	slots   chan struct{}
	onBatch func(size int)
}

// newUserByEmail is the UserByEmail loader of a request whose upstream
// calls share slots.
func newUserByEmail(f Fetcher, slots chan struct{}, onBatch func(size int), wait time.Duration) *dataloader.Loader[string, *model.User] {
	l := &byEmail{fetch: f, slots: slots, onBatch: onBatch}
	return dataloader.NewBatchedLoader(l.loadUsers, dataloader.WithWait[string, *model.User](wait))
}

// loadUsers looks each distinct address of the batch up once, however its
// keys are written: "Ann@example.com" and "ann@example.com" are one lookup.
func (l *byEmail) loadUsers(ctx context.Context, emails []string) []*dataloader.Result[*model.User] {
	if l.onBatch != nil {
		l.onBatch(len(emails))
	}
	type found struct {
		u   *model.User
		err error
	}
	distinct := make(map[string]*found, len(emails))
	for _, e := range emails {
		if k := emailKey(e); k != "" {
			distinct[k] = &found{}
		}
	}
	var wg sync.WaitGroup
	for k, f := range distinct {
		wg.Go(func() { f.u, f.err = l.find(ctx, k) })
	}
	wg.Wait()
	results := make([]*dataloader.Result[*model.User], len(emails))
	for i, e := range emails {
		r := &dataloader.Result[*model.User]{}
		if f := distinct[emailKey(e)]; f != nil {
			r.Data, r.Error = f.u, f.err
		}
		results[i] = r
	}
	return results
}

// emailKey is the address a key stands for, or "" for a key that no
// user's e-mail can equal (so it costs no call).
func emailKey(e string) string {
	return strings.ToLower(strings.TrimSpace(e))
}

// find pages through filter=<email> until an item's e-mail equals email;
// nil when none does (no such user, or a deleted one).
func (l *byEmail) find(ctx context.Context, email string) (*model.User, error) {
	opts := restclient.ListUsersOptions{Filter: email, Limit: scanLimit, Sort: restclient.Sort{{Field: restclient.SortByID}}}
	for range maxEmailPages {
		p, err := l.list(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range p.Items {
			if strings.EqualFold(p.Items[i].Email, email) {
				return (*model.User)(&p.Items[i]), nil
			}
		}
		if p.NextCursor == "" || len(p.Items) == 0 {
			return nil, nil
		}
		opts.Next = p.NextCursor
	}
	return nil, fmt.Errorf("looking up a user by e-mail: filter=<e-mail> matched more than %d pages of users", maxEmailPages)
}

func (l *byEmail) list(ctx context.Context, opts restclient.ListUsersOptions) (*restclient.UserPage, error) {
	if err := acquire(ctx, l.slots); err != nil {
		return nil, err
	}
	defer func() { <-l.slots }()
	p, _, err := l.fetch.ListUsers(ctx, opts)
	return p, err
}
