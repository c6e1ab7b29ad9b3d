package restclienttest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		check func(t *testing.T, r response, err error)
	}{
		{
			name:  "status with problem body and Retry-After",
			fault: Fault{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"7"}}},
			check: func(t *testing.T, r response, err error) {
				if err != nil || r.Status != 503 || r.Header.Get("Retry-After") != "7" {
					t.Fatalf("status %d, Retry-After %q, err %v", r.Status, r.Header.Get("Retry-After"), err)
				}
				if p := decodeProblem(t, r); string(p.Code) != `"503"` {
					t.Errorf("code %s, want the string \"503\"", p.Code)
				}
			},
		},
		{
			name:  "429 with a string code",
			fault: Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"Wed, 21 Oct 2037 07:28:00 GMT"}}},
			check: func(t *testing.T, r response, err error) {
				if err != nil || r.Status != 429 {
					t.Fatalf("status %d, err %v", r.Status, err)
				}
				if p := decodeProblem(t, r); string(p.Code) != `"429"` {
					t.Errorf("code %s", p.Code)
				}
			},
		},
		{
			name:  "404 with a numeric code",
			fault: Fault{Status: http.StatusNotFound},
			check: func(t *testing.T, r response, err error) {
				if p := decodeProblem(t, r); err != nil || string(p.Code) != "1002" {
					t.Errorf("code %s, err %v", p.Code, err)
				}
			},
		},
		{
			name:  "raw body",
			fault: Fault{Status: http.StatusBadGateway, Body: "<html>bad gateway</html>"},
			check: func(t *testing.T, r response, err error) {
				if err != nil || r.Status != 502 || string(r.Body) != "<html>bad gateway</html>" {
					t.Errorf("status %d body %q err %v", r.Status, r.Body, err)
				}
			},
		},
		{
			name:  "no body",
			fault: Fault{Status: http.StatusUnauthorized, NoBody: true},
			check: func(t *testing.T, r response, err error) {
				if err != nil || r.Status != 401 || len(r.Body) != 0 {
					t.Errorf("status %d body %q err %v", r.Status, r.Body, err)
				}
			},
		},
		{
			name:  "reset",
			fault: Fault{Reset: true},
			check: func(t *testing.T, r response, err error) {
				if err == nil {
					t.Errorf("got status %d, want a transport error", r.Status)
				}
			},
		},
		{
			name:  "truncated",
			fault: Fault{Truncated: true},
			check: func(t *testing.T, r response, err error) {
				if !errors.Is(err, io.ErrUnexpectedEOF) || r.Status != 200 {
					t.Errorf("status %d, err %v; want 200 and an unexpected EOF", r.Status, err)
				}
				if cl, _ := strconv.Atoi(r.Header.Get("Content-Length")); len(r.Body) == 0 || len(r.Body) >= cl {
					t.Errorf("read %d of %d bytes", len(r.Body), cl)
				}
			},
		},
		{
			name:  "wrong shape",
			fault: Fault{WrongShape: true},
			check: func(t *testing.T, r response, err error) {
				var p testPage
				if err != nil || r.Status != 200 || !json.Valid(r.Body) || json.Unmarshal(r.Body, &p) == nil {
					t.Errorf("status %d body %s err %v; want valid JSON that is no page", r.Status, r.Body, err)
				}
			},
		},
		{
			name:  "huge body",
			fault: Fault{HugeBody: 3 << 20},
			check: func(t *testing.T, r response, err error) {
				if err != nil || r.Status != 200 || len(r.Body) != 3<<20 {
					t.Fatalf("status %d, %d bytes, err %v", r.Status, len(r.Body), err)
				}
				var p testPage
				if err := json.Unmarshal(r.Body, &p); err != nil || len(p.Items) < 1000 {
					t.Errorf("decode: %v, %d items", err, len(p.Items))
				}
			},
		},
		{
			name:  "huge body smaller than its frame",
			fault: Fault{HugeBody: 10},
			check: func(t *testing.T, r response, err error) {
				var p testPage
				if err != nil || json.Unmarshal(r.Body, &p) != nil || len(p.Items) != 0 {
					t.Errorf("body %q err %v", r.Body, err)
				}
			},
		},
		{
			name:  "delay then normal answer",
			fault: Fault{Delay: time.Millisecond},
			check: func(t *testing.T, r response, err error) {
				if err != nil || r.Status != 200 {
					t.Errorf("status %d err %v", r.Status, err)
				}
			},
		},
		{
			name:  "delay then fault",
			fault: Fault{Delay: time.Millisecond, Status: 500},
			check: func(t *testing.T, r response, err error) {
				if p := decodeProblem(t, r); err != nil || string(p.Code) != `"1000"` {
					t.Errorf("status %d code %s err %v", r.Status, p.Code, err)
				}
			},
		},
	}
	s := start(t, WithUsers(fixture()))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.ClearFaults()
			s.InjectFault(RouteList, tc.fault)
			r, err := send(t.Context(), newHTTPClient(t), http.MethodGet, s.URL+"/v2.0/users", keyHeader(testKey))
			tc.check(t, r, err)
			if ct := r.Header.Get("Content-Type"); err == nil && ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestFaultQueue(t *testing.T) {
	s := start(t, WithUsers(fixture()))
	statuses := func(t *testing.T, route Route, n int) []int {
		t.Helper()
		path := "/v2.0/users"
		if route == RouteGet {
			path += "/" + NewID(1)
		}
		var out []int
		for range n {
			out = append(out, mustGet(t, s, path, nil).Status)
		}
		return out
	}
	tests := []struct {
		name   string
		inject func()
		route  Route
		want   []int
	}{
		{"Times counts requests", func() {
			s.InjectFault(RouteList, Fault{Status: 500, Times: 2})
		}, RouteList, []int{500, 500, 200}},
		{"faults apply in queue order", func() {
			s.InjectFault(RouteList, Fault{Status: 503, Times: 1})
			s.InjectFault(RouteList, Fault{Status: 429, Times: 2})
		}, RouteList, []int{503, 429, 429, 200}},
		{"Times 0 lasts until ClearFaults", func() {
			s.InjectFault(RouteList, Fault{Status: 502})
			s.InjectFault(RouteList, Fault{Status: 504, Times: 1})
		}, RouteList, []int{502, 502, 502, 502}},
		{"faults are per route", func() {
			s.InjectFault(RouteList, Fault{Status: 500})
		}, RouteGet, []int{200, 200}},
		{"get route faults", func() {
			s.InjectFault(RouteGet, Fault{Status: 500, Times: 1})
		}, RouteGet, []int{500, 200}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.ClearFaults()
			tc.inject()
			if got := statuses(t, tc.route, len(tc.want)); !slices.Equal(got, tc.want) {
				t.Errorf("statuses %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("ClearFaults", func(t *testing.T) {
		s.ClearFaults()
		if got := statuses(t, RouteList, 1); got[0] != 200 {
			t.Errorf("status %d after ClearFaults", got[0])
		}
	})
	t.Run("faulted requests are counted", func(t *testing.T) {
		s.ClearFaults()
		s.ResetCounts()
		s.InjectFault(RouteList, Fault{Reset: true})
		_, err := send(t.Context(), newHTTPClient(t), http.MethodGet, s.URL+"/v2.0/users", keyHeader(testKey))
		if err == nil || s.Calls(RouteList) != 1 {
			t.Errorf("err %v, calls %d", err, s.Calls(RouteList))
		}
	})
}

func TestHangAndDelayEndWithClient(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
	}{
		{"hang", Fault{Hang: true}},
		{"long delay", Fault{Delay: time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, WithUsers(fixture()))
			s.InjectFault(RouteList, tc.fault)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			result := make(chan error, 1)
			go func() {
				_, err := send(ctx, newHTTPClient(t), http.MethodGet, s.URL+"/v2.0/users", keyHeader(testKey))
				result <- err
			}()
			waitFor(t, func() bool { return s.Calls(RouteList) == 1 })
			cancel()
			if err := <-result; !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want context.Canceled", err)
			}
			// Close waits for every handler, so it returning proves the
			// server side gave up too.
			s.Close()
		})
	}
}

func TestCloseUnblocksHang(t *testing.T) {
	tests := []struct {
		name  string
		opts  []Option
		fault Fault
	}{
		{"hang", nil, Fault{Hang: true}},
		{"delay", nil, Fault{Delay: time.Hour}},
		{"latency", []Option{WithLatency(time.Hour)}, Fault{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, append(tc.opts, WithUsers(fixture()))...)
			s.InjectFault(RouteList, tc.fault)
			result := make(chan error, 1)
			go func() {
				_, err := send(t.Context(), newHTTPClient(t), http.MethodGet, s.URL+"/v2.0/users", keyHeader(testKey))
				result <- err
			}()
			waitFor(t, func() bool { return s.Calls(RouteList) == 1 })
			s.Close()
			if err := <-result; err == nil {
				t.Error("a request cut by Close got an answer")
			}
		})
	}
}

func TestLatency(t *testing.T) {
	s := start(t, WithUsers(fixture()), WithLatency(5*time.Millisecond))
	before := time.Now()
	if p := list(t, s, nil); p.Total != 7 {
		t.Errorf("total %d", p.Total)
	}
	if d := time.Since(before); d < 5*time.Millisecond {
		t.Errorf("answered after %v, want at least the latency", d)
	}
}
