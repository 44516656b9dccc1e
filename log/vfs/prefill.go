package vfs

import "syscall"

// Zero-fill ahead ("prefill").
//
// Linux's page cache gives a write() folios no larger than the write and
// no larger than its start's alignment allows, so a log that appends one
// batch per write (16,445 bytes, say, at unaligned positions) builds its
// page cache out of 4–8 KiB folios, and both the copy into the cache and
// writeback cost far more per byte than they do for large aligned writes
// (measured on this project's ext4 VM: 16,445-byte appends 680–810 MiB/s,
// 16 KiB aligned writes 1,080–1,160, 64 KiB 1,610, each with a final
// fdatasync). When an append crosses the filled end (of a file already
// holding PrefillMinSize of data), the file is extended with zeros up to
// the next multiple of the chunk size in one aligned write, which gives the cache large folios; appends then overwrite the
// zeros in place (1,230–1,490 MiB/s for the same 16,445-byte appends). An
// fdatasync also needs no journal commit while appends stay inside
// already-written blocks (one writer: 250 → 140–160 µs per sync).
//
// The file is longer than its data while zeros are filled ahead: Size
// reports the data's size, Truncate and Close cut the zeros, and a crash
// can leave a zero tail, which the log's recovery treats as the end of the
// data (log/FORMAT.md).

// PrefillMinWrite is the smallest write that fills ahead: partitions
// written in small batches keep plain appends and cost no zeros.
const PrefillMinWrite = 4 << 10

// PrefillMinSize is how much data a file must already hold before it fills
// ahead, so that the zeros (less than a chunk) stay a small fraction of the
// data: 10,000 partitions that each get one 16 KiB batch write no zeros.
const PrefillMinSize = 1 << 20

// MaxPrefillChunk bounds EnablePrefill's chunk.
const MaxPrefillChunk = 1 << 20

type prefill struct {
	rc     syscall.RawConn // the file's, for pwrite (kept: SyscallConn allocates)
	chunk  int64           // 0: off
	size   int64           // bytes of data: writes go here
	filled int64           // file size: size plus zeros filled ahead
}

// prefiller is implemented by files that can fill ahead (OS files on
// Linux).
type prefiller interface {
	enablePrefill(chunk int64) bool
	trimPrefill() error
}

// EnablePrefill turns zero-fill ahead on for f, which must be open for
// writing and written by one goroutine, in chunks of chunk bytes (a power
// of two up to MaxPrefillChunk). It reports whether f supports it; other
// files are left as they are.
func EnablePrefill(f File, chunk int64) bool {
	p, ok := f.(prefiller)
	if !ok || chunk <= 0 || chunk > MaxPrefillChunk || chunk&(chunk-1) != 0 {
		return false
	}
	return p.enablePrefill(chunk)
}

// TrimPrefill cuts the zeros filled ahead of f's data, if any, so that the
// file's size is its data's. It is a no-op for files without prefill.
func TrimPrefill(f File) error {
	if p, ok := f.(prefiller); ok {
		return p.trimPrefill()
	}
	return nil
}
