package vfs

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func fsVariants(t *testing.T) map[string]struct {
	fs  FS
	dir string
} {
	return map[string]struct {
		fs  FS
		dir string
	}{
		"os":  {OS, t.TempDir()},
		"mem": {NewMem(), "/root"},
	}
}

func TestFSBasics(t *testing.T) {
	for name, v := range fsVariants(t) {
		t.Run(name, func(t *testing.T) {
			fs, dir := v.fs, filepath.Join(v.dir, "a", "b")
			must(t, fs.MkdirAll(dir, 0o755))
			p := filepath.Join(dir, "f")
			f, err := fs.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
			must(t, err)
			want := make([]byte, 3<<20+123)
			for i := range want {
				want[i] = byte(i * 7)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for rest := want; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(200<<10))
				_, err := f.Write(rest[:n])
				must(t, err)
				rest = rest[n:]
			}
			if size, _ := f.Size(); size != int64(len(want)) {
				t.Fatalf("size %d", size)
			}
			for range 200 {
				off := rng.IntN(len(want))
				n := rng.IntN(300 << 10)
				got := make([]byte, n)
				k, err := f.ReadAt(got, int64(off))
				wantN := min(n, len(want)-off)
				if k != wantN || (k < n && err != io.EOF) || (k == n && err != nil && err != io.EOF) {
					t.Fatalf("ReadAt(%d, %d) = %d, %v", n, off, k, err)
				}
				if !bytes.Equal(got[:k], want[off:off+k]) {
					t.Fatalf("ReadAt(%d, %d) bytes differ", n, off)
				}
			}
			must(t, f.Truncate(5000))
			_, err = f.Write([]byte("tail"))
			must(t, err)
			got := make([]byte, 5004)
			_, err = f.ReadAt(got, 0)
			must(t, err)
			if !bytes.Equal(got, append(bytes.Clone(want[:5000]), "tail"...)) {
				t.Fatal("truncate+append differs")
			}
			must(t, f.Truncate(6000)) // extension reads zeros
			got = make([]byte, 996)
			_, err = f.ReadAt(got, 5004)
			must(t, err)
			if !bytes.Equal(got, make([]byte, 996)) {
				t.Fatal("extension not zero")
			}
			must(t, f.Sync())
			must(t, f.Close())
			must(t, fs.SyncDir(dir))

			must(t, fs.Rename(p, p+"2"))
			names, err := fs.ReadDir(dir)
			must(t, err)
			if len(names) != 1 || names[0] != "f2" {
				t.Fatalf("ReadDir = %v", names)
			}
			fi, err := fs.Stat(p + "2")
			must(t, err)
			if fi.Size() != 6000 || fi.IsDir() {
				t.Fatalf("Stat = %v", fi)
			}
			if _, err := fs.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("Stat of renamed = %v", err)
			}
			if _, err := fs.OpenFile(p, os.O_RDONLY, 0); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("open missing = %v", err)
			}
			must(t, fs.Remove(p+"2"))
			must(t, fs.RemoveAll(filepath.Join(v.dir, "a")))
			must(t, fs.RemoveAll(filepath.Join(v.dir, "a")))
			if _, err := fs.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("RemoveAll left %v", err)
			}
		})
	}
}

func TestMemCrash(t *testing.T) {
	m := NewMem()
	must(t, m.MkdirAll("/d", 0o755))
	write := func(name string, b []byte, sync bool) File {
		f, err := m.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
		must(t, err)
		_, err = f.Write(b)
		must(t, err)
		if sync {
			must(t, f.Sync())
		}
		return f
	}
	durable := write("/d/durable", []byte("hello"), true)
	write("/d/renamed", []byte("r"), true)
	must(t, m.SyncDir("/d"))
	_, err := durable.Write([]byte(" world"))
	must(t, err)
	write("/d/unsynced-dir-entry", []byte("x"), true)
	must(t, m.Rename("/d/renamed", "/d/renamed2"))

	c := m.CrashClone()
	names, _ := c.ReadDir("/d")
	if len(names) != 2 || names[0] != "durable" || names[1] != "renamed" {
		t.Fatalf("after crash: %v", names)
	}
	f, err := c.OpenFile("/d/durable", os.O_RDONLY, 0)
	must(t, err)
	if size, _ := f.Size(); size != 5 {
		t.Fatalf("durable file size %d, want 5", size)
	}
	// The original is untouched.
	if size, _ := durable.Size(); size != 11 {
		t.Fatalf("original size %d", size)
	}

	// A truncate below the synced length is kept; writes after it are not.
	must(t, durable.Sync())
	must(t, durable.Truncate(2))
	_, err = durable.Write([]byte("XYZ"))
	must(t, err)
	m.Crash()
	if _, err := durable.Size(); !errors.Is(err, ErrCrashed) {
		t.Fatalf("old handle after Crash: %v", err)
	}
	f, err = m.OpenFile("/d/durable", os.O_RDONLY, 0)
	must(t, err)
	got := make([]byte, 10)
	n, _ := f.ReadAt(got, 0)
	if string(got[:n]) != "he" {
		t.Fatalf("after truncate+crash: %q", got[:n])
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write to read-only: %v", err)
	}
}

func TestMemConcurrentReadAppend(t *testing.T) {
	m := NewMem()
	f, err := m.OpenFile("/f", os.O_CREATE|os.O_RDWR, 0o644)
	must(t, err)
	var mu sync.Mutex
	written := int64(0)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b := make([]byte, 777)
		for i := range 3000 {
			for j := range b {
				b[j] = byte(i)
			}
			_, _ = f.Write(b)
			mu.Lock()
			written += int64(len(b))
			mu.Unlock()
		}
	}()
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 777)
			for range 3000 {
				mu.Lock()
				w := written
				mu.Unlock()
				if w == 0 {
					continue
				}
				i := (w/777 - 1) / 2
				if _, err := f.ReadAt(buf, i*777); err != nil {
					t.Error(err)
					return
				}
				for _, c := range buf {
					if c != byte(i) {
						t.Errorf("batch %d holds %d", i, c)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestLocate(t *testing.T) {
	var start int64
	for i := range 20 {
		for _, off := range []int64{start, start + int64(chunkSize(i)) - 1} {
			ci, in := locate(off)
			if ci != i || int64(in) != off-start {
				t.Fatalf("locate(%d) = %d,%d want %d,%d", off, ci, in, i, off-start)
			}
		}
		start += int64(chunkSize(i))
	}
}

func TestErrorFS(t *testing.T) {
	fs := NewErrorFS(NewMem(), func(op Op, path string) error {
		if op == OpSync || (op == OpSyncDir && path == "/bad") {
			return ErrInjected
		}
		return nil
	})
	must(t, fs.MkdirAll("/bad", 0o755))
	f, err := fs.OpenFile("/bad/f", os.O_CREATE|os.O_WRONLY, 0o644)
	must(t, err)
	if _, err := f.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); !errors.Is(err, ErrInjected) {
		t.Fatalf("Sync: %v", err)
	}
	if err := fs.SyncDir("/bad"); !errors.Is(err, ErrInjected) {
		t.Fatalf("SyncDir: %v", err)
	}
	if OpSync.String() != "sync" {
		t.Fatal(OpSync.String())
	}
}

// A torn write lands a prefix and fails; made durable, the prefix
// survives a crash of the in-memory FS while an unsynced one does not.
func TestErrorFSTornWrite(t *testing.T) {
	for _, durable := range []bool{false, true} {
		mem := NewMem()
		var torn bool
		fs := NewErrorFS(mem, func(op Op, path string) error {
			if op == OpWrite && torn {
				return &TornWriteError{Fraction: 0.5, Durable: durable}
			}
			return nil
		})
		must(t, fs.MkdirAll("/d", 0o755))
		f, err := fs.OpenFile("/d/f", os.O_CREATE|os.O_RDWR, 0o644)
		must(t, err)
		if _, err := f.Write([]byte("head")); err != nil {
			t.Fatal(err)
		}
		must(t, f.Sync())
		must(t, fs.SyncDir("/d"))
		torn = true
		n, err := f.Write([]byte("0123456789"))
		var te *TornWriteError
		if n != 5 || !errors.As(err, &te) || !errors.Is(err, ErrInjected) {
			t.Fatalf("torn write = %d, %v; want 5 bytes and a *TornWriteError", n, err)
		}
		// A one-byte write is torn to nothing, never written whole.
		if n, err := f.Write([]byte("x")); n != 0 || err == nil {
			t.Fatalf("torn 1-byte write = %d, %v", n, err)
		}
		torn = false
		got := make([]byte, 9)
		if k, _ := f.ReadAt(got, 0); k != 9 || string(got) != "head01234" {
			t.Fatalf("after the torn write the file holds %q", got[:k])
		}
		crashed := mem.CrashClone()
		cf, err := crashed.OpenFile("/d/f", os.O_RDONLY, 0)
		must(t, err)
		size, err := cf.Size()
		must(t, err)
		if want := map[bool]int64{false: 4, true: 9}[durable]; size != want {
			t.Fatalf("durable=%v: %d bytes survive the crash, want %d", durable, size, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
