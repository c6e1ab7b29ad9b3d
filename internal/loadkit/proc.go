package loadkit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Mem is a process's resident memory from /proc/<pid>/status, in bytes.
type Mem struct {
	RSS  int64 // VmRSS: resident now
	Peak int64 // VmHWM: the highest resident size since the process started
}

// ReadMem reads /proc/<pid>/status (pid 0 means this process). It fails where
// there is no /proc, e.g. outside Linux.
func ReadMem(pid int) (Mem, error) {
	name := "/proc/self/status"
	if pid != 0 {
		name = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return Mem{}, err
	}
	var m Mem
	var haveRSS, havePeak bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return Mem{}, fmt.Errorf("%s: unexpected %s line %q", name, key, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return Mem{}, fmt.Errorf("%s: %s: %w", name, key, err)
		}
		if key == "VmRSS" {
			m.RSS, haveRSS = kb<<10, true
		} else {
			m.Peak, havePeak = kb<<10, true
		}
	}
	if !haveRSS || !havePeak {
		// A zombie or kernel thread has no memory lines.
		return Mem{}, fmt.Errorf("%s has no VmRSS/VmHWM (has the process exited?)", name)
	}
	return m, nil
}

// SampleRSS reads the RSS of pid at start+every, start+2*every, ... n times,
// on a fixed grid so the samples do not drift. It stops early if ctx ends or
// the process can no longer be read.
func SampleRSS(ctx context.Context, pid int, start time.Time, every time.Duration, n int) []int64 {
	out := make([]int64, 0, n)
	for i := 1; i <= n; i++ {
		at := start.Add(time.Duration(i) * every)
		if Wait(ctx, at); ctx.Err() != nil {
			break
		}
		m, err := ReadMem(pid)
		if err != nil {
			break
		}
		out = append(out, m.RSS)
	}
	return out
}

// RSSWatch samples a process's VmRSS at a fixed interval until stopped and
// keeps the highest sample.
type RSSWatch struct {
	stop chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	max     int64
	samples int
}

// WatchRSS starts sampling pid every interval.
func WatchRSS(pid int, every time.Duration) *RSSWatch {
	w := &RSSWatch{stop: make(chan struct{})}
	w.wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if m, err := ReadMem(pid); err == nil {
				w.mu.Lock()
				w.max = max(w.max, m.RSS)
				w.samples++
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	})
	return w
}

// Stop ends the sampling and returns the highest VmRSS seen and the number
// of samples taken.
func (w *RSSWatch) Stop() (maxRSS int64, samples int) {
	close(w.stop)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max, w.samples
}

// Wait sleeps until t or until ctx ends.
func Wait(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}
