// Command gqlgenpost rewrites graph/generated/generated.go after gqlgen
// and writes graph/generated/objectfields.go (see package gqlgenpost). Run
// by go generate in graph/, right after gqlgen:
//
//	go run ./internal/gqlgenpost/cmd graph/generated
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/usersgraph/usersgraph/internal/gqlgenpost"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gqlgenpost DIR (the generated package's directory)")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgenpost:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	path := filepath.Join(dir, "generated.go")
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, objects, err := gqlgenpost.Rewrite(src)
	if err != nil {
		return err
	}
	table, err := gqlgenpost.Table(filepath.Base(dir), objects)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "objectfields.go"), table, 0o644)
}
