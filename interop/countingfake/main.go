// Command countingfake serves the demo mode's Cognigy fake (restclienttest,
// the demo users and key) with a second, loopback-only control endpoint
// that says which upstream calls the fake received, so that the interop
// supergraph step can count what a gateway's query costs upstream:
//
//	GET  /calls  {"total": n, "calls": ["list filter=... limit=...", ...]}
//	POST /reset  forgets the calls counted so far
//
// It prints the fake's base URL (".../new") and then the control URL, one a
// line, and serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "countingfake: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	apiKey := flag.String("api-key", "demo-key", "the API key the fake accepts")
	users := flag.Int("users", 300, "how many demo users (cmd/usersgraph's demo mode has 300)")
	seed := flag.Uint64("seed", 1, "the demo data's seed (cmd/usersgraph's demo mode uses 1)")
	flag.Parse()

	fake, err := restclienttest.NewServer(
		restclienttest.WithUsers(restclienttest.DemoUsers(*users, *seed)),
		restclienttest.WithAPIKey(*apiKey),
		restclienttest.WithAddr("127.0.0.1:0"),
	)
	if err != nil {
		return err
	}
	defer fake.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	control := &http.Server{Handler: controlHandler(fake), ReadHeaderTimeout: 5 * time.Second}
	fmt.Println(fake.URL)
	fmt.Printf("http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = control.Close()
	}()
	if err := control.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// calls is the answer of GET /calls.
type calls struct {
	Total int      `json:"total"`
	Calls []string `json:"calls"` // "<route> <query>", in arrival order
}

func controlHandler(fake *restclienttest.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /calls", func(w http.ResponseWriter, _ *http.Request) {
		reqs := fake.Requests()
		c := calls{Total: fake.TotalCalls(), Calls: make([]string, len(reqs))}
		for i, r := range reqs {
			q := r.Query.Encode()
			if r.Route == restclienttest.RouteGet {
				q = r.Path
			}
			c.Calls[i] = fmt.Sprintf("%s %s", r.Route, q)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c)
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, _ *http.Request) {
		fake.ResetCounts()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
