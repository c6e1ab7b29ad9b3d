package restclient

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// inlineTransport sends HTTP/1.1 requests without a body (the client's
// GETs) on pooled keep-alive connections, writing the request and reading
// the answer on the caller's goroutine. net/http's Transport runs a read
// loop and a write loop per connection and hands each request and answer
// between them and the caller over channels: three goroutine hand-offs a
// call, a sixth of the facade's CPU and most of its added latency at one
// request at a time (CPU profile of the bench's c=1 page). The framing is
// net/http's own (Request.Write, ReadResponse); only the pooling, the
// cancellation and gzip are here.
//
// What it does not do it leaves to fallback, a net/http Transport: requests
// with a body, other schemes, and requests that go through a proxy.
// Over TLS it offers only HTTP/1.1, so Cognigy answers on one connection
// per concurrent call, where net/http would multiplex them over HTTP/2;
// the concurrency limit bounds how many there are.
type inlineTransport struct {
	fallback    *http.Transport
	dialer      net.Dialer
	tlsConfig   *tls.Config // cloned per connection with its ServerName
	maxIdle     int         // per host
	maxHeader   int64       // bytes of an answer's head
	idleTimeout time.Duration
	now         func() time.Time

	mu   sync.Mutex
	idle map[string][]*inlineConn // by scheme://host:port, most recent last
}

// defaultMaxHeaderBytes bounds an answer's head, as net/http's Transport
// does by default.
const defaultMaxHeaderBytes = 10 << 20

// inlineConn is one keep-alive connection and its buffers.
type inlineConn struct {
	key       string
	conn      net.Conn
	tcp       net.Conn // under TLS, the connection TLS runs on; else conn
	tls       bool
	limit     *io.LimitedReader // between conn and r: bounds an answer's head
	r         *bufio.Reader
	w         *bufio.Writer
	idleSince time.Time
}

func newInlineTransport(fallback *http.Transport) *inlineTransport {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if fallback.TLSClientConfig != nil {
		tlsConfig = fallback.TLSClientConfig.Clone()
	}
	tlsConfig.NextProtos = []string{"http/1.1"}
	return &inlineTransport{
		fallback:    fallback,
		dialer:      net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		tlsConfig:   tlsConfig,
		maxIdle:     cmp.Or(fallback.MaxIdleConnsPerHost, http.DefaultMaxIdleConnsPerHost),
		maxHeader:   cmp.Or(fallback.MaxResponseHeaderBytes, defaultMaxHeaderBytes),
		idleTimeout: fallback.IdleConnTimeout,
		now:         time.Now,
		idle:        make(map[string][]*inlineConn),
	}
}

// RoundTrip implements http.RoundTripper.
func (t *inlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.handles(req) {
		return t.fallback.RoundTrip(req)
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validHeader(req.Header); err != nil {
		return nil, err
	}
	key := req.URL.Scheme + "://" + canonicalAddr(req.URL.Scheme, req.URL.Host)
	// A kept connection the server has closed in the meantime fails
	// before any byte of an answer; a GET is then safe to send again, once,
	// on a new connection, as net/http's Transport does.
	if c := t.get(key); c != nil {
		resp, err := t.exchange(ctx, c, req)
		if err == nil || !errors.Is(err, errStaleConn) || ctx.Err() != nil {
			return resp, err
		}
	}
	c, err := t.dial(ctx, req.URL, key)
	if err != nil {
		return nil, err
	}
	return t.exchange(ctx, c, req)
}

// handles says whether req is one the inline path sends: a GET without a
// body, not through a proxy.
func (t *inlineTransport) handles(req *http.Request) bool {
	if req.Method != http.MethodGet || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	if t.fallback.Proxy != nil {
		if p, err := t.fallback.Proxy(req); err != nil || p != nil {
			return false
		}
	}
	return true
}

// validHeader refuses what net/http's Transport refuses: a field that
// Request.Write would send mangled (a line break in a value turned into a
// space) rather than as given. The error names the field, never its value,
// which may be a credential.
func validHeader(h http.Header) error {
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("net/http: invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("net/http: invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// errStaleConn marks a failure on a reused connection before any byte of
// the answer arrived.
var errStaleConn = errors.New("kept connection closed by the server")

// exchange sends req on c and reads the answer's head; the answer's body
// gives c back to the pool once it is read to its end and closed.
func (t *inlineTransport) exchange(ctx context.Context, c *inlineConn, req *http.Request) (*http.Response, error) {
	reused := !c.idleSince.IsZero()
	// A caller that stops waiting unblocks the read or write in progress.
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.conn.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}

	gz := !t.fallback.DisableCompression && req.Header.Get("Accept-Encoding") == "" && req.Header.Get("Range") == ""
	if gz || t.fallback.DisableKeepAlives {
		req = req.Clone(ctx)
		if gz {
			// As net/http does: ask for gzip and decode it here, unseen.
			req.Header.Set("Accept-Encoding", "gzip")
		}
		req.Close = req.Close || t.fallback.DisableKeepAlives
	}
	if err := req.Write(c.w); err != nil {
		return fail(t.stale(reused, err))
	}
	if err := c.w.Flush(); err != nil {
		return fail(t.stale(reused, err))
	}
	var resp *http.Response
	for {
		if _, err := c.r.Peek(1); err != nil {
			return fail(t.stale(reused, err))
		}
		// Only a failure before the first byte of an answer may mean the
		// server closed the connection unasked: from here on it has the
		// request, and a GET is not sent twice.
		reused = false
		c.limit.N = t.maxHeader - int64(c.r.Buffered())
		r, err := http.ReadResponse(c.r, req)
		if c.limit.N <= 0 && err != nil {
			return fail(fmt.Errorf("restclient: the answer's head is larger than %d bytes", t.maxHeader))
		}
		c.limit.N = math.MaxInt64
		if err != nil {
			return fail(err)
		}
		// An interim answer (100 Continue, 103 Early Hints) precedes the
		// real one.
		if r.StatusCode >= 100 && r.StatusCode < 200 && r.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		resp = r
		break
	}
	// A 101 would switch protocols, which a GET never asks for: the
	// connection is not worth keeping after it.
	keep := !resp.Close && !req.Close && resp.ProtoAtLeast(1, 1) && resp.StatusCode != http.StatusSwitchingProtocols
	body := &inlineBody{t: t, c: c, body: resp.Body, stop: stop, keep: keep, eof: resp.Body == http.NoBody}
	resp.Body = body
	if gz && strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Uncompressed = true
		resp.Body = &gzipBody{body: body}
	}
	return resp, nil
}

// stale classifies a failure before any answer: on a reused connection it
// is most likely the server's idle close.
func (t *inlineTransport) stale(reused bool, err error) error {
	if reused && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isConnReset(err)) {
		return errors.Join(errStaleConn, err)
	}
	return err
}

func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// dial opens a new connection to u's host, with TLS for https.
func (t *inlineTransport) dial(ctx context.Context, u *url.URL, key string) (*inlineConn, error) {
	scheme, addr, _ := strings.Cut(key, "://")
	conn, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tcp := conn
	if scheme == "https" {
		cfg := t.tlsConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	limit := &io.LimitedReader{R: conn, N: math.MaxInt64}
	return &inlineConn{key: key, conn: conn, tcp: tcp, tls: scheme == "https", limit: limit, r: bufio.NewReaderSize(limit, 4<<10), w: bufio.NewWriterSize(conn, 4<<10)}, nil
}

// get takes the most recently used idle connection to key that is still
// good, closing those idle for too long or spoilt while idle.
func (t *inlineTransport) get(key string) *inlineConn {
	for {
		c := t.pop(key)
		if c == nil {
			return nil
		}
		// Under TLS, bytes may be the server's own records (session
		// tickets), not an answer: only a close counts there.
		if closed, unsolicited := peekIdle(c.tcp); closed || (unsolicited && !c.tls) {
			c.conn.Close()
			continue
		}
		return c
	}
}

// pop takes the most recently used idle connection to key not idle for
// too long.
func (t *inlineTransport) pop(key string) *inlineConn {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	conns := t.idle[key]
	for len(conns) > 0 {
		c := conns[len(conns)-1]
		conns[len(conns)-1] = nil
		conns = conns[:len(conns)-1]
		if t.idleTimeout > 0 && now.Sub(c.idleSince) > t.idleTimeout {
			c.conn.Close()
			continue
		}
		t.idle[key] = conns
		return c
	}
	delete(t.idle, key)
	return nil
}

// put keeps c for the next request to its host, or closes it when the
// pool is full.
func (t *inlineTransport) put(c *inlineConn) {
	c.idleSince = t.now()
	t.mu.Lock()
	conns := t.idle[c.key]
	// The oldest are at the bottom, where get never looks while newer
	// ones serve: close those idle for too long here.
	expired := 0
	for expired < len(conns) && t.idleTimeout > 0 && c.idleSince.Sub(conns[expired].idleSince) > t.idleTimeout {
		conns[expired].conn.Close()
		expired++
	}
	if expired > 0 {
		n := copy(conns, conns[expired:])
		clear(conns[n:])
		conns = conns[:n]
		t.idle[c.key] = conns
	}
	if len(conns) >= t.maxIdle {
		t.mu.Unlock()
		c.conn.Close()
		return
	}
	t.idle[c.key] = append(conns, c)
	t.mu.Unlock()
}

// CloseIdleConnections closes every kept connection, as http.Client's
// method of that name asks of its transport.
func (t *inlineTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = make(map[string][]*inlineConn)
	t.mu.Unlock()
	for _, conns := range idle {
		for _, c := range conns {
			c.conn.Close()
		}
	}
	t.fallback.CloseIdleConnections()
}

// inlineBody is an answer's body; read to its end and closed, it gives its
// connection back to the pool, closed early, it closes the connection
// (what is left unread would otherwise be read as the next answer).
type inlineBody struct {
	t    *inlineTransport
	c    *inlineConn
	body io.ReadCloser
	stop func() bool
	keep bool

	mu     sync.Mutex
	eof    bool
	closed bool
}

func (b *inlineBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.mu.Lock()
		b.eof = true
		b.mu.Unlock()
	}
	return n, err
}

func (b *inlineBody) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	eof := b.eof
	b.mu.Unlock()
	// A body not read to its end closes its connection: reading on to
	// find out would wait on the server. Bytes already buffered past the
	// answer (an unasked second answer, a body on a 204) would be read as
	// the next request's answer, which may be another caller's. And stop
	// is false when the caller's context ended: its deadline is set on the
	// connection.
	if b.stop() && eof && b.keep && b.c.r.Buffered() == 0 {
		b.c.conn.SetDeadline(time.Time{})
		b.t.put(b.c)
		return nil
	}
	return b.c.conn.Close()
}

// gzipBody decodes a gzip-encoded body as it is read.
type gzipBody struct {
	body *inlineBody
	zr   *gzip.Reader
	err  error
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.zr == nil && g.err == nil {
		g.zr, g.err = gzip.NewReader(g.body)
	}
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.zr.Read(p)
	if err == io.EOF {
		// The gzip stream ends before the body may: read on to the
		// body's end, so that the connection can be kept.
		if _, err := io.Copy(io.Discard, io.LimitReader(g.body, 1<<10)); err != nil {
			return n, err
		}
	}
	return n, err
}

func (g *gzipBody) Close() error { return g.body.Close() }

// aLongTimeAgo is a deadline in the past: setting it unblocks a read or a
// write at once.
var aLongTimeAgo = time.Unix(1, 0)

// canonicalAddr is host:port, with the scheme's port when host has none.
func canonicalAddr(scheme, host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if scheme == "https" {
		return net.JoinHostPort(h, "443")
	}
	return net.JoinHostPort(h, "80")
}
