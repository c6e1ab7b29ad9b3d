package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestRecorderCountsACallWhoseAnswerArrivedBeforeItsHandlerReturned: the
// facade can hold a whole upstream answer while the recorder's handler is
// still finishing (on a busy machine this once made the bench count no
// round trip for a request that made one). Here the upstream streams its
// answer and only then lingers, so the caller has every byte it needs
// long before the proxy's handler returns; the round trip must still be
// counted.
func TestRecorderCountsACallWhoseAnswerArrivedBeforeItsHandlerReturned(t *testing.T) {
	const answer = `{"items":[]}`
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(answer))
		w.(http.Flusher).Flush()
		time.Sleep(300 * time.Millisecond)
	}))
	defer upstream.Close()
	rec, err := newRecorder(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()

	t0 := time.Now()
	res, err := http.Get(rec.URL + "/v2.0/users")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got := make([]byte, len(answer))
	if _, err := io.ReadFull(res.Body, got); err != nil || string(got) != answer {
		t.Fatalf("read %q, %v", got, err)
	}
	t1 := time.Now()
	depth, n, _ := rec.rounds(t0, t1)
	if depth != 1 || n != 1 {
		t.Errorf("rounds: depth %d, %d requests; want 1 and 1", depth, n)
	}
}
