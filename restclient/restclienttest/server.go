package restclienttest

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// User is one stored user in wire terms.
type User struct {
	ID            string   // REST "_id": 24 lowercase hex
	Email         string   // REST "id" (login e-mail); omitted from JSON when ""
	Name          string   // omitted when ""
	LastActive    *float64 // REST "lastActive"; nil = absent; may be seconds or milliseconds
	CreatedAt     int64    // Unix seconds
	LastChanged   int64    // Unix seconds
	CreatedBy     string   // "_id" of creator; omitted when ""
	LastChangedBy string   // omitted when ""
}

// clone returns a copy of u that shares no memory with it, so callers can
// never change a stored user behind the server's lock.
func (u User) clone() User {
	if u.LastActive != nil {
		v := *u.LastActive
		u.LastActive = &v
	}
	return u
}

// Route names one of the served endpoints, for counting calls and injecting
// faults.
type Route string

// The served routes. Requests on any other path are recorded with an empty
// Route.
const (
	RouteList Route = "list" // GET {base}/v2.0/users
	RouteGet  Route = "get"  // GET {base}/v2.0/users/{id}
)

// Request is what the server recorded about one received request.
type Request struct {
	Route  Route
	Path   string
	Query  url.Values
	Header http.Header // copy
}

// Fault makes the server misbehave on a route. A fault takes effect before
// authentication, like a failure in front of the real service. When several
// behaviours are set, the first of Hang, Reset, Truncated, WrongShape,
// HugeBody and Status wins; a Fault with only Delay answers normally, late.
//
// Go's http.Transport replays an idempotent request once when a reused
// keep-alive connection dies before any response byte (Hang ended by Close,
// Reset), so such a fault with Times 1 may be followed by a normal answer:
// use Times 0, or a client without keep-alives, for a deterministic failure.
type Fault struct {
	Status     int           // respond with this status
	Body       string        // raw body; when "" and Status>=400 and !NoBody, an RFC 7807 problem body is written
	NoBody     bool          // no body at all (e.g. 401/403 with no body)
	Header     http.Header   // extra headers, e.g. Retry-After
	Hang       bool          // never answer until the client gives up (request ctx done) or Close
	Reset      bool          // hijack the connection and close it without a response (connection reset)
	Truncated  bool          // 200 with Content-Length of a full body, but only the first half written, then close
	WrongShape bool          // 200 with valid JSON of the wrong shape, e.g. {"items":"nope","total":"x"}
	HugeBody   int64         // 200 with a valid-looking JSON body of this many bytes (streamed)
	Delay      time.Duration // sleep before answering normally (or before the fault); ends early with the request
	Times      int           // how many requests it applies to; 0 = every request until ClearFaults
}

// active reports whether f does more than delay a normal answer.
func (f Fault) active() bool {
	return f.Hang || f.Reset || f.Truncated || f.WrongShape || f.HugeBody > 0 || f.Status != 0
}

// queuedFault is a Fault with the number of requests it still applies to.
type queuedFault struct {
	fault Fault
	left  int
}

type config struct {
	users     []User
	usersSet  bool
	apiKey    string
	tenants   map[string][]User
	forbidden map[string]bool
	latency   time.Duration
	addr      string
	filter    filterFields
	// readUserStatus, when not 0, is what GET /v2.0/users/{id} answers
	// (see WithoutReadUser).
	readUserStatus int
}

// Option configures a Server.
type Option func(*config)

// WithUsers sets the dataset of the default credential (default: DemoUsers(300, 1)).
func WithUsers(users []User) Option {
	return func(c *config) { c.users, c.usersSet = users, true }
}

// WithAPIKey sets the default credential's secret (default "test-key").
func WithAPIKey(key string) Option {
	return func(c *config) { c.apiKey = key }
}

// WithTenant adds another credential secret with its own separate dataset,
// so tests can check that callers never see each other's users.
func WithTenant(secret string, users []User) Option {
	return func(c *config) { c.tenants[secret] = users }
}

// WithForbidden adds a credential that authenticates but gets 403 with no
// body, like a user without a role that may list users.
func WithForbidden(secret string) Option {
	return func(c *config) { c.forbidden[secret] = true }
}

// WithLatency adds d before every response.
func WithLatency(d time.Duration) Option {
	return func(c *config) { c.latency = d }
}

// WithAddr sets the listen address (default "127.0.0.1:0", a free port).
func WithAddr(addr string) Option {
	return func(c *config) { c.addr = addr }
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	URL string // base URL including the "/new" prefix; routes are URL+"/v2.0/users"

	apiKey         string
	forbidden      map[string]bool
	latency        time.Duration
	filter         filterFields
	readUserStatus int
	srv            *http.Server
	done           chan struct{} // closed by Close to end hangs and sleeps

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
	data     map[string]map[string]User // secret -> _id -> user
	views    map[string]*view           // secret -> its dataset as lists read it; dropped on change
	calls    map[Route]int
	total    int
	requests []Request
	faults   map[Route][]*queuedFault
}

// NewServer starts a fake on a loopback port (see WithAddr) and returns once
// it accepts connections.
func NewServer(opts ...Option) (*Server, error) {
	cfg := config{
		apiKey:    "test-key",
		tenants:   map[string][]User{},
		forbidden: map[string]bool{},
		addr:      "127.0.0.1:0",
		filter:    allFilterFields,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.usersSet {
		cfg.users = DemoUsers(300, 1)
	}
	if cfg.apiKey == "" {
		return nil, errors.New("restclienttest: empty API key")
	}
	s := &Server{
		apiKey:         cfg.apiKey,
		forbidden:      cfg.forbidden,
		latency:        cfg.latency,
		filter:         cfg.filter,
		readUserStatus: cfg.readUserStatus,
		done:           make(chan struct{}),
		data:           map[string]map[string]User{},
		views:          map[string]*view{},
		calls:          map[Route]int{},
		faults:         map[Route][]*queuedFault{},
	}
	s.data[cfg.apiKey] = index(cfg.users)
	for secret, users := range cfg.tenants {
		s.data[secret] = index(users)
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("restclienttest: listen on %s: %w", cfg.addr, err)
	}
	s.URL = "http://" + ln.Addr().String() + "/new"
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		// Resets and aborted responses are deliberate here: keep them out of
		// the test and demo output.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func index(users []User) map[string]User {
	m := make(map[string]User, len(users))
	for _, u := range users {
		m[u.ID] = u.clone()
	}
	return m
}

// Close stops the server, ends hanging and delayed requests and waits for
// every handler to return. It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	close(s.done)
	_ = s.srv.Close()
	s.inflight.Wait()
}

// Calls returns how many requests arrived on r, including failed, faulted and
// unauthenticated ones.
func (s *Server) Calls(r Route) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[r]
}

// TotalCalls returns how many requests arrived on any path.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Requests returns copies of the recorded requests in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = Request{Route: r.Route, Path: r.Path, Query: cloneValues(r.Query), Header: r.Header.Clone()}
	}
	return out
}

// ResetCounts zeroes the counters and forgets the recorded requests.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[Route]int{}
	s.total = 0
	s.requests = nil
}

// InjectFault queues f on r: it applies to the next f.Times requests on r
// after the faults queued before it are used up; Times 0 means every request
// until ClearFaults.
func (s *Server) InjectFault(r Route, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.Header = f.Header.Clone()
	s.faults[r] = append(s.faults[r], &queuedFault{fault: f, left: f.Times})
}

// ClearFaults removes every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[Route][]*queuedFault{}
}

// Upsert adds or replaces u in the dataset of the credential secret (""
// means the default credential). An unknown secret becomes a new valid
// credential with a dataset of its own.
func (s *Server) Upsert(secret string, u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	secret = s.secretOrDefault(secret)
	if s.data[secret] == nil {
		s.data[secret] = map[string]User{}
	}
	s.data[secret][u.ID] = u.clone()
	delete(s.views, secret)
}

// Delete removes the user with _id id from the dataset of secret ("" means
// the default credential).
func (s *Server) Delete(secret string, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data[s.secretOrDefault(secret)], id)
	delete(s.views, s.secretOrDefault(secret))
}

// Users returns a copy of the dataset of secret ("" means the default
// credential), ordered by _id.
func (s *Server) Users(secret string) []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot(s.secretOrDefault(secret))
}

// snapshot copies a dataset ordered by _id; s.mu must be held.
func (s *Server) snapshot(secret string) []User {
	m := s.data[secret]
	out := make([]User, 0, len(m))
	for _, u := range m {
		out = append(out, u.clone())
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (s *Server) secretOrDefault(secret string) string {
	if secret == "" {
		return s.apiKey
	}
	return secret
}

// begin records a request and picks the fault for it. It reports false when
// the server is closing, so no handler starts after Close began waiting.
func (s *Server) begin(route Route, r *http.Request) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Fault{}, false
	}
	s.inflight.Add(1)
	s.total++
	if route != "" {
		s.calls[route]++
	}
	s.requests = append(s.requests, Request{
		Route: route, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(),
	})
	q := s.faults[route]
	if len(q) == 0 {
		return Fault{}, true
	}
	head := q[0]
	if head.fault.Times > 0 {
		if head.left--; head.left == 0 {
			s.faults[route] = q[1:]
		}
	}
	return head.fault, true
}

// sleep waits d, or less if the request or the server ends first; it reports
// whether the whole d passed.
func (s *Server) sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.done:
	}
	return false
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
