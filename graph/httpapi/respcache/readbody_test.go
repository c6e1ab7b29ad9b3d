package respcache

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestReadBodyKeepsWhatWasSent: the body is read in one allocation of its
// announced length, yet a body that is longer than announced (a request
// not made by net/http's server) is read whole, one over the limit is
// reported as such, and a body cut short returns its error with the
// bytes read.
func TestReadBodyKeepsWhatWasSent(t *testing.T) {
	const max = 16
	req := func(body string, announced int64) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/graphql", io.NopCloser(strings.NewReader(body)))
		r.ContentLength = announced
		return r
	}
	for _, c := range []struct {
		name      string
		body      string
		announced int64
		want      string
		tooLarge  bool
	}{
		{"as announced", "0123456789", 10, "0123456789", false},
		{"length unknown", "0123456789", -1, "0123456789", false},
		{"longer than announced", "0123456789", 4, "0123456789", false},
		{"longer than announced, over the limit", strings.Repeat("x", 40), 4, strings.Repeat("x", max+1), true},
		{"announced over the limit", strings.Repeat("x", 40), 40, strings.Repeat("x", max+1), true},
		{"empty", "", 0, "", false},
	} {
		b, err := readBody(req(c.body, c.announced), max)
		if err != nil || string(b) != c.want || (int64(len(b)) > max) != c.tooLarge {
			t.Errorf("%s: %q, %v; want %q (over the limit: %v)", c.name, b, err, c.want, c.tooLarge)
		}
	}

	cut := errors.New("connection reset")
	r, _ := http.NewRequest(http.MethodPost, "/graphql", io.NopCloser(io.MultiReader(strings.NewReader("0123"), &failing{cut})))
	r.ContentLength = 10
	if b, err := readBody(r, max); !errors.Is(err, cut) || !bytes.Equal(b, []byte("0123")) {
		t.Errorf("cut short: %q, %v; want the 4 bytes read and the error", b, err)
	}
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

// TestReadBodyHoldsNoMemoryForBytesNotSent: a client that announces a
// large body and sends ten bytes does not make the server allocate what
// it announced.
func TestReadBodyHoldsNoMemoryForBytesNotSent(t *testing.T) {
	const max = 1 << 20
	r, _ := http.NewRequest(http.MethodPost, "/graphql", io.NopCloser(strings.NewReader("0123456789")))
	r.ContentLength = max
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b, err := readBody(r, max)
	runtime.ReadMemStats(&m1)
	if string(b) != "0123456789" || err != nil {
		t.Errorf("read %q, %v", b, err)
	}
	if got := m1.TotalAlloc - m0.TotalAlloc; got > 256<<10 {
		t.Errorf("allocated %d bytes for a 10-byte body announced as %d", got, max)
	}
}

// TestAnOverflowingLeaderLetsItsWaitersGoBeforeWriting: when the answer
// held for those waiting turns out too large to share, they are let go
// (to execute on their own) before the held bytes are written to the
// leader's own caller, whose reading may be slow.
func TestAnOverflowingLeaderLetsItsWaitersGoBeforeWriting(t *testing.T) {
	var events []string
	w := &loggingWriter{ResponseWriter: httptest.NewRecorder(), events: &events}
	rec := &recorder{ResponseWriter: w, limit: 4, record: true, hold: true,
		overflowed: func() { events = append(events, "waiters let go") }}
	_, _ = rec.Write([]byte("abc"))   // held
	_, _ = rec.Write([]byte("defgh")) // over the limit
	want := []string{"waiters let go", "write abc", "write defgh"}
	if !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
}

type loggingWriter struct {
	http.ResponseWriter
	events *[]string
}

func (w *loggingWriter) Write(b []byte) (int, error) {
	*w.events = append(*w.events, "write "+string(b))
	return w.ResponseWriter.Write(b)
}
