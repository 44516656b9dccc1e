//go:build linux

package broker

import "syscall"

// volumeBytes is the size and the space available to this process of the
// file system holding dir (DescribeLogDirs v4's TotalBytes and
// UsableBytes), or -1, -1 when it cannot be read.
func volumeBytes(dir string) (total, usable int64) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1, -1
	}
	return int64(st.Blocks) * st.Bsize, int64(st.Bavail) * st.Bsize
}
