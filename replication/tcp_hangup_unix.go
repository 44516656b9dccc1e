//go:build linux || darwin || freebsd

package replication

import (
	"net"
	"syscall"
)

// hungUp reports whether the peer has closed c (a FIN or a reset is
// waiting to be read), without consuming anything: a non-blocking
// MSG_PEEK, which leaves the connection's reader undisturbed.
func hungUp(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	var b [1]byte
	cerr := rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
		case err != nil:
			gone = true // ECONNRESET and the like
		case n == 0:
			gone = true // EOF
		}
	})
	return cerr == nil && gone
}
