//go:build linux

package vfs

import (
	"os"
	"syscall"
)

// datasync flushes file data and the metadata needed to read it back
// (including the size), but not timestamps.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
