package log

// The Raft HardState file: a Raft group's term, vote and commit index
// (etcd raftpb.HardState), which Raft must persist before it sends
// messages. One file per Raft group, in the group's directory (a
// partition's own directory for a partition's group). ResetTo leaves it. See
// FORMAT.md, "Raft HardState".
//
// The package does not import go.etcd.io/raft: the replication package
// converts between HardState and raftpb.HardState.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"

	"github.com/moldau/moldau/log/vfs"
)

// HardState is etcd raftpb.HardState: the current term, the node voted for
// in it (0: none) and the highest index known to be committed.
type HardState struct {
	Term   uint64
	Vote   uint64
	Commit uint64
}

// Layout (33 bytes, big-endian):
//
//	[0:4]   magic "MDRH"
//	[4]     version (hardStateVersion)
//	[5:13]  term, uint64
//	[13:21] vote, uint64
//	[21:29] commit, uint64
//	[29:33] CRC-32C of bytes [0:29]
const (
	HardStateFileName = "raft-hardstate"
	hardStateTemp     = "raft-hardstate.tmp"
	hardStateMagic    = "MDRH"
	hardStateVersion  = 1
	hardStateSize     = 33
)

// ErrCorruptHardState reports a HardState file that is damaged (size,
// magic, checksum) or of a version this build does not read. Never
// silently read as an empty HardState: a node that forgot its vote could
// vote twice in one term.
var ErrCorruptHardState = errors.New("log: corrupt raft hard state")

// EncodeHardState returns the file contents for h.
func EncodeHardState(h HardState) []byte {
	b := make([]byte, hardStateSize)
	copy(b, hardStateMagic)
	b[4] = hardStateVersion
	binary.BigEndian.PutUint64(b[5:], h.Term)
	binary.BigEndian.PutUint64(b[13:], h.Vote)
	binary.BigEndian.PutUint64(b[21:], h.Commit)
	binary.BigEndian.PutUint32(b[29:], crc32.Checksum(b[:29], castagnoli))
	return b
}

// DecodeHardState parses file contents; damage is ErrCorruptHardState.
func DecodeHardState(b []byte) (HardState, error) {
	if len(b) != hardStateSize || string(b[:4]) != hardStateMagic {
		return HardState{}, fmt.Errorf("%w: bad magic or size (%d bytes)", ErrCorruptHardState, len(b))
	}
	if binary.BigEndian.Uint32(b[29:]) != crc32.Checksum(b[:29], castagnoli) {
		return HardState{}, fmt.Errorf("%w: checksum mismatch", ErrCorruptHardState)
	}
	if b[4] != hardStateVersion {
		return HardState{}, fmt.Errorf("%w: unsupported version %d (this build reads %d)", ErrCorruptHardState, b[4], hardStateVersion)
	}
	return HardState{
		Term:   binary.BigEndian.Uint64(b[5:]),
		Vote:   binary.BigEndian.Uint64(b[13:]),
		Commit: binary.BigEndian.Uint64(b[21:]),
	}, nil
}

// SaveHardState durably replaces dir's HardState with h: it writes
// raft-hardstate.tmp, fsyncs it, renames it over raft-hardstate and fsyncs
// dir, so that a crash at any point leaves the old HardState or h. dir must
// exist. Calls for one dir must not run concurrently (a Raft group's Ready
// loop is its only writer).
func SaveHardState(fsys vfs.FS, dir string, h HardState) error {
	if err := replaceFile(fsys, dir, hardStateTemp, HardStateFileName, EncodeHardState(h)); err != nil {
		return fmt.Errorf("log: save raft hard state in %s: %w", dir, err)
	}
	return nil
}

// LoadHardState reads dir's HardState. found is false (with a zero
// HardState and no error) when there is none: a group that never saved
// one. A damaged file is ErrCorruptHardState (wrapped with the path);
// other errors are the file system's.
func LoadHardState(fsys vfs.FS, dir string) (h HardState, found bool, err error) {
	path := filepath.Join(dir, HardStateFileName)
	b, err := readWholeFile(fsys, path)
	if err != nil {
		if isNotExist(err) {
			return HardState{}, false, nil
		}
		return HardState{}, false, fmt.Errorf("log: load raft hard state: %w", err)
	}
	h, err = DecodeHardState(b)
	if err != nil {
		return HardState{}, true, fmt.Errorf("%s: %w", path, err)
	}
	return h, true, nil
}
