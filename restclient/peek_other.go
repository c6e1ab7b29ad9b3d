//go:build !unix

package restclient

import "net"

// peekIdle cannot look without reading here: a kept connection is taken
// as it is (a closed one fails its request, which is then sent again).
func peekIdle(net.Conn) (closed, unsolicited bool) { return false, false }
