package loaders

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/graph-gophers/dataloader/v7"
	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/usersgraph/usersgraph/restclient"
)

// How RouteAuto looks a batch of users up (the README's "How lookups
// work" says the same for operators). Three upstreams are possible:
//
//	a. filter matches _id (and name and e-mail);
//	b. filter matches only name and login e-mail, GET /v2.0/users/{id}
//	   (readUser) is served;
//	c. as b, and readUser is absent (404 without a Cognigy problem, 405, 501).
//
// Three ways to find a user by _id follow from them:
//
//	filter:   filter=<_id>, one call per user, lastActive included; right
//	          only where filter is known to match _id (a).
//	readUser: one call per user, and one more (filter=<e-mail>) for
//	          lastActive, which readUser lacks, only when the query selects
//	          it on a looked-up user; right where readUser is served.
//	scan:     a binary search of the list sorted by _id, whose reads all the
//	          batch's users share; right everywhere, and cheapest when the
//	          directory is small against the batch.
//
// A batch takes the cheapest way that is right for what is known. Facts
// are learnt from answers the lookups get anyway: readUser's first answer
// says whether it is served (a 404 with a Cognigy problem is confirmed on a
// user the request knows to exist before it counts as "no such user"), and
// whether filter matches _id is asked only when it would save calls (when
// lastActive is selected), on a user the request knows to exist. Until
// filter is known to match _id, a filter answer without the user is never
// taken to mean the user is gone.

// minScanWorthKnowing is the per-user cost from which a batch first reads
// the list's first window, to learn the directory's size, when that is
// not known yet: below it the scan cannot be cheaper than the per-user
// calls, from it on it is whenever the directory is small, and when it is
// not, the read cost one call more than needed.
const minScanWorthKnowing = 3

// userLoader does the batched lookups of one request.
type userLoader struct {
	fetch   Fetcher
	route   Route
	slots   chan struct{} // bounds this request's upstream calls at once
	onBatch func(size int)
	known   *knowledge // shared by all requests
	scan    *scanner

	needOnce sync.Once
	need     bool // the operation selects lastActive on a looked-up user

	mu       sync.Mutex
	existing string          // an _id this request saw in an answer, so it exists
	missed   map[string]bool // ids a complete filter=<id> answer did not have
}

// noteExisting records an _id the request saw in an upstream answer. If a
// complete filter=<id> answer did not have it, filter does not match _id.
func (l *userLoader) noteExisting(id string) {
	l.mu.Lock()
	if l.existing == "" {
		l.existing = id
	}
	missed := l.missed[id]
	l.mu.Unlock()
	if missed {
		l.known.learnFilter(false)
	}
}

// noteMissed records that a complete filter=<id> answer did not have id.
func (l *userLoader) noteMissed(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.missed == nil {
		l.missed = map[string]bool{}
	}
	l.missed[id] = true
}

func (l *userLoader) existingID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.existing
}

// needLastActive reports whether looked-up users must carry lastActive.
func (l *userLoader) needLastActive(ctx context.Context) bool {
	l.needOnce.Do(func() { l.need = selectsLookedUpLastActive(ctx) })
	return l.need
}

// found is the outcome of one id's lookup.
type found struct {
	u   *model.User
	err error
}

// outcomes collects the outcomes of a batch from concurrent lookups.
type outcomes struct {
	l  *userLoader
	mu sync.Mutex
	m  map[string]found
}

func (o *outcomes) set(id string, u *model.User, err error) {
	if u != nil {
		o.l.noteExisting(u.ID)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m[id] = found{u, err}
}

// loadUsers is the batch function: it looks up the batch's (distinct, not
// primed) ids; one failure fails only its own key.
func (l *userLoader) loadUsers(ctx context.Context, ids []string) []*dataloader.Result[*model.User] {
	if l.onBatch != nil {
		l.onBatch(len(ids))
	}
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		// Not an id Cognigy can hold: asking would only cost a call.
		if ValidID(id) {
			valid = append(valid, id)
		}
	}
	out := &outcomes{l: l, m: make(map[string]found, len(valid))}
	if len(valid) > 0 {
		switch l.route {
		case RouteList:
			l.known.using(wayFilter, l.route)
			l.each(ctx, valid, out, l.byTrustedFilter)
		case RouteByID:
			l.known.using(wayReadUser, l.route)
			need := l.needLastActive(ctx)
			l.each(ctx, valid, out, func(ctx context.Context, id string) (*model.User, error) {
				return l.byReadUser(ctx, id, need, false)
			})
		default:
			l.auto(ctx, valid, out)
		}
	}
	results := make([]*dataloader.Result[*model.User], len(ids))
	for i, id := range ids {
		f := out.m[id]
		results[i] = &dataloader.Result[*model.User]{Data: f.u, Error: f.err}
	}
	return results
}

// auto looks ids up in the cheapest way that is right for what is known of
// the upstream, learning more on the way.
func (l *userLoader) auto(ctx context.Context, ids []string, out *outcomes) {
	need := l.needLastActive(ctx)
	// In _id order, so that which user is asked first, and so what a
	// request costs, does not depend on the order its fields resolved in.
	pending := slices.Sorted(slices.Values(ids))
	for len(pending) > 0 {
		// Users that windows of the list read earlier in the request
		// (or being read for another batch) decide cost nothing.
		l.scan.settle(ctx)
		pending = slices.DeleteFunc(pending, func(id string) bool {
			u, ok := l.scan.known(id)
			if ok {
				out.set(id, u, nil)
			}
			return ok
		})
		if len(pending) == 0 {
			return
		}
		if err := ctx.Err(); err != nil {
			for _, id := range pending {
				out.set(id, nil, err)
			}
			return
		}
		filterMatchesID, readUser := l.known.state()
		k := len(pending)
		perID := -1 // calls of the cheapest right per-user way; -1: none is right
		switch {
		case filterMatchesID == yes:
			perID = k
		case readUser != no && need:
			perID = 2 * k
		case readUser != no:
			perID = k
		}
		n := l.scan.knownTotal()
		if n < 0 && (perID < 0 || perID >= minScanWorthKnowing) {
			// The scan may be the cheaper way, and its first read says how
			// many users there are (and shows users that exist).
			p, err := l.scan.read(ctx, 0)
			if err == nil && len(p.Items) > 0 {
				l.noteExisting(p.Items[0].ID)
			}
			n = l.scan.knownTotal()
		}
		if perID < 0 || (n >= 0 && scanCost(k, n) < perID) {
			l.known.using(wayScan, l.route)
			l.byScan(ctx, pending, out)
			return
		}
		if filterMatchesID == yes {
			l.known.using(wayFilter, l.route)
			l.each(ctx, pending, out, l.byKnownFilter)
			return
		}
		if need && filterMatchesID == unknown {
			// Filter would save the second call per user: find out.
			if x := l.existingID(); x != "" {
				if l.probeFilter(ctx, x) {
					continue
				}
			} else if id := pending[0]; l.tryFilter(ctx, id, out) {
				pending = pending[1:]
				continue
			}
		}
		if readUser == unknown {
			if l.probeReadUser(ctx, pending[0], need, out) {
				pending = pending[1:]
			}
			continue
		}
		l.known.using(wayReadUser, l.route)
		l.each(ctx, pending, out, func(ctx context.Context, id string) (*model.User, error) {
			return l.byReadUser(ctx, id, need, true)
		})
		return
	}
}

// each looks every id up with lookup, concurrently.
func (l *userLoader) each(ctx context.Context, ids []string, out *outcomes, lookup func(context.Context, string) (*model.User, error)) {
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			u, err := lookup(ctx, id)
			out.set(id, u, err)
		})
	}
	wg.Wait()
}

// byScan looks ids up in the list sorted by _id.
func (l *userLoader) byScan(ctx context.Context, ids []string, out *outcomes) {
	if n := l.scan.knownTotal(); n >= 0 && scanCost(len(ids), n) >= windowCount(n) {
		l.scan.readAll(ctx)
	}
	l.each(ctx, ids, out, l.scan.find)
}

// list and get are the upstream calls, within the request's bound.
func (l *userLoader) list(ctx context.Context, opts restclient.ListUsersOptions) (*restclient.UserPage, error) {
	if err := acquire(ctx, l.slots); err != nil {
		return nil, err
	}
	defer func() { <-l.slots }()
	p, _, err := l.fetch.ListUsers(ctx, opts)
	return p, err
}

func (l *userLoader) get(ctx context.Context, id string) (*restclient.User, error) {
	if err := acquire(ctx, l.slots); err != nil {
		return nil, err
	}
	defer func() { <-l.slots }()
	u, _, err := l.fetch.GetUser(ctx, id)
	return u, err
}

func acquire(ctx context.Context, slots chan struct{}) error {
	select {
	case slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// filterLookup is the answer to filter=<key>, as far as it concerns id.
type filterLookup struct {
	u *model.User // the item whose _id is id; nil if none
	// complete is true when the answer holds every match, so a missing
	// id is not hidden on a later page.
	complete bool
}

func (l *userLoader) filter(ctx context.Context, key, id string) (filterLookup, error) {
	p, err := l.list(ctx, restclient.ListUsersOptions{Filter: key, Limit: scanLimit})
	if err != nil {
		return filterLookup{}, err
	}
	r := filterLookup{complete: p.Total <= len(p.Items)}
	for i := range p.Items {
		if p.Items[i].ID == id {
			r.u = (*model.User)(&p.Items[i])
		}
	}
	return r, nil
}

// byTrustedFilter is RouteList: filter=<id>, no match meaning no user.
func (l *userLoader) byTrustedFilter(ctx context.Context, id string) (*model.User, error) {
	r, err := l.filter(ctx, id, id)
	return r.u, err
}

// byKnownFilter is filter=<id> on an upstream whose filter matches _id.
func (l *userLoader) byKnownFilter(ctx context.Context, id string) (*model.User, error) {
	r, err := l.filter(ctx, id, id)
	if err != nil || r.u != nil || r.complete {
		return r.u, err
	}
	// So many matches that the user may be on a later page.
	return l.scan.find(ctx, id)
}

// probeFilter asks filter=<x> for x, which the request knows to exist, and
// learns from the answer whether filter matches _id. It reports whether it
// learnt that.
func (l *userLoader) probeFilter(ctx context.Context, x string) bool {
	r, err := l.filter(ctx, x, x)
	switch {
	case err != nil:
		return false // the per-user ways are right anyway
	case r.u != nil && !mentions(r.u, x):
		l.known.learnFilter(true)
	case r.u == nil && r.complete:
		l.known.learnFilter(false)
	default:
		return false
	}
	return true
}

// tryFilter asks filter=<id> for a user not known to exist. An answer that
// has the user is the user (and shows that filter matches _id); one that
// has not says nothing yet. It reports whether it settled id.
func (l *userLoader) tryFilter(ctx context.Context, id string, out *outcomes) bool {
	r, err := l.filter(ctx, id, id)
	if err == nil && r.u == nil && r.complete {
		// If a later answer has the user, filter does not match _id.
		l.noteMissed(id)
	}
	if err != nil || r.u == nil {
		return false
	}
	if !mentions(r.u, id) {
		l.known.learnFilter(true)
	}
	out.set(id, r.u, nil)
	return true
}

// mentions reports whether u's name or e-mail contains s, which would let
// filter=<s> match u without matching its _id.
func mentions(u *model.User, s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(strings.ToLower(u.Name), s) || strings.Contains(strings.ToLower(u.Email), s)
}

// readAnswer is what GET /v2.0/users/{id} said.
type readAnswer int8

const (
	readFound    readAnswer = iota
	readNotFound            // 404 with a Cognigy problem: no such user, if the route is served
	readAbsent              // the route is not served: 404 without a problem, 405, 501
	readFailed              // any other error
)

func (l *userLoader) readUser(ctx context.Context, id string) (*model.User, readAnswer, string, error) {
	u, err := l.get(ctx, id)
	var er *restclient.ErrorResponse
	switch {
	case err == nil:
		return (*model.User)(u), readFound, "", nil
	case !errors.As(err, &er):
		return nil, readFailed, "", err
	case er.StatusCode == http.StatusNotFound && er.Code != "":
		return nil, readNotFound, "", err
	case er.StatusCode == http.StatusNotFound, er.StatusCode == http.StatusMethodNotAllowed, er.StatusCode == http.StatusNotImplemented:
		why := strconv.Itoa(er.StatusCode)
		if er.Code == "" {
			why += " without a Cognigy problem"
		}
		return nil, readAbsent, why, err
	}
	return nil, readFailed, "", err
}

// byReadUser looks id up with readUser, adding lastActive when need is
// set. auto is set for RouteAuto, which falls back on the scan where
// readUser turns out not to be served; RouteByID reports the error.
func (l *userLoader) byReadUser(ctx context.Context, id string, need, auto bool) (*model.User, error) {
	u, ans, _, err := l.readUser(ctx, id)
	switch {
	case ans == readFound && need:
		return l.withLastActive(ctx, u)
	case ans == readFound:
		return u, nil
	case ans == readNotFound:
		return nil, nil
	case ans == readAbsent && auto:
		return l.scan.find(ctx, id)
	}
	return nil, err
}

// probeReadUser looks id up with readUser while it is unknown whether
// readUser is served, and learns that from the answer. It reports whether
// it settled id.
func (l *userLoader) probeReadUser(ctx context.Context, id string, need bool, out *outcomes) bool {
	u, ans, why, err := l.readUser(ctx, id)
	switch ans {
	case readFound:
		l.known.learnReadUser(true, "")
		if need {
			u, err = l.withLastActive(ctx, u)
		}
		out.set(id, u, err)
		return true
	case readAbsent:
		l.known.learnReadUser(false, why)
		return false
	case readFailed:
		out.set(id, nil, err)
		return true
	}
	// A Cognigy 404: no such user, unless the route itself is what is
	// missing. A user the request knows to exist tells which.
	x := l.existingID()
	if x == "" || x == id {
		u, err := l.scan.find(ctx, id)
		out.set(id, u, err)
		return true
	}
	_, xans, _, xerr := l.readUser(ctx, x)
	switch xans {
	case readFound:
		l.known.learnReadUser(true, "")
		out.set(id, nil, nil)
		return true
	case readNotFound, readAbsent:
		l.known.learnReadUser(false, "404 for a user the list has")
		return false
	}
	_ = xerr // undecided; the scan settles id
	u, err = l.scan.find(ctx, id)
	out.set(id, u, err)
	return true
}

// withLastActive returns u as the list has it, lastActive included:
// readUser's answer lacks it. filter=<e-mail> (or <name>) finds the user
// on a filter that matches those; the scan otherwise.
func (l *userLoader) withLastActive(ctx context.Context, u *model.User) (*model.User, error) {
	if !u.LastActive.IsZero() {
		return u, nil // an upstream whose readUser has it
	}
	key := u.Email
	if key == "" {
		key = u.Name
	}
	if key != "" {
		r, err := l.filter(ctx, key, u.ID)
		if err != nil {
			return nil, err
		}
		if r.u != nil {
			return r.u, nil
		}
	}
	return l.scan.find(ctx, u.ID)
}
