package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/usersgraph/usersgraph/internal/loadkit"
)

// tailcallEnv names the variable that may hold the Tailcall peer's folder
// when -tailcall is not given.
const tailcallEnv = "USERSGRAPH_BENCH_TAILCALL"

// Tailcall's own mapping of the same pages (its schema is not usersgraph's):
// the page with total and the upstream cursors, and the same with each
// user's creator and last changer.
const (
	tailcallPage     = `{ users(limit: 25, sort: "_id:asc") { total nextCursor previousCursor items { _id id name lastActive createdAt lastChanged } } }`
	tailcallCreators = `{ users(limit: 25, sort: "_id:asc") { total nextCursor previousCursor items { _id id name lastActive createdAt lastChanged creator { name } lastChanger { name } } } }`
	tailcallReady    = 60 * time.Second
)

// tailcallPeer is the Tailcall peer started through its start.sh, tuned
// ("cached": in-flight dedupe, a large idle pool), in the foreground.
type tailcallPeer struct {
	URL string // its GraphQL endpoint
	PID int    // the tailcall process itself, for /proc

	script *exec.Cmd
	done   chan struct{}
	out    *loadkit.TailBuffer
}

// startTailcall runs dir/start.sh cached against upstream (a base URL
// including /new) on a free loopback port and waits for its READY line.
// dir must be a writable copy of the peer's folder with `npm ci` done.
func startTailcall(ctx context.Context, dir, upstream string) (*tailcallPeer, error) {
	script := filepath.Join(dir, "start.sh")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("no Tailcall peer at %s: %w", dir, err)
	}
	addr, err := loadkit.FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	p := &tailcallPeer{done: make(chan struct{}), out: &loadkit.TailBuffer{Max: 16 << 10}}
	p.script = exec.Command("bash", script, "cached")
	p.script.Dir = dir
	p.script.Env = append(os.Environ(), "TC_UPSTREAM="+upstream, "TC_PORT="+port, "TAILCALL_LOG_LEVEL=error")
	p.script.Stderr = p.out
	p.script.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdout, err := p.script.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.script.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", script, err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		announced := false
		for sc.Scan() {
			line := sc.Text()
			p.out.Write([]byte(line + "\n"))
			switch {
			case strings.HasPrefix(line, "PID "):
				p.PID, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "PID ")))
			case strings.HasPrefix(line, "READY ") && !announced:
				f := strings.Fields(line)
				p.URL, announced = f[1], true
				ready <- nil
			}
		}
		if !announced {
			ready <- errors.New("start.sh ended without READY")
		}
	}()
	go func() {
		_ = p.script.Wait()
		close(p.done)
	}()
	t := time.NewTimer(tailcallReady)
	defer t.Stop()
	select {
	case err = <-ready:
	case <-t.C:
		err = fmt.Errorf("no READY within %s", tailcallReady)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil && (p.PID <= 0 || !strings.HasPrefix(p.URL, "http://127.0.0.1:")) {
		err = fmt.Errorf("start.sh announced pid %d, url %q", p.PID, p.URL)
	}
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("the Tailcall peer: %w; its output:\n%s", err, p.out.String())
	}
	return p, nil
}

// Stop ends the start script, whose trap stops tailcall, and makes sure
// that the tailcall process it announced is gone.
func (p *tailcallPeer) Stop() {
	select {
	case <-p.done:
	default:
		_ = p.script.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(10 * time.Second)
		select {
		case <-p.done:
		case <-t.C:
			_ = p.script.Process.Kill()
			<-p.done
		}
		t.Stop()
	}
	// Only the process start.sh announced, and only while it is still
	// tailcall (its pid could have been reused since).
	if p.PID > 0 {
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID)); err == nil && strings.Contains(string(cmdline), "tailcall") {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
}
