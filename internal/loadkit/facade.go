package loadkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// FacadePackage is the facade's main package, relative to the module root.
	FacadePackage = "./cmd/usersgraph"
	buildTimeout  = 10 * time.Minute
	readyTimeout  = 30 * time.Second
	// stopGrace exceeds the facade's own 15 s drain before SIGKILL.
	stopGrace = 20 * time.Second
)

// ModuleRoot is the directory of the go.mod governing the working directory,
// which must be this module's (it holds the facade's main package).
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root with go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run this inside the usersgraph module (go env GOMOD found no go.mod)")
	}
	root := filepath.Dir(gomod)
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(FacadePackage), "main.go")); err != nil {
		return "", fmt.Errorf("%s has no %s: run this inside the usersgraph module", root, FacadePackage)
	}
	return root, nil
}

// Binary is a facade executable built from this module.
type Binary struct {
	Path      string
	Root      string // module root it was built from
	BuildTime time.Duration
}

// BuildFacade builds the facade's main package into dir/name. extra maps
// file names to Go source added to the facade's package for this build only
// (with go build -overlay; the source tree is not touched), e.g. a file that
// serves net/http/pprof; nil builds the facade as it is.
func BuildFacade(ctx context.Context, dir, name string, extra map[string]string) (*Binary, error) {
	return BuildMain(ctx, dir, name, FacadePackage, extra)
}

// BuildMain builds the main package pkg of this module (relative to its
// root, as "./cmd/x") into dir/name, with extra as for BuildFacade.
func BuildMain(ctx context.Context, dir, name, pkg string, extra map[string]string) (*Binary, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	b := &Binary{Path: filepath.Join(dir, name), Root: root}
	args := []string{"build", "-o", b.Path}
	if len(extra) > 0 {
		overlay := map[string]map[string]string{"Replace": {}}
		for file, src := range extra {
			if filepath.Base(file) != file || !strings.HasSuffix(file, ".go") {
				return nil, fmt.Errorf("overlay file %q: want a .go file name without a directory", file)
			}
			target := filepath.Join(root, filepath.FromSlash(pkg), file)
			if _, err := os.Stat(target); err == nil {
				return nil, fmt.Errorf("overlay file %s already exists in %s", target, pkg)
			}
			tmp := filepath.Join(dir, "overlay-"+file)
			if err := os.WriteFile(tmp, []byte(src), 0o600); err != nil {
				return nil, err
			}
			overlay["Replace"][target] = tmp
		}
		j, err := json.Marshal(overlay)
		if err != nil {
			return nil, err
		}
		oname := filepath.Join(dir, name+"-overlay.json")
		if err := os.WriteFile(oname, j, 0o600); err != nil {
			return nil, err
		}
		args = append(args, "-overlay", oname)
	}
	args = append(args, pkg)
	t0 := time.Now()
	bctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	build := exec.CommandContext(bctx, "go", args...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", pkg, err, bytes.TrimSpace(out))
	}
	b.BuildTime = time.Since(t0)
	return b, nil
}

// Facade is a facade process started from a Binary.
type Facade struct {
	Addr   string   // 127.0.0.1:port
	Env    []string // its whole environment, LISTEN_ADDR first
	Ready  time.Duration
	Output *TailBuffer

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status; read only after done
}

// StartFacade starts bin on a free loopback port with env (KEY=VALUE) as its
// whole environment, in dir, and waits until its /healthz answers.
func StartFacade(ctx context.Context, bin *Binary, dir string, env []string) (*Facade, error) {
	f := &Facade{Output: &TailBuffer{Max: 16 << 10}, done: make(chan struct{})}
	var err error
	if f.Addr, err = FreeLoopbackAddr(); err != nil {
		return nil, err
	}
	f.Env = append([]string{"LISTEN_ADDR=" + f.Addr}, env...)
	f.cmd = exec.Command(bin.Path)
	f.cmd.Dir = dir
	f.cmd.Env = f.Env
	f.cmd.Stdout, f.cmd.Stderr = f.Output, f.Output
	f.cmd.SysProcAttr = childProcAttr()
	t0 := time.Now()
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the facade: %w", err)
	}
	go func() {
		f.err = f.cmd.Wait()
		close(f.done)
	}()
	if err := f.waitReady(ctx); err != nil {
		f.Stop()
		return nil, err
	}
	f.Ready = time.Since(t0)
	return f, nil
}

// PID is the facade's process id.
func (f *Facade) PID() int { return f.cmd.Process.Pid }

// URL is the facade's GraphQL endpoint.
func (f *Facade) URL() string { return "http://" + f.Addr + "/graphql" }

// Exited reports the exit status if the process has ended, else "".
func (f *Facade) Exited() string {
	select {
	case <-f.done:
		if f.err == nil {
			return "exit status 0"
		}
		return f.err.Error()
	default:
		return ""
	}
}

// waitReady polls /healthz until it answers 200, the process exits, or
// readyTimeout passes.
func (f *Facade) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DialContext: LoopbackDialer().DialContext}}
	defer client.CloseIdleConnections()
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+f.Addr+"/healthz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.done:
			return fmt.Errorf("the facade exited before it was ready (%s); its output:\n%s", f.Exited(), f.Output.String())
		case <-deadline.C:
			return fmt.Errorf("the facade did not answer /healthz within %s; its output:\n%s", readyTimeout, f.Output.String())
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM, waits for the facade to drain and exit, and kills it
// if it takes longer than stopGrace. It is idempotent.
func (f *Facade) Stop() {
	select {
	case <-f.done:
		return
	default:
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-f.done:
	case <-t.C:
		_ = f.cmd.Process.Kill()
		<-f.done
	}
}

// TailBuffer keeps the last Max bytes written to it and counts lines; it
// holds the facade's output so a failure can show it.
type TailBuffer struct {
	Max int

	mu    sync.Mutex
	buf   []byte
	lines int
}

func (t *TailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines += bytes.Count(p, []byte{'\n'})
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.Max; over > 0 {
		n := copy(t.buf, t.buf[over:])
		t.buf = t.buf[:n]
	}
	return len(p), nil
}

func (t *TailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// Lines is how many lines were written in all.
func (t *TailBuffer) Lines() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lines
}
