package respcache

import "sync"

// flight is one request being executed that identical requests (same key)
// arriving meanwhile wait for instead of executing again. It is open to
// them until its leader begins to write its answer: the answer is recorded
// only when someone waits, and who arrives after that runs on its own.
type flight struct {
	done    chan struct{}
	waiters int    // guarded by flights.mu
	open    bool   // guarded by flights.mu
	entry   *Entry // set before done is closed; nil: nothing to share
}

type flights struct {
	mu sync.Mutex
	m  map[Key]*flight
}

func newFlights() *flights { return &flights{m: map[Key]*flight{}} }

// join returns the open flight under k, or a new one that the caller then
// leads (lead true).
func (fs *flights) join(k Key) (f *flight, lead bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[k]; ok && f.open {
		f.waiters++
		return f, false
	}
	f = &flight{done: make(chan struct{}), open: true}
	fs.m[k] = f
	return f, true
}

// seal closes f to newcomers and reports whether anyone waits for it.
func (fs *flights) seal(k Key, f *flight) (waited bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f.open {
		f.open = false
		if fs.m[k] == f {
			delete(fs.m, k)
		}
	}
	return f.waiters > 0
}

// land ends f: its waiters get e, or run on their own when e is nil.
func (fs *flights) land(k Key, f *flight, e *Entry) {
	fs.seal(k, f)
	f.entry = e
	close(f.done)
}
