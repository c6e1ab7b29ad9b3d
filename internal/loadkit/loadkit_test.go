package loadkit

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

func TestPercentileIsNearestRank(t *testing.T) {
	var sorted []time.Duration
	for i := 1; i <= 100; i++ {
		sorted = append(sorted, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 50, 90: 90, 99: 99, 100: 100, 0.5: 1} {
		if got := Percentile(sorted, p); got != want {
			t.Errorf("p%v = %d, want %d", p, got, want)
		}
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("p99 of one = %d", got)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("p50 of none = %d", got)
	}
}

func TestMergeCountsErrorsByCode(t *testing.T) {
	s := Merge([]ClientResult{
		{Latencies: []time.Duration{1, 2}, Failed: 1, Codes: map[string]int{"RATE_LIMITED": 2}},
		{Latencies: []time.Duration{3}, Failed: 1, Codes: map[string]int{"HTTP 502": 1, "RATE_LIMITED": 1}},
	})
	if s.Requests != 3 || s.Errors != 2 || s.ErrorsByCode["RATE_LIMITED"] != 3 || s.ErrorsByCode["HTTP 502"] != 1 {
		t.Fatalf("got %+v", s)
	}
	if s.P50 != 2 || s.Max != 3 || s.Mean != 2 {
		t.Fatalf("percentiles %+v", s)
	}
}

func TestChecks(t *testing.T) {
	for _, c := range []struct {
		name   string
		check  Check
		status int
		body   string
		want   []string
	}{
		{"graphql ok", CheckGraphQL, 200, `{"data":{"users":null}}`, nil},
		{"graphql error codes", CheckGraphQL, 200, `{"errors":[{"message":"m","extensions":{"code":"RATE_LIMITED"}},{"message":"n"}]}`, []string{"RATE_LIMITED", CodeNoCode}},
		{"graphql not json", CheckGraphQL, 200, `<html>`, []string{CodeBadJSON}},
		{"graphql status", CheckGraphQL, 502, `bad gateway`, []string{"HTTP 502"}},
		{"rest ok", CheckJSONWith(`"items":[`), 200, `{"items":[],"total":0}`, nil},
		{"rest shape", CheckJSONWith(`"items":[`), 200, `{"total":0}`, []string{CodeBadShape}},
		{"rest status", CheckJSONWith(`"items":[`), 401, `{}`, []string{"HTTP 401"}},
	} {
		got, _ := c.check(c.status, []byte(c.body), nil)
		if len(got) != len(c.want) {
			t.Errorf("%s: codes %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: codes %v, want %v", c.name, got, c.want)
			}
		}
	}
}

func TestRunAgainstFake(t *testing.T) {
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey("k"))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	up := &UpstreamCounter{Fake: fake, TrimAt: 5}
	req := Request{Method: http.MethodGet, URL: fake.URL + "/v2.0/users?limit=25", Header: http.Header{"X-Api-Key": {"k"}}, Check: CheckJSONWith(`"items":[`)}
	c := NewHTTPClient(4)
	defer c.CloseIdleConnections()
	started := false
	res := Run(t.Context(), c, req, RunOptions{Clients: 4, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond, AtMeasureStart: func() { started = true }})
	if !started || res.Requests == 0 || res.Errors != 0 || res.PerSecond() <= 0 || res.Measured != 300*time.Millisecond || res.P50 <= 0 || res.P99 < res.P50 {
		t.Fatalf("run %+v started %v", res, started)
	}
	before := up.Counts()
	up.Trim()
	if !up.Approximate() || fake.TotalCalls() != 0 || up.Counts() != before || before.List < res.Requests {
		t.Fatalf("trim: before %+v after %+v, fake %d", before, up.Counts(), fake.TotalCalls())
	}

	// A wrong key is an error by status, not a transport failure.
	req.Header = http.Header{"X-Api-Key": {"wrong"}}
	var buf bytes.Buffer
	codes, _, err := req.Do(t.Context(), c, &buf, nil)
	if err != nil || len(codes) != 1 || codes[0] != "HTTP 401" {
		t.Fatalf("codes %v err %v", codes, err)
	}
}

func TestGraphQLRequest(t *testing.T) {
	var got http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		body = b.Bytes()
		_, _ = w.Write([]byte(`{"data":{}}`))
	}))
	defer srv.Close()
	req, err := GraphQL(srv.URL, "{ x }", http.Header{"x-api-key": {"k"}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	codes, _, err := req.Do(context.Background(), NewHTTPClient(1), &buf, nil)
	if err != nil || len(codes) != 0 {
		t.Fatalf("codes %v err %v", codes, err)
	}
	if got.Get("X-Api-Key") != "k" || got.Get("Content-Type") != "application/json" || string(body) != `{"query":"{ x }"}` {
		t.Fatalf("headers %v body %s", got, body)
	}
}

func TestLoopbackOnly(t *testing.T) {
	c := NewHTTPClient(1)
	_, err := c.Get("http://192.0.2.1:1/")
	if err == nil {
		t.Fatal("a non-loopback address was dialled")
	}
}

func TestReadMemAndWatch(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	m, err := ReadMem(0)
	if err != nil || m.RSS <= 0 || m.Peak < m.RSS {
		t.Fatalf("ReadMem(0) = %+v, %v", m, err)
	}
	w := WatchRSS(os.Getpid(), 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	peak, n := w.Stop()
	if peak <= 0 || n < 2 {
		t.Fatalf("watch: peak %d after %d samples", peak, n)
	}
	if _, err := ReadMem(1 << 30); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}

func TestCPUReadings(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc")
	}
	c, err := ReadCPU()
	if err != nil || c.Busy == 0 || c.Total < c.Busy {
		t.Fatalf("ReadCPU = %+v, %v", c, err)
	}
	o := StartOtherCPU()
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) { // busy: our own CPU is not "other"
	}
	if ticks, err := ProcTicks(0); err != nil || ticks == 0 {
		t.Fatalf("ProcTicks(0) = %d, %v", ticks, err)
	}
	if p := o.Stop(); p < 0 || p > 100 {
		t.Fatalf("other CPU %.1f%%", p)
	}
	if p := StartOtherCPU(1 << 30).Stop(); p != -1 {
		t.Fatalf("a missing process gave %.1f%%, want -1", p)
	}
}
