package fastpath

import (
	"bytes"
	"context"
	"sync"
)

// Answer buffers: gqlgen's executor writes each operation's data into a
// fresh bytes.Buffer that grows by doubling, about twice the answer's size
// in garbage per request (15% of the bytes the facade allocated under a
// soak of distinct queries). With LendAnswerBuffer the transport lends the
// executor a pooled buffer for one request and takes it back once the
// answer is written.

// maxPooledAnswer is the largest buffer put back: a rare huge answer is not
// kept alive by the pool.
const maxPooledAnswer = 1 << 20

var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

type answerKey struct{}

// answerLoan is one request's buffer; taken once.
type answerLoan struct {
	mu    sync.Mutex
	buf   *bytes.Buffer
	taken bool
	done  bool
}

// LendAnswerBuffer returns a context in which AnswerBuffer lends a pooled
// buffer, and the function that puts it back. Call that function only once
// nothing refers to the answer's bytes any more: after they were written
// out, or when they are dropped.
func LendAnswerBuffer(ctx context.Context) (context.Context, func()) {
	l := &answerLoan{}
	return context.WithValue(ctx, answerKey{}, l), func() {
		l.mu.Lock()
		buf := l.buf
		l.buf, l.done = nil, true
		l.mu.Unlock()
		if buf != nil && buf.Cap() <= maxPooledAnswer {
			buf.Reset()
			answerBuffers.Put(buf)
		}
	}
}

// AnswerBuffer returns the empty buffer lent to the request of ctx, or nil
// when nothing lends one (no LendAnswerBuffer, or its buffer is taken or
// already given back).
func AnswerBuffer(ctx context.Context) *bytes.Buffer {
	l, ok := ctx.Value(answerKey{}).(*answerLoan)
	if !ok {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.taken || l.done {
		return nil
	}
	l.taken = true
	l.buf = answerBuffers.Get().(*bytes.Buffer)
	return l.buf
}
