package loadkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// MaxResponseBytes bounds what is read of one answer.
const MaxResponseBytes = 64 << 20

// Codes for failures that carry no GraphQL extensions.code.
const (
	CodeNetwork  = "NETWORK"   // connection refused, reset or dropped
	CodeTimeout  = "TIMEOUT"   // no complete answer within RequestTimeout
	CodeBadJSON  = "BAD_JSON"  // an answer that is not a GraphQL JSON response
	CodeNoCode   = "NO_CODE"   // a GraphQL error without extensions.code
	CodeBadShape = "BAD_SHAPE" // a REST answer without the expected field
	CodeHTTP     = "HTTP "     // prefix of a non-200 status, e.g. "HTTP 502"

	errorsKey = `"errors"` // present in every GraphQL response with errors
	jsonType  = "application/json"
)

// Check judges one complete answer: it appends the error codes it finds
// (none for a success) and returns the first error's message.
type Check func(status int, body []byte, codes []string) ([]string, string)

// Request is what a load client sends, again and again.
type Request struct {
	Method string
	URL    string
	Body   []byte      // nil for none
	Header http.Header // set on every request; Content-Type is added for a body
	Check  Check       // nil: CheckGraphQL
}

// GraphQL is a POST of query to url, with header added.
func GraphQL(url, query string, header http.Header) (Request, error) {
	body, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		return Request{}, err
	}
	h := http.Header{"Accept": {jsonType}}
	for k, vs := range header {
		h[http.CanonicalHeaderKey(k)] = slices.Clone(vs)
	}
	return Request{Method: http.MethodPost, URL: url, Body: body, Header: h, Check: CheckGraphQL}, nil
}

// Do sends r once and reads the whole answer into buf. It returns the error
// codes the answer carries (none when it succeeded) and the first error
// message; err is set only when no complete answer arrived.
func (r Request) Do(ctx context.Context, c *http.Client, buf *bytes.Buffer, codes []string) ([]string, string, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return codes, "", err
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if r.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", jsonType)
	}
	resp, err := c.Do(req)
	if err != nil {
		return codes, "", err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := io.Copy(buf, io.LimitReader(resp.Body, MaxResponseBytes)); err != nil {
		return codes, "", err
	}
	check := r.Check
	if check == nil {
		check = CheckGraphQL
	}
	codes, msg := check(resp.StatusCode, buf.Bytes(), codes)
	return codes, msg, nil
}

// CheckGraphQL accepts a 200 answer without errors; it reports every
// GraphQL error by its extensions.code.
func CheckGraphQL(status int, b []byte, codes []string) ([]string, string) {
	msg := ""
	if status != http.StatusOK {
		codes = append(codes, CodeHTTP+strconv.Itoa(status))
		msg = http.StatusText(status)
	}
	if !bytes.Contains(b, []byte(errorsKey)) {
		if status == http.StatusOK && !json.Valid(b) {
			codes, msg = append(codes, CodeBadJSON), "the answer is not valid JSON"
		}
		return codes, msg
	}
	var answer struct {
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code any `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &answer); err != nil {
		if status == http.StatusOK {
			codes, msg = append(codes, CodeBadJSON), "the answer is not a GraphQL response: "+err.Error()
		}
		return codes, msg
	}
	for i, e := range answer.Errors {
		code := CodeNoCode
		if s, ok := e.Extensions.Code.(string); ok && s != "" {
			code = s
		} else if e.Extensions.Code != nil {
			code = fmt.Sprint(e.Extensions.Code)
		}
		codes = append(codes, code)
		if i == 0 {
			msg = e.Message
		}
	}
	return codes, msg
}

// CheckJSONWith accepts a 200 answer whose body contains want (e.g.
// `"items":[`), without decoding it: a REST client is not asked to do more
// per answer than a GraphQL one.
func CheckJSONWith(want string) Check {
	return func(status int, b []byte, codes []string) ([]string, string) {
		if status != http.StatusOK {
			return append(codes, CodeHTTP+strconv.Itoa(status)), http.StatusText(status)
		}
		if !bytes.Contains(b, []byte(want)) {
			return append(codes, CodeBadShape), "the answer lacks " + want
		}
		return codes, ""
	}
}

// ClientResult is what one load client measured; only its own goroutine
// writes it, so recording needs no lock.
type ClientResult struct {
	Latencies []time.Duration // successful and failed requests alike
	Failed    int             // requests with any error
	Codes     map[string]int  // error entries by code
}

// Drive sends r back to back until deadline or until ctx ends. A request
// counts when it started at or after measureStart and completed by
// deadline. A request still in flight at the deadline is not cut short (the
// server sees no cancellation) but is not counted; ctx ending does cancel it.
func Drive(ctx context.Context, c *http.Client, r Request, measureStart, deadline time.Time) ClientResult {
	res := ClientResult{Codes: map[string]int{}}
	var buf bytes.Buffer
	var codes []string
	for ctx.Err() == nil && time.Now().Before(deadline) {
		t0 := time.Now()
		var err error
		codes, _, err = r.Do(ctx, c, &buf, codes[:0])
		t1 := time.Now()
		if ctx.Err() != nil || t1.After(deadline) {
			break
		}
		if t0.Before(measureStart) {
			continue
		}
		res.Latencies = append(res.Latencies, t1.Sub(t0))
		if err != nil {
			codes = append(codes[:0], transportCode(err))
		}
		if len(codes) > 0 {
			res.Failed++
			for _, code := range codes {
				res.Codes[code]++
			}
		}
	}
	return res
}

func transportCode(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return CodeTimeout
	}
	return CodeNetwork
}

// Stats summarises the requests of a measured window.
type Stats struct {
	Requests     int
	Errors       int            // requests with any error
	ErrorsByCode map[string]int // error entries
	P50, P90     time.Duration
	P99, Max     time.Duration
	Mean         time.Duration
}

// Merge folds clients' results into one Stats.
func Merge(results []ClientResult) Stats {
	n := 0
	for _, r := range results {
		n += len(r.Latencies)
	}
	all := make([]time.Duration, 0, n)
	s := Stats{ErrorsByCode: map[string]int{}}
	for _, r := range results {
		all = append(all, r.Latencies...)
		s.Errors += r.Failed
		for code, k := range r.Codes {
			s.ErrorsByCode[code] += k
		}
	}
	slices.Sort(all)
	s.Requests = len(all)
	if len(all) > 0 {
		var sum time.Duration
		for _, d := range all {
			sum += d
		}
		s.P50, s.P90, s.P99 = Percentile(all, 50), Percentile(all, 90), Percentile(all, 99)
		s.Max, s.Mean = all[len(all)-1], sum/time.Duration(len(all))
	}
	return s
}

// Percentile is the nearest-rank p-th percentile of sorted (p in 0..100].
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// RunOptions says how long and how wide one run is.
type RunOptions struct {
	Clients  int
	Warmup   time.Duration // load before measuring, excluded from Stats
	Duration time.Duration // measured
	// AtMeasureStart, when set, is called once when the measured window
	// opens (it is skipped if the run is interrupted first); it should
	// return quickly.
	AtMeasureStart func()
}

// RunResult is the outcome of Run.
type RunResult struct {
	Stats
	Measured    time.Duration // Duration, or less when interrupted
	Interrupted bool
}

// PerSecond is the measured throughput.
func (r RunResult) PerSecond() float64 {
	if r.Measured <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Measured.Seconds()
}

// Run drives o.Clients clients sending r through c for o.Warmup and then
// o.Duration, and summarises the measured window.
func Run(ctx context.Context, c *http.Client, r Request, o RunOptions) RunResult {
	start := time.Now()
	measureStart := start.Add(o.Warmup)
	deadline := measureStart.Add(o.Duration)

	results := make([]ClientResult, o.Clients)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = Drive(ctx, c, r, measureStart, deadline) })
	}
	if Wait(ctx, measureStart); ctx.Err() == nil && o.AtMeasureStart != nil {
		o.AtMeasureStart()
	}
	wg.Wait()
	end := time.Now()
	if end.After(deadline) {
		end = deadline
	}
	out := RunResult{Stats: Merge(results), Interrupted: ctx.Err() != nil}
	out.Measured = max(0, end.Sub(measureStart))
	return out
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
