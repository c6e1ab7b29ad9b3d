//go:build unix

package restclient

import (
	"errors"
	"net"
	"syscall"
)

// peekIdle looks at a kept connection before it is reused, without
// blocking: whether the server closed it while it sat idle (it would fail
// the request, which would then be sent again), and whether bytes arrived
// that no request asked for (they would be read as the next request's
// answer, which may be another caller's). net/http's Transport learns
// both from the read loop it keeps on every idle connection.
func peekIdle(c net.Conn) (closed, unsolicited bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, false
	}
	var n int
	var rerr error
	var one [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait for readiness: this is a look, not a read
	}); err != nil {
		return true, false
	}
	switch {
	case errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK):
		return false, false
	case rerr != nil:
		return true, false
	case n == 0:
		return true, false // the server's FIN
	default:
		return false, true
	}
}
