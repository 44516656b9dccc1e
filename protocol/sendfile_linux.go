package protocol

import (
	"errors"
	"syscall"
)

// canSendfile: the kernel can send file pages to a socket (sendfile(2)).
const canSendfile = true

// sendFile sends n bytes at off of the file src to the socket dst with
// sendfile(2) and an explicit offset, so the file's position is neither used
// nor moved (segment files are shared between readers). It waits for the
// socket to be writable as a Write on dst would.
func sendFile(dst, src syscall.RawConn, off, n int64) error {
	var serr, werr error
	cerr := src.Control(func(sfd uintptr) {
		werr = dst.Write(func(dfd uintptr) bool {
			for n > 0 {
				w, err := syscall.Sendfile(int(dfd), int(sfd), &off, int(min(n, 1<<30)))
				if w > 0 {
					n -= int64(w)
				}
				switch {
				case errors.Is(err, syscall.EAGAIN):
					return false // wait until writable, then call again
				case errors.Is(err, syscall.EINTR):
				case err != nil:
					serr = err
					return true
				case w == 0:
					serr = ErrShortFile
					return true
				}
			}
			return true
		})
	})
	return errors.Join(serr, werr, cerr)
}
