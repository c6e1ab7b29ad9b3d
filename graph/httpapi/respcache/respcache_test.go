package respcache

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"
)

func key(i int) Key { return Key{byte(i), byte(i >> 8)} }

func entry(n int, expires time.Time) *Entry {
	return &Entry{Status: 200, ContentType: "application/json", Body: bytes.Repeat([]byte("x"), n), Expires: expires}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestCache(maxBytes, maxEntry int64) (*Cache, *clock) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := New(maxBytes, maxEntry)
	c.now = clk.now
	return c, clk
}

func TestAnAnswerIsServedUntilItExpires(t *testing.T) {
	c, clk := newTestCache(1<<20, 1<<16)
	if !c.Add(key(1), entry(10, clk.t.Add(5*time.Second))) {
		t.Fatal("a small fresh answer was not kept")
	}
	clk.t = clk.t.Add(4999 * time.Millisecond)
	if e, ok := c.Get(key(1)); !ok || len(e.Body) != 10 {
		t.Fatalf("before expiry: got %v, %v", e, ok)
	}
	if _, ok := c.Get(key(2)); ok {
		t.Fatal("an unknown key was found")
	}
	clk.t = clk.t.Add(time.Millisecond)
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("served at its expiry time")
	}
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Fatalf("an expired answer stayed: %d entries, %d bytes", c.Len(), c.Bytes())
	}
}

func TestAnswersTooLargeOrAlreadyExpiredAreNotKept(t *testing.T) {
	c, clk := newTestCache(1<<20, 1000)
	if c.Add(key(1), entry(1000, clk.t.Add(time.Second))) {
		t.Error("an answer over the per-answer bound was kept")
	}
	if c.Add(key(2), entry(10, clk.t)) {
		t.Error("an answer expiring now was kept")
	}
	if c.Len() != 0 {
		t.Errorf("%d entries held", c.Len())
	}
}

func TestTheLeastRecentlyUsedAnswersGoFirst(t *testing.T) {
	one := entry(100, time.Time{}).size()
	c, clk := newTestCache(3*one, one)
	exp := clk.t.Add(time.Minute)
	for i := 1; i <= 3; i++ {
		c.Add(key(i), entry(100, exp))
	}
	c.Get(key(1)) // 2 is now the least recently used
	c.Add(key(4), entry(100, exp))
	for i, want := range map[int]bool{1: true, 2: false, 3: true, 4: true} {
		if _, ok := c.Get(key(i)); ok != want {
			t.Errorf("key %d held: %v, want %v", i, ok, want)
		}
	}
	if c.Bytes() != 3*one {
		t.Errorf("bytes %d, want %d", c.Bytes(), 3*one)
	}
}

func TestReplacingAnAnswerKeepsTheBudgetRight(t *testing.T) {
	c, clk := newTestCache(1<<20, 1<<16)
	exp := clk.t.Add(time.Minute)
	c.Add(key(1), entry(100, exp))
	c.Add(key(1), entry(300, exp))
	if c.Len() != 1 || c.Bytes() != entry(300, exp).size() {
		t.Fatalf("%d entries, %d bytes after a replacement", c.Len(), c.Bytes())
	}
	if e, _ := c.Get(key(1)); len(e.Body) != 300 {
		t.Fatalf("the replaced answer is served: %d bytes", len(e.Body))
	}
}

func TestConcurrentUseStaysWithinTheBudget(t *testing.T) {
	c := New(50_000, 5_000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := key((g*2000 + i) % 300)
				if _, ok := c.Get(k); !ok {
					c.Add(k, &Entry{Body: []byte(fmt.Sprint(i)), Expires: time.Now().Add(time.Minute)})
				}
			}
		})
	}
	wg.Wait()
	if c.Bytes() > 50_000 {
		t.Fatalf("%d bytes held, over the 50,000 budget", c.Bytes())
	}
	if c.Len() == 0 {
		t.Fatal("nothing held")
	}
}

// The doorkeeper admits a request seen before within the TTL: one repeated
// less often would find its answer expired anyway.
func TestARequestIsWorthKeepingWhenRepeatedWithinTheTTL(t *testing.T) {
	c, clk := newTestCache(1<<20, 1<<16)
	const ttl = 5 * time.Second
	if c.SeenWithin(key(1), ttl) {
		t.Fatal("a request never seen counts as seen")
	}
	clk.t = clk.t.Add(4 * time.Second)
	if !c.SeenWithin(key(1), ttl) {
		t.Fatal("a request repeated after 4 s of a 5 s TTL is not worth keeping")
	}
	clk.t = clk.t.Add(6 * time.Second)
	if c.SeenWithin(key(1), ttl) {
		t.Fatal("a request repeated after 6 s of a 5 s TTL is worth keeping")
	}
	if c.SeenWithin(key(2), ttl) {
		t.Fatal("another key counts as seen")
	}
	clk.t = clk.t.Add(time.Second)
	if c.SeenWithin(key(1), ttl) {
		t.Fatal("a key forgotten for a newer one in its slot counts as seen")
	}
}

// Adding drops the expired answers at the cold end: they hold memory for
// nothing.
func TestAddingDropsExpiredAnswers(t *testing.T) {
	c, clk := newTestCache(1<<20, 1<<16)
	for i := range 10 {
		c.Add(key(i), entry(100, clk.t.Add(time.Second)))
	}
	clk.t = clk.t.Add(2 * time.Second)
	c.Add(key(100), entry(100, clk.t.Add(time.Second)))
	if c.Len() != 1 {
		t.Fatalf("%d answers held after ten expired and one was added, want 1", c.Len())
	}
}
