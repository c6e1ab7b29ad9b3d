package main

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkAnswerFromResponseCache is the whole server's way for a
// repeated query answered from the response cache (most of the Zipf mix's
// requests, and the way every in-flight sharer takes besides its wait):
// request id, access log, metrics, CORS, credential, key, and the kept
// bytes written. In process, with the default configuration and the
// logger main makes at LOG_LEVEL=warn (as the bench runs the server), on
// the demo upstream; the request and the writer are reused, so that what
// is measured is the server's own work.
func BenchmarkAnswerFromResponseCache(b *testing.B) {
	cfg, err := loadConfig(nil, env(map[string]string{"LOG_LEVEL": "warn"}), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	a, err := newApp(cfg, newLogger(cfg, io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	const body = `{"query":"{ users(first: 25) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id email name lastActive createdAt lastChanged } } } }"}`
	u, _ := url.Parse("http://localhost/graphql")
	header := http.Header{"Content-Type": {"application/json"}, "X-Api-Key": {demoKey}}
	w := &discardWriter{}
	serve := func() {
		w.reset()
		r := &http.Request{Method: http.MethodPost, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: header, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Host: "localhost", RequestURI: "/graphql"}
		a.handler.ServeHTTP(w, r)
	}
	// The doorkeeper keeps an answer the second time its request is seen.
	for range 3 {
		if serve(); w.status != http.StatusOK || !bytes.Contains(w.body.Bytes(), []byte(`"totalCount":300`)) {
			b.Fatalf("status %d: %.300s", w.status, w.body.Bytes())
		}
	}
	if serve(); !bytes.HasSuffix(w.body.Bytes(), []byte(`"spent":0}}}`)) {
		b.Fatalf("not answered from the response cache: %.300s", w.body.Bytes())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if serve(); w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// discardWriter is a ResponseWriter that keeps the last answer in a
// buffer it reuses.
type discardWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *discardWriter) reset() {
	w.header, w.status = http.Header{}, 0
	w.body.Reset()
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}
