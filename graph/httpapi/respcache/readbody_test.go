package respcache

import (
	"bytes"
	"errors"
	"io"
	"net/http"
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
