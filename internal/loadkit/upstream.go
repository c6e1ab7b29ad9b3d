package loadkit

import (
	"context"
	"sync"
	"time"

	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// DefaultTrimCalls bounds the fake's record of received requests, which
// grows by about a kilobyte per call; see UpstreamCounter.
const DefaultTrimCalls = 250_000

// UpstreamCounter reads the fake's call counters. The fake records every
// request it receives; once TrimAt calls have piled up, Trim banks the
// counters and resets the fake, and the counts become approximate (calls
// arriving between the read and the reset are lost).
type UpstreamCounter struct {
	Fake   *restclienttest.Server
	TrimAt int // 0 = DefaultTrimCalls

	mu          sync.Mutex
	list, get   int // banked by Trim
	total       int
	approximate bool
}

// Calls is a snapshot of the counters.
type Calls struct{ List, Get, Total int }

// Sub is c minus an earlier snapshot.
func (c Calls) Sub(before Calls) Calls {
	return Calls{List: c.List - before.List, Get: c.Get - before.Get, Total: c.Total - before.Total}
}

// Counts returns the calls counted so far.
func (u *UpstreamCounter) Counts() Calls {
	u.mu.Lock()
	defer u.mu.Unlock()
	return Calls{
		List:  u.list + u.Fake.Calls(restclienttest.RouteList),
		Get:   u.get + u.Fake.Calls(restclienttest.RouteGet),
		Total: u.total + u.Fake.TotalCalls(),
	}
}

// Approximate reports whether Trim ever reset the fake.
func (u *UpstreamCounter) Approximate() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.approximate
}

// Trim banks the counters and resets the fake once TrimAt calls are recorded.
func (u *UpstreamCounter) Trim() {
	u.mu.Lock()
	defer u.mu.Unlock()
	at := u.TrimAt
	if at <= 0 {
		at = DefaultTrimCalls
	}
	if u.Fake.TotalCalls() < at {
		return
	}
	u.list += u.Fake.Calls(restclienttest.RouteList)
	u.get += u.Fake.Calls(restclienttest.RouteGet)
	u.total += u.Fake.TotalCalls()
	u.Fake.ResetCounts()
	u.approximate = true
}

// TrimLoop calls Trim every second until ctx ends.
func (u *UpstreamCounter) TrimLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			u.Trim()
		}
	}
}
