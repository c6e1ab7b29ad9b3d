package fastpathgen

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	"github.com/vektah/gqlparser/v2/ast"
)

const execFile = "../../../graph/generated/generated.go"

// gqlgensOutput is the committed executor as gqlgen writes it, before the
// swap, and the number of lists it routes.
func gqlgensOutput(t *testing.T) ([]byte, int) {
	t.Helper()
	routed, err := os.ReadFile(execFile)
	if err != nil {
		t.Fatal(err)
	}
	n := bytes.Count(routed, []byte(RoutedCall))
	if n == 0 {
		t.Fatal("the committed executor routes no list to marshalSlice: run go generate ./...")
	}
	if bytes.Contains(routed, []byte("MarshalSliceConcurrently(")) {
		t.Fatal("the committed executor still calls MarshalSliceConcurrently: run go generate ./...")
	}
	if bytes.Count(routed, []byte(LentAnswer)) != 1 {
		t.Fatal("the committed executor does not write its answer with marshalAnswer: run go generate ./...")
	}
	routed = bytes.ReplaceAll(routed, []byte(LentAnswer), []byte(FreshAnswer))
	return bytes.ReplaceAll(routed, []byte(RoutedCall), []byte(ConcurrentCall)), n
}

// Routing gqlgen's output gives the committed executor back, and routing
// is refused (so go generate fails) whenever gqlgen's output does not
// call MarshalSliceConcurrently exactly once per list of objects in its
// model, in the expected form.
func TestRouteSwapsOneLiteralOrFails(t *testing.T) {
	src, lists := gqlgensOutput(t)
	committed, _ := os.ReadFile(execFile)
	t.Run("gqlgen's output is routed to the committed executor", func(t *testing.T) {
		out, err := Route(src, lists)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, committed) {
			t.Error("routing gqlgen's output does not give the committed executor")
		}
	})
	for _, c := range []struct {
		name string
		src  []byte
		want int
	}{
		{"a release that renames MarshalSliceConcurrently fails", bytes.ReplaceAll(src, []byte("graphql.MarshalSliceConcurrently("), []byte("graphql.MarshalSliceInOrder(")), lists},
		{"a release that changes its arguments fails", bytes.ReplaceAll(src, []byte("MarshalSliceConcurrently(ctx, len(v),"), []byte("MarshalSliceConcurrently(ctx, v,")), lists},
		{"a model with one more list than the output fails", src, lists + 1},
		{"a model with one list less than the output fails", src, lists - 1},
		{"a model with no list fails", src, 0},
		{"a release that writes its answer otherwise fails", bytes.ReplaceAll(src, []byte("data.MarshalGQL(&buf)"), []byte("graphql.MarshalInto(data, &buf)")), lists},
		{"a release that writes two answers fails", append(append([]byte{}, src...), []byte("\n/*\n"+FreshAnswer+"\n*/\n")...), lists},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Route(c.src, c.want); err == nil {
				t.Error("routed")
			}
		})
	}
}

// The glue's schema facts come from gqlgen's model: a field with a schema
// directive is marked Middleware (graph/fastpath leaves it to the
// executor), a resolver or a method taking a context Concurrent, and only
// resolvers without arguments returning one user are references.
func TestGlueMarksWhatOnlyTheExecutorMayRun(t *testing.T) {
	redact := &codegen.Directive{Name: "redact", DirectiveDefinition: &ast.DirectiveDefinition{
		Name: "redact", Locations: []ast.DirectiveLocation{ast.LocationFieldDefinition},
	}}
	userDef := &ast.Definition{Kind: ast.Object, Name: "User"}
	user := &codegen.Object{Definition: userDef, Implements: []*ast.Definition{{Name: "Node"}}}
	edge := &codegen.Object{Definition: &ast.Definition{Kind: ast.Object, Name: "UserEdge"}}
	ref := func(list bool) *config.TypeReference {
		if list {
			return &config.TypeReference{Definition: userDef, GQL: ast.ListType(ast.NamedType("User", nil), nil)}
		}
		return &config.TypeReference{Definition: userDef, GQL: ast.NamedType("User", nil)}
	}
	field := func(o *codegen.Object, name string, f codegen.Field) *codegen.Field {
		f.FieldDefinition = &ast.FieldDefinition{Name: name}
		f.Object = o
		o.Fields = append(o.Fields, &f)
		return &f
	}
	field(user, "id", codegen.Field{})
	field(user, "email", codegen.Field{Directives: []*codegen.Directive{redact}})
	field(user, "createdBy", codegen.Field{IsResolver: true, TypeReference: ref(false)})
	field(user, "friends", codegen.Field{IsResolver: true, TypeReference: ref(true)})
	field(user, "manager", codegen.Field{IsResolver: true, TypeReference: ref(false), Args: []*codegen.FieldArgument{{}}})
	field(user, "status", codegen.Field{MethodHasContext: true})
	field(edge, "node", codegen.Field{TypeReference: ref(false)})

	g, err := New("fastpath.go", "User", "UserEdge").glue(&codegen.Data{Config: &config.Config{}, Objects: codegen.Objects{edge, user}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range g.Objects {
		for _, f := range o.Fields {
			got = append(got, o.Name+"."+f.Name+flags(f))
		}
	}
	want := "User.email middleware, User.createdBy concurrent reference, User.friends concurrent, User.manager concurrent, User.status concurrent"
	if strings.Join(got, ", ") != want {
		t.Errorf("fields the executor runs:\ngot  %s\nwant %s", strings.Join(got, ", "), want)
	}
	if g.Objects[0].Name != "User" || strings.Join(g.Objects[0].Implementors, " ") != "User Node" {
		t.Errorf("objects %+v, want User (implementing Node) first", g.Objects)
	}
	if len(g.References) != 1 || g.References[0].Name != "createdBy" {
		t.Errorf("references %v, want createdBy", g.References)
	}
}

func flags(f glueField) string {
	var s string
	if f.Middleware {
		s += " middleware"
	}
	if f.Concurrent {
		s += " concurrent"
	}
	if f.Reference {
		s += " reference"
	}
	return s
}
