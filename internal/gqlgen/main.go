// Command gqlgen generates the executor: gqlgen's own generation, run with
// the fast path plugin (internal/gqlgen/fastpathgen), from gqlgen.yml in
// the working directory. go generate runs it from the repository root:
//
//	go run ./internal/gqlgen
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen/config"

	"github.com/usersgraph/usersgraph/internal/gqlgen/directonly"
	"github.com/usersgraph/usersgraph/internal/gqlgen/fastpathgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgen:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		return err
	}
	fast := fastpathgen.New(filepath.Join(cfg.Exec.Dir(), "fastpath.go"), "User", "UserEdge")
	// node.graphqls: Relay's node and nodes, served but left out of the
	// federation SDL (see the file).
	if err := api.Generate(cfg, api.AddPlugin(directonly.New("node.graphqls")), api.AddPlugin(fast)); err != nil {
		return err
	}
	return fast.RouteLists(cfg.Exec.Filename)
}
