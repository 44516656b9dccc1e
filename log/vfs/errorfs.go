package vfs

import (
	"errors"
	"os"
)

// Op names an FS or File operation for error injection.
type Op uint8

// Operations seen by an ErrorFS injector.
const (
	OpOpen Op = iota + 1
	OpRemove
	OpRemoveAll
	OpRename
	OpMkdirAll
	OpReadDir
	OpStat
	OpSyncDir
	OpRead
	OpWrite
	OpSync
	OpTruncate
	OpSize
	OpClose
)

var opNames = [...]string{"", "open", "remove", "removeall", "rename", "mkdirall", "readdir", "stat", "syncdir",
	"read", "write", "sync", "truncate", "size", "close"}

func (o Op) String() string {
	if int(o) < len(opNames) && o != 0 {
		return opNames[o]
	}
	return "op?"
}

// ErrInjected is a convenient error for injectors to return.
var ErrInjected = errors.New("vfs: injected error")

// TornWriteError, returned by an injector for OpWrite, makes the write land
// in part instead of not at all, as a crash or a failing disk in the middle
// of a write leaves it: the first Fraction of the bytes (at least none, at
// most all but one of them: the write is always torn) are written to the
// inner file, then Write returns that count and the *TornWriteError. With
// Durable the inner file is synced after the prefix landed, so the torn
// tail survives a crash of the in-memory FS (MemFS.Crash, CrashClone), as
// pages written back before a power cut do. Errors.Is(err, ErrInjected)
// holds for it.
type TornWriteError struct {
	Fraction float64
	Durable  bool
}

func (e *TornWriteError) Error() string { return "vfs: injected torn write" }

// Unwrap makes a torn write an injected error.
func (e *TornWriteError) Unwrap() error { return ErrInjected }

// keep is how many bytes of an n-byte write land.
func (e *TornWriteError) keep(n int) int {
	k := int(float64(n) * e.Fraction)
	return max(0, min(k, n-1))
}

// Injector decides whether an operation fails. It is called before the
// operation reaches the inner FS; a non-nil error is returned to the caller
// unchanged and the operation is not performed, except that a
// *TornWriteError for OpWrite lets a prefix of the write land first (see
// TornWriteError). For Rename, path is the old name. Injectors must be safe
// for concurrent use.
type Injector func(op Op, path string) error

// NewErrorFS wraps inner so that every operation first consults inject.
func NewErrorFS(inner FS, inject func(op Op, path string) error) FS {
	return &errorFS{inner: inner, inject: inject}
}

type errorFS struct {
	inner  FS
	inject Injector
}

type errorFile struct {
	inner  File
	path   string
	inject Injector
}

func (e *errorFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if err := e.inject(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := e.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &errorFile{inner: f, path: name, inject: e.inject}, nil
}

func (e *errorFS) Remove(name string) error {
	if err := e.inject(OpRemove, name); err != nil {
		return err
	}
	return e.inner.Remove(name)
}

func (e *errorFS) RemoveAll(name string) error {
	if err := e.inject(OpRemoveAll, name); err != nil {
		return err
	}
	return e.inner.RemoveAll(name)
}

func (e *errorFS) Rename(oldname, newname string) error {
	if err := e.inject(OpRename, oldname); err != nil {
		return err
	}
	return e.inner.Rename(oldname, newname)
}

func (e *errorFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := e.inject(OpMkdirAll, dir); err != nil {
		return err
	}
	return e.inner.MkdirAll(dir, perm)
}

func (e *errorFS) ReadDir(dir string) ([]string, error) {
	if err := e.inject(OpReadDir, dir); err != nil {
		return nil, err
	}
	return e.inner.ReadDir(dir)
}

func (e *errorFS) Stat(name string) (os.FileInfo, error) {
	if err := e.inject(OpStat, name); err != nil {
		return nil, err
	}
	return e.inner.Stat(name)
}

func (e *errorFS) SyncDir(dir string) error {
	if err := e.inject(OpSyncDir, dir); err != nil {
		return err
	}
	return e.inner.SyncDir(dir)
}

func (f *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.inject(OpRead, f.path); err != nil {
		return 0, err
	}
	return f.inner.ReadAt(p, off)
}

func (f *errorFile) Write(p []byte) (int, error) {
	if err := f.inject(OpWrite, f.path); err != nil {
		var torn *TornWriteError
		if !errors.As(err, &torn) || len(p) == 0 {
			return 0, err
		}
		n, werr := f.inner.Write(p[:torn.keep(len(p))])
		if werr != nil {
			return n, werr
		}
		if torn.Durable {
			if serr := f.inner.Sync(); serr != nil {
				return n, serr
			}
		}
		return n, err
	}
	return f.inner.Write(p)
}

func (f *errorFile) Sync() error {
	if err := f.inject(OpSync, f.path); err != nil {
		return err
	}
	return f.inner.Sync()
}

func (f *errorFile) Truncate(size int64) error {
	if err := f.inject(OpTruncate, f.path); err != nil {
		return err
	}
	return f.inner.Truncate(size)
}

func (f *errorFile) Size() (int64, error) {
	if err := f.inject(OpSize, f.path); err != nil {
		return 0, err
	}
	return f.inner.Size()
}

// Close always closes the inner file; an injected error is returned after.
func (f *errorFile) Close() error {
	err := f.inner.Close()
	if ierr := f.inject(OpClose, f.path); ierr != nil {
		return ierr
	}
	return err
}
