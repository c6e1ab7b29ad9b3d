// Command floor is the bench's measure of what net/http alone costs: a
// server with no GraphQL, no middleware and no cache that answers every
// POST with the same bytes, the facade's own answer to the bench's query.
// usersgraph-bench loads it beside the facade with the same wrk script, so
// that the facade's figures can be read against the floor any net/http
// server stands on.
//
//	POST /constant   reads the body, writes the answer
//	POST /wait       the same after a 200 µs pause: a handler that waits,
//	                 as a request sharing another's execution does (for
//	                 counting the system calls net/http makes then)
//	POST /get        the same after one GET of FLOOR_UPSTREAM (the
//	                 caller's X-API-Key forwarded), read whole: the least
//	                 a pass-through to the upstream does
//	GET  /healthz    200
//
// Environment: LISTEN_ADDR (host:port), FLOOR_ANSWER (a file holding the
// answer), FLOOR_UPSTREAM (the URL /get fetches). It is not part of the
// product.
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	answer, err := os.ReadFile(os.Getenv("FLOOR_ANSWER"))
	if err != nil {
		log.Fatalf("floor: FLOOR_ANSWER: %v", err)
	}
	upstream := os.Getenv("FLOOR_UPSTREAM")
	client := &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     time.Minute,
	}, Timeout: 10 * time.Second}
	length := strconv.Itoa(len(answer))
	write := func(w http.ResponseWriter) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{length}
		_, _ = w.Write(answer)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /constant", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		write(w)
	})
	mux.HandleFunc("POST /wait", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(200 * time.Microsecond)
		write(w)
	})
	mux.HandleFunc("POST /get", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, upstream, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header.Set("X-API-Key", r.Header.Get("X-API-Key"))
		res, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			http.Error(w, fmt.Sprintf("upstream: %d %v", res.StatusCode, err), http.StatusBadGateway)
			return
		}
		write(w)
	})
	srv := &http.Server{Addr: os.Getenv("LISTEN_ADDR"), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatalf("floor: %v", err)
	}
}
