package coordinator

import (
	"bytes"
	"sort"
	"sync"
	"time"
)

// State is a classic group's state, as Kafka's GroupState.
type State int8

// The states of a classic group.
const (
	StateEmpty State = iota
	StatePreparingRebalance
	StateCompletingRebalance
	StateStable
	StateDead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

// String is Kafka's name of the state (DescribeGroups, ListGroups).
func (s State) String() string { return stateNames[s] }

// Protocol is one protocol a member supports, with its metadata.
type Protocol struct {
	Name     string
	Metadata []byte
}

// member is one classic group member.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []Protocol
	assignment       []byte
	joinDone         func(JoinResult) // set while awaiting a join response
	syncDone         func(SyncResult) // set while awaiting a sync response
	isNew            bool             // joined in generation 0, not yet answered
	seq              uint64           // join order: leader choice and listing order

	hbTimer Timer
	hbSeq   uint64
}

func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols equal the member's (same names,
// metadata and order).
func (m *member) matches(protocols []Protocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i := range protocols {
		if protocols[i].Name != m.protocols[i].Name || !bytes.Equal(protocols[i].Metadata, m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// pendingMember is a member id handed out with MEMBER_ID_REQUIRED
// (KIP-394) that has not joined with it yet.
type pendingMember struct {
	timer Timer
}

// offsetEntry is one committed offset.
type offsetEntry struct {
	offset          int64
	leaderEpoch     int32
	metadata        string
	commitTimestamp int64 // ms
	expireTimestamp int64 // ms; -1 unless committed with OffsetCommit v1
	logOffset       int64 // offset of the record in __consumer_offsets
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// group is one group: its classic state machine and committed offsets.
// Everything is guarded by mu.
type group struct {
	c         *Coordinator
	id        string
	partition int32

	mu           sync.Mutex
	state        State
	stateSince   time.Time
	protocolType string
	protocolName string
	generation   int32
	leader       string
	members      map[string]*member
	static       map[string]string // instance id → member id
	pending      map[string]*pendingMember
	pendingSync  map[string]bool
	memberSeq    uint64

	newMemberAdded bool
	initialJoin    bool // the join phase is Kafka's InitialDelayedJoin
	joinTimer      Timer
	joinSeq        uint64
	syncTimer      Timer
	syncSeq        uint64

	offsets         map[TopicPartition]*offsetEntry
	commitsInFlight int // appended, not yet durable and applied

	consumer *consumerState // non-nil for a KIP-848 consumer group
	streams  *streamsState  // non-nil for a KIP-1071 streams group (streams.go)
	share    *shareState    // non-nil for a KIP-932 share group (share.go)
	// persisted is the value last appended under each consumer group
	// record key of this group (consumer_records.go).
	persisted map[string][]byte
	// unwritten holds records to go out first in the next consumer-state
	// append (the classic metadata tombstone of an upgrade), so that an
	// upgrade reaches the log as one batch, as Kafka writes it.
	unwritten []Record
}

func newGroup(c *Coordinator, id string) *group {
	return &group{
		c: c, id: id, partition: c.PartitionFor(id),
		state: StateEmpty, stateSince: c.clock.Now(),
		members: make(map[string]*member), static: make(map[string]string),
		pending: make(map[string]*pendingMember), pendingSync: make(map[string]bool),
		offsets: make(map[TopicPartition]*offsetEntry),
	}
}

func (g *group) transitionLocked(s State) {
	if g.state == s {
		return
	}
	g.c.metrics.stateChange(g.state, s)
	g.state = s
	g.stateSince = g.c.clock.Now()
}

// memberList returns the members in join order.
func (g *group) memberList() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (g *group) awaitingJoin() int {
	n := 0
	for _, m := range g.members {
		if m.joinDone != nil {
			n++
		}
	}
	return n
}

func (g *group) allJoined() bool {
	return len(g.pending) == 0 && g.awaitingJoin() == len(g.members)
}

func (g *group) canRebalance() bool {
	return g.state == StateStable || g.state == StateCompletingRebalance || g.state == StateEmpty
}

// supportsProtocols is Kafka's GroupMetadata.supportsProtocols.
func (g *group) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if g.state == StateEmpty || len(g.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		all := true
		for _, m := range g.members {
			if !hasProtocol(m.protocols, p.Name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func hasProtocol(ps []Protocol, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

// selectProtocol is Kafka's: among protocols every member supports, each
// member votes for the first in its own preference order; most votes win
// (ties: the earliest in the leader's... here the first member's order).
func (g *group) selectProtocol() string {
	ms := g.memberList()
	if len(ms) == 0 {
		return ""
	}
	candidates := map[string]bool{}
	for _, p := range ms[0].protocols {
		ok := true
		for _, m := range ms[1:] {
			if !hasProtocol(m.protocols, p.Name) {
				ok = false
				break
			}
		}
		if ok {
			candidates[p.Name] = true
		}
	}
	votes := map[string]int{}
	for _, m := range ms {
		for _, p := range m.protocols {
			if candidates[p.Name] {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, p := range ms[0].protocols {
		if candidates[p.Name] && votes[p.Name] > bestVotes {
			best, bestVotes = p.Name, votes[p.Name]
		}
	}
	return best
}

// heartbeatLocked (re)arms the member's session timer.
func (g *group) heartbeatLocked(m *member, timeout time.Duration) {
	if m.hbTimer != nil {
		m.hbTimer.Stop()
	}
	m.hbSeq++
	seq := m.hbSeq
	m.hbTimer = g.c.clock.AfterFunc(timeout, func() { g.expireMember(m, seq) })
}

func (g *group) expireMember(m *member, seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m.hbSeq != seq || g.members[m.id] != m || g.state == StateDead {
		return
	}
	// Members awaiting a rebalance response satisfy the heartbeat, unless
	// new (their join timed out).
	if !m.isNew && (m.joinDone != nil || m.syncDone != nil) {
		return
	}
	g.c.logger.Info("group member session expired", "group", g.id, "member", m.id)
	g.removeMemberLocked(m, "session timeout")
}

func (g *group) stopMemberTimer(m *member) {
	if m.hbTimer != nil {
		m.hbTimer.Stop()
		m.hbTimer = nil
	}
	m.hbSeq++
}

// addPendingLocked registers a member id handed out with MEMBER_ID_REQUIRED.
func (g *group) addPendingLocked(id string, sessionTimeout time.Duration) {
	pm := &pendingMember{}
	pm.timer = g.c.clock.AfterFunc(sessionTimeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.pending[id] == pm {
			g.removePendingLocked(id)
		}
	})
	g.pending[id] = pm
}

func (g *group) removePendingLocked(id string) {
	pm := g.pending[id]
	if pm == nil {
		return
	}
	pm.timer.Stop()
	delete(g.pending, id)
	if g.state == StatePreparingRebalance {
		g.tryCompleteJoinLocked()
	}
}

// removeMemberLocked removes m (left, expired or fenced away) and moves
// the group on as Kafka's removeMemberAndUpdateGroup does.
func (g *group) removeMemberLocked(m *member, reason string) {
	if m.joinDone != nil {
		m.joinDone(JoinResult{Err: ErrUnknownMemberID})
		m.joinDone = nil
	}
	if m.syncDone != nil {
		m.syncDone(SyncResult{Err: ErrUnknownMemberID})
		m.syncDone = nil
	}
	g.dropMemberLocked(m)
	switch g.state {
	case StateStable, StateCompletingRebalance:
		g.maybePrepareRebalanceLocked(reason)
	case StatePreparingRebalance:
		g.tryCompleteJoinLocked()
	}
}

// dropMemberLocked takes m out of the group's maps without state changes.
func (g *group) dropMemberLocked(m *member) {
	g.stopMemberTimer(m)
	delete(g.members, m.id)
	delete(g.pendingSync, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	g.c.metrics.memberDelta(-1)
	if g.leader == m.id {
		g.leader = ""
		if ms := g.memberList(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
}

func (g *group) maybePrepareRebalanceLocked(reason string) {
	if g.canRebalance() {
		g.prepareRebalanceLocked(reason)
	}
}

// prepareRebalanceLocked starts a rebalance (Kafka's prepareRebalance).
func (g *group) prepareRebalanceLocked(reason string) {
	if g.state == StateCompletingRebalance {
		g.resetAssignmentsLocked(ErrRebalanceInProgress)
	}
	g.stopSyncTimer()
	wasEmpty := g.state == StateEmpty
	g.transitionLocked(StatePreparingRebalance)
	g.c.metrics.rebalance()
	g.c.logger.Debug("preparing to rebalance group", "group", g.id, "generation", g.generation, "reason", reason)
	rt := g.rebalanceTimeout()
	if wasEmpty {
		delay := g.c.cfg.InitialRebalanceDelay
		g.newMemberAdded = false
		g.armInitialJoinLocked(delay, max(rt-delay, 0))
		return
	}
	g.armJoinLocked(rt)
	g.tryCompleteJoinLocked()
}

func (g *group) stopJoinTimer() {
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
	g.joinSeq++
}

func (g *group) stopSyncTimer() {
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
	g.syncSeq++
}

// armInitialJoinLocked is Kafka's InitialDelayedJoin: it completes only on
// its timer, extended while new members keep arriving.
func (g *group) armInitialJoinLocked(delay, remaining time.Duration) {
	g.stopJoinTimer()
	seq := g.joinSeq
	g.joinTimer = g.c.clock.AfterFunc(delay, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.joinSeq != seq || g.state != StatePreparingRebalance {
			return
		}
		if g.newMemberAdded && remaining != 0 {
			g.newMemberAdded = false
			next := min(g.c.cfg.InitialRebalanceDelay, remaining)
			g.armInitialJoinLocked(next, max(remaining-next, 0))
			return
		}
		g.joinTimer = nil
		g.completeJoinLocked()
	})
	g.initialJoin = true
}

// armJoinLocked is Kafka's DelayedJoin: complete when everyone has joined
// or the rebalance timeout passes.
func (g *group) armJoinLocked(timeout time.Duration) {
	g.stopJoinTimer()
	g.initialJoin = false
	seq := g.joinSeq
	g.joinTimer = g.c.clock.AfterFunc(timeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.joinSeq != seq || g.state != StatePreparingRebalance {
			return
		}
		g.joinTimer = nil
		g.completeJoinLocked()
	})
}

// tryCompleteJoinLocked completes the join phase early if everyone joined
// (not during the initial delay).
func (g *group) tryCompleteJoinLocked() {
	if g.state == StatePreparingRebalance && !g.initialJoin && g.allJoined() {
		g.stopJoinTimer()
		g.completeJoinLocked()
	}
}

// completeJoinLocked is Kafka's onCompleteJoin.
func (g *group) completeJoinLocked() {
	g.stopJoinTimer()
	for _, m := range g.memberList() {
		if m.joinDone == nil && m.instanceID == nil {
			g.c.logger.Info("removing group member that did not rejoin", "group", g.id, "member", m.id)
			g.dropMemberLocked(m)
		}
	}
	if len(g.members) > 0 && !g.electJoinedLeaderLocked() {
		// Only static members that have not rejoined: wait for them or
		// for their sessions to expire.
		g.armJoinLocked(g.rebalanceTimeout())
		return
	}
	g.generation++
	g.pendingSync = make(map[string]bool)
	if len(g.members) == 0 {
		g.protocolName = ""
		g.leader = ""
		g.transitionLocked(StateEmpty)
		g.c.storeLocked(g, []Record{g.metadataRecord()}, func(err error) {})
		return
	}
	g.protocolName = g.selectProtocol()
	g.transitionLocked(StateCompletingRebalance)
	for _, m := range g.memberList() {
		res := JoinResult{MemberID: m.id, Generation: g.generation, ProtocolType: g.protocolType,
			ProtocolName: g.protocolName, LeaderID: g.leader}
		if m.id == g.leader {
			res.Members = g.joinMembers()
		}
		if m.joinDone != nil {
			m.joinDone(res)
			m.joinDone = nil
		}
		g.heartbeatLocked(m, m.sessionTimeout)
		m.isNew = false
		g.pendingSync[m.id] = true
	}
	// Members that do not sync within the rebalance timeout are removed.
	g.stopSyncTimer()
	seq := g.syncSeq
	gen := g.generation
	g.syncTimer = g.c.clock.AfterFunc(g.rebalanceTimeout(), func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.syncSeq != seq || g.generation != gen || (g.state != StateCompletingRebalance && g.state != StateStable) {
			return
		}
		g.syncTimer = nil
		if len(g.pendingSync) == 0 {
			return
		}
		for id := range g.pendingSync {
			if m := g.members[id]; m != nil {
				g.c.logger.Info("removing group member that did not sync", "group", g.id, "member", id)
				if m.syncDone != nil {
					m.syncDone(SyncResult{Err: ErrUnknownMemberID})
					m.syncDone = nil
				}
				g.dropMemberLocked(m)
			}
		}
		g.pendingSync = make(map[string]bool)
		g.prepareRebalanceLocked("members did not sync")
	})
}

// electJoinedLeaderLocked keeps the leader if it rejoined, or picks a
// member that did; false if none did.
func (g *group) electJoinedLeaderLocked() bool {
	if l := g.members[g.leader]; l != nil && l.joinDone != nil {
		return true
	}
	for _, m := range g.memberList() {
		if m.joinDone != nil {
			g.leader = m.id
			return true
		}
	}
	return false
}

func (g *group) joinMembers() []JoinMember {
	ms := g.memberList()
	out := make([]JoinMember, 0, len(ms))
	for _, m := range ms {
		out = append(out, JoinMember{MemberID: m.id, InstanceID: m.instanceID, Metadata: m.metadataFor(g.protocolName)})
	}
	return out
}

// resetAssignmentsLocked clears assignments and fails waiting syncs.
func (g *group) resetAssignmentsLocked(err error) {
	for _, m := range g.memberList() {
		m.assignment = nil
		if m.syncDone != nil {
			m.syncDone(SyncResult{Err: err})
			m.syncDone = nil
		}
	}
}

// setAssignmentsLocked installs the leader's assignment and answers every
// waiting sync.
func (g *group) setAssignmentsLocked(assignments map[string][]byte) {
	for _, m := range g.memberList() {
		m.assignment = assignments[m.id]
		if m.syncDone != nil {
			m.syncDone(SyncResult{ProtocolType: g.protocolType, ProtocolName: g.protocolName, Assignment: m.assignment})
			m.syncDone = nil
			// The session restarts once the assignment is handed out.
			g.heartbeatLocked(m, m.sessionTimeout)
		}
	}
}
