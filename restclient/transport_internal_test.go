package restclient

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// inlineServer is an httptest server that counts the connections opened to it.
func inlineServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// rawServer answers each connection it accepts with handle, which gets
// the connection's number (from 1); for answers net/http would not send.
func rawServer(t *testing.T, handle func(n int32, c net.Conn)) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := accepted.Add(1)
			wg.Go(func() {
				defer c.Close()
				handle(n, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return "http://" + ln.Addr().String() + "/", &accepted
}

// stalledAnswer is an answer whose server wrote the first sent bytes of its body
// (announcing length, if not empty) and then stalls until the test ends;
// those bytes are read.
func stalledAnswer(t *testing.T, length string, sent int) *http.Response {
	t.Helper()
	release := make(chan struct{})
	srv, _ := inlineServer(t, func(w http.ResponseWriter, _ *http.Request) {
		if length != "" {
			w.Header().Set("Content-Length", length)
		}
		io.WriteString(w, strings.Repeat("x", sent))
		w.(http.Flusher).Flush()
		<-release
	})
	t.Cleanup(func() { close(release) }) // before the server's Close, registered earlier
	tr := testInlineTransport(t, nil)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, sent)); err != nil {
		t.Fatal(err)
	}
	return resp
}

func testInlineTransport(t *testing.T, fallback *http.Transport) *inlineTransport {
	t.Helper()
	if fallback == nil {
		fallback = &http.Transport{MaxIdleConnsPerHost: 8}
	}
	tr := newInlineTransport(fallback)
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// get sends a GET through tr and reads the whole answer.
func get(t *testing.T, ctx context.Context, tr http.RoundTripper, u string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

func TestInlineTransport(t *testing.T) {
	t.Run("answers read to their end leave the connection for the next request", func(t *testing.T) {
		srv, conns := inlineServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page "+r.URL.Query().Get("n")) })
		tr := testInlineTransport(t, nil)
		for _, n := range []string{"1", "2", "3"} {
			_, body, err := get(t, t.Context(), tr, srv.URL+"/?n="+n)
			if err != nil || body != "page "+n {
				t.Fatalf("request %s: %q, %v", n, body, err)
			}
		}
		if n := conns.Load(); n != 1 {
			t.Fatalf("%d connections, want 1 kept", n)
		}
	})

	t.Run("a body closed before its end closes its connection", func(t *testing.T) {
		srv, conns := inlineServer(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, strings.Repeat("x", 64<<10)) })
		tr := testInlineTransport(t, nil)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := resp.Body.Read(make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, body, err := get(t, t.Context(), tr, srv.URL); err != nil || len(body) != 64<<10 {
			t.Fatalf("second request: %d bytes, %v", len(body), err)
		}
		if n := conns.Load(); n != 2 {
			t.Fatalf("%d connections, want 2: the half-read one must not be reused", n)
		}
	})

	t.Run("a kept connection the server closed is replaced and the GET sent again", func(t *testing.T) {
		// A server that answers one request per connection and then closes
		// it without saying so, as an upstream's idle timeout does.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		var accepted atomic.Int32
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
				c.Close()
			}
		}()
		tr := testInlineTransport(t, nil)
		for i := range 3 {
			if _, body, err := get(t, t.Context(), tr, "http://"+ln.Addr().String()+"/"); err != nil || body != "ok" {
				t.Fatalf("request %d: %q, %v", i, body, err)
			}
		}
		if n := accepted.Load(); n != 3 {
			t.Fatalf("%d connections, want 3", n)
		}
	})

	t.Run("a caller that stops waiting ends the read in progress", func(t *testing.T) {
		arrived, release := make(chan struct{}), make(chan struct{})
		srv, _ := inlineServer(t, func(http.ResponseWriter, *http.Request) {
			close(arrived)
			<-release
		})
		defer close(release)
		tr := testInlineTransport(t, nil)
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-arrived; cancel() }()
		if _, _, err := get(t, ctx, tr, srv.URL); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})

	t.Run("a gzip answer is decoded unseen and its connection kept", func(t *testing.T) {
		srv, conns := inlineServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Accept-Encoding") != "gzip" {
				t.Errorf("Accept-Encoding = %q, want gzip", r.Header.Get("Accept-Encoding"))
			}
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, `{"items":[]}`)
			zw.Close()
		})
		tr := testInlineTransport(t, nil)
		for range 2 {
			resp, body, err := get(t, t.Context(), tr, srv.URL)
			if err != nil || body != `{"items":[]}` {
				t.Fatalf("%q, %v", body, err)
			}
			if !resp.Uncompressed || resp.Header.Get("Content-Encoding") != "" {
				t.Fatalf("Uncompressed = %v, Content-Encoding = %q", resp.Uncompressed, resp.Header.Get("Content-Encoding"))
			}
		}
		if n := conns.Load(); n != 1 {
			t.Fatalf("%d connections, want 1 kept", n)
		}
	})

	t.Run("over TLS it speaks HTTP/1.1 and keeps the connection", func(t *testing.T) {
		var conns atomic.Int32
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil || r.ProtoMajor != 1 {
				t.Errorf("TLS %v, protocol %s", r.TLS != nil, r.Proto)
			}
			io.WriteString(w, "ok")
		}))
		srv.EnableHTTP2 = true
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		roots := x509.NewCertPool()
		roots.AddCert(srv.Certificate())
		tr := testInlineTransport(t, &http.Transport{MaxIdleConnsPerHost: 8, TLSClientConfig: &tls.Config{RootCAs: roots}})
		for range 2 {
			if _, body, err := get(t, t.Context(), tr, srv.URL); err != nil || body != "ok" {
				t.Fatalf("%q, %v", body, err)
			}
		}
		if n := conns.Load(); n != 1 {
			t.Fatalf("%d connections, want 1 kept", n)
		}
	})

	t.Run("without keep-alives every request has its own connection and says so", func(t *testing.T) {
		srv, conns := inlineServer(t, func(w http.ResponseWriter, r *http.Request) {
			if !r.Close {
				t.Error("the request did not ask the server to close")
			}
			io.WriteString(w, "ok")
		})
		tr := testInlineTransport(t, &http.Transport{DisableKeepAlives: true})
		for range 2 {
			if _, _, err := get(t, t.Context(), tr, srv.URL); err != nil {
				t.Fatal(err)
			}
		}
		if n := conns.Load(); n != 2 {
			t.Fatalf("%d connections, want 2", n)
		}
	})

	t.Run("closing a body its server stalled in does not wait for the server", func(t *testing.T) {
		resp := stalledAnswer(t, "", 100)
		closed := make(chan error, 1)
		go func() { closed <- resp.Body.Close() }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close still waits for the server's next byte")
		}
	})

	t.Run("closing a body ends a read blocked in it", func(t *testing.T) {
		resp := stalledAnswer(t, "1000", 1)
		read, reading := make(chan error, 1), make(chan struct{})
		go func() {
			close(reading)
			_, err := io.ReadAll(resp.Body) // the server sends nothing more
			read <- err
		}()
		<-reading
		resp.Body.Close()
		select {
		case err := <-read:
			if err == nil {
				t.Fatal("the read ended without an error")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the read is still blocked after Close")
		}
	})

	t.Run("bytes the server sent unasked never answer the next request", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			first string
		}{
			// In one write: they are in the buffer when the first answer ends.
			{"with the answer", "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nfor request 1!"},
			// After it: they arrive while the connection is idle.
			{"after the answer", "HTTP/1.1 204 No Content\r\n\r\n"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				sentLate := make(chan struct{})
				u, _ := rawServer(t, func(n int32, c net.Conn) {
					br := bufio.NewReader(c)
					for i := 0; ; i++ {
						if _, err := http.ReadRequest(br); err != nil {
							return
						}
						switch {
						case n == 1 && i == 0:
							io.WriteString(c, tc.first)
							if tc.name == "after the answer" {
								time.Sleep(20 * time.Millisecond)
								io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nfor request 1!")
							}
							close(sentLate)
						default:
							io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nfor request 2!")
						}
					}
				})
				tr := testInlineTransport(t, nil)
				if _, _, err := get(t, t.Context(), tr, u); err != nil {
					t.Fatal(err)
				}
				<-sentLate
				// The late bytes are on their way over loopback: let them land.
				waitFor(t, "the late bytes reach the idle connection", func() bool {
					tr.mu.Lock()
					defer tr.mu.Unlock()
					for _, conns := range tr.idle {
						for _, c := range conns {
							if _, unsolicited := peekIdle(c.tcp); unsolicited {
								return true
							}
						}
					}
					return tc.name == "with the answer" // nothing was pooled then
				})
				if _, body, err := get(t, t.Context(), tr, u); err != nil || body != "for request 2!" {
					t.Fatalf("second request got %q, %v", body, err)
				}
			})
		}
	})

	t.Run("a GET whose answer had begun is not sent again", func(t *testing.T) {
		var requests atomic.Int32
		u, _ := rawServer(t, func(n int32, c net.Conn) {
			br := bufio.NewReader(c)
			for i := 0; ; i++ {
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				requests.Add(1)
				if n == 1 && i == 1 {
					io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
					return // the server fails after it began to answer
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		})
		tr := testInlineTransport(t, nil)
		if _, _, err := get(t, t.Context(), tr, u); err != nil {
			t.Fatal(err)
		}
		if _, _, err := get(t, t.Context(), tr, u); err == nil {
			t.Fatal("the second GET succeeded; want the server's failure")
		}
		if n := requests.Load(); n != 2 {
			t.Fatalf("the server received %d requests, want 2", n)
		}
	})

	t.Run("an answer's head larger than the limit is refused", func(t *testing.T) {
		srv, _ := inlineServer(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Big", strings.Repeat("b", 64<<10))
			io.WriteString(w, "ok")
		})
		tr := testInlineTransport(t, &http.Transport{MaxResponseHeaderBytes: 16 << 10})
		if _, _, err := get(t, t.Context(), tr, srv.URL); err == nil || !strings.Contains(err.Error(), "head is larger") {
			t.Fatalf("err = %v, want the head refused", err)
		}
	})

	t.Run("a zero MaxIdleConnsPerHost keeps net/http's default of 2", func(t *testing.T) {
		srv, conns := inlineServer(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
		tr := testInlineTransport(t, &http.Transport{})
		for range 2 {
			if _, _, err := get(t, t.Context(), tr, srv.URL); err != nil {
				t.Fatal(err)
			}
		}
		if n := conns.Load(); n != 1 {
			t.Fatalf("%d connections, want 1 kept", n)
		}
	})

	t.Run("connections idle too long are closed when others are put back", func(t *testing.T) {
		tr := testInlineTransport(t, nil)
		now := time.Unix(1000, 0)
		tr.now = func() time.Time { return now }
		tr.idleTimeout = time.Minute
		a, b := net.Pipe()
		defer b.Close()
		old := &inlineConn{key: "k", conn: a, tcp: a}
		tr.put(old)
		now = now.Add(2 * time.Minute)
		c, d := net.Pipe()
		defer d.Close()
		tr.put(&inlineConn{key: "k", conn: c, tcp: c})
		if n := len(tr.idle["k"]); n != 1 {
			t.Fatalf("%d idle connections, want 1", n)
		}
		if _, err := a.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
			t.Fatalf("the expired connection is still open: %v", err)
		}
	})

	t.Run("what it does not send inline goes to net/http's Transport", func(t *testing.T) {
		proxy, _ := url.Parse("http://proxy.example:3128")
		plain := testInlineTransport(t, nil)
		proxied := testInlineTransport(t, &http.Transport{Proxy: http.ProxyURL(proxy)})
		cases := []struct {
			name   string
			tr     *inlineTransport
			method string
			url    string
			body   io.Reader
			inline bool
		}{
			{"a GET over http", plain, http.MethodGet, "http://cognigy.example/v2.0/users", nil, true},
			{"a GET over https", plain, http.MethodGet, "https://cognigy.example/v2.0/users", nil, true},
			{"a request with a body", plain, http.MethodPost, "http://cognigy.example/", strings.NewReader("{}"), false},
			{"a HEAD", plain, http.MethodHead, "http://cognigy.example/", nil, false},
			{"a GET through a proxy", proxied, http.MethodGet, "http://cognigy.example/", nil, false},
		}
		for _, tc := range cases {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, tc.url, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.tr.handles(req); got != tc.inline {
				t.Errorf("%s: inline = %v, want %v", tc.name, got, tc.inline)
			}
		}
	})
}
