package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
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
	facadePackage = "./cmd/usersgraph"
	buildTimeout  = 10 * time.Minute
	readyTimeout  = 30 * time.Second
	// stopGrace exceeds the facade's own 15 s drain before SIGKILL.
	stopGrace = 20 * time.Second
)

// facade is a facade process this tool built and started.
type facade struct {
	cmd    *exec.Cmd
	addr   string // 127.0.0.1:port
	env    []string
	root   string // module root it was built from
	built  time.Duration
	ready  time.Duration
	output *tailBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // its exit status; read only after done
}

// moduleRoot is the directory of the go.mod governing the working directory,
// which must be this module's (it holds the facade's main package).
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root with go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run this inside the usersgraph module (go env GOMOD found no go.mod), or pass -url")
	}
	root := filepath.Dir(gomod)
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(facadePackage), "main.go")); err != nil {
		return "", fmt.Errorf("%s has no %s: run this inside the usersgraph module, or pass -url", root, facadePackage)
	}
	return root, nil
}

// startFacade builds the facade into dir and starts it on a free loopback
// port with env (KEY=VALUE) as its whole environment, then waits until its
// /healthz answers.
func startFacade(ctx context.Context, dir string, env []string) (*facade, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "usersgraph")
	t0 := time.Now()
	bctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	build := exec.CommandContext(bctx, "go", "build", "-o", bin, facadePackage)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", facadePackage, err, bytes.TrimSpace(out))
	}
	f := &facade{root: root, built: time.Since(t0), output: &tailBuffer{max: 16 << 10}, done: make(chan struct{})}

	if f.addr, err = freeLoopbackAddr(); err != nil {
		return nil, err
	}
	f.env = append([]string{"LISTEN_ADDR=" + f.addr}, env...)
	f.cmd = exec.Command(bin)
	f.cmd.Dir = dir
	f.cmd.Env = f.env
	f.cmd.Stdout, f.cmd.Stderr = f.output, f.output
	f.cmd.SysProcAttr = childProcAttr()
	t1 := time.Now()
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the facade: %w", err)
	}
	go func() {
		f.err = f.cmd.Wait()
		close(f.done)
	}()
	if err := f.waitReady(ctx); err != nil {
		f.stop()
		return nil, err
	}
	f.ready = time.Since(t1)
	return f, nil
}

func (f *facade) pid() int { return f.cmd.Process.Pid }

// exited reports the exit status if the process has ended, else "".
func (f *facade) exited() string {
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
func (f *facade) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DialContext: loopbackDialer().DialContext}}
	defer client.CloseIdleConnections()
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+f.addr+"/healthz", nil)
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
			return fmt.Errorf("the facade exited before it was ready (%s); its output:\n%s", f.exited(), f.output.String())
		case <-deadline.C:
			return fmt.Errorf("the facade did not answer /healthz within %s; its output:\n%s", readyTimeout, f.output.String())
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM, waits for the facade to drain and exit, and kills it
// if it takes longer than stopGrace.
func (f *facade) stop() {
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

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", err
	}
	return addr, nil
}

// tailBuffer keeps the last max bytes written to it and counts lines; it
// holds the facade's output so a failure can show it.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	lines int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines += bytes.Count(p, []byte{'\n'})
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		n := copy(t.buf, t.buf[over:])
		t.buf = t.buf[:n]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

func (t *tailBuffer) Lines() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lines
}
