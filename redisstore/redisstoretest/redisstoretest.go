// Package redisstoretest starts a real redis-server for tests.
package redisstoretest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/redisstore"
)

// Start runs redis-server on a free loopback port, without persistence,
// until the test ends, and returns its URL. Without the binary the test is
// skipped, except in CI (CI=true), where .ci/run installs it.
func Start(t testing.TB) string {
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
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		s, err := redisstore.Open(t.Context(), url)
		if err == nil {
			s.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not answer: %v\n%s", err, out.String())
		}
		// Polling a process that is starting, bounded by the deadline.
		time.Sleep(20 * time.Millisecond)
	}
}
