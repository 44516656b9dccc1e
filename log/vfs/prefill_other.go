//go:build !linux

package vfs

func (f *osFile) enablePrefill(chunk int64) bool { return false }

func (f *osFile) trimPrefill() error { return nil }

func (f *osFile) prefillWrite(p []byte) (int, error) { return f.File.Write(p) }
