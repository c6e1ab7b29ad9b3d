package restclient

import (
	"context"
	"sync"

	"golang.org/x/sync/singleflight"
)

// coalescer wraps the layers below it so that identical requests (same
// credential, same URL) made while one is in flight share its answer
// instead of each calling the upstream: a burst of one page costs one call.
//
// singleflight runs the flight and hands its answer to every caller. What
// it lacks is cancellation: its flight runs on no caller's context. So the
// coalescer runs each flight on a context detached from any one caller's
// cancellation (an impatient caller cannot fail the others) that keeps the
// first caller's deadline, counts the callers waiting, and cancels the
// flight when the last one stops waiting; later callers then start afresh.
type coalescer struct {
	next     fetcher
	observer Observer
	group    singleflight.Group

	mu sync.Mutex
	// flights holds a key exactly while group does: both change together,
	// under mu.
	flights map[string]*flight
}

// flight is one upstream call in flight, as its callers share it.
type flight struct {
	run     func() (any, error) // the call, given to group
	waiters int
	cancel  context.CancelCauseFunc
}

func newCoalescer(next fetcher, o Observer) *coalescer {
	return &coalescer{next: next, observer: o, flights: make(map[string]*flight)}
}

func (c *coalescer) get(ctx context.Context, req request) result {
	c.mu.Lock()
	f, joined := c.flights[req.key]
	if !joined {
		f = c.newFlight(ctx, req)
		c.flights[req.key] = f
	}
	// Under mu, group has a call for the key exactly when flights does, so
	// this joins f's call or starts it.
	ch := c.group.DoChan(req.key, f.run)
	f.waiters++
	c.mu.Unlock()
	if joined {
		c.observer.Coalesced()
	}

	select {
	case res := <-ch:
		return res.Val.(result)
	case <-ctx.Done():
		c.mu.Lock()
		if f.waiters--; f.waiters == 0 {
			// Why the last caller left is why the flight ends: a
			// deadline stays a timeout, a hang-up a cancellation.
			f.cancel(ctx.Err())
			c.forget(req.key, f) // later callers start afresh
		}
		c.mu.Unlock()
		return result{err: &TransportError{Err: ctx.Err()}}
	}
}

// newFlight prepares the call that the callers of req's key will share.
func (c *coalescer) newFlight(ctx context.Context, req request) *flight {
	fctx, cancel := detached(ctx)
	f := &flight{cancel: cancel}
	f.run = func() (any, error) {
		r := c.next.get(fctx, req)
		cancel(nil)
		c.mu.Lock()
		c.forget(req.key, f)
		c.mu.Unlock()
		return r, nil
	}
	return f
}

// forget ends f's time as the flight of key, if it still is; c.mu is held.
func (c *coalescer) forget(key string, f *flight) {
	if c.flights[key] == f {
		delete(c.flights, key)
		c.group.Forget(key)
	}
}

// detached keeps ctx's values and deadline but not its cancellation; the
// cause given to its cancel function is the flight's context.Cause.
func detached(ctx context.Context) (context.Context, context.CancelCauseFunc) {
	d, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	dl, ok := ctx.Deadline()
	if !ok {
		return d, cancel
	}
	d, stop := context.WithDeadline(d, dl)
	return d, func(cause error) {
		cancel(cause)
		stop()
	}
}
