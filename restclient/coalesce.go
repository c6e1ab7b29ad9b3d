package restclient

import (
	"context"
	"errors"
	"sync"
)

// coalescer wraps the layers below it so that identical requests (same
// credential, same URL) made while one is in flight share its answer
// instead of each calling the upstream: a burst of one page costs one call.
//
// The first caller of a key runs the flight on its own goroutine; the
// callers that join it wait for its answer. (x/sync's singleflight, used
// before, runs every flight on a goroutine of its own: one goroutine
// start and hand-off per upstream call, which the CPU profile of one
// request at a time showed among the scheduler's costs.) The flight runs
// on a context detached from any one caller's cancellation (an impatient
// caller cannot fail the others) that keeps the first caller's deadline,
// counts the callers waiting, and is cancelled when the last one stops
// waiting; later callers then start afresh. A first caller that stops
// waiting while others still wait stays with the flight until it ends
// (its deadline bounds that) and then answers as if it had left.
type coalescer struct {
	next     fetcher
	observer Observer

	mu      sync.Mutex
	flights map[string]*flight
}

// flight is one upstream call in flight, as its callers share it.
type flight struct {
	done    chan struct{} // closed once res is set
	res     result
	waiters int // under the coalescer's mu
	cancel  context.CancelCauseFunc
}

func newCoalescer(next fetcher, o Observer) *coalescer {
	return &coalescer{next: next, observer: o, flights: make(map[string]*flight)}
}

func (c *coalescer) get(ctx context.Context, req request) result {
	c.mu.Lock()
	f, joined := c.flights[req.key]
	var fctx context.Context
	if !joined {
		f = &flight{done: make(chan struct{})}
		fctx, f.cancel = detached(ctx)
		c.flights[req.key] = f
	}
	f.waiters++
	c.mu.Unlock()
	if joined {
		c.observer.Coalesced()
		return c.wait(ctx, req.key, f)
	}
	return c.lead(ctx, fctx, req, f)
}

// lead runs f's call on the first caller's goroutine and hands its answer
// to the callers that joined.
func (c *coalescer) lead(ctx, fctx context.Context, req request, f *flight) result {
	stop := context.AfterFunc(ctx, func() { c.leave(ctx, req.key, f) })
	landed := false
	defer func() {
		if !landed { // the call panicked: the waiters must not wait forever
			c.land(req.key, f, result{err: &TransportError{Err: errFlightPanicked}})
		}
	}()
	r := c.next.get(fctx, req)
	c.land(req.key, f, r)
	landed = true
	if !stop() {
		// The first caller stopped waiting during the call (leave has
		// counted it out): it answers as any caller that left does.
		return result{err: &TransportError{Err: ctx.Err()}}
	}
	return r
}

// errFlightPanicked is what the callers sharing a flight get when the
// call panicked on the first caller's goroutine (which goes on panicking).
var errFlightPanicked = errors.New("restclient: the shared call panicked")

// land ends f with r.
func (c *coalescer) land(key string, f *flight, r result) {
	f.res = r
	f.cancel(nil)
	c.mu.Lock()
	c.forget(key, f)
	c.mu.Unlock()
	close(f.done)
}

// wait is a joined caller's wait for f's answer.
func (c *coalescer) wait(ctx context.Context, key string, f *flight) result {
	select {
	case <-f.done:
		return f.res
	case <-ctx.Done():
		c.leave(ctx, key, f)
		return result{err: &TransportError{Err: ctx.Err()}}
	}
}

// leave counts out a caller of f whose context ended; the last one to
// leave ends the flight.
func (c *coalescer) leave(ctx context.Context, key string, f *flight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.waiters--; f.waiters == 0 {
		// Why the last caller left is why the flight ends: a deadline
		// stays a timeout, a hang-up a cancellation.
		f.cancel(ctx.Err())
		c.forget(key, f) // later callers start afresh
	}
}

// forget ends f's time as the flight of key, if it still is; c.mu is held.
func (c *coalescer) forget(key string, f *flight) {
	if c.flights[key] == f {
		delete(c.flights, key)
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
