//go:build !linux

package protocol

import "syscall"

// canSendfile: only Linux sends with an explicit offset here; elsewhere file
// ranges are copied through the write buffer.
const canSendfile = false

func sendFile(dst, src syscall.RawConn, off, n int64) error {
	return syscall.ENOTSUP
}
