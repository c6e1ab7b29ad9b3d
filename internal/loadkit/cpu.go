package loadkit

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CPUTicks is the machine's CPU time from /proc/stat, in clock ticks summed
// over all CPUs.
type CPUTicks struct {
	Busy  uint64 // user, nice, system, irq, softirq, steal
	Total uint64 // Busy plus idle and iowait
}

// ReadCPU reads the first line of /proc/stat.
func ReadCPU() (CPUTicks, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUTicks{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return CPUTicks{}, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var v [8]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return CPUTicks{}, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	busy := user + nice + system + irq + softirq + steal
	return CPUTicks{Busy: busy, Total: busy + idle + iowait}, nil
}

// ProcTicks is the CPU time (user plus system, in clock ticks) that process
// pid has used, from /proc/<pid>/stat; pid 0 means this process.
func ProcTicks(pid int) (uint64, error) {
	name := "/proc/self/stat"
	if pid != 0 {
		name = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'. utime and stime are fields 14 and 15 of the whole line.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New(name + ": no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New(name + ": too few fields")
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return utime + stime, nil
}

// OtherCPU measures the CPU that processes other than this one and a given
// set used between Start and Stop, as a share of the whole machine: how
// much foreign work (a compiler, say) disturbed a measurement.
type OtherCPU struct {
	pids   []int
	cpu    CPUTicks
	ours   uint64
	failed bool
}

// StartOtherCPU takes the first reading; pids are the processes that belong
// to the measurement besides this one.
func StartOtherCPU(pids ...int) *OtherCPU {
	o := &OtherCPU{pids: pids}
	o.cpu, o.ours, o.failed = o.read()
	return o
}

func (o *OtherCPU) read() (CPUTicks, uint64, bool) {
	c, err := ReadCPU()
	if err != nil {
		return c, 0, true
	}
	ours, err := ProcTicks(0)
	if err != nil {
		return c, 0, true
	}
	for _, pid := range o.pids {
		t, err := ProcTicks(pid)
		if err != nil {
			return c, 0, true
		}
		ours += t
	}
	return c, ours, false
}

// Stop returns the other processes' share of the machine's CPU time since
// Start, in percent (0 to 100), or -1 when it could not be read.
func (o *OtherCPU) Stop() float64 {
	c, ours, failed := o.read()
	if failed || o.failed || c.Total <= o.cpu.Total {
		return -1
	}
	busy := float64(c.Busy - o.cpu.Busy)
	mine := float64(ours - o.ours)
	return max(0, min(100, 100*(busy-mine)/float64(c.Total-o.cpu.Total)))
}
