// Command usersgraph-hostile measures the hostile-operations corpus
// (graph/httpapi/hostile) against the facade, served in this process over
// the embedded Cognigy fake: for each request, the server's time, the
// answer's size and how far the process's resident memory grew, against
// the targets of 250 ms, 1 MiB and 32 MB. It prints a Markdown table and
// exits 1 when a target is missed or a request is not answered as the
// corpus says.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/graph/httpapi/hostile"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// Targets of issue 11.
const (
	maxServerTime = 250 * time.Millisecond
	maxAnswer     = 1 << 20
	maxRSSGrowth  = 32 << 20
)

const key = "hostile-key"

func main() {
	corpus := flag.String("corpus", "graph/httpapi/testdata/hostile", "directory of the corpus's documents")
	runs := flag.Int("runs", 5, "times each request is sent: the median server time is reported, and the largest answer and RSS growth")
	flag.Parse()
	os.Exit(run(*corpus, *runs, os.Stdout, os.Stderr))
}

func run(corpus string, runs int, stdout, stderr io.Writer) int {
	cases, err := hostile.Load(corpus)
	if err != nil {
		fmt.Fprintf(stderr, "usersgraph-hostile: %v\n", err)
		return 2
	}
	fake, err := restclienttest.NewServer(restclienttest.WithUsers(restclienttest.DemoUsers(300, 1)), restclienttest.WithAPIKey(key))
	if err != nil {
		fmt.Fprintf(stderr, "usersgraph-hostile: %v\n", err)
		return 2
	}
	defer fake.Close()
	on, err := serve(fake.URL, false)
	if err != nil {
		fmt.Fprintf(stderr, "usersgraph-hostile: %v\n", err)
		return 2
	}
	defer on.close()
	off, err := serve(fake.URL, true)
	if err != nil {
		fmt.Fprintf(stderr, "usersgraph-hostile: %v\n", err)
		return 2
	}
	defer off.close()

	fmt.Fprintf(stdout, "| document | request | outcome | upstream calls | server time | answer | RSS growth |\n")
	fmt.Fprintf(stdout, "| --- | ---: | --- | ---: | ---: | ---: | ---: |\n")
	failed := 0
	var worst struct {
		name string
		d    time.Duration
	}
	for _, c := range cases {
		s := on
		if c.IntrospectionOff {
			s = off
		}
		var m measurement
		var times []time.Duration
		for range max(runs, 1) {
			fake.ResetCounts()
			r, err := s.measure(c.Body)
			if err != nil {
				fmt.Fprintf(stderr, "usersgraph-hostile: %s: %v\n", c.Name, err)
				return 1
			}
			r.calls = fake.TotalCalls()
			times = append(times, r.server)
			m = m.worst(r)
		}
		slices.Sort(times)
		m.server = times[len(times)/2]
		answered := m.outcome == c.Want || (c.Want == "" && m.outcome == "ok") ||
			(c.Want == httpapi.CodeTooManyErrors && m.last == c.Want)
		answered = answered && (c.Want == "" || m.calls == 0)
		mark := ""
		switch {
		case !answered:
			mark = " **WRONG ANSWER**"
		case m.server > maxServerTime || m.size > maxAnswer || m.rss > maxRSSGrowth:
			mark = " **MISSED**"
		}
		if mark != "" {
			failed++
		}
		if m.server > worst.d {
			worst.name, worst.d = c.Name, m.server
		}
		outcome := m.outcome
		if c.Want == httpapi.CodeTooManyErrors {
			outcome += " … " + m.last
		}
		fmt.Fprintf(stdout, "| %s%s | %s | %s | %d | %s | %s | %s |\n", c.Name, mark, size(int64(len(c.Body))), outcome, m.calls,
			m.server.Round(10*time.Microsecond), size(int64(m.size)), size(m.rss))
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(stdout, "\nWorst server time: %s (%s). Targets: %s, %s, %s of RSS growth. %d of %d missed. %d runs each, %d CPUs, load average %s.\n",
		worst.d.Round(10*time.Microsecond), worst.name, maxServerTime, size(maxAnswer), size(maxRSSGrowth), failed, len(cases),
		max(runs, 1), runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	if failed > 0 {
		return 1
	}
	return 0
}

type measurement struct {
	outcome, last string // the first and the last error's code, or "ok"
	server        time.Duration
	size          int
	rss           int64
	calls         int
}

func (m measurement) worst(o measurement) measurement {
	o.server = max(o.server, m.server)
	o.size = max(o.size, m.size)
	o.rss = max(o.rss, m.rss)
	o.calls = max(o.calls, m.calls)
	return o
}

// server is one facade on loopback, timing what its handler spends.
type server struct {
	url     string
	srv     *http.Server
	elapsed atomic.Int64
}

func serve(upstream string, introspectionOff bool) (*server, error) {
	client, err := restclient.New(upstream, restclient.WithTimeout(5*time.Second))
	if err != nil {
		return nil, err
	}
	h := httpapi.NewHandler(httpapi.Config{
		Upstream:             client,
		DefaultCredential:    restclient.NewCredential(restclient.APIKey, key),
		DisableIntrospection: introspectionOff,
		RequestTimeout:       15 * time.Second,
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{url: "http://" + ln.Addr().String() + "/graphql"}
	s.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		s.elapsed.Store(int64(time.Since(start)))
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *server) close() { _ = s.srv.Shutdown(context.Background()) }

// measure sends body once. RSS growth is the peak resident set during the
// request (VmHWM, reset before it) less the resident set before it; the
// client's side (the body, the answer) is in the same process and counted.
func (s *server) measure(body []byte) (measurement, error) {
	runtime.GC()
	debug.FreeOSMemory()
	resetPeak()
	before := procStatus("VmRSS")
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return measurement{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return measurement{}, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return measurement{}, err
	}
	m := measurement{server: time.Duration(s.elapsed.Load()), size: len(answer), rss: max(procStatus("VmHWM")-before, 0), outcome: "ok"}
	var v struct {
		Errors []struct {
			Extensions struct{ Code string }
		}
	}
	if err := json.Unmarshal(answer, &v); err != nil {
		return m, fmt.Errorf("the answer is not JSON (status %d)", resp.StatusCode)
	}
	if n := len(v.Errors); n > 0 {
		m.outcome, m.last = v.Errors[0].Extensions.Code, v.Errors[n-1].Extensions.Code
	}
	return m, nil
}

// resetPeak resets VmHWM to the current resident set (Linux 4.0+).
func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// procStatus reads a "kB" line of /proc/self/status, in bytes; 0 when it
// cannot be read (not Linux).
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
