// Package vfs is the file-system interface through which the partition log
// does all of its file I/O.
//
// Three implementations are provided:
//
//   - OS: real files. Sync is fdatasync (fsync where fdatasync is not
//     available); SyncDir fsyncs a directory.
//   - NewMem: an in-memory file system for the broker's memory mode and for
//     tests. It tracks what has been synced and can simulate a crash
//     (Crash, CrashClone) that loses every unsynced byte and every unsynced
//     directory change.
//   - NewErrorFS: a wrapper that lets tests inject errors into any
//     operation, and torn writes (TornWriteError).
//
// Durability contract (all implementations):
//
//   - File.Write, File.Truncate: nothing is durable on return.
//   - File.Sync: on return, the file's contents and size are durable. The
//     file's name is durable only once its directory has been synced too.
//   - FS.OpenFile with os.O_CREATE, FS.Rename, FS.Remove, FS.RemoveAll: the
//     directory change is durable only after SyncDir of the directory that
//     holds the entry (both directories for a Rename across directories).
//   - FS.MkdirAll: directories are durable after SyncDir of their parent.
//     (The in-memory FS simplifies this: directory creation is durable on
//     return.)
//
// Concurrency contract: an FS may be used from many goroutines. A File
// supports any number of concurrent ReadAt calls concurrently with one
// goroutine calling Write/Truncate/Sync; ReadAt never observes a torn
// state beyond what the caller has already seen completed (callers read only
// bytes whose Write has returned).
package vfs

import (
	"errors"
	"io"
	"os"
)

// FS is the file system used by the partition log. Paths use the host's
// separator for OS and slash-separated paths for the in-memory FS (the
// in-memory FS also accepts filepath-built paths on Unix).
type FS interface {
	// OpenFile opens a file. flag and perm are as for os.OpenFile
	// (O_RDONLY, O_WRONLY, O_RDWR, O_CREATE, O_EXCL, O_TRUNC). Writes always
	// append to the end of the file (O_APPEND is implied; with zero-fill
	// ahead, to the end of the data, see File.Write).
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes a path and everything below it; a missing path is
	// not an error.
	RemoveAll(name string) error
	// Rename atomically replaces newname with oldname.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and any missing parents.
	MkdirAll(dir string, perm os.FileMode) error
	// ReadDir returns the names of the entries of dir, sorted.
	ReadDir(dir string) ([]string, error)
	// Stat describes a file or directory. A missing path yields an error
	// satisfying errors.Is(err, fs.ErrNotExist).
	Stat(name string) (os.FileInfo, error)
	// SyncDir makes the entries of dir (creations, renames, removals)
	// durable.
	SyncDir(dir string) error
}

// File is an open file. See the package documentation for the durability
// and concurrency contracts.
type File interface {
	io.ReaderAt
	// Write appends p at the end of the file (with zero-fill ahead on,
	// see EnablePrefill: at the end of the data written so far, over the
	// zeros).
	io.Writer
	// Sync makes the file's contents and size durable.
	Sync() error
	// Truncate changes the size of the file; later writes append at the new
	// size.
	Truncate(size int64) error
	// Size returns the current size of the file (with zero-fill ahead on:
	// of the data written, without the zeros beyond it).
	Size() (int64, error)
	// Close releases the file. Using a closed file returns an error.
	Close() error
}

// ErrClosed is returned by operations on a closed file.
var ErrClosed = errors.New("vfs: file already closed")

// ErrReadOnly is returned by Write or Truncate on a file opened read-only.
var ErrReadOnly = errors.New("vfs: file opened read-only")
