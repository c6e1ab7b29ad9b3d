package httpapi

import (
	"net/http"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/usersgraph/usersgraph/graph/generated"
)

// specDirectives are the directives of the GraphQL specification, which
// every tool knows.
var specDirectives = map[string]bool{"deprecated": true, "specifiedBy": true, "oneOf": true}

// generatorDirectives are gqlgen's, declared in schema.graphqls for the
// generator, not for clients.
var generatorDirectives = map[string]bool{
	"entityResolver": true, "goModel": true, "goField": true, "goTag": true,
	"goExtraField": true, "goEnum": true, "concurrent": true,
}

// PublicSchema returns the SDL of the served schema as its clients see it, for code
// generators and reviews: the product's types with their descriptions,
// without federation's plumbing (the _entities and _service fields, their
// types, @link, @key and the generator's own directives). Gateways read
// the subgraph's SDL from _service instead.
func PublicSchema() string {
	return publicSDL(generated.NewExecutableSchema(generated.Config{}).Schema())
}

func publicSDL(s *ast.Schema) string {
	own := func(name string) bool {
		if specDirectives[name] {
			return true
		}
		d := s.Directives[name]
		return d != nil && !generatorDirectives[name] && d.Position != nil && d.Position.Src != nil && !d.Position.Src.BuiltIn &&
			!strings.HasPrefix(d.Position.Src.Name, "federation/")
	}
	keep := func(list ast.DirectiveList) ast.DirectiveList {
		var out ast.DirectiveList
		for _, d := range list {
			if own(d.Name) {
				out = append(out, d)
			}
		}
		return out
	}
	// Sources gqlgen is given as built-in but this server serves (Relay's
	// node and nodes, left out of the federation SDL only) are printed.
	served := func(pos *ast.Position) *ast.Position {
		if pos == nil || pos.Src == nil || !pos.Src.BuiltIn || pos.Src.Name == "prelude.graphql" ||
			strings.Contains(pos.Src.Name, "federation/") {
			return pos
		}
		src, p := *pos.Src, *pos
		src.BuiltIn = false
		p.Src = &src
		return &p
	}
	public := *s
	public.SchemaDirectives = nil
	public.Directives = map[string]*ast.DirectiveDefinition{}
	for name, d := range s.Directives {
		if own(name) {
			public.Directives[name] = d
		}
	}
	public.Types = make(map[string]*ast.Definition, len(s.Types))
	for name, t := range s.Types {
		c := *t
		c.Directives = keep(t.Directives)
		c.Position = served(t.Position)
		c.Fields = make(ast.FieldList, 0, len(t.Fields))
		for _, f := range t.Fields {
			fc := *f
			fc.Directives = keep(f.Directives)
			fc.Position = served(f.Position)
			c.Fields = append(c.Fields, &fc)
		}
		public.Types[name] = &c
		switch {
		case s.Query == t:
			public.Query = &c
		case s.Mutation == t:
			public.Mutation = &c
		case s.Subscription == t:
			public.Subscription = &c
		}
	}
	var b strings.Builder
	formatter.NewFormatter(&b, formatter.WithIndent("  ")).FormatSchema(&public)
	return b.String()
}

// SchemaHandler serves PublicSchema as a file, for code generators and
// reviews. It is introspection by other means: serve it only where
// introspection is on.
func SchemaHandler() http.Handler {
	sdl := PublicSchema()
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/graphql; charset=utf-8")
		_, _ = w.Write([]byte(sdl))
	})
}
