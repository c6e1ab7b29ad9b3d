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
	"sync/atomic"
	"testing"
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
