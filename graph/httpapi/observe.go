package httpapi

import (
	"context"
	"time"
)

// Operation is one GraphQL request, as an Observer sees it.
type Operation struct {
	// Name is the operation's name as the client wrote it; "" when
	// anonymous or when the request never got that far. Clients choose
	// it: an observer that makes labels of it must bound their number.
	Name string
	// Outcome is "ok", "canceled" (the caller hung up before its answer,
	// which was not written: not a failure), or the extensions.code of the
	// answer's first error.
	Outcome string
	Elapsed time.Duration
}

// Observer is told about every GraphQL request and every batch of user
// lookups, for metrics. Its methods are called concurrently, on the
// request path: they must be quick.
type Observer interface {
	Operation(ctx context.Context, op Operation)
	LoaderBatch(size int)
}

type nopObserver struct{}

func (nopObserver) Operation(context.Context, Operation) {}
func (nopObserver) LoaderBatch(int)                      {}
