package restclienttest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"testing"
)

const testKey = "test-key"

// start runs a fake for one test and closes it afterwards.
func start(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// newHTTPClient returns a client without keep-alives, so the transport never
// replays a request on a fresh connection and call counts stay exact.
func newHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// send makes one request; the error covers both the round trip and reading
// the body.
func send(ctx context.Context, hc *http.Client, method, rawURL string, header http.Header) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return response{}, err
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}, err
}

func keyHeader(key string) http.Header { return http.Header{"X-Api-Key": {key}} }

// mustGet sends GET {URL}{path}?{q} with the default key and fails the test
// on a transport error.
func mustGet(t *testing.T, s *Server, path string, q url.Values) response {
	t.Helper()
	u := s.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	r, err := send(t.Context(), newHTTPClient(t), http.MethodGet, u, keyHeader(testKey))
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return r
}

// testItem and testPage decode the wire format independently of the fake's
// own types, so a renamed JSON field shows up here.
type testItem struct {
	ID            string   `json:"_id"`
	Email         string   `json:"id"`
	Name          string   `json:"name"`
	LastActive    *float64 `json:"lastActive"`
	CreatedAt     int64    `json:"createdAt"`
	LastChanged   int64    `json:"lastChanged"`
	CreatedBy     string   `json:"createdBy"`
	LastChangedBy string   `json:"lastChangedBy"`
}

type testPage struct {
	Items          []testItem `json:"items"`
	Total          int        `json:"total"`
	NextCursor     *string    `json:"nextCursor"`
	PreviousCursor *string    `json:"previousCursor"`
}

func (p testPage) ids() []string {
	ids := make([]string, len(p.Items))
	for i, it := range p.Items {
		ids[i] = it.ID
	}
	return ids
}

// list fetches one page and fails the test unless it is a 200 list.
func list(t *testing.T, s *Server, q url.Values) testPage {
	t.Helper()
	r := mustGet(t, s, "/v2.0/users", q)
	if r.Status != http.StatusOK {
		t.Fatalf("GET ?%s: status %d, body %s", q.Encode(), r.Status, r.Body)
	}
	var p testPage
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("decode page: %v", err)
	}
	return p
}

type testProblem struct {
	Type     string          `json:"type"`
	Title    string          `json:"title"`
	Status   int             `json:"status"`
	Detail   string          `json:"detail"`
	Instance string          `json:"instance"`
	Code     json.RawMessage `json:"code"`
	TraceID  string          `json:"traceId"`
	Details  map[string]any  `json:"details"`
}

func decodeProblem(t *testing.T, r response) testProblem {
	t.Helper()
	var p testProblem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("decode problem (status %d): %v; body %q", r.Status, err, r.Body)
	}
	if p.Status != r.Status {
		t.Errorf("problem status %d, response status %d", p.Status, r.Status)
	}
	return p
}

// waitFor spins until cond holds or the test's context ends; the server
// offers no event to wait on, and yielding keeps the loop cheap.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatal("condition never held")
		}
		runtime.Gosched()
	}
}

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func ptr(v float64) *float64 { return &v }

// fixture is a small dataset with duplicate names, a missing name, missing
// lastActive values and mixed units, small enough to state orders by hand.
// NewID(i) grows with i, so _id order is index order.
func fixture() []User {
	return []User{
		{ID: NewID(1), Email: "zoe.mueller@example.com", Name: "Zoë Müller", LastActive: ptr(1700000000), CreatedAt: 1600000000, LastChanged: 1600000500},
		{ID: NewID(2), Email: "jose.alvarez@example.com", Name: "José Álvarez", CreatedAt: 1600000100, LastChanged: 1600000100},
		{ID: NewID(3), Email: "zoe.mueller2@example.com", Name: "Zoë Müller", LastActive: ptr(1700000000500), CreatedAt: 1600000200, LastChanged: 1650000000},
		{ID: NewID(4), Email: "li.wei@example.com", Name: "李伟", LastActive: ptr(1690000000), CreatedAt: 1600000050, LastChanged: 1600000050},
		{ID: NewID(5), Email: "anna.smith@example.com", Name: "Anna Smith", CreatedAt: 1600000200, LastChanged: 1600000300},
		{ID: NewID(6), Email: "noname@example.com", LastActive: ptr(1600000000), CreatedAt: 1600000300, LastChanged: 1600000300},
		{ID: NewID(7), Email: "anna.smith2@example.com", Name: "Anna Smith", LastActive: ptr(1690000000), CreatedAt: 1600000200, LastChanged: 1600000400,
			CreatedBy: NewID(1), LastChangedBy: NewID(-1)},
	}
}

// ids maps fixture indexes to ids.
func ids(idx ...int) []string {
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = NewID(n)
	}
	return out
}
