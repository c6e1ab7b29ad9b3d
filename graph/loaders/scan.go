package loaders

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"sync"

	"github.com/usersgraph/usersgraph/graph/model"
	"github.com/usersgraph/usersgraph/restclient"
)

// The list sorted by _id is read in windows of scanLimit users that start
// scanStride apart, so that consecutive windows share a user: whether an
// id lies between two users is then always decided by one answer, never
// by two answers that a concurrent change of the directory could have
// shifted against each other.
const (
	scanLimit  = 100
	scanStride = scanLimit - 1
)

// errDirectoryChanged is a scan that could not decide an id because the
// directory changed while it was read; the lookup fails rather than guess.
var errDirectoryChanged = errors.New("user lookup: the user directory changed while it was read; try again")

// errNotSortedByID is an upstream that does not sort the list by _id as
// asked, which the scan relies on.
var errNotSortedByID = errors.New("user lookup: the upstream did not sort the list by _id as asked")

var byID = restclient.Sort{{Field: restclient.SortByID}}

// scanner finds users by _id in the list sorted by _id, by binary search
// over its windows. One scanner serves one request: windows already read
// are reused by every lookup of the request, and a window is read once
// however many lookups ask for it at the same time.
type scanner struct {
	fetch Fetcher
	slots chan struct{}

	mu      sync.Mutex
	total   int // users in the directory; -1 until known
	windows map[int]*window
}

type window struct {
	done chan struct{}
	page *restclient.UserPage
	err  error
}

func newScanner(f Fetcher, slots chan struct{}) *scanner {
	return &scanner{fetch: f, slots: slots, total: -1, windows: map[int]*window{}}
}

// knownTotal is the number of users, or -1 when not known yet.
func (s *scanner) knownTotal() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// noteTotal records the number of users from any unfiltered list answer.
func (s *scanner) noteTotal(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total = n
}

// note takes a list answer the request got for what it tells the scan.
func (s *scanner) note(opts restclient.ListUsersOptions, page *restclient.UserPage) {
	if opts.Filter != "" {
		return
	}
	s.noteTotal(page.Total)
	isWindow := len(opts.Sort) == 1 && opts.Sort[0] == byID[0] && opts.Limit == scanLimit &&
		opts.Next == "" && opts.Previous == "" && opts.Skip%scanStride == 0
	if !isWindow || !sortedByID(page.Items) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.windows[opts.Skip]; !ok {
		w := &window{done: make(chan struct{}), page: page}
		close(w.done)
		s.windows[opts.Skip] = w
	}
}

func sortedByID(items []restclient.User) bool {
	for i := 1; i < len(items); i++ {
		if items[i-1].ID >= items[i].ID {
			return false
		}
	}
	return true
}

// windowCount is how many windows cover n users.
func windowCount(n int) int {
	if n <= scanLimit {
		return 1
	}
	return 1 + (n-scanLimit+scanStride-1)/scanStride
}

// scanCost estimates the calls a scan for k ids among n users makes: a
// binary search each, whose first steps they share, and never more than
// every window.
func scanCost(k, n int) int {
	w := windowCount(n)
	depth := bits.Len(uint(w)) // ceil(log2(w+1))
	return min(w, k*depth)
}

// read returns the window that starts at skip, reading it at most once.
func (s *scanner) read(ctx context.Context, skip int) (*restclient.UserPage, error) {
	s.mu.Lock()
	w, ok := s.windows[skip]
	if !ok {
		w = &window{done: make(chan struct{})}
		s.windows[skip] = w
	}
	s.mu.Unlock()
	if ok {
		select {
		case <-w.done:
			return w.page, w.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer close(w.done)
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		w.err = ctx.Err()
		s.forget(skip)
		return nil, w.err
	}
	defer func() { <-s.slots }()
	w.page, _, w.err = s.fetch.ListUsers(ctx, restclient.ListUsersOptions{Sort: byID, Limit: scanLimit, Skip: skip})
	if w.err != nil {
		// A failed read is not kept: a later lookup of the request may
		// try again.
		s.forget(skip)
		return nil, w.err
	}
	if !sortedByID(w.page.Items) {
		w.err = errNotSortedByID
		return nil, w.err
	}
	s.noteTotal(w.page.Total)
	return w.page, nil
}

func (s *scanner) forget(skip int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.windows, skip)
}

// readAll reads every window at once: for a batch that would touch most of
// them anyway, one round trip instead of a binary search's several.
func (s *scanner) readAll(ctx context.Context) {
	n := s.knownTotal()
	if n < 0 {
		return
	}
	var wg sync.WaitGroup
	for i := range windowCount(n) {
		wg.Go(func() { _, _ = s.read(ctx, i*scanStride) })
	}
	wg.Wait()
}

// settle waits for the windows being read (by another batch of the
// request) to arrive, so that what they decide is not asked again.
func (s *scanner) settle(ctx context.Context) {
	s.mu.Lock()
	var reading []*window
	for _, w := range s.windows {
		reading = append(reading, w)
	}
	s.mu.Unlock()
	for _, w := range reading {
		select {
		case <-w.done:
		case <-ctx.Done():
			return
		}
	}
}

// known looks id up in the windows read so far, without a call: ok is
// false when none of them decides it.
func (s *scanner) known(id string) (u *model.User, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for skip, w := range s.windows {
		select {
		case <-w.done:
		default:
			continue // still being read
		}
		if w.err != nil {
			continue
		}
		if u, ok := decide(w.page, skip, id); ok {
			return u, true
		}
	}
	return nil, false
}

// decide looks id up in the window p, read at skip: ok is false when id
// lies outside the window's range, so that other windows must tell.
func decide(p *restclient.UserPage, skip int, id string) (*model.User, bool) {
	items := p.Items
	switch {
	case len(items) == 0:
		return nil, skip == 0 // nobody at all
	case id < items[0].ID:
		return nil, skip == 0 // before the first user
	case id > items[len(items)-1].ID:
		return nil, p.NextCursor == "" // after the last user
	}
	// Within this one answer's range: it has the user or nobody does.
	i := sort.Search(len(items), func(i int) bool { return items[i].ID >= id })
	if items[i].ID == id {
		return (*model.User)(&items[i]), true
	}
	return nil, true
}

// find looks id up: the user, or nil when there is none.
func (s *scanner) find(ctx context.Context, id string) (*model.User, error) {
	if s.knownTotal() < 0 {
		if _, err := s.read(ctx, 0); err != nil {
			return nil, err
		}
	}
	lo, hi := 0, windowCount(s.knownTotal())-1
	for lo <= hi {
		mid := lo + (hi-lo)/2
		skip := mid * scanStride
		p, err := s.read(ctx, skip)
		if err != nil {
			return nil, err
		}
		if u, ok := decide(p, skip, id); ok {
			return u, nil
		}
		if items := p.Items; len(items) == 0 || id < items[0].ID {
			hi = mid - 1 // len 0: the directory shrank under this window
		} else {
			lo = mid + 1
		}
	}
	return nil, fmt.Errorf("%w (id %s)", errDirectoryChanged, id)
}
