package deploy

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// The repository root, where the Dockerfile and .dockerignore are.
const repoRoot = ".."

// parseDockerfile parses the Dockerfile as BuildKit does, failing on its
// parse warnings and on the lint warnings of the instruction parser.
func parseDockerfile(t tb, src string) []instructions.Stage {
	t.Helper()
	res, err := parser.Parse(strings.NewReader(src))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		t.Errorf("Dockerfile lint %s: %s", rule, msg)
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return stages
}

// imageFacts is what the Dockerfile says about the image it builds.
type imageFacts struct {
	stages     []instructions.Stage
	final      instructions.Stage
	user       string            // last USER of the final stage
	env        map[string]string // ENV of the final stage
	expose     []string
	health     []string // HEALTHCHECK test, e.g. CMD /usersgraph -healthcheck
	entrypoint *instructions.EntrypointCommand
	copies     []*instructions.CopyCommand // COPYs of the final stage
}

func dockerfileFacts(t tb, src string) imageFacts {
	t.Helper()
	f := imageFacts{stages: parseDockerfile(t, src), env: map[string]string{}}
	if len(f.stages) < 2 {
		t.Fatalf("Dockerfile: %d stage(s), want a build stage and a final one", len(f.stages))
	}
	f.final = f.stages[len(f.stages)-1]
	for _, c := range f.final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			f.user = c.User
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				f.env[kv.Key] = kv.Value
			}
		case *instructions.ExposeCommand:
			f.expose = append(f.expose, c.Ports...)
		case *instructions.HealthCheckCommand:
			f.health = c.Health.Test
		case *instructions.EntrypointCommand:
			f.entrypoint = c
		case *instructions.CopyCommand:
			f.copies = append(f.copies, c)
		case *instructions.RunCommand:
			t.Errorf("Dockerfile: RUN in the final stage %q: it has no shell", f.final.BaseName)
		}
	}
	return f
}

func readDockerfile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDockerfile(t *testing.T) {
	checkDockerfile(t, readDockerfile(t))
}

// checkDockerfile asserts what the image must be.
func checkDockerfile(t tb, src string) {
	f := dockerfileFacts(t, src)

	// Final stage: distroless, as a non-root user.
	base := f.final.BaseName
	if !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static-*", base)
	}
	nonrootBase := strings.HasSuffix(base, ":nonroot") || strings.HasSuffix(base, ":debug-nonroot")
	switch u := strings.SplitN(f.user, ":", 2)[0]; {
	case u == "" && !nonrootBase:
		t.Errorf("final stage FROM %s sets no USER: it would run as root", base)
	case u == "0" || u == "root":
		t.Errorf("final stage USER %s", f.user)
	case u != "":
		if n, err := strconv.Atoi(u); err != nil || n <= 0 {
			t.Errorf("final stage USER %q: use a numeric non-zero uid, which runAsNonRoot can verify", f.user)
		}
	}

	// Entrypoint: the binary, in exec form (there is no shell).
	if f.entrypoint == nil || f.entrypoint.PrependShell || len(f.entrypoint.CmdLine) == 0 {
		t.Fatal(`final stage needs ENTRYPOINT ["/path/to/binary"] in exec form`)
	}
	bin := f.entrypoint.CmdLine[0]
	copied := false
	for _, c := range f.copies {
		if c.From != "" && (c.DestPath == bin || strings.TrimSuffix(c.DestPath, "/")+"/"+filepath.Base(bin) == bin) {
			copied = true
		}
	}
	if !copied {
		t.Errorf("ENTRYPOINT %s is not copied from a build stage", bin)
	}

	// HEALTHCHECK: exec form (CMD-SHELL needs /bin/sh) running the binary's
	// own probe.
	if want := []string{"CMD", bin, "-healthcheck"}; !slices.Equal(f.health, want) {
		t.Errorf("HEALTHCHECK test %q, want %q", f.health, want)
	}

	// EXPOSE the port LISTEN_ADDR listens on.
	if !slices.Contains(f.expose, "8080") && !slices.Contains(f.expose, "8080/tcp") {
		t.Errorf("EXPOSE %v, want 8080", f.expose)
	}
	if _, p, err := net.SplitHostPort(f.env["LISTEN_ADDR"]); err != nil || p != "8080" {
		t.Errorf("final stage ENV LISTEN_ADDR=%q, want :8080", f.env["LISTEN_ADDR"])
	}

	// Build stage: modules downloaded in their own layer, then a static,
	// trimmed build of ./cmd/usersgraph.
	checkBuildStage(t, f.stages[:len(f.stages)-1])
}

var goBuild = regexp.MustCompile(`\bgo\s+build\b`)

func checkBuildStage(t tb, stages []instructions.Stage) {
	t.Helper()
	var build *instructions.Stage
	var buildRun *instructions.RunCommand
	cgoFromEnv := ""
	for i := range stages {
		env := ""
		for _, c := range stages[i].Commands {
			switch c := c.(type) {
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					if kv.Key == "CGO_ENABLED" {
						env = kv.Value
					}
				}
			case *instructions.RunCommand:
				if goBuild.MatchString(strings.Join(c.CmdLine, " ")) {
					build, buildRun, cgoFromEnv = &stages[i], c, env
				}
			}
		}
	}
	if build == nil {
		t.Fatal("no stage runs go build")
	}
	if !strings.HasPrefix(build.BaseName, "golang:1.26") {
		t.Errorf("build stage FROM %s, want golang:1.26 (go.mod's Go)", build.BaseName)
	}
	line := strings.Join(buildRun.CmdLine, " ")
	cgo := cgoFromEnv
	if mm := regexp.MustCompile(`\bCGO_ENABLED=(\S+)`).FindStringSubmatch(line); mm != nil {
		cgo = mm[1]
	}
	if cgo != "0" {
		t.Errorf("go build runs with CGO_ENABLED=%q, want 0 (the final image has no libc): %s", cgo, line)
	}
	for _, want := range []string{"-trimpath", "./cmd/usersgraph"} {
		if !slices.Contains(strings.Fields(line), want) {
			t.Errorf("go build without %s: %s", want, line)
		}
	}
	if !regexp.MustCompile(`-ldflags=["']?-s -w["']?`).MatchString(line) {
		t.Errorf(`go build without -ldflags="-s -w": %s`, line)
	}

	// Layer order: COPY go.mod go.sum, RUN go mod download, then COPY . .
	step := 0
	for _, c := range build.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			srcs := c.SourcePaths
			if step == 0 && slices.Contains(srcs, "go.mod") && slices.Contains(srcs, "go.sum") && !slices.Contains(srcs, ".") {
				step = 1
			} else if slices.Contains(srcs, ".") && step < 2 {
				t.Errorf("COPY . before go mod download: every source edit re-downloads the modules")
			}
		case *instructions.RunCommand:
			if step == 1 && strings.Contains(strings.Join(c.CmdLine, " "), "go mod download") {
				step = 2
			}
		}
	}
	if step < 2 {
		t.Error("build stage lacks COPY go.mod go.sum then RUN go mod download, in its own layer")
	}
}

// The checks must fail on a Dockerfile that breaks each rule.
func TestDockerfileChecksFail(t *testing.T) {
	good := readDockerfile(t)
	if msgs := failures(func(r tb) { checkDockerfile(r, good) }); len(msgs) > 0 {
		t.Fatalf("the Dockerfile as it is fails: %v", msgs)
	}
	finalFrom := "FROM gcr.io/distroless/static-debian12:nonroot"
	for _, b := range []struct {
		name  string
		edits []string // old, new, old, new...
	}{
		{"one stage", nil},
		{"final stage not distroless", []string{finalFrom, "FROM debian:bookworm-slim"}},
		{"root base, no USER", []string{finalFrom, "FROM gcr.io/distroless/static-debian12:latest", "USER 65532:65532\n", ""}},
		{"root user", []string{"USER 65532:65532", "USER root"}},
		{"named user", []string{"USER 65532:65532", "USER nonroot"}},
		{"cgo on", []string{"CGO_ENABLED=0", "CGO_ENABLED=1"}},
		{"cgo default", []string{"CGO_ENABLED=0 ", ""}},
		{"no -trimpath", []string{"-trimpath ", ""}},
		{"other package", []string{"./cmd/usersgraph\n", "./cmd/usersgraph-load\n"}},
		{"shell-form healthcheck", []string{`CMD ["/usersgraph", "-healthcheck"]`, `CMD /usersgraph -healthcheck`}},
		{"healthcheck without -healthcheck", []string{`CMD ["/usersgraph", "-healthcheck"]`, `CMD ["/usersgraph"]`}},
		{"other port", []string{"EXPOSE 8080", "EXPOSE 9090"}},
		{"other LISTEN_ADDR", []string{"ENV LISTEN_ADDR=:8080", "ENV LISTEN_ADDR=:9090"}},
		{"shell-form entrypoint", []string{`ENTRYPOINT ["/usersgraph"]`, `ENTRYPOINT /usersgraph`}},
		{"sources before modules", []string{"COPY go.mod go.sum ./\n", "COPY . .\n"}},
		{"lint finding", []string{" AS build", " as build"}},
		{"parse warning", []string{"WORKDIR /src\n", "WORKDIR /src \\\n\n"}},
	} {
		bad := good
		if b.name == "one stage" {
			bad = good[strings.Index(good, finalFrom):]
			bad = strings.Replace(bad, "COPY --from=build", "COPY", 1)
		}
		for i := 0; i+1 < len(b.edits); i += 2 {
			if !strings.Contains(bad, b.edits[i]) {
				t.Errorf("%s: the Dockerfile no longer contains %q; update this test", b.name, b.edits[i])
			}
			bad = strings.Replace(bad, b.edits[i], b.edits[i+1], 1)
		}
		msgs := failures(func(r tb) { checkDockerfile(r, bad) })
		if len(msgs) == 0 {
			t.Errorf("%s: the broken Dockerfile passed", b.name)
		} else {
			t.Logf("%s: %s", b.name, msgs[0])
		}
	}
}

func TestDockerignore(t *testing.T) {
	fh, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	patterns, err := ignorefile.ReadAll(fh)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(p string) bool {
		ok, err := pm.MatchesOrParentMatches(p)
		if err != nil {
			t.Fatalf(".dockerignore on %s: %v", p, err)
		}
		return ok
	}
	for _, p := range []string{".git/HEAD", "node_modules/x/index.js", "interop/node_modules/x/index.js",
		"playground/node_modules/x/index.js", "interop/run.sh", "graph/x.test", "cover.out"} {
		if !excluded(p) {
			t.Errorf(".dockerignore keeps %s in the build context", p)
		}
	}
	// Everything go build needs stays: go.mod, go.sum and every Go file of
	// the main module.
	need := []string{"go.mod", "go.sum"}
	err = filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == ".git" || d.Name() == "node_modules" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && rel != "." {
				return filepath.SkipDir // another module, e.g. this one
			}
			return nil
		}
		if strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") {
			need = append(need, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(need) < 10 {
		t.Fatalf("found only %d Go files in the repository", len(need))
	}
	for _, p := range need {
		if excluded(p) {
			t.Errorf(".dockerignore drops %s, which go build needs", p)
		}
	}
}

// The image and the Deployment agree on the port.
func TestDockerfileMatchesDeployment(t *testing.T) {
	f := dockerfileFacts(t, readDockerfile(t))
	m := load(t)
	port := strconv.Itoa(int(m.httpPort(t).ContainerPort))
	if !slices.Contains(f.expose, port) && !slices.Contains(f.expose, port+"/tcp") {
		t.Errorf("Dockerfile EXPOSE %v; the Deployment's container port is %s", f.expose, port)
	}
	// The image's user must pass the pod's runAsUser, if it sets one.
	if u := m.deployment.Spec.Template.Spec.SecurityContext; u != nil && u.RunAsUser != nil && f.user != "" {
		if strings.SplitN(f.user, ":", 2)[0] != strconv.FormatInt(*u.RunAsUser, 10) {
			t.Errorf("Dockerfile USER %s, pod runAsUser %d", f.user, *u.RunAsUser)
		}
	}
}
