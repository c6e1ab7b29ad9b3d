package loadkit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Counters are samples of a Prometheus text exposition, keyed by the series
// as printed: the name and its labels, e.g.
// `usersgraph_response_cache_lookups_total{result="hit"}`.
type Counters map[string]float64

// ParseCounters reads the Prometheus text format: every sample line, comments
// skipped, timestamps ignored. Label order is kept as printed.
func ParseCounters(b []byte) (Counters, error) {
	c := Counters{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The series ends at the last '}' when there are labels (label
		// values may hold spaces), else at the first space.
		var series, rest string
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			series, rest = line[:i+1], line[i+1:]
		} else {
			var ok bool
			if series, rest, ok = strings.Cut(line, " "); !ok {
				return nil, fmt.Errorf("metrics line %q has no value", line)
			}
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("metrics line %q has no value", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		c[strings.TrimSpace(series)] = v
	}
	return c, sc.Err()
}

// Sub is c minus an earlier scrape, series by series (absent counts as 0).
func (c Counters) Sub(before Counters) Counters {
	out := Counters{}
	for k, v := range c {
		out[k] = v - before[k]
	}
	return out
}

// HitRate is hit/(hit+miss) of a counter with a result label of "hit" and
// "miss"; -1 when there were no lookups.
func (c Counters) HitRate(name string) (rate float64, lookups float64) {
	hit, miss := c[name+`{result="hit"}`], c[name+`{result="miss"}`]
	if hit+miss <= 0 {
		return -1, 0
	}
	return hit / (hit + miss), hit + miss
}

// ScrapeCounters fetches and parses url (a /metrics endpoint on loopback).
func ScrapeCounters(ctx context.Context, url string) (Counters, error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, DialContext: LoopbackDialer().DialContext}}
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return ParseCounters(b)
}
