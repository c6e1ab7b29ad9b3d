package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
)

// The parts of a run, in the order they run.
const (
	partWrk  = "wrk"  // side by side under wrk: direct REST, cache-off facade, Tailcall
	partMix  = "mix"  // the Zipf mix under wrk: default-config facade and direct REST
	partSoak = "soak" // a long distinct-query (or Zipf) run, RSS every second
	partGo   = "go"   // the in-process Go clients' view and the cold/warm first:100
)

var allParts = []string{partWrk, partMix, partSoak, partGo}

// benchEnv is what every part shares: a scratch folder and the facade
// binary, built once.
type benchEnv struct {
	dir      string
	bin      *loadkit.Binary
	extra    map[string]string // the build's overlay (pprof), nil for none
	o        options
	progress func(string, ...any)
	profiles *[]string
}

// startFacade starts a facade with COGNIGY_API_URL=upstream, then env,
// then LOG_LEVEL=warn and -facade-env; with a profiling build, it also
// returns the loopback address of its pprof listener.
func (e *benchEnv) startFacade(ctx context.Context, name, upstream string, env ...string) (*loadkit.Facade, string, error) {
	full := facadeEnv(e.o, append([]string{"COGNIGY_API_URL=" + upstream}, env...))
	addr := ""
	if e.extra != nil {
		var err error
		if addr, err = loadkit.FreeLoopbackAddr(); err != nil {
			return nil, "", err
		}
		full = append(full, pprofAddrEnv+"="+addr)
	}
	f, err := loadkit.StartFacade(ctx, e.bin, e.dir, full)
	if err != nil {
		return nil, "", fmt.Errorf("facade (%s): %w", name, err)
	}
	e.progress("facade (%s): pid %d at %s", name, f.PID(), f.Addr)
	return f, addr, nil
}

// profileDuring collects a CPU profile of the facade at addr over d into
// PREFIX-suffix.pprof: the returned function starts it, and the function
// that one returns waits for it.
func (e *benchEnv) profileDuring(ctx context.Context, addr, suffix string, d time.Duration) func() func() {
	return func() func() {
		ch := make(chan profileResult, 1)
		file := fmt.Sprintf("%s-%s.pprof", e.o.cpuprofile, suffix)
		go func() { ch <- collectProfile(ctx, addr, file, d) }()
		return func() {
			p := <-ch
			if p.err != nil {
				e.progress("warning: CPU profile of the facade (%s): %v", suffix, p.err)
				return
			}
			*e.profiles = append(*e.profiles, p.file)
		}
	}
}

// wrkVersion is the first line wrk prints about itself.
func wrkVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").CombinedOutput() // wrk -v exits 1 after printing
	line, _, _ := strings.Cut(string(out), "\n")
	line, _, _ = strings.Cut(line, " Copyright")
	return strings.TrimSpace(line)
}

// execute builds the facade once and runs the parts asked for.
func execute(ctx context.Context, o options, stderr io.Writer) (*report, error) {
	r := newReport(o)
	progress := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	has := func(p string) bool { return slices.Contains(o.parts, p) }
	if has(partWrk) || has(partMix) || has(partSoak) {
		if _, err := loadkit.LookWrk(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "usersgraph-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var extra map[string]string
	if o.cpuprofile != "" {
		extra = map[string]string{"zz_usersgraph_bench_pprof.go": pprofOverlay}
	}
	progress("building %s ...", loadkit.FacadePackage)
	bin, err := loadkit.BuildFacade(ctx, dir, "usersgraph", extra)
	if err != nil {
		return nil, err
	}
	r.FacadeBuildSeconds, r.FacadeModuleRoot, r.FacadeProfilingBuild = bin.BuildTime.Seconds(), bin.Root, extra != nil
	env := &benchEnv{dir: dir, bin: bin, extra: extra, o: o, progress: progress, profiles: &r.Profiles}
	stopped := func(err error) (*report, error) {
		if ctx.Err() != nil {
			return r.interrupted(o), nil
		}
		return nil, err
	}

	if has(partWrk) {
		if r.SideBySide, err = runSideBySide(ctx, o, env); err != nil {
			return stopped(err)
		}
	}
	if has(partMix) || has(partSoak) {
		ms, err := prepareMix(ctx, o, env)
		if err != nil {
			return stopped(err)
		}
		defer ms.fake.Close()
		if has(partMix) {
			if r.Mix, err = runMix(ctx, o, env, ms); err != nil {
				return stopped(err)
			}
		}
		if has(partSoak) {
			if r.Soak, err = runSoak(ctx, o, env, ms); err != nil {
				return stopped(err)
			}
		}
		ms.fake.Close()
	}
	if has(partGo) {
		return executeGoView(ctx, o, r, env)
	}
	r.finish(o)
	return r, nil
}
