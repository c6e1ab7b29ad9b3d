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
	sc := &syscallCounter{perf: bin, dir: dir}
	// A trial start on a child of ours: perf answers "enable" only once it
	// has opened the counters on the process, which is what it may be
	// refused. (The child sleeps, so the count itself says nothing.)
	child := exec.CommandContext(ctx, "sleep", "60")
	if err := child.Start(); err != nil {
		return nil, fmt.Errorf("-syscalls: %w", err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	stop, err := sc.start(ctx, child.Process.Pid)
	if err != nil {
		return nil, fmt.Errorf("-syscalls: perf cannot count %s here (perf_event_paranoid, privileges, or a perf without --control): %w", syscallEvent, err)
	}
	_, _ = stop()
	return sc, nil
}

// start counts pid's system calls until the returned function is called,
// which returns the count.
func (sc *syscallCounter) start(ctx context.Context, pid int) (stop func() (int64, error), err error) {
	sc.n++
	base := filepath.Join(sc.dir, fmt.Sprintf("perf-%d", sc.n))
	out, ctlPath, ackPath := base+".csv", base+".ctl", base+".ack"
	for _, p := range []string{ctlPath, ackPath} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			return nil, fmt.Errorf("perf stat: control fifo: %w", err)
		}
	}
	// Both ends opened read-write: neither open waits for perf's.
	ctl, err := os.OpenFile(ctlPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("perf stat: %w", err)
	}
	defer ctl.Close()
	ack, err := os.OpenFile(ackPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("perf stat: %w", err)
	}
	defer ack.Close()
	// The counter starts disabled (-D -1) and counts from the "enable"
	// perf acknowledges: attaching to every thread takes perf a while, and
	// a count that began on some threads only would be short.
	cmd := exec.CommandContext(ctx, sc.perf, "stat", "-x,", "-e", syscallEvent, "-p", strconv.Itoa(pid), "-o", out,
		"-D", "-1", "--control", "fifo:"+ctlPath+","+ackPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf stat: %w", err)
	}
	// When perf exits (refused, or stopped), a wait for its answer ends.
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		_ = ack.SetReadDeadline(time.Now())
		exited <- err
	}()
	fail := func(err error) error {
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("perf stat on process %d: %w: %s", pid, err, bytes.TrimSpace(stderr.Bytes()))
	}
	if _, err := ctl.WriteString("enable\n"); err != nil {
		return nil, fail(err)
	}
	// perf loads many libraries before it reads its control fifo: on a
	// busy machine that can take seconds.
	if err := ack.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return nil, fail(err)
	}
	buf := make([]byte, 16)
	if n, err := ack.Read(buf); err != nil {
		return nil, fail(fmt.Errorf("no acknowledgement of enable: %w", err))
	} else if !bytes.HasPrefix(buf[:n], []byte("ack\n")) { // perf 6.1 sends "ack\n\x00"
		return nil, fail(fmt.Errorf("enable answered %q", buf[:n]))
	}
	return func() (int64, error) {
		_ = cmd.Process.Signal(syscall.SIGINT) // perf writes its counts on SIGINT
		waitErr := <-exited                    // its exit status on SIGINT varies by version: the file says
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
