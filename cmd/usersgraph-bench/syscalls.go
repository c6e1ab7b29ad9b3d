package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// syscallEvent is the kernel tracepoint perf counts: every system call a
// process enters, whichever it is (read and write for Go's net/http,
// recvfrom and sendto for Tailcall's).
const syscallEvent = "raw_syscalls:sys_enter"

// syscallCounter counts a process's system calls with perf stat, from
// outside it: what the kernel saw, not what the process says of itself.
type syscallCounter struct {
	perf string // the perf binary
	dir  string // where perf writes its counts
	n    int
}

// newSyscallCounter finds perf and checks that it may count the
// tracepoint (perf_event_paranoid, or the privileges, may forbid it).
func newSyscallCounter(ctx context.Context, dir string) (*syscallCounter, error) {
	bin, err := exec.LookPath("perf")
	if err != nil {
		return nil, fmt.Errorf("-syscalls needs perf (Debian package linux-perf): %w", err)
	}
	out, err := exec.CommandContext(ctx, bin, "stat", "-x,", "-e", syscallEvent, "--", "true").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("-syscalls: perf stat -e %s cannot count here (perf_event_paranoid, or privileges): %v: %s", syscallEvent, err, bytes.TrimSpace(out))
	}
	return &syscallCounter{perf: bin, dir: dir}, nil
}

// start counts pid's system calls until the returned function is called,
// which returns the count.
func (sc *syscallCounter) start(ctx context.Context, pid int) (stop func() (int64, error), err error) {
	sc.n++
	out := filepath.Join(sc.dir, fmt.Sprintf("perf-%d.csv", sc.n))
	cmd := exec.CommandContext(ctx, sc.perf, "stat", "-x,", "-e", syscallEvent, "-p", strconv.Itoa(pid), "-o", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf stat: %w", err)
	}
	// perf attaches to the process after it starts: wait (2 s at most)
	// until it holds its counter, so that the count covers the run.
	if !waitAttached(cmd.Process.Pid, 2*time.Second) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("perf stat did not attach to process %d: %s", pid, bytes.TrimSpace(stderr.Bytes()))
	}
	return func() (int64, error) {
		_ = cmd.Process.Signal(syscall.SIGINT) // perf writes its counts on SIGINT
		waitErr := cmd.Wait()                  // its exit status on SIGINT varies by version: the file says
		b, err := os.ReadFile(out)
		if err == nil {
			var n int64
			if n, err = parsePerfCount(b, syscallEvent); err == nil {
				return n, nil
			}
		}
		return 0, fmt.Errorf("perf stat (exit: %v): %w: %s", waitErr, err, bytes.TrimSpace(stderr.Bytes()))
	}, nil
}

// waitAttached reports whether perf, process perfPID, opened a perf
// event (its file descriptors show them as anon_inode:[perf_event])
// within d.
func waitAttached(perfPID int, d time.Duration) bool {
	fds := fmt.Sprintf("/proc/%d/fd", perfPID)
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		entries, _ := os.ReadDir(fds)
		for _, e := range entries {
			if target, err := os.Readlink(filepath.Join(fds, e.Name())); err == nil && target == "anon_inode:[perf_event]" {
				return true
			}
		}
	}
	return false
}

// parsePerfCount reads event's count from perf stat's CSV output (-x,):
// "count,unit,event,...", comment lines starting with '#'.
func parsePerfCount(b []byte, event string) (int64, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 || strings.HasPrefix(line, "#") || f[2] != event {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("perf stat: %s counted %q", event, f[0])
		}
		return n, nil
	}
	return 0, fmt.Errorf("perf stat: no count of %s in %q", event, b)
}
