package vfs

import (
	"os"
	"slices"
)

// OS is the FS backed by the operating system's files.
var OS FS = osFS{}

type osFS struct{}

type osFile struct {
	*os.File
	// Zero-fill ahead (prefill_linux.go); touched only by the goroutine
	// that writes the file. pf.chunk == 0: off, and the file appends with
	// O_APPEND as opened.
	pf prefill
}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		flag |= os.O_APPEND
	}
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &osFile{File: f}, nil
}

func (osFS) Remove(name string) error                    { return os.Remove(name) }
func (osFS) RemoveAll(name string) error                 { return os.RemoveAll(name) }
func (osFS) Rename(oldname, newname string) error        { return os.Rename(oldname, newname) }
func (osFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }
func (osFS) Stat(name string) (os.FileInfo, error)       { return os.Stat(name) }

func (osFS) ReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	slices.Sort(names)
	return names, nil
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}

func (f *osFile) Sync() error { return datasync(f.File) }

func (f *osFile) Size() (int64, error) {
	if f.pf.chunk > 0 {
		return f.pf.size, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// OSFile returns the *os.File behind a File opened by OS (for sendfile).
func OSFile(f File) (*os.File, bool) {
	if of, ok := f.(*osFile); ok {
		return of.File, true
	}
	return nil, false
}

// Write appends p: with O_APPEND as opened, or at the written size when
// zero-fill ahead is on (see EnablePrefill).
func (f *osFile) Write(p []byte) (int, error) {
	if f.pf.chunk == 0 {
		return f.File.Write(p)
	}
	return f.prefillWrite(p)
}

// Truncate implements File; it also cuts any zeros filled ahead.
func (f *osFile) Truncate(size int64) error {
	if err := f.File.Truncate(size); err != nil {
		return err
	}
	if f.pf.chunk > 0 {
		f.pf.size, f.pf.filled = size, size
	}
	return nil
}

// Close trims zeros filled ahead (best effort: recovery treats a zero tail
// as the end of the data) and closes the file.
func (f *osFile) Close() error {
	_ = f.trimPrefill()
	return f.File.Close()
}
