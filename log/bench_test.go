package log

import (
	"path/filepath"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

func benchVariants(b *testing.B, fn func(b *testing.B, fs vfs.FS, dir string)) {
	b.Run("mem", func(b *testing.B) { fn(b, vfs.NewMem(), "/bench-0") })
	b.Run("os", func(b *testing.B) { fn(b, vfs.OS, filepath.Join(b.TempDir(), "bench-0")) })
}

func BenchmarkAppend1KiB(b *testing.B) {
	benchVariants(b, func(b *testing.B, fs vfs.FS, dir string) {
		cfg := DefaultConfig()
		cfg.SegmentBytes = 64 << 20
		l, _ := openLog(b, fs, dir, cfg)
		batch := makeBatch(1, 0, 1024-BatchHeaderSize-12)
		b.SetBytes(int64(len(batch)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if _, err := l.Append(batch, int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRead1MiB(b *testing.B) {
	benchVariants(b, func(b *testing.B, fs vfs.FS, dir string) {
		cfg := DefaultConfig()
		cfg.SegmentBytes = 16 << 20
		l, _ := openLog(b, fs, dir, cfg)
		batch := makeBatch(1, 0, 1024-BatchHeaderSize-12)
		for i := range 32 << 10 { // 32 MiB, two segments
			if _, err := l.Append(batch, int64(i)); err != nil {
				b.Fatal(err)
			}
		}
		end := l.EndOffset()
		buf := make([]byte, 0, 2<<20)
		b.SetBytes(1 << 20)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			off := int64(i*997) % (end - 1024)
			var err error
			if buf, err = l.Read(off, end, 1<<20, true, buf[:0]); err != nil || len(buf) == 0 {
				b.Fatal(err)
			}
		}
	})
}
