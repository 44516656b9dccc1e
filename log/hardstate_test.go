package log

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

func TestHardStateRoundTrip(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		must(t, v.fs.MkdirAll(v.dir, 0o755))
		if h, found, err := LoadHardState(v.fs, v.dir); err != nil || found || h != (HardState{}) {
			t.Fatalf("no file: %+v %v %v", h, found, err)
		}
		for _, h := range []HardState{{}, {Term: 1, Vote: 3, Commit: 0}, {Term: 1<<64 - 1, Vote: 1<<64 - 1, Commit: 1<<64 - 1}, {Term: 9, Vote: 0, Commit: 12345}} {
			must(t, SaveHardState(v.fs, v.dir, h))
			got, found, err := LoadHardState(v.fs, v.dir)
			if err != nil || !found || got != h {
				t.Fatalf("saved %+v, loaded %+v %v %v", h, got, found, err)
			}
		}
	})
}

// TestHardStateCorrupt: every damaged file is ErrCorruptHardState, never
// an empty HardState.
func TestHardStateCorrupt(t *testing.T) {
	mem := vfs.NewMem()
	dir := "/g"
	must(t, mem.MkdirAll(dir, 0o755))
	good := EncodeHardState(HardState{Term: 5, Vote: 2, Commit: 40})
	bad := map[string][]byte{
		"empty":     {},
		"torn":      good[:20],
		"too long":  append(bytes.Clone(good), 0),
		"zeros":     make([]byte, hardStateSize),
		"version 2": func() []byte { b := bytes.Clone(good); b[4] = 2; return b }(),
	}
	for i := range good {
		b := bytes.Clone(good)
		b[i] ^= 0x10
		bad[fmt.Sprintf("flip byte %d", i)] = b
	}
	for name, b := range bad {
		_, err := writeFile(mem, filepath.Join(dir, HardStateFileName), b, true, false)
		must(t, err)
		h, found, err := LoadHardState(mem, dir)
		if !errors.Is(err, ErrCorruptHardState) || !found || h != (HardState{}) {
			t.Errorf("%s: loaded %+v, found %v, err %v", name, h, found, err)
		}
	}
}

// TestHardStateCrashAtEveryStep: a crash before any file operation of
// SaveHardState leaves the old HardState or the new one, never an error,
// under the in-memory FS's crash model and the eager one (see
// TestResetToCrashAtEveryStep).
func TestHardStateCrashAtEveryStep(t *testing.T) {
	oldHS := HardState{Term: 3, Vote: 1, Commit: 17}
	newHS := HardState{Term: 4, Vote: 2, Commit: 17}
	for _, eager := range []bool{false, true} {
		for step := int64(1); ; step++ {
			mem := vfs.NewMem()
			dir := "/g"
			must(t, mem.MkdirAll(dir, 0o755))
			must(t, SaveHardState(mem, dir, oldHS))
			var ops atomic.Int64
			fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
				if eager {
					_ = mem.SyncDir(dir)
				}
				if ops.Add(1) >= step {
					return vfs.ErrInjected
				}
				return nil
			})
			serr := SaveHardState(fs, dir, newHS)
			h, found, err := LoadHardState(mem.CrashClone(), dir)
			if err != nil || !found || (h != oldHS && h != newHS) {
				t.Fatalf("eager %v, step %d: loaded %+v, found %v, err %v", eager, step, h, found, err)
			}
			if serr == nil && h != newHS {
				t.Fatalf("eager %v, step %d: SaveHardState returned but %+v loaded", eager, step, h)
			}
			if serr == nil {
				t.Logf("eager %v: crashed before each of %d steps", eager, step-1)
				break
			}
		}
	}
	// The first save ever: a crash leaves no HardState or the new one.
	for step := int64(1); ; step++ {
		mem := vfs.NewMem()
		must(t, mem.MkdirAll("/g", 0o755))
		var ops atomic.Int64
		fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
			if ops.Add(1) >= step {
				return vfs.ErrInjected
			}
			return nil
		})
		serr := SaveHardState(fs, "/g", newHS)
		h, found, err := LoadHardState(mem.CrashClone(), "/g")
		if err != nil || (found && h != newHS) || (!found && serr == nil) {
			t.Fatalf("first save, step %d: loaded %+v, found %v, err %v", step, h, found, err)
		}
		if serr == nil {
			break
		}
	}
}

func FuzzDecodeHardState(f *testing.F) {
	f.Add(EncodeHardState(HardState{}))
	f.Add(EncodeHardState(HardState{Term: 7, Vote: 3, Commit: 99}))
	f.Add([]byte("MDRH\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHardState(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptHardState) || h != (HardState{}) {
				t.Fatalf("error %v with %+v", err, h)
			}
			return
		}
		if !bytes.Equal(EncodeHardState(h), b) {
			t.Fatalf("accepted %x as %+v", b, h)
		}
	})
}
