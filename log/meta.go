package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"

	"github.com/moldau/moldau/log/vfs"
)

// The meta file records per-partition state that is not in the segments.
// See FORMAT.md. Layout (18 bytes, big-endian):
//
//	[0:4]   magic "MDLG"
//	[4]     format version (formatVersion)
//	[5]     flags (bit 0: clean shutdown)
//	[6:14]  log start offset, int64
//	[14:18] CRC-32C of bytes [0:14]
const (
	metaFileName  = "meta"
	metaTempName  = "meta.tmp"
	metaMagic     = "MDLG"
	formatVersion = 1
	metaSize      = 18
	metaFlagClean = 0x01
)

type meta struct {
	version  byte
	clean    bool
	logStart int64
}

var errBadMeta = errors.New("log: bad meta file")

func encodeMeta(m meta) []byte {
	b := make([]byte, metaSize)
	copy(b, metaMagic)
	b[4] = formatVersion
	if m.clean {
		b[5] = metaFlagClean
	}
	binary.BigEndian.PutUint64(b[6:], uint64(m.logStart))
	binary.BigEndian.PutUint32(b[14:], crc32.Checksum(b[:14], castagnoli))
	return b
}

func decodeMeta(b []byte) (meta, error) {
	if len(b) < metaSize || string(b[:4]) != metaMagic {
		return meta{}, fmt.Errorf("%w: bad magic or size", errBadMeta)
	}
	if binary.BigEndian.Uint32(b[14:]) != crc32.Checksum(b[:14], castagnoli) {
		return meta{}, fmt.Errorf("%w: checksum mismatch", errBadMeta)
	}
	m := meta{version: b[4], clean: b[5]&metaFlagClean != 0, logStart: int64(binary.BigEndian.Uint64(b[6:]))}
	if m.version != formatVersion {
		return m, fmt.Errorf("log: unsupported format version %d (this build reads %d)", m.version, formatVersion)
	}
	if m.logStart < 0 {
		return m, fmt.Errorf("%w: negative log start offset", errBadMeta)
	}
	return m, nil
}

// readMeta returns the meta file's contents; found is false if there is none.
func readMeta(fsys vfs.FS, dir string) (m meta, found bool, err error) {
	b, err := readWholeFile(fsys, filepath.Join(dir, metaFileName))
	if err != nil {
		if isNotExist(err) {
			return meta{}, false, nil
		}
		return meta{}, false, err
	}
	m, err = decodeMeta(b)
	return m, true, err
}

// writeMeta durably replaces the meta file: write a temporary file, fsync
// it, rename it over the old one and fsync the directory.
func writeMeta(fsys vfs.FS, dir string, m meta) error {
	return replaceFile(fsys, dir, metaTempName, metaFileName, encodeMeta(m))
}

// replaceFile durably replaces dir/name with b through dir/tmp.
func replaceFile(fsys vfs.FS, dir, tmp, name string, b []byte) error {
	tmp = filepath.Join(dir, tmp)
	if _, err := writeFile(fsys, tmp, b, true, false); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
