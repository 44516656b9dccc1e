package share

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// This file is the share-partition state machine (Kafka's SharePartition):
// the in-flight records of one share group on one partition, from the
// share-partition start offset (SPSO) to the end offset (SPEO, exclusive
// here: the first offset never yet acquired). It is pure: no I/O, no
// clock (callers pass now), no lock (the broker holds one per partition).
//
// Records are tracked as runs (spans) of offsets sharing one state,
// delivery count, owner and lock deadline; a run is split only where an
// acknowledgement or release cuts it, and neighbours that agree again are
// merged, so memory follows the number of distinct runs, not records.
// Offsets at or past SPEO are implicitly available with delivery count 0.

// Errors of the state machine; the broker maps them to Kafka codes.
var (
	// ErrInvalidRecordState: an acknowledgement names offsets not acquired
	// by the member (INVALID_RECORD_STATE).
	ErrInvalidRecordState = errors.New("share: invalid record state")
	// ErrInvalidAcknowledgement: a malformed acknowledgement batch (bad
	// range, type count, or type) (INVALID_REQUEST).
	ErrInvalidAcknowledgement = errors.New("share: invalid acknowledgement")
)

// Acknowledgement types (ShareFetch/ShareAcknowledge AcknowledgeTypes).
const (
	AckGap     int8 = 0 // the offset holds no record (compacted, control)
	AckAccept  int8 = 1
	AckRelease int8 = 2
	AckReject  int8 = 3
	AckRenew   int8 = 4 // v2 (KIP-1222): extend the acquisition lock
)

// Config holds the group settings the state machine applies.
type Config struct {
	LockDuration       time.Duration // share.record.lock.duration.ms
	DeliveryCountLimit int16         // share.delivery.count.limit
	MaxRecordLocks     int64         // share.partition.max.record.locks
}

// LogBatch is one batch of the partition log as the broker read it.
// Skip marks a batch that must never be delivered: a control batch, or
// (read_committed) an aborted transactional batch; it is archived.
type LogBatch struct {
	First, Last int64
	Skip        bool
}

// Acquired is a range of offsets acquired for a member, with the delivery
// count they were acquired at (ShareFetch AcquiredRecords).
type Acquired struct {
	First, Last   int64
	DeliveryCount int16
}

// AckBatch is one acknowledgement batch: Types has one entry for the whole
// range or one per offset.
type AckBatch struct {
	First, Last int64
	Types       []int8
}

type span struct {
	first, last int64
	state       int8  // StateAvailable, StateAcquired, StateAcked, StateArchived
	count       int16 // delivery count
	member      string
	deadline    time.Time // lock deadline (acquired only)
}

func (s *span) same(o *span) bool {
	return s.state == o.state && s.count == o.count && s.member == o.member && s.deadline.Equal(o.deadline)
}

// Partition is one share-partition's in-flight state.
//
// Invariant: spans are sorted, contiguous and cover exactly
// [startOffset, endOffset); the first span, if any, is neither acked nor
// archived (such a head is dropped and the SPSO moves past it).
type Partition struct {
	cfg         Config
	startOffset int64
	endOffset   int64
	spans       []span
}

// New returns a share-partition starting at startOffset with no records
// in flight.
func New(cfg Config, startOffset int64) *Partition {
	return &Partition{cfg: cfg, startOffset: startOffset, endOffset: startOffset}
}

// FromState rebuilds a share-partition from its persisted state (the
// leader's first use, or a new leader). Holes between persisted batches
// are available with delivery count 0; acquired states are read as
// available (no lock survives a leader change).
func FromState(cfg Config, st State) *Partition {
	p := New(cfg, st.StartOffset)
	for _, b := range st.Batches {
		if b.LastOffset < p.endOffset || b.LastOffset < b.FirstOffset {
			continue
		}
		first := max(b.FirstOffset, p.endOffset)
		if first > p.endOffset {
			p.spans = append(p.spans, span{first: p.endOffset, last: first - 1})
		}
		s := span{first: first, last: b.LastOffset, state: b.DeliveryState, count: b.DeliveryCount}
		if s.state != StateAcked && s.state != StateArchived {
			s.state = StateAvailable
		}
		p.spans = append(p.spans, s)
		p.endOffset = b.LastOffset + 1
	}
	p.normalize()
	return p
}

// SetConfig replaces the settings (a group config change); locks already
// taken keep their deadlines.
func (p *Partition) SetConfig(cfg Config) { p.cfg = cfg }

// StartOffset is the SPSO.
func (p *Partition) StartOffset() int64 { return p.startOffset }

// EndOffset is the SPEO: the first offset never acquired.
func (p *Partition) EndOffset() int64 { return p.endOffset }

// FetchOffset is where the next acquisition starts reading the log: the
// first available in-flight offset, else the SPEO.
func (p *Partition) FetchOffset() int64 {
	for i := range p.spans {
		if p.spans[i].state == StateAvailable {
			return p.spans[i].first
		}
	}
	return p.endOffset
}

// CanAcquire reports whether an acquisition could find anything without
// reading the log past the in-flight window: some in-flight record is
// available, or the window has room for new records.
func (p *Partition) CanAcquire() bool {
	return p.FetchOffset() < p.endOffset || p.endOffset-p.startOffset < p.cfg.MaxRecordLocks
}

// AdvanceLogStart moves the SPSO to the log start offset when the log was
// truncated past it (retention, DeleteRecords): records gone from the log
// can no longer be delivered. Reports whether the state changed.
func (p *Partition) AdvanceLogStart(logStart int64) bool {
	if logStart <= p.startOffset {
		return false
	}
	if logStart >= p.endOffset {
		p.spans = p.spans[:0]
		p.startOffset, p.endOffset = logStart, logStart
		return true
	}
	p.splitAt(logStart)
	i := p.index(logStart)
	p.spans = append(p.spans[:0], p.spans[i:]...)
	p.startOffset = logStart
	p.normalize()
	return true
}

// Acquire acquires records for member from the log batches read at
// FetchOffset (sorted, not overlapping). At most maxRecords are acquired:
// whole batches, the last one crossing the limit (Kafka's batch-optimized
// mode), or exactly maxRecords when strict (record-limit mode). New records
// past the SPEO are taken only while the in-flight window holds fewer than
// MaxRecordLocks records. Offsets between batches (compacted away) and
// skipped batches are archived. Returns the acquired ranges in offset
// order; changed reports whether anything else (archiving) changed state
// that must be persisted.
func (p *Partition) Acquire(member string, batches []LogBatch, maxRecords int, strict bool, now time.Time) (got []Acquired, changed bool) {
	if maxRecords <= 0 {
		maxRecords = 1<<31 - 1
	}
	deadline := now.Add(p.cfg.LockDuration)
	taken := 0
	cursor := p.FetchOffset() // offsets below are not available or already seen
	for _, b := range batches {
		if taken >= maxRecords {
			break
		}
		if b.Last < cursor || b.Last < p.startOffset {
			continue
		}
		first := max(b.First, p.startOffset)
		// A hole before this batch: the log has no records there.
		if first > cursor && p.archiveAvailable(cursor, first-1) {
			changed = true
			p.normalize()
		}
		if b.Skip {
			if p.archiveAvailable(first, b.Last) {
				changed = true
				p.normalize()
			}
			cursor = b.Last + 1
			continue
		}
		if first >= p.endOffset && p.endOffset-p.startOffset >= p.cfg.MaxRecordLocks {
			break // window full: no new records
		}
		last := b.Last
		if strict && int64(maxRecords-taken) < last-first+1 {
			last = first + int64(maxRecords-taken) - 1
		}
		p.extendTo(last)
		p.splitAt(first)
		p.splitAt(last + 1)
		for i := p.index(first); i < len(p.spans) && p.spans[i].first <= last; i++ {
			s := &p.spans[i]
			if s.state != StateAvailable {
				continue
			}
			if p.cfg.DeliveryCountLimit > 0 && s.count >= p.cfg.DeliveryCountLimit {
				// Delivered as often as allowed (its last lock was lost
				// with a leader, or the limit was lowered): archive.
				s.state = StateArchived
				changed = true
				continue
			}
			s.state, s.member, s.deadline = StateAcquired, member, deadline
			s.count++
			taken += int(s.last - s.first + 1)
			if n := len(got); n > 0 && got[n-1].Last+1 == s.first && got[n-1].DeliveryCount == s.count {
				got[n-1].Last = s.last
			} else {
				got = append(got, Acquired{First: s.first, Last: s.last, DeliveryCount: s.count})
			}
		}
		cursor = last + 1
	}
	if p.normalize() {
		changed = true
	}
	return got, changed
}

// archiveAvailable archives the available in-flight offsets in
// [first, last] and records past the SPEO up to last (never delivered).
func (p *Partition) archiveAvailable(first, last int64) bool {
	if last < first {
		return false
	}
	p.extendTo(last)
	p.splitAt(first)
	p.splitAt(last + 1)
	changed := false
	for i := p.index(first); i < len(p.spans) && p.spans[i].first <= last; i++ {
		if s := &p.spans[i]; s.state == StateAvailable {
			s.state = StateArchived
			changed = true
		}
	}
	return changed
}

// extendTo grows the window to cover last: new offsets are available with
// delivery count 0.
func (p *Partition) extendTo(last int64) {
	if last < p.endOffset {
		return
	}
	p.spans = append(p.spans, span{first: p.endOffset, last: last})
	p.endOffset = last + 1
}

// Acknowledge applies a member's acknowledgements. The batches must be in
// ascending offset order and must not overlap (Kafka's request validation
// answers INVALID_REQUEST otherwise): overlapping batches would apply two
// acknowledgements to one record, the later undoing the earlier. Every
// offset named must be acquired by member, else nothing is applied and
// ErrInvalidRecordState is returned (ErrInvalidAcknowledgement for a
// malformed batch). Releases of records at the delivery count limit
// archive them.
func (p *Partition) Acknowledge(member string, acks []AckBatch, now time.Time) error {
	for i, a := range acks {
		if a.Last < a.First || len(a.Types) == 0 || (len(a.Types) != 1 && int64(len(a.Types)) != a.Last-a.First+1) {
			return fmt.Errorf("%w: batch %d-%d with %d types", ErrInvalidAcknowledgement, a.First, a.Last, len(a.Types))
		}
		if i > 0 && a.First <= acks[i-1].Last {
			return fmt.Errorf("%w: batch %d-%d overlaps or precedes batch %d-%d", ErrInvalidAcknowledgement, a.First, a.Last, acks[i-1].First, acks[i-1].Last)
		}
		for _, t := range a.Types {
			if t < AckGap || t > AckRenew {
				return fmt.Errorf("%w: type %d", ErrInvalidAcknowledgement, t)
			}
		}
		if a.First < p.startOffset || a.Last >= p.endOffset {
			return fmt.Errorf("%w: %d-%d outside %d-%d", ErrInvalidRecordState, a.First, a.Last, p.startOffset, p.endOffset-1)
		}
		for i := p.index(a.First); i < len(p.spans) && p.spans[i].first <= a.Last; i++ {
			if s := &p.spans[i]; s.state != StateAcquired || s.member != member {
				return fmt.Errorf("%w: offsets %d-%d not acquired by the member", ErrInvalidRecordState, max(s.first, a.First), min(s.last, a.Last))
			}
		}
	}
	for _, a := range acks {
		if len(a.Types) == 1 {
			p.ackRange(member, a.First, a.Last, a.Types[0], now)
			continue
		}
		for off := a.First; off <= a.Last; {
			t := a.Types[off-a.First]
			end := off
			for end < a.Last && a.Types[end+1-a.First] == t {
				end++
			}
			p.ackRange(member, off, end, t, now)
			off = end + 1
		}
	}
	p.normalize()
	return nil
}

// ackRange applies one acknowledgement type to [first, last]; only records
// still acquired by member change (a record acknowledged already is never
// reopened).
func (p *Partition) ackRange(member string, first, last int64, t int8, now time.Time) {
	p.splitAt(first)
	p.splitAt(last + 1)
	for i := p.index(first); i < len(p.spans) && p.spans[i].first <= last; i++ {
		s := &p.spans[i]
		if s.state != StateAcquired || s.member != member {
			continue
		}
		switch t {
		case AckAccept:
			s.state = StateAcked
		case AckGap, AckReject:
			s.state = StateArchived
		case AckRelease:
			p.release(s)
		case AckRenew:
			s.deadline = now.Add(p.cfg.LockDuration)
			continue
		}
		s.member, s.deadline = "", time.Time{}
	}
}

// release makes an acquired span available again, or archives it once its
// delivery count reached the limit (a poison record).
func (p *Partition) release(s *span) {
	s.state = StateAvailable
	if p.cfg.DeliveryCountLimit > 0 && s.count >= p.cfg.DeliveryCountLimit {
		s.state = StateArchived
	}
	s.member, s.deadline = "", time.Time{}
}

// ReleaseMember releases every record member holds (its share session
// closed or its connection dropped). Reports whether anything changed.
func (p *Partition) ReleaseMember(member string) bool {
	changed := false
	for i := range p.spans {
		if s := &p.spans[i]; s.state == StateAcquired && s.member == member {
			p.release(s)
			changed = true
		}
	}
	if changed {
		p.normalize()
	}
	return changed
}

// Expire releases the records whose acquisition lock deadline is at or
// before now. Reports whether anything changed, and the next deadline
// (zero if no record is acquired).
func (p *Partition) Expire(now time.Time) (changed bool, next time.Time) {
	for i := range p.spans {
		s := &p.spans[i]
		if s.state != StateAcquired {
			continue
		}
		if !s.deadline.After(now) {
			p.release(s)
			changed = true
			continue
		}
		if next.IsZero() || s.deadline.Before(next) {
			next = s.deadline
		}
	}
	if changed {
		p.normalize()
	}
	return changed, next
}

// AcquiredBy returns the number of records member holds.
func (p *Partition) AcquiredBy(member string) int64 {
	var n int64
	for i := range p.spans {
		if s := &p.spans[i]; s.state == StateAcquired && s.member == member {
			n += s.last - s.first + 1
		}
	}
	return n
}

// State is what to persist: the SPSO and the in-flight batches, acquired
// ones as available (Kafka never persists a lock).
func (p *Partition) State() State {
	st := State{StartOffset: p.startOffset, Batches: make([]StateBatch, 0, len(p.spans))}
	var done int64
	for i := range p.spans {
		s := &p.spans[i]
		state := s.state
		if state == StateAcquired {
			state = StateAvailable
		}
		if state == StateAcked || state == StateArchived {
			done += s.last - s.first + 1
		}
		if n := len(st.Batches); n > 0 && st.Batches[n-1].DeliveryState == state && st.Batches[n-1].DeliveryCount == s.count {
			st.Batches[n-1].LastOffset = s.last
			continue
		}
		st.Batches = append(st.Batches, StateBatch{FirstOffset: s.first, LastOffset: s.last, DeliveryState: state, DeliveryCount: s.count})
	}
	st.DeliveryCompleteCount = int32(min(done, 1<<31-1))
	return st
}

// String renders the state for tests and logs.
func (p *Partition) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "spso=%d speo=%d", p.startOffset, p.endOffset)
	for i := range p.spans {
		s := &p.spans[i]
		fmt.Fprintf(&b, " [%d-%d %s n=%d", s.first, s.last, stateName(s.state), s.count)
		if s.state == StateAcquired {
			fmt.Fprintf(&b, " %s until=%d", s.member, s.deadline.UnixMilli())
		}
		b.WriteString("]")
	}
	return b.String()
}

func stateName(s int8) string {
	switch s {
	case StateAvailable:
		return "available"
	case StateAcquired:
		return "acquired"
	case StateAcked:
		return "acked"
	case StateArchived:
		return "archived"
	}
	return fmt.Sprintf("state(%d)", s)
}

// index returns the index of the span holding off (len(spans) if none).
func (p *Partition) index(off int64) int {
	return sort.Search(len(p.spans), func(i int) bool { return p.spans[i].last >= off })
}

// splitAt makes off the first offset of a span, if it lies inside one.
func (p *Partition) splitAt(off int64) {
	i := p.index(off)
	if i == len(p.spans) || p.spans[i].first >= off {
		return
	}
	s := p.spans[i]
	left, right := s, s
	left.last, right.first = off-1, off
	p.spans = append(p.spans, span{})
	copy(p.spans[i+2:], p.spans[i+1:])
	p.spans[i], p.spans[i+1] = left, right
}

// normalize merges agreeing neighbours and drops an acked/archived head,
// moving the SPSO. Reports whether the SPSO moved.
func (p *Partition) normalize() bool {
	out := p.spans[:0]
	for _, s := range p.spans {
		if n := len(out); n > 0 && out[n-1].same(&s) && out[n-1].last+1 == s.first {
			out[n-1].last = s.last
			continue
		}
		out = append(out, s)
	}
	p.spans = out
	moved := false
	drop := 0
	for drop < len(p.spans) && (p.spans[drop].state == StateAcked || p.spans[drop].state == StateArchived) {
		p.startOffset = p.spans[drop].last + 1
		drop++
		moved = true
	}
	if drop > 0 {
		p.spans = append(p.spans[:0], p.spans[drop:]...)
	}
	return moved
}

// NextDeadline is the earliest acquisition lock deadline (zero if no
// record is acquired).
func (p *Partition) NextDeadline() time.Time {
	var next time.Time
	for i := range p.spans {
		if s := &p.spans[i]; s.state == StateAcquired && (next.IsZero() || s.deadline.Before(next)) {
			next = s.deadline
		}
	}
	return next
}

// Clone returns an independent copy of the share-partition: the undo
// record of a change whose state write may fail (the caller restores the
// copy instead of dropping every member's locks).
func (p *Partition) Clone() *Partition {
	c := *p
	c.spans = append([]span(nil), p.spans...)
	return &c
}
