package coordinator

// KIP-932 share groups (group type "share"). Members heartbeat with
// ShareGroupHeartbeat; each change of membership, subscriptions or the
// subscribed topics' metadata bumps the group epoch, and a new target
// assignment is computed by the server-side SimpleAssignor (share_assign.go).
// Partitions may be shared by several members and nothing is revoked: a
// member gets its target as soon as it heartbeats (Kafka's
// ShareGroupAssignmentBuilder), so member epochs jump to the target epoch.
//
// Share-partition state: as Kafka 4.4's GroupMetadataManager does, the
// coordinator initializes the share-partition state of every partition of a
// subscribed topic the first time it is seen, through ShareStates.Initialize
// with the group epoch as state epoch and start offset -1 (the share-partition
// leader then picks the start offset from share.auto.offset.reset). The
// partitions are recorded as "initializing" in ShareGroupStatePartitionMetadata
// before the call, and "initialized" after it succeeded; only initialized
// partitions are assignable, so a member gets a partition once its state
// exists. Initialization runs after the heartbeat is answered (Kafka runs it
// on a timer task), and the next heartbeat sees the initialized partitions
// and bumps the group epoch to assign them.
//
// Every change is written to __consumer_offsets as Kafka's share group
// records (types 10–15; share_records.go) before the heartbeat is answered,
// and replayed on load.
//
// Locking: as the other group types (coordinator.go): the group's mutex
// guards its shareState; ShareStates is called without any lock held.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// ErrNotShareGroup: the group exists with another type (Kafka answers
// GROUP_ID_NOT_FOUND for it from the share APIs).
var ErrNotShareGroup = errors.New("coordinator: group is not a share group")

// ShareStates is the coordinator's view of the durable share-partition state
// (the share coordinator's Persister; the broker adapts it). Every call may
// block on I/O or the network, bounded by ctx; it is safe for concurrent use.
//
//   - Initialize sets the state of (group, topic, partition) to startOffset
//     (-1: the share-partition leader resolves share.auto.offset.reset) at
//     stateEpoch, with no in-flight batches. Durable when it returns nil.
//   - Delete removes the state; a missing state is not an error.
//   - ReadSummary returns the start offset (-1: not set), the state epoch
//     and the delivery-complete count (-1: unknown) of the state;
//     ErrShareStateNotFound if it was never initialized.
//
// Errors other than ErrShareStateNotFound are passed on to the caller
// (wrapping the persister's errors, which the broker maps to Kafka codes).
type ShareStates interface {
	Initialize(ctx context.Context, group string, topicID [16]byte, partition, stateEpoch int32, startOffset int64) error
	Delete(ctx context.Context, group string, topicID [16]byte, partition int32) error
	ReadSummary(ctx context.Context, group string, topicID [16]byte, partition int32) (ShareStateSummary, error)
}

// ShareStateSummary is what ReadSummary returns.
type ShareStateSummary struct {
	StartOffset           int64
	StateEpoch            int32
	LeaderEpoch           int32
	DeliveryCompleteCount int32
}

// ErrShareStateNotFound: no share-partition state was ever initialized.
var ErrShareStateNotFound = errors.New("coordinator: share-partition state not initialized")

// shareInitRetry is Kafka's group.share.initialize.retry.interval.ms: a
// partition initializing for longer than this is initialized again.
const shareInitRetry = 30 * time.Second

// shareCallTimeout bounds one ShareStates call made in the background.
const shareCallTimeout = 30 * time.Second

// shareCoordinator is the coordinator's share-group wiring (Coordinator.share).
type shareCoordinator struct {
	states ShareStates // nil until SetShareStates
}

// SetShareStates sets the share-partition state store (call before serving
// share groups; until then partitions are not initialized, so members get no
// partitions).
func (c *Coordinator) SetShareStates(s ShareStates) {
	c.mu.Lock()
	c.share.states = s
	c.mu.Unlock()
}

func (c *Coordinator) shareStates() ShareStates {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.share.states
}

// ShareHeartbeatRequest is a ShareGroupHeartbeat, normalised.
type ShareHeartbeatRequest struct {
	Group            string
	MemberID         string
	MemberEpoch      int32
	RackID           *string
	SubscribedTopics []string // nil: unchanged
	ClientID         string
	ClientHost       string
}

// ShareHeartbeatResult is the answer.
type ShareHeartbeatResult struct {
	Err               error
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	Assignment        Assignment // nil: not sent
}

type shareMember struct {
	id               string
	rackID           *string
	clientID         string
	clientHost       string
	topics           []string // sorted
	epoch, prevEpoch int32
	assigned         Assignment

	timer    Timer
	timerSeq uint64
}

// shareTopicInit is one topic's partitions in ShareGroupStatePartitionMetadata.
type shareTopicInit struct {
	name       string
	partitions map[int32]bool
	since      int64 // ms: when marked initializing (in memory only; the replay time after a load, as Kafka)
}

// shareState is a group's KIP-932 state (group.share non-nil).
type shareState struct {
	epoch        int32
	metaHash     int64
	targetEpoch  int32
	targetTime   int64 // ms: when the target was computed
	target       map[string]Assignment
	members      map[string]*shareMember
	initializing map[[16]byte]*shareTopicInit
	initialized  map[[16]byte]*shareTopicInit
	deleting     map[[16]byte]string // topic id → name
	// persisted is the value last appended under each share record key
	// (share_records.go), as group.persisted for consumer groups.
	persisted map[string][]byte
	allDirty  bool
}

// newShareState is a new share group's state: Kafka 4.4 creates a group at
// epoch 1 (its first member joins at epoch 2).
func newShareState() *shareState {
	return &shareState{epoch: 1, targetEpoch: 1, target: map[string]Assignment{}, members: map[string]*shareMember{},
		initializing: map[[16]byte]*shareTopicInit{}, initialized: map[[16]byte]*shareTopicInit{},
		deleting: map[[16]byte]string{}, persisted: map[string][]byte{}, allDirty: true}
}

// pristineLocked reports whether g is a group nobody uses yet (just
// created by the lookup): it may become a share group.
func (g *group) pristineLocked() bool {
	return g.share == nil && g.consumer == nil && g.streams == nil && len(g.members) == 0 && len(g.pending) == 0 &&
		len(g.offsets) == 0 && g.generation == 0 && g.protocolType == "" && g.commitsInFlight == 0 &&
		len(g.persisted) == 0 && g.state == StateEmpty
}

// IsShareGroup reports whether id is a loaded share group (the other
// group types' entry points refuse it).
func (g *group) isShare() bool { return g.share != nil }

// ShareHeartbeat serves one ShareGroupHeartbeat. The records of what changed
// are durable before it returns.
func (c *Coordinator) ShareHeartbeat(req ShareHeartbeatRequest) ShareHeartbeatResult {
	fail := func(err error) ShareHeartbeatResult {
		return ShareHeartbeatResult{Err: err, MemberID: req.MemberID, MemberEpoch: -1}
	}
	switch {
	case req.MemberID == "":
		return fail(fmt.Errorf("%w: %s", ErrInvalidRequest, "MemberId can't be empty."))
	case req.Group == "":
		return fail(fmt.Errorf("%w: %s", ErrInvalidRequest, "GroupId can't be empty."))
	case req.RackID != nil && *req.RackID == "":
		return fail(fmt.Errorf("%w: %s", ErrInvalidRequest, "RackId can't be empty."))
	case req.MemberEpoch == 0 && len(req.SubscribedTopics) == 0:
		return fail(fmt.Errorf("%w: %s", ErrInvalidRequest, "SubscribedTopicNames must be set in first request."))
	case req.MemberEpoch < leaveGroupMemberEpoch:
		return fail(fmt.Errorf("%w: %s", ErrInvalidRequest, "MemberEpoch is invalid."))
	}
	if err := c.checkGroupID(req.Group); err != nil {
		return fail(err)
	}
	g := c.lockedGroup(req.Group, req.MemberEpoch == 0)
	if g == nil {
		if req.MemberEpoch == leaveGroupMemberEpoch {
			return fail(fmt.Errorf("%w: Group %s not found.", ErrGroupIDNotFound, req.Group))
		}
		return fail(fmt.Errorf("%w: Share group %s not found.", ErrGroupIDNotFound, req.Group))
	}
	if g.share == nil {
		if req.MemberEpoch != 0 || !g.pristineLocked() {
			g.mu.Unlock()
			return fail(fmt.Errorf("%w: Group %s is not a share group.", ErrGroupIDNotFound, req.Group))
		}
		g.share = newShareState()
		g.protocolType = "share"
	}
	res, init := c.shareHeartbeatLocked(g, req)
	only := res.MemberID
	if res.Err != nil || req.MemberEpoch == leaveGroupMemberEpoch {
		only = ""
	}
	off, wrote, err := g.persistShareLocked(only)
	g.mu.Unlock()
	if err == nil && wrote {
		err = c.log.Sync(g.partition, off)
	}
	if err != nil {
		if !errors.Is(err, ErrCoordinatorNotAvailable) && !errors.Is(err, ErrStorage) {
			err = errors.Join(ErrStorage, err)
		}
		return fail(err)
	}
	if init != nil {
		c.initializeShareStates(g, init)
	}
	return res
}

// shareInit is one batch of partitions to initialize.
type shareInit struct {
	epoch      int32
	partitions map[[16]byte][]int32
	offsets    map[[16]byte]map[int32]int64 // AlterShareGroupOffsets: the start offsets; nil: -1
}

func (c *Coordinator) shareHeartbeatLocked(g *group, req ShareHeartbeatRequest) (ShareHeartbeatResult, *shareInit) {
	fail := func(err error) (ShareHeartbeatResult, *shareInit) {
		return ShareHeartbeatResult{Err: err, MemberID: req.MemberID, MemberEpoch: -1}, nil
	}
	ss := g.share
	settings := c.settings(g.id)
	if req.MemberEpoch == leaveGroupMemberEpoch {
		m := ss.members[req.MemberID]
		if m == nil {
			return fail(fmt.Errorf("%w: Member %s is not a member of group %s.", ErrUnknownMemberID, req.MemberID, g.id))
		}
		c.logger.Info("share group member left", "group", g.id, "member", m.id)
		g.removeShareMemberLocked(m)
		return ShareHeartbeatResult{MemberID: req.MemberID, MemberEpoch: leaveGroupMemberEpoch}, nil
	}
	m := ss.members[req.MemberID]
	if m == nil && len(ss.members) >= int(settings.ShareMaxSize) {
		return fail(ErrGroupMaxSizeReached)
	}
	bump := false
	switch {
	case m == nil && req.MemberEpoch != 0:
		return fail(fmt.Errorf("%w: Member %s is not a member of group %s.", ErrUnknownMemberID, req.MemberID, g.id))
	case m == nil:
		m = &shareMember{id: req.MemberID, assigned: Assignment{}, prevEpoch: -1}
		ss.members[m.id] = m
		c.metrics.memberDelta(1)
		bump = true
		c.logger.Info("member joins the share group", "group", g.id, "member", m.id)
	case req.MemberEpoch == 0:
		// A member rejoining with its id (the client does after
		// UNKNOWN_MEMBER_ID or FENCED_MEMBER_EPOCH): Kafka 4.4 takes it
		// back with its epoch and assignment, which is sent in full.
	case req.MemberEpoch > m.epoch:
		return fail(fmt.Errorf("%w: The share group member has a greater member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.",
			ErrFencedMemberEpoch, req.MemberEpoch, m.epoch))
	case req.MemberEpoch < m.epoch && req.MemberEpoch != m.prevEpoch:
		return fail(fmt.Errorf("%w: The share group member has a smaller member epoch (%d) than the one known by the group coordinator (%d), and it does not match the previous member epoch (%d). The member must abandon all its partitions and rejoin.",
			ErrFencedMemberEpoch, req.MemberEpoch, m.epoch, m.prevEpoch))
	}
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	if req.RackID != nil {
		m.rackID = req.RackID
	}
	if req.SubscribedTopics != nil {
		if topics := dedupSorted(req.SubscribedTopics); !equalStrings(topics, m.topics) {
			m.topics = topics
			bump = true
		}
	}
	topics := c.listTopics()
	// Partitions initialized since the target was computed: a new epoch
	// (once; not again while that epoch's target is still to be computed).
	if !bump && ss.epoch == ss.targetEpoch && g.initializedAssignmentPendingLocked() {
		bump = true
	}
	if h := g.shareSubscriptionHashLocked(topics); h != ss.metaHash {
		ss.metaHash = h
		bump = true
	}
	if bump {
		ss.epoch++
		c.metrics.rebalance()
	}
	// share.assignment.interval.ms (KIP-1263): the target is recomputed
	// at most once per interval; until then members keep the last target
	// (a member new to it gets its epoch and no partitions), and a later
	// heartbeat computes it.
	if ss.epoch > ss.targetEpoch && c.clock.Now().UnixMilli()-ss.targetTime >= settings.ShareAssignmentInterval.Milliseconds() {
		g.computeShareTargetLocked(topics)
	}
	old := m.assigned
	m.assigned = copyAssignment(ss.target[m.id])
	if m.epoch != ss.targetEpoch {
		m.prevEpoch, m.epoch = m.epoch, ss.targetEpoch
	}
	g.shareSessionLocked(m, settings.ShareSessionTimeout)
	res := ShareHeartbeatResult{MemberID: m.id, MemberEpoch: m.epoch, HeartbeatInterval: settings.ShareHeartbeatInterval}
	if req.MemberEpoch == 0 || req.SubscribedTopics != nil || !sameAssignment(old, m.assigned) {
		res.Assignment = copyAssignment(m.assigned)
	}
	return res, g.shareInitNeededLocked(topics)
}

// removeShareMemberLocked removes m and bumps the group epoch.
func (g *group) removeShareMemberLocked(m *shareMember) {
	ss := g.share
	m.timerSeq++
	if m.timer != nil {
		m.timer.Stop()
	}
	delete(ss.members, m.id)
	delete(ss.target, m.id)
	ss.allDirty = true
	ss.epoch++
	g.c.metrics.memberDelta(-1)
	g.c.metrics.rebalance()
	if len(ss.members) == 0 {
		// Nothing to assign: the target follows at once, and the next
		// member's is computed without waiting for the interval.
		ss.targetEpoch = ss.epoch
		ss.target = map[string]Assignment{}
		ss.targetTime = 0
		g.stateSince = g.c.clock.Now()
	}
}

func (g *group) shareSessionLocked(m *shareMember, timeout time.Duration) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timerSeq++
	seq := m.timerSeq
	m.timer = g.c.clock.AfterFunc(timeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.share == nil || g.share.members[m.id] != m || m.timerSeq != seq || g.state == StateDead {
			return
		}
		g.c.logger.Info("share group member session expired", "group", g.id, "member", m.id)
		g.removeShareMemberLocked(m)
		g.persistShareAsyncLocked()
	})
}

// subscribedShareTopicsLocked is the union of the members' subscriptions.
func (g *group) subscribedShareTopicsLocked() map[string]bool {
	out := map[string]bool{}
	for _, m := range g.share.members {
		for _, t := range m.topics {
			out[t] = true
		}
	}
	return out
}

// shareSubscriptionHashLocked fingerprints the metadata of the subscribed
// topics (0: none).
func (g *group) shareSubscriptionHashLocked(topics []TopicMeta) int64 {
	subs := g.subscribedShareTopicsLocked()
	var ts []TopicMeta
	for _, t := range topics {
		if subs[t.Name] {
			ts = append(ts, t)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	h := ""
	for _, t := range ts {
		h += t.Name + string(t.ID[:]) + itoa(t.Partitions) + ";"
	}
	return hashMetadata(h)
}

// initializedAssignmentPendingLocked is Kafka's initializedAssignmentPending:
// some initialized partitions of a subscribed topic are not in the target.
func (g *group) initializedAssignmentPendingLocked() bool {
	ss := g.share
	if len(ss.members) == 0 || len(ss.initialized) == 0 {
		return false
	}
	subs := g.subscribedShareTopicsLocked()
	assigned := map[[16]byte]map[int32]bool{}
	for _, a := range ss.target {
		for tid, ps := range a {
			if assigned[tid] == nil {
				assigned[tid] = map[int32]bool{}
			}
			for _, p := range ps {
				assigned[tid][p] = true
			}
		}
	}
	for tid, ti := range ss.initialized {
		if !subs[ti.name] {
			continue
		}
		if len(assigned[tid]) != len(ti.partitions) {
			return true
		}
		for p := range ti.partitions {
			if !assigned[tid][p] {
				return true
			}
		}
	}
	return false
}

// computeShareTargetLocked runs the SimpleAssignor over the initialized
// partitions of the subscribed topics.
func (g *group) computeShareTargetLocked(topics []TopicMeta) {
	ss := g.share
	byName := map[string]TopicMeta{}
	for _, t := range topics {
		byName[t.Name] = t
	}
	members := make([]shareAssignMember, 0, len(ss.members))
	for id, m := range ss.members {
		sm := shareAssignMember{id: id, old: ss.target[id]}
		for _, n := range m.topics {
			if t, ok := byName[n]; ok {
				sm.topics = append(sm.topics, t.ID)
			}
		}
		members = append(members, sm)
	}
	assignable := func(tid [16]byte, p int32) bool {
		ti := ss.initialized[tid]
		return ti != nil && ti.partitions[p]
	}
	partitions := map[[16]byte]int32{}
	for _, t := range topics {
		partitions[t.ID] = t.Partitions
	}
	ss.target = simpleAssign(members, partitions, assignable)
	ss.targetEpoch = ss.epoch
	ss.targetTime = g.c.clock.Now().UnixMilli()
	ss.allDirty = true
}

// shareInitNeededLocked is Kafka's maybeCreateInitializeShareGroupStateRequest:
// the partitions of subscribed topics neither initialized nor initializing
// (for less than shareInitRetry) are marked initializing and returned.
func (g *group) shareInitNeededLocked(topics []TopicMeta) *shareInit {
	ss := g.share
	subs := g.subscribedShareTopicsLocked()
	if len(subs) == 0 {
		return nil
	}
	now := g.c.clock.Now().UnixMilli()
	var out *shareInit
	for _, t := range topics {
		if !subs[t.Name] {
			continue
		}
		var need []int32
		for p := int32(0); p < t.Partitions; p++ {
			if ti := ss.initialized[t.ID]; ti != nil && ti.partitions[p] {
				continue
			}
			if ti := ss.initializing[t.ID]; ti != nil && ti.partitions[p] && now-ti.since < shareInitRetry.Milliseconds() {
				continue
			}
			need = append(need, p)
		}
		if len(need) == 0 {
			continue
		}
		if out == nil {
			out = &shareInit{epoch: ss.epoch, partitions: map[[16]byte][]int32{}}
		}
		out.partitions[t.ID] = need
		ti := ss.initializing[t.ID]
		if ti == nil {
			ti = &shareTopicInit{name: t.Name, partitions: map[int32]bool{}}
			ss.initializing[t.ID] = ti
		}
		ti.since = now
		for _, p := range need {
			ti.partitions[p] = true
		}
		delete(ss.deleting, t.ID)
	}
	return out
}

// initializeShareStates initializes the partitions of in in the background
// (Kafka's persisterInitialize after the heartbeat) and records the outcome.
func (c *Coordinator) initializeShareStates(g *group, in *shareInit) {
	states := c.shareStates()
	if states == nil || c.closed.Load() {
		c.logger.Warn("share-partition state store not available; partitions stay uninitialized", "group", g.id)
		return
	}
	c.inflight.Add(1)
	go func() {
		defer c.inflight.Done()
		c.runShareInit(g, states, in)
	}()
}

// runShareInit calls Initialize for every partition of in, then moves the
// partitions that succeeded to initialized and drops the others from
// initializing (they are retried by a later heartbeat).
func (c *Coordinator) runShareInit(g *group, states ShareStates, in *shareInit) map[[16]byte]map[int32]error {
	errs := map[[16]byte]map[int32]error{}
	for tid, ps := range in.partitions {
		for _, p := range ps {
			start := int64(-1)
			if in.offsets != nil {
				start = in.offsets[tid][p]
			}
			ctx, cancel := context.WithTimeout(context.Background(), shareCallTimeout)
			err := states.Initialize(ctx, g.id, tid, p, in.epoch, start)
			cancel()
			if err != nil {
				c.logger.Warn("initializing share-partition state failed", "group", g.id, "partition", p, "err", err)
				if errs[tid] == nil {
					errs[tid] = map[int32]error{}
				}
				errs[tid][p] = err
			}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.share == nil || g.state == StateDead || c.getGroup(g.id) != g {
		return errs
	}
	ss := g.share
	for tid, ps := range in.partitions {
		ti := ss.initializing[tid]
		for _, p := range ps {
			if ti != nil {
				delete(ti.partitions, p)
			}
			if errs[tid][p] != nil {
				continue
			}
			done := ss.initialized[tid]
			if done == nil {
				name := ""
				if ti != nil {
					name = ti.name
				} else if t, ok := c.topicByID(tid); ok {
					name = t.Name
				}
				done = &shareTopicInit{name: name, partitions: map[int32]bool{}}
				ss.initialized[tid] = done
			}
			done.partitions[p] = true
		}
		if ti != nil && len(ti.partitions) == 0 {
			delete(ss.initializing, tid)
		}
	}
	ss.allDirty = true
	g.persistShareAsyncLocked()
	return errs
}

func (c *Coordinator) topicByID(id [16]byte) (TopicMeta, bool) {
	for _, t := range c.listTopics() {
		if t.ID == id {
			return t, true
		}
	}
	return TopicMeta{}, false
}

// ShareMemberDescription describes a share group member.
type ShareMemberDescription struct {
	MemberID, ClientID, ClientHost string
	RackID                         *string
	MemberEpoch                    int32
	SubscribedTopics               []string
	Assignment                     Assignment
}

// ShareGroupDescription describes a share group.
type ShareGroupDescription struct {
	State                   string // Empty, Stable
	GroupEpoch, TargetEpoch int32
	Assignor                string
	Members                 []ShareMemberDescription
}

// DescribeShareGroup describes a share group (ErrGroupIDNotFound if none;
// ErrNotShareGroup for a group of another type; ErrInvalidGroupID for "").
func (c *Coordinator) DescribeShareGroup(id string) (ShareGroupDescription, error) {
	if err := c.checkGroupID(id); err != nil {
		return ShareGroupDescription{}, err
	}
	g := c.lockedGroup(id, false)
	if g == nil {
		return ShareGroupDescription{}, ErrGroupIDNotFound
	}
	defer g.mu.Unlock()
	if g.share == nil {
		return ShareGroupDescription{}, ErrNotShareGroup
	}
	ss := g.share
	d := ShareGroupDescription{State: g.shareStateNameLocked(), GroupEpoch: ss.epoch, TargetEpoch: ss.targetEpoch, Assignor: "simple"}
	ids := make([]string, 0, len(ss.members))
	for id := range ss.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := ss.members[id]
		d.Members = append(d.Members, ShareMemberDescription{MemberID: m.id, ClientID: m.clientID, ClientHost: m.clientHost,
			RackID: m.rackID, MemberEpoch: m.epoch, SubscribedTopics: append([]string{}, m.topics...), Assignment: copyAssignment(m.assigned)})
	}
	return d, nil
}

// shareStateNameLocked is Kafka's ShareGroupState name.
func (g *group) shareStateNameLocked() string {
	if len(g.share.members) == 0 {
		return "Empty"
	}
	return "Stable"
}

// deleteShareGroup deletes an empty share group (g locked on entry, unlocked
// on return): the share-partition state of its initialized partitions first
// (Kafka's deleteShareGroups), then its records.
func (c *Coordinator) deleteShareGroupLocked(g *group) error {
	if len(g.share.members) > 0 {
		g.mu.Unlock()
		return ErrNonEmptyGroup
	}
	parts := g.sharePartitionsLocked()
	g.mu.Unlock()
	if len(parts) > 0 {
		states := c.shareStates()
		if states == nil {
			return ErrCoordinatorNotAvailable
		}
		for tid, ps := range parts {
			for _, p := range ps {
				ctx, cancel := context.WithTimeout(context.Background(), shareCallTimeout)
				err := states.Delete(ctx, g.id, tid, p)
				cancel()
				if err != nil {
					return err
				}
			}
		}
	}
	g.mu.Lock()
	if g.state == StateDead || g.share == nil {
		g.mu.Unlock()
		return ErrGroupIDNotFound
	}
	if len(g.share.members) > 0 {
		g.mu.Unlock()
		return ErrNonEmptyGroup
	}
	recs := g.shareTombstonesLocked()
	recs = append(recs, g.tombstonesLocked(nil)...)
	off, err := c.log.Append(g.partition, recs)
	if err != nil {
		g.mu.Unlock()
		return ErrStorage
	}
	g.share.persisted = map[string][]byte{}
	g.offsets = make(map[TopicPartition]*offsetEntry)
	g.killLocked()
	g.mu.Unlock()
	if err := c.log.Sync(g.partition, off); err != nil {
		return ErrStorage
	}
	return nil
}

// sharePartitionsLocked is every partition with initialized or
// initializing state.
func (g *group) sharePartitionsLocked() map[[16]byte][]int32 {
	out := map[[16]byte][]int32{}
	add := func(m map[[16]byte]*shareTopicInit) {
		for tid, ti := range m {
			for p := range ti.partitions {
				out[tid] = append(out[tid], p)
			}
		}
	}
	add(g.share.initialized)
	add(g.share.initializing)
	for tid := range out {
		sort.Slice(out[tid], func(i, j int) bool { return out[tid][i] < out[tid][j] })
	}
	return out
}

func dedupSorted(s []string) []string {
	out := sortedCopy(s)
	n := 0
	for i, v := range out {
		if i > 0 && v == out[n-1] {
			continue
		}
		out[n] = v
		n++
	}
	return out[:n]
}

func sameAssignment(a, b Assignment) bool {
	return subsetOf(a, b) && subsetOf(b, a)
}
