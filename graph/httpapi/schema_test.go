package httpapi_test

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/usersgraph/usersgraph/graph/httpapi"
)

// The public schema is a complete, valid schema on its own (so code
// generators can load it) with every product type and description, and
// none of federation's plumbing.
func TestThePublicSchemaIsTheProductsAlone(t *testing.T) {
	sdl := httpapi.PublicSchema()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: sdl})
	if err != nil {
		t.Fatalf("the public schema does not load on its own: %v\n%s", err, sdl)
	}
	for _, name := range []string{"User", "UserConnection", "UserEdge", "PageInfo", "Node", "UserOrder", "DateTime"} {
		if s.Types[name] == nil {
			t.Errorf("no type %s", name)
		}
	}
	for _, f := range []string{"users", "user", "node", "nodes"} {
		if s.Query.Fields.ForName(f) == nil {
			t.Errorf("no Query.%s", f)
		}
	}
	if s.Types["User"].Description == "" || s.Query.Fields.ForName("users").Description == "" {
		t.Error("descriptions are missing")
	}
	for _, plumbing := range []string{"_entities", "_service", "_Entity", "_Any", "_Service", "FieldSet", "@key", "@link", "@entityResolver", "federation__"} {
		if strings.Contains(sdl, plumbing) {
			t.Errorf("the public schema shows %s", plumbing)
		}
	}
}
