package fastpath

import (
	"context"
	"testing"
)

func TestAnAnswerBufferIsLentOncePerRequest(t *testing.T) {
	if AnswerBuffer(context.Background()) != nil {
		t.Fatal("a buffer was lent without LendAnswerBuffer")
	}
	ctx, giveBack := LendAnswerBuffer(context.Background())
	buf := AnswerBuffer(ctx)
	if buf == nil || buf.Len() != 0 {
		t.Fatalf("lent %v, want an empty buffer", buf)
	}
	if AnswerBuffer(ctx) != nil {
		t.Fatal("a second operation of the same request got the lent buffer too")
	}
	buf.WriteString(`{"users":[]}`)
	giveBack()
	giveBack() // twice is harmless
	if AnswerBuffer(ctx) != nil {
		t.Fatal("a buffer was lent after it was given back")
	}
	ctx2, giveBack2 := LendAnswerBuffer(context.Background())
	defer giveBack2()
	if b := AnswerBuffer(ctx2); b == nil || b.Len() != 0 {
		t.Fatalf("the next request was lent %q, want an empty buffer", b)
	}
}
