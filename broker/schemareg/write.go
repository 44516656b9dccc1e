package schemareg

// The write protocol (FORMAT.md, "Writing"): any number of registry
// instances share the schemas topic without a leader. An instance
//
//  1. takes its writeMu (one write at a time per instance),
//  2. reads the topic up to Log.End() (so st holds every committed record),
//  3. decides the records to write from st (ids: max id ever seen + 1;
//     versions: max version of the subject + 1),
//  4. appends each record with key fields seq (the offset it expects the
//     record to land at) and node (Config.NodeID),
//  5. if a record landed elsewhere, another instance wrote in between: the
//     record is ignored by every instance's apply (seq != offset, a pure
//     function of the log), so it backs off a random while, re-reads and
//     starts over (bounded); the same when an unchecked tombstone landed
//     past its expected offset before a checked record (someone wrote in
//     between, and the rest was planned without it),
//  6. otherwise waits until st has applied its last record
//     (read-your-writes) and answers.
//
// Tombstones cannot carry a new seq (compaction needs the exact key
// bytes of the records they remove), so they are written without the
// check; state.applyTombstone only removes an entry set under exactly the
// tombstoned key, so a late tombstone never removes a newer record.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrWriteConflict: the write lost the race for its offset more often
// than maxWriteAttempts (the API answers 500 with error code 50001).
var ErrWriteConflict = errors.New("schemareg: too many concurrent writes to the schemas topic")

// maxWriteAttempts bounds the retries of one write; between attempts the
// writer backs off a random while (up to conflictBackoffMax, doubling) so
// that an instance whose appends take longer (a follower forwarding to the
// leader) is not beaten every time by one appending locally.
const (
	maxWriteAttempts   = 40
	conflictBackoffMin = time.Millisecond
	conflictBackoffMax = 100 * time.Millisecond
)

// pendingRecord is one record an operation wants written: either a
// keyed record (key gets seq and node) or a tombstone of raw key bytes.
type pendingRecord struct {
	key       recordKey
	value     []byte
	tombstone []byte // non-nil: a tombstone with exactly these key bytes
	// transient: once the operation's records are written (or this one
	// lost its offset), tombstone this record too (fences).
	transient bool
}

func tombstones(keys [][]byte) []pendingRecord {
	out := make([]pendingRecord, 0, len(keys))
	for _, k := range keys {
		out = append(out, pendingRecord{tombstone: k})
	}
	return out
}

// write runs plan under the write protocol. plan reads st (mu is held
// for reading while it runs) and returns the records to write, or an
// error to answer with (nothing is written then). plan may run several
// times; it must not keep anything from a previous run.
func (r *Registry) write(ctx context.Context, plan func(st *state) ([]pendingRecord, error)) error {
	if r.closed.Load() {
		return ErrClosed
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
attempts:
	for attempt := 0; attempt < maxWriteAttempts; attempt++ {
		if err := r.catchUp(ctx); err != nil {
			return err
		}
		r.mu.RLock()
		end := r.st.applied
		r.mu.RUnlock()
		if end <= r.unsureSeq {
			// A record of ours with seq unsureSeq may still land:
			// move the end past it before reusing that seq.
			off, err := r.cfg.Log.Append(ctx, noopKey, nil)
			if err != nil {
				return fmt.Errorf("schemareg: writing to the schemas topic: %w", err)
			}
			if err := r.waitApplied(ctx, off+1); err != nil {
				return err
			}
			r.unsureSeq = -1
		}
		r.mu.RLock()
		end = r.st.applied
		recs, err := plan(r.st)
		r.mu.RUnlock()
		if err != nil || len(recs) == 0 {
			return err
		}
		expected := end
		lost := false
		var transient [][]byte
		// gap: an unchecked tombstone landed past expected, so another
		// instance wrote after plan read st; a later checked record
		// would still match its seq but was planned without that write.
		gap := false
		for i, p := range recs {
			key, value := p.tombstone, []byte(nil)
			if p.tombstone == nil && gap {
				lost = true
				r.metrics.writeConflicts.Inc()
				r.logger.Debug("schemareg: another write landed between this write's records, retrying", "at", expected, "attempt", attempt)
				break
			}
			if p.tombstone == nil {
				k := p.key
				seq, node := expected, r.cfg.NodeID
				k.Seq, k.Node = &seq, &node
				key, value = encodeKey(k), p.value
			}
			off, err := r.cfg.Log.Append(ctx, key, value)
			if err != nil {
				if p.tombstone == nil {
					r.unsureSeq = max(r.unsureSeq, expected)
				}
				if i == 0 && errors.Is(err, ErrLogUnavailable) && ctx.Err() == nil && !r.closed.Load() {
					// Nothing else of this attempt was written: plan
					// again (past a NOOP, above) after a while.
					r.logger.Debug("schemareg: append failed, retrying", "err", err, "attempt", attempt)
					if err := backoff(ctx, attempt+4); err != nil {
						return err
					}
					continue attempts
				}
				return fmt.Errorf("schemareg: writing to the schemas topic: %w", err)
			}
			if p.transient {
				transient = append(transient, key)
			}
			if p.tombstone == nil && off != expected {
				lost = true
				r.metrics.writeConflicts.Inc()
				r.logger.Debug("schemareg: write lost its offset, retrying", "expected", expected, "got", off, "attempt", attempt)
				expected = off + 1 // wait for it before re-planning
				break
			}
			if p.tombstone != nil && off != expected {
				gap = true
			}
			expected = off + 1
		}
		for _, key := range transient {
			off, err := r.cfg.Log.Append(ctx, key, nil)
			if err != nil {
				return fmt.Errorf("schemareg: writing to the schemas topic: %w", err)
			}
			expected = max(expected, off+1)
		}
		if err := r.waitApplied(ctx, expected); err != nil || !lost {
			return err
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
	return ErrWriteConflict
}

// backoff waits a random while before write attempt attempt+1.
func backoff(ctx context.Context, attempt int) error {
	limit := conflictBackoffMin << min(attempt, 10)
	limit = min(limit, conflictBackoffMax)
	t := time.NewTimer(rand.N(limit) + 1)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
