// Package redisstoretest starts a real redis-server for tests, which a test
// can freeze, kill and restart to see what a failing Redis does.
package redisstoretest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds the wait for redis-server to accept connections.
const startTimeout = 10 * time.Second

// Server is a redis-server process on loopback, without persistence.
type Server struct {
	// URL is the server's redis:// URL; it stays the same across Restart.
	URL string

	t    testing.TB
	bin  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd     // nil while killed
	exited chan struct{} // closed once cmd has been reaped
	out    *bytes.Buffer
}

// Start runs redis-server on a free loopback port until the test ends and
// returns its URL. Without the binary the test is skipped, except in CI
// (CI=true), where .ci/run installs it.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).URL
}

// StartServer is Start for a test that also makes the server fail.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed; .ci/run installs it")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), t: t, bin: bin, port: port}
	t.Cleanup(s.Kill)
	s.start()
	return s
}

// start runs the process and returns once it accepts connections, as it
// says on its output.
func (s *Server) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port), "--save", "", "--appendonly", "no")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	var out bytes.Buffer
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			s.mu.Lock()
			out.Write(sc.Bytes())
			out.WriteByte('\n')
			s.mu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				signalled = true
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.out = cmd, exited, &out
	s.mu.Unlock()
	select {
	case <-ready:
	case <-exited:
		s.t.Fatalf("redis-server exited:\n%s", s.output())
	case <-time.After(startTimeout):
		s.t.Fatalf("redis-server did not accept connections within %s:\n%s", startTimeout, s.output())
	}
}

func (s *Server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// Freeze stops the process (SIGSTOP): connections stay open, and nothing
// answers, as with a Redis that hangs.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw lets a frozen process go on (SIGCONT).
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("redis-server is not running (%v)", sig)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redis-server: %v: %v", sig, err)
	}
}

// Kill ends the process (SIGKILL, frozen or not) and waits until it is
// gone: connections are refused from then on. Killing a killed server does
// nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited // reaped: its port refuses connections
}

// Restart starts a killed server again, empty, on the same port.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		s.t.Fatal("redis-server is running: Kill it first")
	}
	s.start()
}
