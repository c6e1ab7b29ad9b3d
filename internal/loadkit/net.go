package loadkit

import (
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// RequestTimeout bounds one request of a load client, so a hung answer is
// an error rather than a stalled client.
const RequestTimeout = 30 * time.Second

// LoopbackDialer refuses to connect anywhere but a loopback address, whatever
// a name resolves to.
func LoopbackDialer() *net.Dialer {
	return &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("refusing to connect to %s: not a loopback address", address)
			}
			return nil
		},
	}
}

// NewHTTPClient is the client that all load clients of one run share:
// keep-alive connections, enough idle ones for every client, no proxy, no
// redirects, loopback only.
func NewHTTPClient(clients int) *http.Client {
	return &http.Client{
		Timeout: RequestTimeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         LoopbackDialer().DialContext,
			MaxIdleConns:        clients,
			MaxIdleConnsPerHost: clients,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// FreeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func FreeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", err
	}
	return addr, nil
}
