package restclient

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	gojson "github.com/goccy/go-json"
)

// A decoded user holds its own strings, not the answer it came in: keeping
// one user of a page must not keep the page's whole body (roles, projects
// and every other user) in memory, as the decoder's zero-copy strings
// would.
func TestADecodedUserDoesNotHoldItsPagesBody(t *testing.T) {
	const pages = 200
	filler := strings.Repeat("x", 20000) // fields the facade never reads
	body := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"items":[{"_id":"5f8c1a2b3c4d5e6f7a8b%04d","id":"u%d@example.com","name":"User %d","createdBy":"5f8c1a2b3c4d5e6f7a8b0001","projects":%q}],"total":1}`, i, i, i, filler))
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	kept := make([]User, pages)
	for i := range kept {
		var w wirePage
		if err := gojson.Unmarshal(body(i), &w); err != nil {
			t.Fatal(err)
		}
		p, err := w.page()
		if err != nil {
			t.Fatal(err)
		}
		kept[i] = p.Items[0]
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perUser := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / pages
	runtime.KeepAlive(kept)
	if perUser > 2000 {
		t.Errorf("each kept user holds %d bytes of heap: its page's body (over 20,000 bytes) is kept with it", perUser)
	}
}
