package restclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
)

// Defaults of a Client made by New.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 8 << 20 // a page of 100 users is about 30 KiB
	maxProblemBytes         = 64 << 10
	userAgent               = "usersgraph"
)

// Doer sends one HTTP request. *http.Client is one; a transport that
// traces or measures each request wraps one. The client's own caching,
// coalescing, retries, limits and breaker are layers above the Doer, over
// decoded answers (see layers.go), not Doers themselves.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client calls Cognigy's user endpoints.
type Client struct {
	base     string // base URL without a trailing slash, e.g. https://host/new
	doer     Doer
	timeout  time.Duration // per attempt
	maxBytes int64
	now      func() time.Time
	// keepBodies keeps each body as received in its Response, for the
	// shared cache.
	keepBodies     bool
	keyHMAC        []byte // keys credential hashes; random per Client unless shared
	credentialMACs *macs  // HMAC states under keyHMAC

	layers   fetcher  // what a GET goes through, composed by New
	breaker  *breaker // nil: no breaker
	observer Observer
	ready    readiness
}

// Option configures a Client.
type Option func(*settings)

// settings are what the options ask for; New builds a Client from them.
type settings struct {
	doer     Doer
	timeout  time.Duration
	maxBytes int64
	observer Observer

	retry           RetryPolicy
	breakerFailures int
	breakerCooldown time.Duration
	concurrency     int
	ratePerSecond   float64
	rateBurst       int
	callerRate      float64
	callerBurst     int
	cacheTTL        time.Duration
	cacheEntries    int
	cacheBytes      int64
	shared          SharedCache
	hashKey         []byte
	sharedLimit     SharedRateLimit
}

// WithDoer sends requests through d instead of the default HTTP client.
func WithDoer(d Doer) Option { return func(s *settings) { s.doer = d } }

// WithTimeout bounds each attempt, from sending the request to reading the
// last byte of the body. Zero or less means no timeout of the client's own.
func WithTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithMaxResponseBytes caps a response body; a larger one is a *DecodeError
// wrapping ErrResponseTooLarge instead of an unbounded allocation. Zero or
// less means no cap.
func WithMaxResponseBytes(n int64) Option { return func(s *settings) { s.maxBytes = n } }

// New returns a Client for the Cognigy API at baseURL, which includes the
// "/new" prefix (for example "https://api-trial.cognigy.ai/new").
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("restclient: base URL must be an absolute http(s) URL")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("restclient: base URL must not carry a query, fragment or user info")
	}
	s := settings{
		timeout:  DefaultTimeout,
		maxBytes: DefaultMaxResponseBytes,
		observer: nopObserver{},
		retry:    RetryPolicy{MaxAttempts: 1},
	}
	for _, o := range opts {
		o(&s)
	}
	c := &Client{
		base:     strings.TrimRight(u.String(), "/"),
		doer:     s.doer,
		timeout:  s.timeout,
		maxBytes: s.maxBytes,
		now:      time.Now,
		keyHMAC:  s.hashKey,
		observer: s.observer,
	}
	if c.keyHMAC == nil {
		c.keyHMAC = make([]byte, 32)
		if _, err := rand.Read(c.keyHMAC); err != nil {
			return nil, fmt.Errorf("restclient: random key: %w", err)
		}
	}
	c.credentialMACs = newMACs(c.keyHMAC)
	if c.maxBytes <= 0 || c.maxBytes == math.MaxInt64 {
		c.maxBytes = math.MaxInt64 - 1 // no cap, and no overflow of the +1 below
	}
	if c.doer == nil {
		c.doer = NewHTTPClient()
	}
	c.layers = c.compose(s)
	return c, nil
}

// compose stacks the layers that s asks for, from the request to the
// upstream up to the caller; layers.go lists them in the caller's order.
func (c *Client) compose(s settings) fetcher {
	// The clock is read through c, so that a test may set c.now.
	now := func() time.Time { return c.now() }
	var f fetcher = getFunc(c.attempt)
	if s.breakerFailures > 0 {
		c.breaker = newBreaker(f, s.breakerFailures, s.breakerCooldown, s.observer)
		f = c.breaker
	}
	if s.concurrency > 0 {
		f = newConcurrencyLimit(f, s.concurrency)
	}
	switch {
	case s.sharedLimit != nil:
		f = &sharedRateLimit{next: f, budget: s.sharedLimit, now: now}
	case s.ratePerSecond > 0:
		f = newRateLimit(f, s.ratePerSecond, s.rateBurst, now)
	}
	if s.callerRate > 0 {
		f = newCallerShare(f, s.callerRate, s.callerBurst, now)
	}
	f = &retrier{next: f, policy: s.retry, now: now, observer: s.observer}
	if s.shared != nil && s.cacheTTL > 0 {
		c.keepBodies = true
		f = &sharedCache{next: f, store: s.shared, ttl: s.cacheTTL, now: now, observer: s.observer}
	}
	var cache *answerCache
	if s.cacheTTL > 0 && s.cacheEntries > 0 {
		cache = newAnswerCache(s.cacheTTL, s.cacheEntries, s.cacheBytes, now, s.observer)
		f = cache.filling(f)
	}
	f = newCoalescer(f, s.observer)
	if cache != nil {
		f = cache.serving(f)
	}
	return f
}

// NewHTTPClient returns the HTTP client a Client uses by default: pooled
// keep-alive connections, each call written and read on its caller's
// goroutine (see inlineTransport), and no redirects, since a redirect to
// another host would carry the caller's X-API-Key there.
func NewHTTPClient(opts ...HTTPClientOption) *http.Client {
	var s httpClientSettings
	for _, o := range opts {
		o(&s)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.DisableKeepAlives = s.noKeepAlives
	return &http.Client{
		Transport: newInlineTransport(t),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// HTTPClientOption configures the client NewHTTPClient makes.
type HTTPClientOption func(*httpClientSettings)

type httpClientSettings struct{ noKeepAlives bool }

// WithoutKeepAlives makes every request use a new connection. Tests that
// break connections use it: a kept connection found broken is replaced
// and the request sent again, silently, which would hide the fault.
func WithoutKeepAlives() HTTPClientOption {
	return func(s *httpClientSettings) { s.noKeepAlives = true }
}

// Response is the HTTP answer to a call, for callers that need its status
// or headers.
type Response struct {
	StatusCode int
	Header     http.Header

	raw []byte // the body, kept only for a shared cache
}

// ErrInvalidOptions is returned, before anything is sent, for options that
// the contract forbids together.
var ErrInvalidOptions = errors.New("restclient: invalid options")

// ListUsers calls GET /v2.0/users.
func (c *Client) ListUsers(ctx context.Context, opts ListUsersOptions) (*UserPage, *Response, error) {
	if opts.Next != "" && opts.Previous != "" {
		return nil, nil, fmt.Errorf("%w: next and previous together", ErrInvalidOptions)
	}
	if opts.Skip != 0 && (opts.Next != "" || opts.Previous != "") {
		return nil, nil, fmt.Errorf("%w: skip with a cursor", ErrInvalidOptions)
	}
	if opts.Limit < 0 || opts.Limit > 100 || opts.Skip < 0 {
		return nil, nil, fmt.Errorf("%w: limit must be 1..100 and skip >= 0", ErrInvalidOptions)
	}
	q := make(url.Values, 6)
	if opts.Filter != "" {
		q.Set("filter", opts.Filter)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Skip > 0 {
		q.Set("skip", strconv.Itoa(opts.Skip))
	}
	if len(opts.Sort) > 0 {
		q.Set("sort", opts.Sort.String())
	}
	if opts.Next != "" {
		q.Set("next", opts.Next)
	}
	if opts.Previous != "" {
		q.Set("previous", opts.Previous)
	}
	return fetch(ctx, c, RouteList, c.base+"/v2.0/users?"+q.Encode(), func(body []byte) (*UserPage, error) {
		var w wirePage
		if err := gojson.Unmarshal(body, &w); err != nil {
			return nil, err
		}
		return w.page()
	})
}

// GetUser calls GET /v2.0/users/{id}. An unknown id is an *ErrorResponse
// with StatusCode 404.
func (c *Client) GetUser(ctx context.Context, id string) (*User, *Response, error) {
	if id == "" || id == "." || id == ".." {
		// PathEscape keeps dots: these would name another resource.
		return nil, nil, fmt.Errorf("%w: user id %q", ErrInvalidOptions, id)
	}
	return fetch(ctx, c, RouteByID, c.base+"/v2.0/users/"+url.PathEscape(id), func(body []byte) (*User, error) {
		var w wireUser
		if err := gojson.Unmarshal(body, &w); err != nil {
			return nil, err
		}
		if w.ID == "" {
			return nil, errors.New("user without _id")
		}
		u := w.user()
		return &u, nil
	})
}

// attempt is the innermost layer: one GET within the attempt's timeout.
func (c *Client) attempt(ctx context.Context, req request) result {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	v, resp, err := c.once(ctx, req.url, req.decode)
	return result{v: v, resp: resp, err: err}
}

// once sends one GET and decodes a 2xx body with decode; attempt bounds it
// with the attempt's timeout.
func (c *Client) once(ctx context.Context, u string, decode func([]byte) (any, error)) (any, *Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("restclient: build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if cred, ok := CredentialFrom(ctx); ok {
		cred.apply(req.Header)
	}
	httpResp, err := c.doer.Do(req)
	if err != nil {
		return nil, nil, transportError(ctx, err)
	}
	defer httpResp.Body.Close()
	resp := &Response{StatusCode: httpResp.StatusCode, Header: httpResp.Header}

	if httpResp.StatusCode < 200 || httpResp.StatusCode > 299 {
		// The problem body is a courtesy: read a bounded amount and ignore a
		// failure to read it, the status alone is the error.
		body, _ := io.ReadAll(io.LimitReader(httpResp.Body, maxProblemBytes))
		if c.keepBodies {
			resp.raw = body
		}
		return nil, resp, newErrorResponse(httpResp.StatusCode, httpResp.Header, body, c.now())
	}
	if httpResp.ContentLength > c.maxBytes {
		return nil, resp, &DecodeError{StatusCode: resp.StatusCode, Err: ErrResponseTooLarge}
	}
	body, giveBack, err := readBody(httpResp, c.maxBytes)
	if err != nil {
		return nil, resp, transportError(ctx, err)
	}
	defer giveBack()
	if int64(len(body)) > c.maxBytes {
		return nil, resp, &DecodeError{StatusCode: resp.StatusCode, Err: ErrResponseTooLarge}
	}
	v, err := decode(body) // keeps nothing of body: the decoder copies, and so do wireUser.user and wirePage.page
	if err != nil {
		return nil, resp, &DecodeError{StatusCode: resp.StatusCode, Err: err}
	}
	if c.keepBodies {
		resp.raw = bytes.Clone(body)
	}
	return v, resp, nil
}

// readBuffers hold bodies while they are decoded: reading each one into a
// fresh, doubling slice was an eighth of all the bytes the facade
// allocated under a soak of distinct queries.
var readBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledRead is the largest buffer put back: a rare huge body is not
// kept alive by the pool.
const maxPooledRead = 1 << 20

// readBody reads a body of at most limit+1 bytes into a pooled buffer,
// grown once to the announced length when there is one. An answer whose
// length is not announced (chunked, or gzip decoded on the way in, as
// Cognigy's are when it compresses) is read into the pooled buffer up to
// maxPooledUnannounced bytes and, when it is longer, read on as io.ReadAll
// does (doubling a buffer up to the limit would allocate several times a
// huge body). giveBack returns the pooled buffer; the body must not be
// used after it.
func readBody(r *http.Response, limit int64) (body []byte, giveBack func(), err error) {
	if r.ContentLength >= maxPooledRead || r.ContentLength > limit {
		body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		return body, func() {}, err
	}
	buf := readBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	giveBack = func() { releaseReadBuffer(buf) }
	first := limit + 1
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // ReadFrom wants MinRead free before it sees EOF
	} else {
		first = min(first, maxPooledUnannounced)
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, first))
	if err != nil {
		giveBack()
		return nil, func() {}, err
	}
	if n < first || first == limit+1 {
		return buf.Bytes(), giveBack, nil
	}
	rest, err := io.ReadAll(io.LimitReader(r.Body, limit+1-first))
	body = append(buf.Bytes()[:n:n], rest...) // a new slice: buf goes back now
	giveBack()
	return body, func() {}, err
}

// maxPooledUnannounced is how much of a body of unannounced length is read
// into a pooled buffer: several pages of 100 users.
const maxPooledUnannounced = 256 << 10

func releaseReadBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledRead {
		readBuffers.Put(buf)
	}
}

// transportError is the error of a request that got no complete answer.
// When its context ended first, why it ended (context.Canceled: every
// caller hung up; context.DeadlineExceeded: time ran out) is the cause,
// however the transport worded it, so that the breaker and the observer
// can tell a caller's cancellation, which says nothing of the upstream,
// from a timeout, which does.
func transportError(ctx context.Context, err error) *TransportError {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); !errors.Is(err, cause) {
			err = cause
		}
	}
	return &TransportError{Err: withoutURL(err)}
}

// withoutURL drops *url.Error's wrapping, whose message repeats the URL.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// wirePage and wireUser are the JSON shapes on the wire. They are decoded
// with github.com/goccy/go-json, which reads them as encoding/json does
// (unknown fields ignored, keys matched case-insensitively) about four
// times as fast and with a fifth of the allocations: decoding a page was
// the largest single cost of an executed query.
type wirePage struct {
	Items          *[]wireUser `json:"items"`
	Total          *int        `json:"total"`
	NextCursor     string      `json:"nextCursor"`
	PreviousCursor string      `json:"previousCursor"`
}

type wireUser struct {
	ID            string  `json:"_id"`
	Email         string  `json:"id"`
	Name          string  `json:"name"`
	LastActive    float64 `json:"lastActive"`
	CreatedAt     float64 `json:"createdAt"`
	LastChanged   float64 `json:"lastChanged"`
	CreatedBy     string  `json:"createdBy"`
	LastChangedBy string  `json:"lastChangedBy"`
}

func (w *wirePage) page() (*UserPage, error) {
	if w.Items == nil {
		return nil, errors.New("no items array")
	}
	if w.Total == nil {
		return nil, errors.New("no total")
	}
	items := make([]User, len(*w.Items))
	for i := range *w.Items {
		wu := &(*w.Items)[i]
		if wu.ID == "" {
			return nil, fmt.Errorf("item %d has no _id", i)
		}
		items[i] = wu.user()
	}
	// The cursors point into the decoder's copy of the body too: a cached
	// page would keep the whole body alive through them.
	return &UserPage{Items: items, Total: *w.Total, NextCursor: strings.Clone(w.NextCursor), PreviousCursor: strings.Clone(w.PreviousCursor)}, nil
}

func (w *wireUser) user() User {
	// goccy/go-json's strings point into its copy of the whole body: kept
	// as they are, one cached user would hold its page's entire answer
	// (roles, projects and all) in memory. One allocation holds them all.
	// (Not a + b + c: when only one is non-empty, Go returns that string
	// itself, still pointing into the body.)
	var b strings.Builder
	b.Grow(len(w.ID) + len(w.Email) + len(w.Name) + len(w.CreatedBy) + len(w.LastChangedBy))
	for _, s := range [...]string{w.ID, w.Email, w.Name, w.CreatedBy, w.LastChangedBy} {
		b.WriteString(s)
	}
	all := b.String()
	next := func(n int) string {
		s := all[:n]
		all = all[n:]
		return s
	}
	return User{
		ID:            next(len(w.ID)),
		Email:         next(len(w.Email)),
		Name:          next(len(w.Name)),
		LastActive:    lastActiveTime(w.LastActive),
		CreatedAt:     unixSeconds(w.CreatedAt),
		LastChanged:   unixSeconds(w.LastChanged),
		CreatedBy:     next(len(w.CreatedBy)),
		LastChangedBy: next(len(w.LastChangedBy)),
	}
}

// lastActiveTime reads lastActive, whose unit is undocumented: values above
// 1e11 (year 5138 in seconds, 1973 in milliseconds) are milliseconds.
func lastActiveTime(v float64) time.Time {
	if v > 1e11 {
		return time.UnixMilli(int64(v)).UTC()
	}
	return unixSeconds(v)
}

// unixSeconds maps Unix seconds to UTC time; 0 (or less) means "not set".
func unixSeconds(v float64) time.Time {
	if v <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(v), 0).UTC()
}
