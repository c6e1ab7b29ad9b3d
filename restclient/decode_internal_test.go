package restclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// A decoded user holds its own strings, not the answer it came in: keeping
// one user of a page must not keep the page's whole body (roles, projects
// and every other user) in memory, as the decoder's zero-copy strings
// would.
func TestADecodedPageDoesNotHoldItsBody(t *testing.T) {
	const pages = 200
	filler := strings.Repeat("x", 20000) // fields the facade never reads
	body := func(i int) []byte {
		if i%2 == 1 { // a user with nothing but its _id
			return []byte(fmt.Sprintf(`{"items":[{"_id":"5f8c1a2b3c4d5e6f7a8b%04d","projects":%q}],"total":1,"nextCursor":"ghijklmnopqrstuvwxyz%04d","previousCursor":"ghijklmnopqrstuvwxyz%04d"}`, i, filler, i, i))
		}
		return []byte(fmt.Sprintf(`{"items":[{"_id":"5f8c1a2b3c4d5e6f7a8b%04d","id":"u%d@example.com","name":"User %d","createdBy":"5f8c1a2b3c4d5e6f7a8b0001","projects":%q}],"total":1,"nextCursor":"ghijklmnopqrstuvwxyz%04d","previousCursor":"ghijklmnopqrstuvwxyz%04d"}`, i, i, i, filler, i, i))
	}
	var warm wirePage // the decoder builds its tables on first use
	if err := gojson.Unmarshal(body(0), &warm); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	kept := make([]*UserPage, pages) // as the answer cache keeps them
	for i := range kept {
		var w wirePage
		if err := gojson.Unmarshal(body(i), &w); err != nil {
			t.Fatal(err)
		}
		p, err := w.page()
		if err != nil {
			t.Fatal(err)
		}
		if p.NextCursor == "" || p.PreviousCursor == "" {
			t.Fatalf("cursors not decoded: %+v", p)
		}
		kept[i] = p
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perPage := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / pages
	runtime.KeepAlive(kept)
	if perPage > 2000 {
		t.Errorf("each kept page of one user holds %d bytes of heap: its body (over 20,000 bytes) is kept with it", perPage)
	}
}

// Bodies are read into pooled buffers: what a decoded page holds must not
// change when the next body is read into the same buffer.
func TestAPageOutlivesTheBufferItWasReadInto(t *testing.T) {
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey("k"), restclienttest.WithUsers(restclienttest.DemoUsers(300, 1)))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	c, err := New(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithCredential(context.Background(), NewCredential(APIKey, "k"))
	first, _, err := c.ListUsers(ctx, ListUsersOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%+v", *first)
	for i := range 20 { // other bodies through the same pool
		if _, _, err := c.ListUsers(ctx, ListUsersOptions{Limit: 100, Skip: 100 + i}); err != nil {
			t.Fatal(err)
		}
	}
	if got := fmt.Sprintf("%+v", *first); got != want {
		t.Fatalf("a decoded page changed after later reads:\nwas %.300s\nnow %.300s", want, got)
	}
}

// readBody gives back every byte of a body up to limit+1, whether its
// length is announced or not, and on either side of what it pools.
func TestReadBodyReadsEveryByteUpToTheLimit(t *testing.T) {
	const limit = 600 << 10
	pattern := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + i%26)
		}
		return b
	}
	cases := []struct {
		name      string
		size      int
		announced bool
		want      int
	}{
		{"an announced page", 30 << 10, true, 30 << 10},
		{"an unannounced page", 30 << 10, false, 30 << 10},
		{"an unannounced body exactly what is pooled", maxPooledUnannounced, false, maxPooledUnannounced},
		{"an unannounced body longer than what is pooled", maxPooledUnannounced + 12345, false, maxPooledUnannounced + 12345},
		{"an unannounced body over the limit, cut at limit+1", limit + 5000, false, limit + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := pattern(tc.size)
			r := &http.Response{Body: io.NopCloser(bytes.NewReader(src)), ContentLength: -1}
			if tc.announced {
				r.ContentLength = int64(tc.size)
			}
			body, giveBack, err := readBody(r, limit)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, src[:tc.want]) {
				t.Fatalf("got %d bytes, want the first %d of the body", len(body), tc.want)
			}
			giveBack()
		})
	}
}
