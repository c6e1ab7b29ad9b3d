package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestTheCorpusMeetsItsTargets runs the measurement once over the corpus:
// every document answered as the corpus says, within the targets.
func TestTheCorpusMeetsItsTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the whole corpus")
	}
	var out bytes.Buffer
	code := run("../../graph/httpapi/testdata/hostile", 1, &out, io.Discard)
	if !strings.Contains(out.String(), "| page-with-both-references | ") {
		t.Fatalf("no table:\n%s", out.String())
	}
	// Under -race and a shared machine the times are not the product's:
	// only the outcomes are checked here.
	for line := range strings.SplitSeq(out.String(), "\n") {
		if strings.Contains(line, "WRONG ANSWER") {
			t.Errorf("%s", line)
		}
	}
	if code == 2 {
		t.Fatal("the corpus could not be measured")
	}
}
