package log

// The high watermark and its checkpoint (Kafka's
// replication-offset-checkpoint, one file per partition here). See
// FORMAT.md.
//
// A log is single-node or replicated (Config.Replicated, read at Open):
//
//   - Single-node: the high watermark follows the end offset (every
//     appended batch is committed) until SetHighWatermark is first called;
//     nothing is written for it and appends pay nothing for it.
//   - Replicated: the high watermark is replication's commit point, set
//     with SetHighWatermark. CheckpointHighWatermark writes it to the
//     checkpoint file when it moved (the replication layer calls it every
//     DefaultHighWatermarkCheckpointIntervalMs, as Kafka's
//     replica.high.watermark.checkpoint.interval.ms, and Close calls it).
//     Open recovers it as max(log start, min(checkpoint, recovered end)),
//     or as the log start when the file is missing or damaged.
//
// What a reader of a replicated log may see after a reopen: records below
// the recovered high watermark only, which is at most the high watermark
// last checkpointed before the crash or close (so at most the commit point
// then), never above the recovered end offset, and possibly below what
// was committed (the checkpoint lags by up to one interval); replication
// moves it up again. Records at or above it, even if present in the
// segments, stay invisible until SetHighWatermark covers them.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"sync"
)

// DefaultHighWatermarkCheckpointIntervalMs is Kafka's
// replica.high.watermark.checkpoint.interval.ms default: how often the
// replication layer should call CheckpointHighWatermark.
const DefaultHighWatermarkCheckpointIntervalMs = 5000

// The checkpoint file (17 bytes, big-endian):
//
//	[0:4]   magic "MDHW"
//	[4]     version (hwVersion)
//	[5:13]  high watermark, int64 (>= 0)
//	[13:17] CRC-32C of bytes [0:13]
const (
	hwFileName = "replication-offset-checkpoint"
	hwFileTemp = "replication-offset-checkpoint.tmp"
	hwMagic    = "MDHW"
	hwVersion  = 1
	hwSize     = 17
)

// ErrCorruptCheckpoint reports a damaged high-watermark checkpoint.
var ErrCorruptCheckpoint = errors.New("log: corrupt high watermark checkpoint")

func encodeHighWatermark(hw int64) []byte {
	b := make([]byte, hwSize)
	copy(b, hwMagic)
	b[4] = hwVersion
	binary.BigEndian.PutUint64(b[5:], uint64(hw))
	binary.BigEndian.PutUint32(b[13:], crc32.Checksum(b[:13], castagnoli))
	return b
}

func decodeHighWatermark(b []byte) (int64, error) {
	if len(b) != hwSize || string(b[:4]) != hwMagic {
		return 0, fmt.Errorf("%w: bad magic or size (%d bytes)", ErrCorruptCheckpoint, len(b))
	}
	if binary.BigEndian.Uint32(b[13:]) != crc32.Checksum(b[:13], castagnoli) {
		return 0, fmt.Errorf("%w: checksum mismatch", ErrCorruptCheckpoint)
	}
	if b[4] != hwVersion {
		return 0, fmt.Errorf("%w: unsupported version %d (this build reads %d)", ErrCorruptCheckpoint, b[4], hwVersion)
	}
	hw := int64(binary.BigEndian.Uint64(b[5:]))
	if hw < 0 {
		return 0, fmt.Errorf("%w: negative high watermark", ErrCorruptCheckpoint)
	}
	return hw, nil
}

// replicationState is the part of a Log's state that belongs to
// replication.go, hwcheckpoint.go and reset.go.
type replicationState struct {
	// epochUnsaved: Log.epochs has changes not yet durably in the
	// leader-epoch checkpoint (replication.go). Set under appendMu and mu,
	// cleared under syncMu and mu.
	epochUnsaved bool

	// hwMu serializes writes of the high-watermark checkpoint and guards
	// hwSaved and hwFile. It is taken after appendMu (TruncateTo, ResetTo,
	// Close hold appendMu) and never with mu.
	hwMu    sync.Mutex
	hwFile  bool  // the checkpoint file exists and holds hwSaved
	hwSaved int64 // the high watermark in the checkpoint file
}

// HighWatermark returns the offset below which records are committed, the
// limit readers (Fetch) stop at. On a single-node log it is the end offset
// until SetHighWatermark is first called; after that, and on a replicated
// log from Open on, it is the value set (or recovered, see the top of
// hwcheckpoint.go) clamped to the end offset.
func (l *Log) HighWatermark() int64 {
	end := l.end.Load()
	if hw := l.hw.Load(); hw >= 0 {
		return min(hw, end)
	}
	return end
}

// SetHighWatermark sets the high watermark (replication's commit point).
// It never moves backwards except through TruncateTo and ResetTo. It does
// no I/O: CheckpointHighWatermark makes it durable.
func (l *Log) SetHighWatermark(offset int64) {
	for {
		cur := l.hw.Load()
		if offset <= cur || l.hw.CompareAndSwap(cur, offset) {
			return
		}
	}
}

// CheckpointHighWatermark durably records the current high watermark
// (temporary file, fsync, rename, directory fsync) if it changed since the
// last checkpoint; it writes nothing for a log whose high watermark follows
// its end (single node). Safe to call concurrently with everything else;
// concurrent calls are serialized.
func (l *Log) CheckpointHighWatermark() error {
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return l.checkpointHighWatermark()
}

func (l *Log) checkpointHighWatermark() error {
	if l.hw.Load() < 0 {
		return nil
	}
	l.repl.hwMu.Lock()
	defer l.repl.hwMu.Unlock()
	return l.writeHighWatermarkLocked(l.HighWatermark())
}

// writeHighWatermarkLocked writes hw to the checkpoint unless it holds it
// already. It requires hwMu.
func (l *Log) writeHighWatermarkLocked(hw int64) error {
	if l.repl.hwFile && l.repl.hwSaved == hw {
		return nil
	}
	if err := replaceFile(l.fs, l.dir, hwFileTemp, hwFileName, encodeHighWatermark(hw)); err != nil {
		return fmt.Errorf("log: write %s: %w", hwFileName, err)
	}
	l.repl.hwFile, l.repl.hwSaved = true, hw
	return nil
}

// lowerCheckpointedHighWatermark rewrites a checkpoint above end with end
// (TruncateTo). It requires appendMu.
func (l *Log) lowerCheckpointedHighWatermark(end int64) error {
	l.repl.hwMu.Lock()
	defer l.repl.hwMu.Unlock()
	if !l.repl.hwFile || l.repl.hwSaved <= end {
		return nil
	}
	return l.writeHighWatermarkLocked(end)
}

// loadHighWatermark is called by Open after recovery: on a replicated log
// it sets the high watermark from the checkpoint (see the top of this
// file), rewriting the checkpoint when the recovered end cut it (a crash
// lost records below it), so that records appended later cannot become
// visible through a stale checkpoint. A single-node log reads nothing.
func (l *Log) loadHighWatermark() error {
	if !l.config().Replicated {
		return nil
	}
	start, end := l.logStart.Load(), l.end.Load()
	hw := start
	b, err := readWholeFile(l.fs, filepath.Join(l.dir, hwFileName))
	switch {
	case err == nil:
		cp, err := decodeHighWatermark(b)
		if err != nil {
			l.logger.Warn("ignoring damaged high watermark checkpoint; the high watermark starts at the log start offset",
				"dir", l.dir, "log_start_offset", start, "err", err)
			break
		}
		l.repl.hwFile, l.repl.hwSaved = true, cp
		hw = max(start, min(cp, end))
		if cp > end {
			l.logger.Warn("high watermark checkpoint is above the recovered end offset; lowering it",
				"dir", l.dir, "checkpoint", cp, "end_offset", end)
			l.repl.hwMu.Lock()
			err := l.writeHighWatermarkLocked(end)
			l.repl.hwMu.Unlock()
			if err != nil {
				return err
			}
		}
	case isNotExist(err):
		if end > start {
			l.logger.Warn("no high watermark checkpoint; the high watermark starts at the log start offset",
				"dir", l.dir, "log_start_offset", start, "end_offset", end)
		}
	default:
		l.logger.Warn("cannot read the high watermark checkpoint; the high watermark starts at the log start offset",
			"dir", l.dir, "log_start_offset", start, "err", err)
	}
	l.hw.Store(hw)
	return nil
}
