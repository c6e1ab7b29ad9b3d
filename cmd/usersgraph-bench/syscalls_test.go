package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

func TestParsePerfCount(t *testing.T) {
	cases := []struct {
		name    string
		out     string
		want    int64
		wantErr bool
	}{
		{"perf stat's CSV line", "# started on Fri Dec  4 21:00:00 2026\n\n808079,,raw_syscalls:sys_enter,8001234567,100.00,,\n", 808079, false},
		{"another event only", "12,,syscalls:sys_enter_read,100,100.00,,\n", 0, true},
		{"an event perf could not count", "<not counted>,,raw_syscalls:sys_enter,0,0.00,,\n", 0, true},
		{"nothing", "", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parsePerfCount([]byte(c.out), syscallEvent)
			if (err != nil) != c.wantErr || got != c.want {
				t.Fatalf("got %d, %v; want %d (error: %v)", got, err, c.want, c.wantErr)
			}
		})
	}
}

// syscallHelperEnv makes the test binary a process that enters a known
// number of system calls when told to (see TestSyscallCounterCountsAProcess).
const syscallHelperEnv = "USERSGRAPH_BENCH_SYSCALL_HELPER"

const helperSyscalls = 50000

func init() {
	if os.Getenv(syscallHelperEnv) == "" {
		return
	}
	in := bufio.NewReader(os.Stdin)
	_, _ = in.ReadString('\n') // the counter is attached
	for range helperSyscalls {
		syscall.Getppid() // a real system call (no vDSO)
	}
	fmt.Println("done")
	_, _ = in.ReadString('\n') // the count is read
	os.Exit(0)
}

func TestSyscallCounterCountsAProcess(t *testing.T) {
	sc, err := newSyscallCounter(t.Context(), t.TempDir())
	if err != nil {
		t.Skipf("perf cannot count system calls on this machine: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=NONE")
	cmd.Env = append(os.Environ(), syscallHelperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	stop, err := sc.start(t.Context(), cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintln(stdin); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "done\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	n, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	// The runtime enters a few of its own (futex, nanosleep, the pipe's
	// reads and writes): some, not thousands.
	if n < helperSyscalls || n > helperSyscalls+5000 {
		t.Fatalf("counted %d system calls, want %d and a few of the runtime's", n, helperSyscalls)
	}
}
