package restclient

import (
	"context"
	"testing"

	"golang.org/x/sync/singleflight"
)

// A flight that every caller left runs on until its context stops it; when
// it ends, it must not take a newer flight of the same key with it, or the
// callers of that key would stop sharing one call.
func TestAnAbandonedFlightEndingLeavesTheNewOneShared(t *testing.T) {
	release := make(chan struct{})
	next := getFunc(func(context.Context, request) result {
		<-release
		return result{v: "newer"}
	})
	c := newCoalescer(next, nopObserver{})
	abandoned, newer := &flight{}, c.newFlight(t.Context(), request{key: "k"})

	c.mu.Lock()
	c.flights["k"] = newer
	first := c.group.DoChan("k", newer.run)
	c.forget("k", abandoned) // what the abandoned flight does when it ends
	_, kept := c.flights["k"]
	joined := c.group.DoChan("k", func() (any, error) {
		t.Error("a second call started: the newer flight was forgotten")
		return result{}, nil
	})
	c.mu.Unlock()
	close(release)

	if !kept {
		t.Fatal("the newer flight left the coalescer's map")
	}
	for _, ch := range []<-chan singleflight.Result{first, joined} {
		if r := (<-ch).Val.(result); r.v != "newer" {
			t.Fatalf("got %+v", r)
		}
	}
}
