package playground

import (
	"runtime"
	"testing"
)

// The assets are served from the binary's read-only data: listing them at
// start copies none of their 7 MB to the heap, so a server whose
// playground nobody opens does not pay for it in memory.
func TestListingTheAssetsCopiesNothing(t *testing.T) {
	var total int64
	for _, f := range listAssets().files {
		total += f.size
	}
	if total < 1<<20 {
		t.Fatalf("the embedded assets add up to %d bytes; dist/ looks unbuilt", total)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	a := listAssets()
	runtime.ReadMemStats(&after)
	if len(a.files) == 0 {
		t.Fatal("no assets listed")
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Errorf("listing %d assets (%d bytes) allocated %d bytes; the contents were copied", len(a.files), total, got)
	}
}
