package broker

// Share-partition leader glue (KIP-932): the share-partition state
// machines (broker/share) of the data partitions this node leads, loaded
// from and written to the share.Persister, their acquisition-lock timers,
// the share session cache (per group and member), and reading the log for
// an acquisition. The handlers are 78_share_fetch.go and
// 79_share_acknowledge.go.
//
// Locking: shareManager.mu guards the maps (parts, sessions) and every
// shareSession's fields; sharePart.mu guards one share-partition and is
// held across its persister calls, so that its writes reach the persister
// in the order the state changed. Order: sharePart.mu, then
// shareManager.mu (waking long polls with a part locked); never a
// sharePart.mu while holding shareManager.mu. Entries of parts are kept
// once made (a dropped share-partition keeps its entry, with no state), so
// that one key never has two locks.
//
// Leadership: a share-partition is served only while this node leads the
// data partition. Its in-memory state carries the leader epoch it was
// loaded at; a request or timer that finds another epoch (or no
// leadership) drops it, and the next leader's first use reads the state
// from the persister, as Kafka's SharePartitionManager does.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/moldau/moldau/broker/share"
	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/protocol"
)

// maxShareSessions bounds the share session cache (Kafka's
// max.share.sessions default); past it, new sessions get
// SHARE_SESSION_LIMIT_REACHED.
const maxShareSessions = 2000

// shareLeaderPersistTimeout bounds one persister call.
const shareLeaderPersistTimeout = 15 * time.Second

type shareSessionKey struct{ group, member string }

type shareTP struct {
	id        [16]byte
	partition int32
}

// shareSession is one member's share session (KIP-932's share session
// cache entry): the partitions it fetches and the epoch the next request
// must carry. Guarded by shareManager.mu.
type shareSession struct {
	key   shareSessionKey
	epoch int32
	parts []shareTP
	index map[shareTP]int
	conn  *protocol.ConnInfo // the connection that opened it
}

func (s *shareSession) add(tp shareTP) {
	if _, ok := s.index[tp]; ok {
		return
	}
	s.index[tp] = len(s.parts)
	s.parts = append(s.parts, tp)
}

func (s *shareSession) forget(tp shareTP) {
	i, ok := s.index[tp]
	if !ok {
		return
	}
	s.parts = append(s.parts[:i], s.parts[i+1:]...)
	delete(s.index, tp)
	for j := i; j < len(s.parts); j++ {
		s.index[s.parts[j]] = j
	}
}

// sharePart is one share-partition on its leader.
type sharePart struct {
	mu          sync.Mutex
	key         share.Key
	sp          *share.Partition // nil: not loaded (first use, or dropped)
	leaderEpoch int32            // the data partition's epoch sp was loaded at
	data        *partition       // the data partition
	stateEpoch  int32
	timer       *time.Timer // the next lock deadline
	timerAt     time.Time
	// timerGen counts the timers armed; a callback whose generation is
	// not the current one is stale (its timer was replaced after it had
	// fired) and must not clear the current timer's handle.
	timerGen uint64
}

// shareManager is the broker's share-partition leader state.
type shareManager struct {
	mu       sync.Mutex
	parts    map[share.Key]*sharePart
	sessions map[shareSessionKey]*shareSession
	// avail is closed (and replaced) when records may have become
	// acquirable again (release, lock expiry), waking share long polls.
	avail chan struct{}
	// persister is used while Broker.sharePersister is unset: the share
	// coordinator's (share_state_persister.go).
	persister share.Persister
}

func newShareManager(persister share.Persister) *shareManager {
	return &shareManager{
		parts:     map[share.Key]*sharePart{},
		sessions:  map[shareSessionKey]*shareSession{},
		avail:     make(chan struct{}),
		persister: persister,
	}
}

// shareMgr returns the broker's share manager, created on first use.
func (b *Broker) shareMgr() *shareManager {
	b.sharesOnce.Do(func() { b.shares = newShareManager(b.newSharePersister()) })
	return b.shares
}

// persister is the share.Persister: the wired one (tests wire an
// in-memory one), else the share coordinator's.
func (b *Broker) persister() share.Persister {
	if b.sharePersister != nil {
		return b.sharePersister
	}
	return b.shareMgr().persister
}

func (m *shareManager) availCh() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.avail
}

func (m *shareManager) notifyAvail() {
	m.mu.Lock()
	close(m.avail)
	m.avail = make(chan struct{})
	m.mu.Unlock()
}

func (m *shareManager) part(k share.Key) *sharePart {
	m.mu.Lock()
	defer m.mu.Unlock()
	sp := m.parts[k]
	if sp == nil {
		sp = &sharePart{key: k, leaderEpoch: -1}
		m.parts[k] = sp
	}
	return sp
}

func (m *shareManager) existing(k share.Key) *sharePart {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.parts[k]
}

// shareConfig is the state machine's view of a group's settings.
func shareConfig(s coordinator.GroupSettings) share.Config {
	return share.Config{
		LockDuration:       s.ShareRecordLockDuration,
		DeliveryCountLimit: int16(min(s.ShareDeliveryCountLimit, 1<<15-1)),
		MaxRecordLocks:     int64(s.SharePartitionMaxRecordLocks),
	}
}

// lockSharePart returns k's share-partition locked and loaded at the data
// partition's current leader epoch (reading the persister if needed).
// verify (a share session opening) also asks the persister whether the
// state was re-initialized since it was loaded (AlterShareGroupOffsets,
// DeleteShareGroupOffsets bump the state epoch or delete the state, and
// are allowed only while the group has no members), and reloads if so.
func (b *Broker) lockSharePart(ctx context.Context, k share.Key, p *partition, epoch int32, verify bool) (*sharePart, error) {
	sp := b.shareMgr().part(k)
	sp.mu.Lock()
	settings := b.groupSettings(k.Group)
	if sp.sp != nil && sp.leaderEpoch == epoch && verify {
		rctx, cancel := context.WithTimeout(ctx, shareLeaderPersistTimeout)
		sum, err := b.persister().ReadSummary(rctx, k)
		cancel()
		switch {
		case errors.Is(err, share.ErrUninitialized):
			sp.sp = nil
		case err != nil:
			sp.mu.Unlock()
			return nil, err
		case sum.StateEpoch != sp.stateEpoch:
			sp.sp = nil
		}
	}
	if sp.sp != nil && sp.leaderEpoch == epoch {
		sp.sp.SetConfig(shareConfig(settings))
		return sp, nil
	}
	sp.sp = nil
	if err := b.loadSharePartLocked(sp, p, epoch, settings); err != nil {
		sp.mu.Unlock()
		return nil, err
	}
	return sp, nil
}

func (b *Broker) loadSharePartLocked(sp *sharePart, p *partition, epoch int32, settings coordinator.GroupSettings) error {
	// Not the request's context: its Initialize and first Write must not
	// be cut by a client disconnecting.
	ctx, cancel := context.WithTimeout(context.Background(), shareLeaderPersistTimeout)
	defer cancel()
	pers := b.persister()
	st, err := pers.Read(ctx, sp.key, epoch)
	switch {
	case errors.Is(err, share.ErrUninitialized):
		// The group coordinator initializes a share-partition's state
		// (and assigns only initialized partitions); a leader that
		// initialized it here would be overwritten by the coordinator's
		// later Initialize (a newer state epoch), forgetting the
		// acknowledgements answered OK meanwhile. As Kafka's leader, it
		// refuses: the partition answers a retriable error
		// (UNKNOWN_TOPIC_OR_PARTITION) until the coordinator has
		// initialized it (start offset -1: the reset offset below).
		return err
	case err != nil:
		return err
	case st.StartOffset < 0:
		st.StartOffset = b.shareResetOffset(p, settings)
		st.Batches = nil
	}
	sp.sp = share.FromState(shareConfig(settings), st)
	sp.leaderEpoch, sp.stateEpoch, sp.data = epoch, st.StateEpoch, p
	sp.sp.AdvanceLogStart(p.logStartOffset())
	// The first write at this leader epoch fences an older leader; until
	// it succeeds the state is not loaded.
	if err := b.persistSharePartLocked(sp, nil); err != nil {
		sp.sp = nil
		return err
	}
	return nil
}

// persistSharePartLocked writes sp's state with a context of its own
// (shareLeaderPersistTimeout), never the request's: a client that
// disconnects mid-write must not cancel a write other members' state
// rides on. On failure, undo (a Clone taken before this caller's change)
// replaces the in-memory state, so only this change is lost and every
// other member keeps its locks; with undo nil the change stays in memory
// and the next successful write (always the whole state) carries it. A
// fenced write (another leader, or re-initialized state) drops the state:
// the next use reads it again.
func (b *Broker) persistSharePartLocked(sp *sharePart, undo *share.Partition) error {
	if sp.sp == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shareLeaderPersistTimeout)
	defer cancel()
	st := sp.sp.State()
	err := b.persister().Write(ctx, sp.key, sp.stateEpoch, sp.leaderEpoch, st.StartOffset, st.Batches)
	switch {
	case err == nil:
	case errors.Is(err, share.ErrFencedLeaderEpoch), errors.Is(err, share.ErrFencedStateEpoch):
		b.logger.Warn("share-partition state write fenced; reloading on next use", "group", sp.key.Group, "partition", sp.key.Partition, "err", err)
		sp.sp = nil
	case undo != nil:
		b.logger.Warn("share-partition state write failed; change rolled back", "group", sp.key.Group, "partition", sp.key.Partition, "err", err)
		sp.sp = undo
	default:
		b.logger.Warn("share-partition state write failed; retried with the next change", "group", sp.key.Group, "partition", sp.key.Partition, "err", err)
	}
	return err
}

// shareResetOffset is share.auto.offset.reset for a partition with no
// state: latest (the high watermark), earliest (the log start), or
// by_duration:<ISO-8601> (the first offset at or after now-duration; the
// latest if none).
func (b *Broker) shareResetOffset(p *partition, s coordinator.GroupSettings) int64 {
	reset := strings.ToLower(s.ShareAutoOffsetReset)
	switch {
	case reset == "earliest":
		return p.logStartOffset()
	case strings.HasPrefix(reset, "by_duration:"):
		d, err := parseISODuration(strings.TrimPrefix(reset, "by_duration:"))
		if err != nil {
			b.logger.Warn("share.auto.offset.reset: bad duration; using latest", "value", s.ShareAutoOffsetReset, "err", err)
			return p.highWatermark()
		}
		if off, _, found := p.offsetForTimestamp(b.now().Add(-d).UnixMilli()); found {
			return off
		}
	}
	return p.highWatermark()
}

// parseISODuration parses an ISO-8601 duration as Java's Duration.parse:
// PnDTnHnMn.nS (days, hours, minutes, seconds).
func parseISODuration(s string) (time.Duration, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if !strings.HasPrefix(s, "P") || len(s) < 3 {
		return 0, fmt.Errorf("broker: bad ISO-8601 duration %q", s)
	}
	s = s[1:]
	var d time.Duration
	inTime := false
	num := ""
	for _, c := range s {
		switch {
		case c == 'T':
			inTime = true
		case (c >= '0' && c <= '9') || c == '.' || c == '-':
			num += string(c)
		default:
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("broker: bad ISO-8601 duration %q", s)
			}
			num = ""
			unit := map[rune]time.Duration{'D': 24 * time.Hour, 'H': time.Hour, 'M': time.Minute, 'S': time.Second}[c]
			if unit == 0 || (c == 'D' && inTime) || (c != 'D' && !inTime) {
				return 0, fmt.Errorf("broker: bad ISO-8601 duration %q", s)
			}
			d += time.Duration(v * float64(unit))
		}
	}
	if num != "" {
		return 0, fmt.Errorf("broker: bad ISO-8601 duration %q", s)
	}
	if neg {
		d = -d
	}
	return d, nil
}

// armShareTimerLocked schedules the lock expiry of sp's next deadline.
func (b *Broker) armShareTimerLocked(sp *sharePart) {
	if sp.sp == nil {
		return
	}
	next := sp.sp.NextDeadline()
	if next.IsZero() || (sp.timer != nil && sp.timerAt.Equal(next)) {
		return
	}
	if sp.timer != nil {
		sp.timer.Stop()
	}
	sp.timerAt = next
	sp.timerGen++
	gen := sp.timerGen
	sp.timer = time.AfterFunc(max(next.Sub(b.now()), 0), func() { b.expireSharePart(sp, gen) })
}

// expireSharePart releases sp's records whose lock expired (available
// again, or archived at the delivery count limit) and persists the change.
// gen is the generation of the timer that fired: a stale one (replaced
// by a newer timer after it fired) does nothing.
func (b *Broker) expireSharePart(sp *sharePart, gen uint64) {
	select {
	case <-b.stop:
		return
	default:
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if gen != sp.timerGen {
		return
	}
	sp.timer, sp.timerAt = nil, time.Time{}
	if sp.sp == nil {
		return
	}
	if l := b.cluster.leadershipOf(sp.data); !l.local || l.epoch != sp.leaderEpoch {
		sp.sp = nil // leadership moved: the new leader reads the state
		return
	}
	changed, _ := sp.sp.Expire(b.now())
	if changed {
		_ = b.persistSharePartLocked(sp, nil)
		b.shareMgr().notifyAvail()
	}
	b.armShareTimerLocked(sp)
}

// releaseShareMember releases member's acquired records on the given
// partitions of group (its share session closed or its connection
// dropped), persisting each change.
func (b *Broker) releaseShareMember(ctx context.Context, group, member string, tps []shareTP) {
	released := false
	for _, tp := range tps {
		sp := b.shareMgr().existing(share.Key{Group: group, TopicID: tp.id, Partition: tp.partition})
		if sp == nil {
			continue
		}
		sp.mu.Lock()
		if sp.sp != nil && sp.sp.ReleaseMember(member) {
			_ = b.persistSharePartLocked(sp, nil)
			released = true
		}
		sp.mu.Unlock()
	}
	if released {
		b.shareMgr().notifyAvail()
	}
}

// closeShareSession removes a member's session and releases its records.
// With want set, it does so only if want is still the session stored
// under k: a stale close (a dropped connection's) must not close the
// member's newer session.
func (b *Broker) closeShareSession(ctx context.Context, k shareSessionKey, want *shareSession) {
	m := b.shareMgr()
	m.mu.Lock()
	s := m.sessions[k]
	if want != nil && s != want {
		m.mu.Unlock()
		return
	}
	delete(m.sessions, k)
	var tps []shareTP
	if s != nil {
		tps = append(tps, s.parts...)
	}
	m.mu.Unlock()
	if s != nil {
		b.releaseShareMember(ctx, k.group, k.member, tps)
	}
}

// shareConnClosed closes the share sessions opened on a connection that
// dropped, releasing their members' records (Kafka's connection
// disconnect listener).
func (b *Broker) shareConnClosed(conn *protocol.ConnInfo) {
	if conn == nil {
		return
	}
	m := b.shareMgr()
	m.mu.Lock()
	var sessions []*shareSession
	for _, s := range m.sessions {
		if s.conn == conn {
			sessions = append(sessions, s)
		}
	}
	m.mu.Unlock()
	for _, s := range sessions {
		b.closeShareSession(context.Background(), s.key, s)
	}
}

// dropSharePart drops the in-memory share-partition k (its data partition
// is no longer led here): the next leader reads the persisted state.
func (b *Broker) dropSharePart(k share.Key) {
	sp := b.shareMgr().existing(k)
	if sp == nil {
		return
	}
	sp.mu.Lock()
	sp.sp = nil
	if sp.timer != nil {
		sp.timer.Stop()
		sp.timer, sp.timerAt = nil, time.Time{}
	}
	sp.mu.Unlock()
}

// shareReadLocked is one acquisition for member on sp (locked): it reads the log
// from the share-partition's fetch offset up to the high watermark (the
// last stable offset under read_committed), acquires what it may, and
// returns the record batches holding the acquired records.
func (b *Broker) shareReadLocked(sp *sharePart, p *partition, member string, maxRecords int, strict bool, maxBytes int, readCommitted bool) ([]byte, []share.Acquired, error) {
	now := b.now()
	s := sp.sp
	undo := s.Clone()
	changed := s.AdvanceLogStart(p.logStartOffset())
	if c, _ := s.Expire(now); c {
		changed = true
	}
	defer b.armShareTimerLocked(sp)
	persist := func() error {
		if changed {
			return b.persistSharePartLocked(sp, undo)
		}
		return nil
	}
	hw := p.highWatermark()
	upper := hw
	if readCommitted {
		upper = min(p.lastStableOffset(), hw)
	}
	var (
		out []byte
		got []share.Acquired
	)
	// Read in chunks of at most shareReadChunk bytes until MaxRecords or
	// MaxBytes is met, the window is full, or the log is exhausted: a
	// request for 500 records must not read MaxBytes (often 50 MiB) of
	// log to acquire them.
	for maxRecords > 0 && maxBytes > 0 {
		from := s.FetchOffset()
		if from >= upper || !s.CanAcquire() {
			break
		}
		buf, err := p.read(from, upper, min(maxBytes, shareReadChunk), len(out) == 0, nil)
		if err != nil {
			if len(got) > 0 {
				break // deliver what was acquired
			}
			return nil, nil, errors.Join(err, persist())
		}
		batches, where := shareBatches(p, buf, upper, readCommitted)
		if len(batches) == 0 {
			break
		}
		acq, ch := s.Acquire(member, batches, maxRecords, strict, now)
		changed = changed || ch
		// Keep the batches holding acquired records.
		gi := 0
		for i, lb := range batches {
			if lb.Skip {
				continue
			}
			for gi < len(acq) && acq[gi].Last < lb.First {
				gi++
			}
			if gi < len(acq) && acq[gi].First <= lb.Last {
				out = append(out, buf[where[i][0]:where[i][1]]...)
			}
		}
		for _, a := range acq {
			maxRecords -= int(a.Last - a.First + 1)
		}
		got = append(got, acq...)
		maxBytes -= len(buf)
		if s.FetchOffset() <= from {
			break // nothing moved (window full, or all acquired by others)
		}
	}
	if err := persist(); err != nil {
		// The acquisition is rolled back: deliver nothing.
		return nil, nil, err
	}
	return out, got, nil
}

// shareReadChunk is how many bytes of log one acquisition step reads.
const shareReadChunk = 1 << 20

// shareBatches parses the record batches of a log read below upper, with
// their byte ranges in buf. Control batches, and under read_committed
// aborted transactional batches, are marked Skip.
func shareBatches(p *partition, buf []byte, upper int64, readCommitted bool) ([]share.LogBatch, [][2]int) {
	var (
		batches []share.LogBatch
		where   [][2]int
	)
	for off := 0; off+records.OffRecordCount+4 <= len(buf); {
		length := int(int32(binary.BigEndian.Uint32(buf[off+records.OffBatchLength:])))
		end := off + 12 + length
		if length <= 0 || end > len(buf) {
			break
		}
		base := int64(binary.BigEndian.Uint64(buf[off+records.OffBaseOffset:]))
		last := base + int64(int32(binary.BigEndian.Uint32(buf[off+records.OffLastOffsetDelta:])))
		if last >= upper {
			break // not yet stable (read_committed) or replicated
		}
		attrs := int16(binary.BigEndian.Uint16(buf[off+records.OffAttributes:]))
		lb := share.LogBatch{First: base, Last: last, Skip: attrs&records.AttrControl != 0}
		if !lb.Skip && readCommitted && attrs&records.AttrTransactional != 0 {
			pid := int64(binary.BigEndian.Uint64(buf[off+records.OffProducerID:]))
			for _, a := range p.abortedIn(base, last+1) {
				if a.ProducerID == pid && a.FirstOffset <= base && last < a.LastOffset {
					lb.Skip = true
					break
				}
			}
		}
		batches = append(batches, lb)
		where = append(where, [2]int{off, end})
		off = end
	}
	return batches, where
}

// shareFetchErrorCode maps share-layer errors to Kafka codes.
func shareFetchErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, share.ErrInvalidRecordState), errors.Is(err, share.ErrFencedStateEpoch):
		return kerr.InvalidRecordState.Code
	case errors.Is(err, share.ErrInvalidAcknowledgement):
		return kerr.InvalidRequest.Code
	case errors.Is(err, share.ErrUninitialized):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, share.ErrFencedLeaderEpoch):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, share.ErrNotCoordinator), errors.Is(err, share.ErrCoordinatorNotAvailable),
		errors.Is(err, context.DeadlineExceeded):
		return kerr.CoordinatorNotAvailable.Code
	case errors.Is(err, share.ErrStorage):
		return kerr.KafkaStorageError.Code
	}
	if c := errorCode(err); c != kerr.UnknownServerError.Code {
		return c
	}
	return kerr.UnknownServerError.Code
}

// shareAckBatches converts wire acknowledgement batches; renew (4) is
// allowed only in a renew-ack request (v2 IsRenewAck).
func shareAckBatches[T any](in []T, get func(*T) (int64, int64, []int8), renew bool) ([]share.AckBatch, error) {
	out := make([]share.AckBatch, 0, len(in))
	for i := range in {
		f, l, types := get(&in[i])
		for _, t := range types {
			if t == share.AckRenew && !renew {
				return nil, fmt.Errorf("%w: renew without IsRenewAck", share.ErrInvalidAcknowledgement)
			}
		}
		out = append(out, share.AckBatch{First: f, Last: l, Types: types})
	}
	return out, nil
}

// shareLookup resolves a topic id and partition to the data partition
// and checks this node leads it; code is the partition's error.
func (b *Broker) shareLookup(id [16]byte, partition int32) (*topic, *partition, *leadership, int16) {
	t := b.topics.getID(id)
	if t == nil {
		return nil, nil, nil, kerr.UnknownTopicID.Code
	}
	p := t.partition(partition)
	if p == nil {
		return t, nil, nil, kerr.UnknownTopicOrPartition.Code
	}
	l, err := b.cluster.checkLeader(p, -1)
	if err != nil {
		return t, p, l, errorCode(err)
	}
	return t, p, l, 0
}

// shareAcknowledge applies one partition's acknowledgements for member.
func (b *Broker) shareAcknowledge(ctx context.Context, group, member string, id [16]byte, partition int32, acks []share.AckBatch) (int16, *leadership, *partition) {
	_, p, l, code := b.shareLookup(id, partition)
	k := share.Key{Group: group, TopicID: id, Partition: partition}
	if code != 0 {
		if code == kerr.NotLeaderForPartition.Code {
			b.dropSharePart(k)
		}
		return code, l, p
	}
	sp, err := b.lockSharePart(ctx, k, p, l.epoch, false)
	if err != nil {
		return shareFetchErrorCode(err), l, p
	}
	defer sp.mu.Unlock()
	now := b.now()
	undo := sp.sp.Clone()
	expired, _ := sp.sp.Expire(now)
	spso := sp.sp.StartOffset()
	if err := sp.sp.Acknowledge(member, acks, now); err != nil {
		if expired {
			_ = b.persistSharePartLocked(sp, nil)
			b.shareMgr().notifyAvail()
		}
		b.armShareTimerLocked(sp)
		return shareFetchErrorCode(err), l, p
	}
	// A release makes records acquirable again, and a moved SPSO opens
	// the in-flight window: wake the long polls.
	wake := expired || sp.sp.StartOffset() != spso
	for _, a := range acks {
		for _, t := range a.Types {
			wake = wake || t == share.AckRelease
		}
	}
	err = b.persistSharePartLocked(sp, undo)
	b.armShareTimerLocked(sp)
	if err == nil && wake {
		b.shareMgr().notifyAvail()
	}
	return shareFetchErrorCode(err), l, p
}

// ConnClosed implements protocol.ConnCloser: a dropped connection closes
// the share sessions last used on it.
func (b *Broker) ConnClosed(conn *protocol.ConnInfo) { b.shareConnClosed(conn) }

// closeShares stops the share-partitions' lock timers (Close).
func (b *Broker) closeShares() {
	m := b.shareMgr()
	m.mu.Lock()
	parts := make([]*sharePart, 0, len(m.parts))
	for _, sp := range m.parts {
		parts = append(parts, sp)
	}
	m.mu.Unlock()
	for _, sp := range parts {
		sp.mu.Lock()
		if sp.timer != nil {
			sp.timer.Stop()
			sp.timer, sp.timerAt = nil, time.Time{}
		}
		sp.mu.Unlock()
	}
}
