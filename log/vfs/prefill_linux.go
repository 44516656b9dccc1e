//go:build linux

package vfs

import (
	"os"
	"sync"
	"syscall"
)

var (
	fillZerosOnce sync.Once
	fillZeros     []byte // MaxPrefillChunk zero bytes, shared read-only
)

func (f *osFile) enablePrefill(chunk int64) bool {
	if f.pf.chunk > 0 {
		return true
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var size int64
	ok := false
	cerr := rc.Control(func(fd uintptr) {
		flags, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		if e != 0 || flags&syscall.O_ACCMODE == syscall.O_RDONLY {
			return
		}
		// pwrite on an O_APPEND file appends whatever the offset.
		if _, _, e = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETFL, flags&^syscall.O_APPEND); e != 0 {
			return
		}
		var st syscall.Stat_t
		if syscall.Fstat(int(fd), &st) != nil {
			return
		}
		size, ok = st.Size, true
	})
	if cerr != nil || !ok {
		return false
	}
	fillZerosOnce.Do(func() { fillZeros = make([]byte, MaxPrefillChunk) })
	f.pf = prefill{rc: rc, chunk: chunk, size: size, filled: size}
	return true
}

func (f *osFile) trimPrefill() error {
	if f.pf.chunk == 0 || f.pf.filled == f.pf.size {
		return nil
	}
	if err := f.File.Truncate(f.pf.size); err != nil {
		return err
	}
	f.pf.filled = f.pf.size
	return nil
}

// prefillWrite writes p at the data's end, first filling fillZeros up to the
// next chunk boundary if p crosses the filled end and is large enough.
func (f *osFile) prefillWrite(p []byte) (int, error) {
	end := f.pf.size + int64(len(p))
	if end > f.pf.filled && len(p) >= PrefillMinWrite && f.pf.size >= PrefillMinSize {
		target := (end + f.pf.chunk - 1) &^ (f.pf.chunk - 1)
		// A write of a chunk or more gets large folios by itself: zeros
		// go only past its end (the data write right after fills the gap
		// between), so a 1 MiB batch is not copied into the cache twice,
		// once as zeros.
		from := f.pf.filled
		if int64(len(p)) >= f.pf.chunk {
			from = max(from, end)
		}
		for at := from; at < target; {
			n, err := f.pwrite(fillZeros[:min(target-at, int64(len(fillZeros)))], at)
			at += int64(n)
			if err != nil {
				// Out of space for fillZeros, say: give them up and
				// write the data alone.
				_ = f.File.Truncate(f.pf.size)
				target = f.pf.size
				break
			}
		}
		f.pf.filled = target
	}
	n, err := f.pwrite(p, f.pf.size)
	f.pf.size += int64(n)
	f.pf.filled = max(f.pf.filled, f.pf.size)
	return n, err
}

// pwrite writes all of p at off unless an error stops it.
func (f *osFile) pwrite(p []byte, off int64) (int, error) {
	done := 0
	var werr error
	cerr := f.pf.rc.Control(func(fd uintptr) {
		for done < len(p) {
			n, err := syscall.Pwrite(int(fd), p[done:], off+int64(done))
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				werr = err
				return
			}
			if n == 0 {
				werr = syscall.EIO
				return
			}
			done += n
		}
	})
	if cerr != nil {
		return done, cerr
	}
	if werr != nil {
		return done, &os.PathError{Op: "pwrite", Path: f.Name(), Err: werr}
	}
	return done, nil
}
