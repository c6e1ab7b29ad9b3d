package restclient

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// usersBody is a page as Cognigy sends it, of the users numbered ids out
// of a directory whose users each have a distinct name and e-mail.
func usersBody(ids []int) []byte {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"_id":"5cfbd4ef3f85ba6d9abc%04x","id":"user.%d@example.com","name":"Zoë Müller %d","lastActive":1700000000123,"createdAt":1694518620,"lastChanged":1694518999,"createdBy":"5cfbd4ef3f85ba6d9abc%04x","lastChangedBy":"5cfbd4ef3f85ba6d9abc0001"}`, id, id, id, id%7)
	}
	fmt.Fprintf(&b, `],"total":2000,"nextCursor":"abcdefabcdefabcdefabcdef%04x","previousCursor":null}`, len(ids))
	return []byte(b.String())
}

func decodePage(body []byte) (*UserPage, error) {
	var w wirePage
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, err
	}
	return w.page()
}

// distinctPages are n pages of size users each, drawn from a directory of
// 2,000: many queries, each user in many of them.
func distinctPages(n, size int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	pages := make([][]byte, n)
	for i := range pages {
		ids := make([]int, size)
		for j := range ids {
			ids[j] = rng.IntN(2000)
		}
		pages[i] = usersBody(ids)
	}
	return pages
}

func testCache(maxBytes int64) *answerCache {
	now := time.Unix(1_700_000_000, 0)
	return newAnswerCache(time.Minute, 1<<20, maxBytes, func() time.Time { return now }, nopObserver{})
}

func (c *answerCache) put(t testing.TB, key string, body []byte) {
	p, err := decodePage(body)
	if err != nil {
		t.Fatal(err)
	}
	c.add(key, result{v: p, resp: &Response{StatusCode: 200}, fetched: c.now()})
}

func TestTheAnswerCacheIsBoundedInBytes(t *testing.T) {
	t.Run("its charges never pass the bound, the oldest entries going first", func(t *testing.T) {
		c := testCache(256 << 10)
		for i, body := range distinctPages(500, 25) {
			c.put(t, fmt.Sprint("page ", i), body)
			if c.charged() > c.maxBytes {
				t.Fatalf("after %d pages: %d bytes charged, bound %d", i+1, c.charged(), c.maxBytes)
			}
		}
		if _, ok := c.lookup("page 0"); ok {
			t.Fatal("the oldest page is still there")
		}
		if _, ok := c.lookup("page 499"); !ok {
			t.Fatal("the newest page was pushed out")
		}
	})
	t.Run("a page of users already held is charged only for its structs", func(t *testing.T) {
		c := testCache(1 << 20)
		body := usersBody([]int{1, 2, 3})
		c.put(t, "first", body)
		first := c.charged()
		c.put(t, "second", body)
		p1, _ := c.lookup("first")
		p2, _ := c.lookup("second")
		if second := c.charged() - first; second >= first {
			t.Fatalf("the repeat cost %d bytes, the first %d", second, first)
		}
		u1, u2 := p1.v.(*UserPage).Items[0], p2.v.(*UserPage).Items[0]
		if u1 != u2 || unsafeStringData(u1.Name) != unsafeStringData(u2.Name) {
			t.Fatal("the two pages hold two copies of one user's strings")
		}
	})
	t.Run("a user who changed is not served from the older copy", func(t *testing.T) {
		c := testCache(1 << 20)
		c.put(t, "before", usersBody([]int{1}))
		changed := strings.Replace(string(usersBody([]int{1})), "Zoë Müller 1", "Zoë Schmidt", 1)
		c.put(t, "after", []byte(changed))
		p, _ := c.lookup("after")
		if name := p.v.(*UserPage).Items[0].Name; name != "Zoë Schmidt" {
			t.Fatalf("name %q", name)
		}
	})
	t.Run("what it charges is close to what the heap holds", func(t *testing.T) {
		if testing.Short() {
			t.Skip("measures the heap")
		}
		pages := distinctPages(2000, 25)
		c := testCache(1 << 30)
		before := heapInUse()
		for i, body := range pages {
			c.put(t, fmt.Sprintf("%064d", i), body)
		}
		held := heapInUse() - before
		runtime.KeepAlive(c)
		runtime.KeepAlive(pages)
		ratio := float64(c.charged()) / float64(held)
		t.Logf("charged %d bytes for %d bytes of heap (%.2f)", c.charged(), held, ratio)
		if ratio < 0.7 || ratio > 1.5 {
			t.Fatalf("charged %d bytes for %d bytes of heap: off by more than the size classes explain", c.charged(), held)
		}
	})
}

func heapInUse() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func unsafeStringData(s string) *byte { return unsafe.StringData(s) }

// charged is what the cache counts against its bound.
func (c *answerCache) charged() int64 { return c.bytes + c.users.bytes }

// Adding an answer drops the expired ones at the cold end: they hold
// memory for nothing until pushed out.
func TestAddingDropsExpiredAnswers(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newAnswerCache(time.Minute, 1<<20, 64<<20, func() time.Time { return now }, nopObserver{})
	pages := distinctPages(20, 25)
	for i, p := range pages[:19] {
		c.put(t, fmt.Sprint("k", i), p)
	}
	held := c.bytes
	now = now.Add(2 * time.Minute)
	c.put(t, "fresh", pages[19])
	if c.lru.Len() != 1 || c.bytes >= held/10 {
		t.Fatalf("after 19 answers expired and one was added: %d answers, %d bytes (%d before)", c.lru.Len(), c.bytes, held)
	}
}
