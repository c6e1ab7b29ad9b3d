package gqlgenpost

import (
	"bytes"
	"os"
	"slices"
	"testing"
)

// The committed executor is the rewritten one, and its table is current:
// running the step again changes nothing. (After `gqlgen generate`, run
// `go generate ./graph/`, which runs both.)
func TestTheCommittedExecutorIsRewrittenAndItsTableCurrent(t *testing.T) {
	src, err := os.ReadFile("../../graph/generated/generated.go")
	if err != nil {
		t.Fatal(err)
	}
	out, objects, err := Rewrite(src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, src) {
		t.Error("graph/generated/generated.go calls graphql.MarshalSliceConcurrently: run go generate ./graph/")
	}
	table, err := Table("generated", objects)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../graph/generated/objectfields.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(table, committed) {
		t.Errorf("graph/generated/objectfields.go is stale: run go generate ./graph/; want\n%s", table)
	}
}

const sample = `package generated

var thingImplementors = []string{"Thing", "Named"}

func (ec *executionContext) _Thing(ctx context.Context, sel ast.SelectionSet, obj *model.Thing) graphql.Marshaler {
	fields := graphql.CollectFields(ec.OperationContext, sel, thingImplementors)
	for i, field := range fields {
		switch field.Name {
		case "id":
			out.Values[i] = ec._Thing_id(ctx, field, obj)
		case "owner":
			field := field
			out.ResolveConcurrently(ec.OperationContext, &deferred, i,
				func(ctx context.Context) graphql.Marshaler { return nil })
		case "name":
			out.Values[i] = ec._Thing_name(ctx, field, obj)
		}
	}
}

func (ec *executionContext) marshalNThing2ᚕ(ctx context.Context, sel ast.SelectionSet, v []*model.Thing) graphql.Marshaler {
	ret := graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		return nil
	})
	return ret
}
`

func TestRewrite(t *testing.T) {
	out, objects, err := Rewrite([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("marshalSlice(ec, ctx, sel, v, 0, false,")) || bytes.Contains(out, []byte("MarshalSliceConcurrently")) {
		t.Errorf("not rewritten:\n%s", out)
	}
	if len(objects) != 1 || objects[0].Name != "Thing" || !slices.Equal(objects[0].Implementors, []string{"Thing", "Named"}) || !slices.Equal(objects[0].Concurrent, []string{"owner"}) {
		t.Errorf("objects %+v", objects)
	}
	again, _, err := Rewrite(out)
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("not idempotent: %v", err)
	}
	// A call in another form is refused rather than left concurrent silently.
	if _, _, err := Rewrite([]byte("x := graphql.MarshalSliceConcurrently(ctx, n, 0, false, f)")); err == nil {
		t.Error("an unexpected call form was accepted")
	}
}
