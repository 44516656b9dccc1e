//go:build linux

package vfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func fileSize(t *testing.T, name string) int64 {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestPrefillOSFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "seg")
	f, err := OS.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	small := bytes.Repeat([]byte{1}, 100)
	if _, err := f.Write(small); err != nil {
		t.Fatal(err)
	}
	const chunk = 64 << 10
	if !EnablePrefill(f, chunk) || EnablePrefill(f, 3000) {
		t.Fatal("EnablePrefill: want true for a power of two on an OS file")
	}
	// Small writes do not fill ahead.
	if _, err := f.Write(small); err != nil {
		t.Fatal(err)
	}
	if got := fileSize(t, name); got != 200 {
		t.Fatalf("after a small write the file is %d bytes, want 200", got)
	}
	big := bytes.Repeat([]byte{2}, 5000)
	var want []byte
	want = append(append(want, small...), small...)
	// Until the file holds PrefillMinSize, large writes do not fill either.
	for len(want) < PrefillMinSize {
		if _, err := f.Write(big); err != nil {
			t.Fatal(err)
		}
		want = append(want, big...)
		if got := fileSize(t, name); got != int64(len(want)) {
			t.Fatalf("below PrefillMinSize the file is %d bytes for %d of data", got, len(want))
		}
	}
	for i := 0; i < 30; i++ {
		big[0] = byte(i)
		if _, err := f.Write(big); err != nil {
			t.Fatal(err)
		}
		want = append(want, big...)
		size, _ := f.Size()
		if size != int64(len(want)) {
			t.Fatalf("Size %d, want %d", size, len(want))
		}
		if phys := fileSize(t, name); phys < size || phys%chunk != 0 || phys-size >= chunk {
			t.Fatalf("file %d bytes for %d of data, want the next %d multiple", phys, size, chunk)
		}
	}
	got := make([]byte, len(want))
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back differs (%v)", err)
	}
	const cut = PrefillMinSize + 300
	if err := f.Truncate(cut); err != nil {
		t.Fatal(err)
	}
	if size, _ := f.Size(); size != cut || fileSize(t, name) != cut {
		t.Fatalf("after Truncate(%d): Size %d, file %d", cut, size, fileSize(t, name))
	}
	if _, err := f.Write(big); err != nil {
		t.Fatal(err)
	}
	if fileSize(t, name) <= cut+5000 {
		t.Fatal("no zeros filled after Truncate")
	}
	if err := TrimPrefill(f); err != nil {
		t.Fatal(err)
	}
	if fileSize(t, name) != cut+5000 {
		t.Fatalf("after TrimPrefill the file is %d bytes, want %d", fileSize(t, name), cut+5000)
	}
	if _, err := f.Write(big); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fileSize(t, name) != cut+10000 {
		t.Fatalf("after Close the file is %d bytes, want %d", fileSize(t, name), cut+10000)
	}
	// Read-only files and other FSes do not take it.
	r, err := OS.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if EnablePrefill(r, chunk) {
		t.Fatal("EnablePrefill on a read-only file")
	}
	m, _ := NewMem().OpenFile("/x", os.O_CREATE|os.O_RDWR, 0o644)
	if EnablePrefill(m, chunk) || TrimPrefill(m) != nil {
		t.Fatal("EnablePrefill on a MemFS file")
	}
}
