// Package directonly is a gqlgen plugin that adds schema files which the
// server answers but its federation SDL leaves out. gqlgen's federation
// plugin prints every source but the built-in ones as `_service { sdl }`;
// this plugin hands its files to gqlgen as built-in sources, so they are
// part of the executable schema (and of introspection) and absent from the
// SDL a gateway composes.
package directonly

import (
	"fmt"
	"os"

	"github.com/99designs/gqlgen/plugin"
	"github.com/vektah/gqlparser/v2/ast"
)

// Plugin injects its files as built-in sources.
type Plugin struct {
	files []string
}

var _ plugin.EarlySourcesInjector = (*Plugin)(nil)

// New returns a plugin that injects files (paths relative to the working
// directory, which is where gqlgen.yml is).
func New(files ...string) *Plugin { return &Plugin{files: files} }

// Name is the plugin's name in gqlgen's errors.
func (p *Plugin) Name() string { return "directonly" }

// InjectSourcesEarly reads the files. They are injected before the user's
// schema is loaded; gqlparser applies type extensions after all sources are
// read, so a file may extend types of schema.graphqls.
func (p *Plugin) InjectSourcesEarly() ([]*ast.Source, error) {
	srcs := make([]*ast.Source, 0, len(p.files))
	for _, f := range p.files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading a direct-only schema file: %w", err)
		}
		srcs = append(srcs, &ast.Source{Name: f, Input: string(b), BuiltIn: true})
	}
	return srcs, nil
}
