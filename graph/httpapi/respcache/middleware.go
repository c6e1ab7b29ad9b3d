package respcache

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is what the middleware needs besides the cache.
type Config struct {
	// TTL is how long an answer is kept, counted from when the oldest
	// upstream data it was built from was fetched.
	TTL time.Duration
	// MaxBody is the largest POST body the middleware reads to build a
	// key; larger ones pass through untouched (the transport refuses them).
	MaxBody int64
	// Key identifies the request: method, the headers the answer depends on
	// (the credential, Accept, Content-Type), the query string and the body.
	// ok = false lets the request through uncached.
	Key func(r *http.Request, body []byte) (k Key, ok bool)
	// TrackData returns a context in which every piece of upstream data the
	// request uses is reported to note with the time it was fetched.
	TrackData func(ctx context.Context, note func(fetched time.Time)) context.Context
	// OnLookup, when set, is told about every lookup; on a hit, with the
	// entry served and the time it took.
	OnLookup func(r *http.Request, hit *Entry, elapsed time.Duration)
	// Stored, when set, maps the bytes of an answer to the bytes kept for
	// its repeats: what a repeat says differently (that it cost nothing).
	Stored func(body []byte) []byte
	// ShareInFlight lets a request wait for an identical one (same key)
	// already executing and answer with its bytes, as Stored makes them,
	// when that answer is one Keep marked; otherwise it executes on its
	// own. It works with or without a cache.
	ShareInFlight bool
	// MaxShared bounds an answer shared in flight when there is no cache
	// (with one, the cache's bound on an entry applies).
	MaxShared int64
	// Timeout, when set, is a request's whole time: a request that waited
	// for an identical one and then executes on its own (nothing was
	// shared) does so within what is left of it. (The wait itself is
	// bounded by the execution waited for, which started earlier; next
	// gives every execution its deadline.)
	Timeout time.Duration
	// OnShared, when set, is told about every request answered with the
	// bytes of an identical one, with the time it took.
	OnShared func(r *http.Request, shared *Entry, elapsed time.Duration)

	joined func() // tests: called when a request starts waiting for another
}

// Middleware answers a repeated request from c (nil: no cache), and keeps
// the answers that next marked as cacheable (with Keep) from the second
// time their request is seen. A request with "Cache-Control: no-cache" is
// executed anew (and its answer kept if its request was seen before). With cfg.ShareInFlight, identical
// requests executing at the same time share one execution.
func Middleware(c *Cache, cfg Config, next http.Handler) http.Handler {
	var fl *flights
	if cfg.ShareInFlight {
		fl = newFlights()
	}
	var cacheLimit int64
	if c != nil {
		cacheLimit = c.maxEntry
	}
	sharedLimit := cfg.MaxShared
	if sharedLimit <= 0 {
		sharedLimit = math.MaxInt64 // no bound on answers: share them all
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		var body []byte
		if r.Method == http.MethodPost && r.Body != nil {
			b, err := readBody(r, cfg.MaxBody)
			if err != nil || int64(len(b)) > cfg.MaxBody {
				// Let the transport read (and refuse) it whole.
				r.Body = struct {
					io.Reader
					io.Closer
				}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
				next.ServeHTTP(w, r)
				return
			}
			body = b
			rb := &bytesBody{}
			rb.Reset(b)
			r.Body = rb
		}
		k, ok := cfg.Key(r, body)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		fresh := noCache(r.Header)
		if c != nil && !fresh {
			if e, ok := c.Get(k); ok {
				serve(w, e)
				if cfg.OnLookup != nil {
					cfg.OnLookup(r, e, time.Since(start))
				}
				return
			}
			if cfg.OnLookup != nil {
				cfg.OnLookup(r, nil, 0)
			}
		}
		var f *flight
		if fl != nil && !fresh {
			var lead bool
			if f, lead = fl.join(k); !lead {
				if cfg.joined != nil {
					cfg.joined()
				}
				var e *Entry
				select {
				case <-f.done:
					e = f.entry
				case <-r.Context().Done():
					// The caller hung up or its time ran out: next
					// answers that as it does for any request, unless
					// the answer came at the same moment.
					select {
					case <-f.done:
						e = f.entry
					default:
					}
				}
				if e != nil {
					serve(w, e)
					if cfg.OnShared != nil {
						cfg.OnShared(r, e, time.Since(start))
					}
					return
				}
				f = nil // nothing to share: executed on its own
				if cfg.Timeout > 0 {
					ctx, cancel := context.WithDeadline(r.Context(), start.Add(cfg.Timeout))
					defer cancel()
					r = r.WithContext(ctx)
				}
			}
		}
		seen := c != nil && c.SeenWithin(k, cfg.TTL)
		if !seen && f == nil {
			// The first sight of a request: most are never repeated.
			next.ServeHTTP(w, r)
			return
		}
		// A leader lands its flight once its answer is complete, before
		// that answer is written to its own caller (who may read slowly),
		// or as soon as the answer cannot be shared; at the latest when
		// next returns or panics.
		landed := false
		land := func(e *Entry) {
			if f != nil && !landed {
				landed = true
				fl.land(k, f, e)
			}
		}
		defer land(nil)
		d := &decision{}
		ctx := context.WithValue(r.Context(), decisionKey{}, d)
		ctx = cfg.TrackData(ctx, d.noteData)
		rec := &recorder{ResponseWriter: w, limit: cacheLimit, record: seen}
		if f != nil {
			rec.first = func() {
				if fl.seal(k, f) { // someone waits: hold the answer until it is whole
					rec.record, rec.hold, rec.limit = true, true, max(cacheLimit, sharedLimit)
				}
			}
			rec.overflowed = func() { land(nil) }
		}
		next.ServeHTTP(rec, r.WithContext(ctx))
		e := answerOf(cfg, rec, d, start)
		land(e)
		rec.release()
		if e != nil && seen {
			c.Add(k, e) // refuses one larger than an entry may be
		}
	})
}

// answerOf is the answer rec recorded, as it may be shared and kept, or nil.
func answerOf(cfg Config, rec *recorder, d *decision, start time.Time) *Entry {
	operation, oldest, keep := d.result()
	if !keep || rec.status != http.StatusOK || rec.overflow || !rec.record {
		return nil
	}
	if oldest.IsZero() {
		oldest = start // no upstream data: it cannot be older than the request
	}
	kept := rec.buf.Bytes()
	if cfg.Stored != nil {
		kept = cfg.Stored(kept)
	}
	// Kept in an allocation of its own size, not in the recorder's buffer,
	// which may be twice as large (and is written to the caller after).
	kept = append(make([]byte, 0, len(kept)), kept...)
	e := &Entry{
		Status:      rec.status,
		ContentType: rec.Header().Get("Content-Type"),
		Body:        kept,
		Operation:   operation,
		Expires:     oldest.Add(cfg.TTL),
	}
	e.contentType, e.contentLength = []string{e.ContentType}, []string{strconv.Itoa(len(kept))}
	return e
}

// readAtOnce is the largest announced body read into one allocation of
// its length before any of it arrives.
const readAtOnce = 64 << 10

// readBody reads r's body, max+1 bytes at most: in one allocation of the
// announced length when there is one up to readAtOnce.
func readBody(r *http.Request, max int64) ([]byte, error) {
	n := r.ContentLength
	if n < 0 || n > max || n > readAtOnce {
		// Unknown, over the limit, or large: grown as bytes arrive, so
		// that an announced length never holds memory unsent.
		return io.ReadAll(io.LimitReader(r.Body, max+1))
	}
	b := make([]byte, n)
	if k, err := io.ReadFull(r.Body, b); err != nil {
		return b[:k], err
	}
	// net/http ends a body at its Content-Length; a request made
	// otherwise may carry more, which is read on.
	var one [1]byte
	if k, _ := io.ReadFull(r.Body, one[:]); k == 0 {
		return b, nil
	}
	rest, err := io.ReadAll(io.LimitReader(r.Body, max-n))
	return append(append(b, one[0]), rest...), err
}

// bytesBody is a request body already read: one allocation where
// io.NopCloser(bytes.NewReader(b)) makes two.
type bytesBody struct{ bytes.Reader }

func (*bytesBody) Close() error { return nil }

// serve writes a kept answer.
func serve(w http.ResponseWriter, e *Entry) {
	h := w.Header()
	if e.contentType != nil {
		// Every answer from e shares these values: net/http copies them
		// when it writes the header, and no handler changes a value in
		// place.
		h["Content-Type"], h["Content-Length"] = e.contentType, e.contentLength
	} else {
		h.Set("Content-Type", e.ContentType)
		h.Set("Content-Length", strconv.Itoa(len(e.Body)))
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.Body)
}

// Keep marks the request's answer as one that may be served again to the
// same caller: a query answered in full, without errors. The handler calls
// it before writing. Outside Middleware it does nothing.
func Keep(ctx context.Context, operation string) {
	if d, ok := ctx.Value(decisionKey{}).(*decision); ok {
		d.mu.Lock()
		d.keep, d.operation = true, operation
		d.mu.Unlock()
	}
}

type decisionKey struct{}

// decision is what the handler and the upstream tell the middleware about
// one request; loaders report data concurrently.
type decision struct {
	mu        sync.Mutex
	keep      bool
	operation string
	oldest    time.Time
}

func (d *decision) noteData(fetched time.Time) {
	d.mu.Lock()
	if d.oldest.IsZero() || fetched.Before(d.oldest) {
		d.oldest = fetched
	}
	d.mu.Unlock()
}

func (d *decision) result() (string, time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.operation, d.oldest, d.keep
}

// recorder copies what is written, up to limit bytes, when record is set;
// with hold, it keeps the bytes from the caller until release, unless they
// pass limit.
type recorder struct {
	http.ResponseWriter
	limit      int64
	status     int
	buf        bytes.Buffer
	overflow   bool   // what was written is not an answer to keep: too large, or two statuses
	record     bool   // copy what is written; may be set by first
	hold       bool   // write the copy to the caller only at release
	first      func() // called before the first byte or header is written
	overflowed func() // called when the copy is given up
}

func (r *recorder) begin() {
	if r.first != nil {
		r.first()
		r.first = nil
	}
}

func (r *recorder) WriteHeader(status int) {
	r.begin()
	if r.status == 0 {
		r.status = status
	} else {
		r.giveUp() // a second status (a panic recovered after writing began): not an answer
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.begin()
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.record && !r.overflow {
		if int64(r.buf.Len()+len(b)) > r.limit {
			r.giveUp()
		} else {
			r.buf.Write(b)
			if r.hold {
				return len(b), nil
			}
		}
	}
	return r.ResponseWriter.Write(b)
}

// giveUp stops recording: what was held goes to the caller now.
func (r *recorder) giveUp() {
	if r.overflow {
		return
	}
	r.overflow = true
	// Those waiting are let go first: writing what was held may block on
	// a slow reader.
	if r.overflowed != nil {
		r.overflowed()
	}
	r.release()
	r.buf = bytes.Buffer{}
}

// release writes what was held.
func (r *recorder) release() {
	if r.hold {
		r.hold = false
		_, _ = r.ResponseWriter.Write(r.buf.Bytes())
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// noCache reports a Cache-Control request header with no-cache or no-store.
func noCache(h http.Header) bool {
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			switch strings.ToLower(strings.TrimSpace(d)) {
			case "no-cache", "no-store":
				return true
			}
		}
	}
	return false
}
