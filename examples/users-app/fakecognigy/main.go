// Command fakecognigy serves the demo mode's Cognigy fake (restclienttest,
// with the demo users and key) as a process of its own, so that the example
// app's browser test can read the REST listing that usersgraph pages over.
// The demo mode of cmd/usersgraph keeps its fake on a loopback port that it
// does not publish. fakecognigy prints the fake's base URL (".../new") as its
// first line of output and serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (port 0: a free one)")
	apiKey := flag.String("api-key", "demo-key", "the API key the fake accepts")
	users := flag.Int("users", 300, "how many demo users (cmd/usersgraph's demo mode has 300)")
	seed := flag.Uint64("seed", 1, "the demo data's seed (cmd/usersgraph's demo mode uses 1)")
	flag.Parse()

	srv, err := restclienttest.NewServer(
		restclienttest.WithUsers(restclienttest.DemoUsers(*users, *seed)),
		restclienttest.WithAPIKey(*apiKey),
		restclienttest.WithAddr(*listen),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fakecognigy: %v\n", err)
		os.Exit(1)
	}
	defer srv.Close()
	fmt.Println(srv.URL)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
}
