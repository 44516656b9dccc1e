package coordinator

// KIP-1071 streams groups (group.protocol=streams): the broker assigns a
// Kafka Streams application's tasks. Members heartbeat with
// StreamsGroupHeartbeat (Kafka's GroupMetadataManager.streamsGroupHeartbeat):
//
//   - The first member (epoch 0) brings the topology: subtopologies with
//     their source topics (names or regexes), repartition source and sink
//     topics, state changelog topics and copartition groups, under a
//     topology epoch. A member joining with a newer topology epoch replaces
//     it; a member on another epoch gets the STALE_TOPOLOGY status.
//   - The topology is configured against the cluster's topics
//     (streams_topology.go): the number of tasks of each subtopology, the
//     partition counts of the repartition and changelog topics it needs.
//     Missing source topics are reported (MISSING_SOURCE_TOPICS) and no
//     tasks are assigned; missing internal topics are returned to the
//     broker to create (as Kafka 4.4's KafkaApis does) and reported as
//     MISSING_INTERNAL_TOPICS until they exist; internal topics with the
//     wrong partition count, or copartitioned source topics that differ,
//     are INCORRECTLY_PARTITIONED_TOPICS.
//   - Every change of membership, member metadata (process, endpoint,
//     rack, client tags), topology or the topics' metadata bumps the group
//     epoch; the target assignment is computed by the sticky task assignor
//     (streams_assignor.go: active tasks balanced over processes and
//     members, sticky to their previous owner; standby tasks per
//     GroupSettings.StreamsNumStandbyReplicas on other processes).
//   - Each member is reconciled towards its target as a consumer group
//     member: tasks it must give up are revoked first (its epoch stays),
//     and an active task is assigned only once no other member holds it
//     (a standby or warm-up task once no other member of the same process
//     holds it active).
//   - A new group waits StreamsInitialRebalanceDelay before its first
//     assignment (status ASSIGNMENT_DELAYED).
//
// Records (streams_records.go) are Kafka's streams group records (types
// 17, 19–23), written before the heartbeat is answered and replayed on
// load. Sessions and heartbeat intervals come from c.settings(group) on
// every use.
//
// Locking: everything here runs under g.mu (functions named ...Locked or
// called from them); timers take g.mu themselves.

import (
	"errors"
	"sort"
	"strconv"
	"time"
)

// ErrNotStreamsGroup: the group exists and is of another type.
var ErrNotStreamsGroup = errors.New("coordinator: group is not a streams group")

// StreamsStatus codes (StreamsGroupHeartbeatResponse Status).
const (
	StreamsStaleTopology               int8 = 0
	StreamsMissingSourceTopics         int8 = 1
	StreamsIncorrectlyPartitionedTopic int8 = 2
	StreamsMissingInternalTopics       int8 = 3
	StreamsShutdownApplication         int8 = 4
	StreamsAssignmentDelayed           int8 = 5
)

// StreamsStatus is one status of a heartbeat response.
type StreamsStatus struct {
	Code   int8
	Detail string
}

// Tasks is task partitions by subtopology id.
type Tasks map[string][]int32

// StreamsTopicInfo is an internal topic of the topology.
type StreamsTopicInfo struct {
	Name              string
	Partitions        int32 // 0: derived
	ReplicationFactor int16 // 0: the broker's default
	Configs           map[string]string
}

// StreamsSubtopology is one subtopology as a member sends it.
type StreamsSubtopology struct {
	ID                      string
	SourceTopics            []string
	SourceTopicRegex        []string
	StateChangelogTopics    []StreamsTopicInfo
	RepartitionSinkTopics   []string
	RepartitionSourceTopics []StreamsTopicInfo
	CopartitionGroups       []StreamsCopartitionGroup
}

// StreamsCopartitionGroup indexes into its subtopology's arrays.
type StreamsCopartitionGroup struct {
	SourceTopics, SourceTopicRegex, RepartitionSourceTopics []int16
}

// StreamsTopology is a topology with its epoch.
type StreamsTopology struct {
	Epoch         int32
	Subtopologies []StreamsSubtopology
}

// StreamsEndpoint is a member's user endpoint (interactive queries).
type StreamsEndpoint struct {
	Host string
	Port uint16
}

// StreamsHeartbeatRequest is a StreamsGroupHeartbeat, normalised.
type StreamsHeartbeatRequest struct {
	Group                    string
	MemberID                 string
	MemberEpoch              int32
	EndpointInformationEpoch int32
	InstanceID               *string
	RackID                   *string
	RebalanceTimeout         time.Duration // <=0: unchanged
	Topology                 *StreamsTopology
	// Owned tasks; nil: unchanged since the last heartbeat.
	ActiveTasks, StandbyTasks, WarmupTasks Tasks
	ProcessID                              *string
	UserEndpoint                           *StreamsEndpoint
	ClientTags                             map[string]string // nil: unchanged
	// Cumulative changelog offsets and end offsets of the member's tasks
	// (nil: unchanged); kept in memory for StreamsGroupDescribe.
	TaskOffsets, TaskEndOffsets []StreamsTaskOffset
	ShutdownApplication         bool
	ClientID, ClientHost        string
}

// StreamsTaskOffset is a task's cumulative changelog offset.
type StreamsTaskOffset struct {
	Subtopology string
	Partition   int32
	Offset      int64
}

// StreamsEndpointPartitions is what one user endpoint's tasks materialise.
type StreamsEndpointPartitions struct {
	Endpoint        StreamsEndpoint
	Active, Standby []TopicPartition
}

// StreamsHeartbeatResult is the answer.
type StreamsHeartbeatResult struct {
	Err               error
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	Status            []StreamsStatus
	// Assigned tasks; Assigned false: unchanged (null in the response).
	Assigned                               bool
	ActiveTasks, StandbyTasks, WarmupTasks Tasks
	EndpointInformationEpoch               int32
	// PartitionsByEndpoint is set (non-nil) when the member's endpoint
	// information epoch is behind the group's.
	PartitionsByEndpoint []StreamsEndpointPartitions
	// CreateTopics are internal topics the broker must create.
	CreateTopics []StreamsTopicInfo
}

// streamsTasks is an assignment of the three kinds of tasks.
type streamsTasks struct {
	active, standby, warmup Tasks
}

func newStreamsTasks() streamsTasks {
	return streamsTasks{active: Tasks{}, standby: Tasks{}, warmup: Tasks{}}
}

func (t streamsTasks) copy() streamsTasks {
	return streamsTasks{active: copyTasks(t.active), standby: copyTasks(t.standby), warmup: copyTasks(t.warmup)}
}

func (t streamsTasks) empty() bool {
	return len(t.active) == 0 && len(t.standby) == 0 && len(t.warmup) == 0
}

type streamsMember struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	rebalanceTimeout time.Duration
	topologyEpoch    int32
	processID        string
	endpoint         *StreamsEndpoint
	clientTags       map[string]string
	taskOffsets      []StreamsTaskOffset // in memory only
	taskEndOffsets   []StreamsTaskOffset

	epoch, prevEpoch int32
	state            memberState // cmStable, cmUnrevoked, cmUnreleased
	assigned         streamsTasks
	revoking         streamsTasks
	sentAssignment   bool

	timer       Timer
	timerSeq    uint64
	revokeTimer Timer
}

// streamsState is a group's KIP-1071 state (group.streams non-nil).
type streamsState struct {
	epoch                  int32
	metaHash               int64
	validatedTopologyEpoch int32 // -1: none
	topology               *StreamsTopology
	configured             *configuredTopology // nil: not computed since the last change
	targetEpoch            int32
	targetTime             int64 // ms: when the target was computed
	target                 map[string]streamsTasks
	members                map[string]*streamsMember
	allDirty               bool
	numStandby             int32 // the assignment config of the current target
	endpointEpoch          int32
	shutdown               bool      // a member asked for the application to shut down
	delayUntil             time.Time // no assignment before (initial rebalance delay)
	delayPending           bool      // the target was computed empty during the delay
	delayTimer             Timer
}

func newStreamsState() *streamsState {
	return &streamsState{members: map[string]*streamsMember{}, target: map[string]streamsTasks{}, allDirty: true,
		validatedTopologyEpoch: -1}
}

// StreamsHeartbeat serves one StreamsGroupHeartbeat. The records of what
// changed are durable before it returns.
func (c *Coordinator) StreamsHeartbeat(req StreamsHeartbeatRequest) StreamsHeartbeatResult {
	fail := func(err error) StreamsHeartbeatResult {
		return StreamsHeartbeatResult{Err: err, MemberID: req.MemberID, MemberEpoch: -1}
	}
	if req.Group == "" {
		return fail(ErrInvalidGroupID)
	}
	if err := c.checkGroupID(req.Group); err != nil {
		return fail(err)
	}
	if err := validateStreamsRequest(req); err != nil {
		return fail(err)
	}
	g := c.lockedGroup(req.Group, req.MemberEpoch == 0)
	if g == nil {
		if req.MemberEpoch < 0 {
			return StreamsHeartbeatResult{MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
		}
		return fail(ErrUnknownMemberID)
	}
	res := c.streamsHeartbeatLocked(g, req)
	only := res.MemberID
	if res.Err != nil {
		only = ""
	}
	off, wrote, err := g.persistStreamsLocked(only)
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
	return res
}

// validateStreamsRequest is Kafka's throwIfStreamsGroupHeartbeatRequestIsInvalid.
func validateStreamsRequest(req StreamsHeartbeatRequest) error {
	if req.MemberEpoch < leaveGroupStaticMemberEpoch {
		return ErrInvalidRequest
	}
	if req.MemberEpoch == leaveGroupStaticMemberEpoch && req.InstanceID == nil {
		return ErrInvalidRequest
	}
	if req.MemberEpoch == 0 {
		if req.Topology == nil || req.ProcessID == nil || *req.ProcessID == "" || req.RebalanceTimeout <= 0 {
			return ErrInvalidRequest
		}
		if len(req.ActiveTasks) > 0 || len(req.StandbyTasks) > 0 || len(req.WarmupTasks) > 0 {
			return ErrInvalidRequest // a (re)joining member owns nothing
		}
		for _, st := range req.Topology.Subtopologies {
			if st.ID == "" {
				return ErrInvalidRequest
			}
			// Copartition groups name topics by index into the
			// subtopology's lists: an index outside them is a malformed
			// topology, refused before anything reads it.
			for _, cg := range st.CopartitionGroups {
				for _, i := range cg.SourceTopics {
					if i < 0 || int(i) >= len(st.SourceTopics) {
						return ErrInvalidRequest
					}
				}
				for _, i := range cg.RepartitionSourceTopics {
					if i < 0 || int(i) >= len(st.RepartitionSourceTopics) {
						return ErrInvalidRequest
					}
				}
			}
		}
	} else if req.MemberID == "" {
		return ErrInvalidRequest
	}
	if req.MemberEpoch > 0 && req.Topology != nil {
		return ErrInvalidRequest // the topology is sent only when joining
	}
	return nil
}

func (c *Coordinator) streamsHeartbeatLocked(g *group, req StreamsHeartbeatRequest) StreamsHeartbeatResult {
	fail := func(err error) StreamsHeartbeatResult {
		return StreamsHeartbeatResult{Err: err, MemberID: req.MemberID, MemberEpoch: -1}
	}
	settings := c.settings(g.id)
	left := StreamsHeartbeatResult{MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	if req.MemberEpoch < 0 {
		ss := g.streams
		if ss == nil {
			return left
		}
		m := ss.members[req.MemberID]
		if req.InstanceID != nil {
			m = ss.staticMember(*req.InstanceID)
			if m == nil {
				return fail(ErrUnknownMemberID)
			}
			if m.id != req.MemberID {
				return fail(ErrFencedInstanceID)
			}
		}
		if m == nil {
			return left
		}
		if req.MemberEpoch == leaveGroupStaticMemberEpoch {
			// Kept, with its assignment, until its session times out.
			if m.epoch != leaveGroupStaticMemberEpoch {
				m.prevEpoch = m.epoch
			}
			m.epoch = leaveGroupStaticMemberEpoch
			m.revoking = newStreamsTasks()
			if m.state == cmUnrevoked {
				m.state = cmStable
			}
			if m.revokeTimer != nil {
				m.revokeTimer.Stop()
			}
			g.streamsSessionLocked(m)
			return left
		}
		g.removeStreamsMemberLocked(m)
		return left
	}
	if g.streams == nil {
		if g.consumer != nil || g.share != nil || len(g.members) > 0 || len(g.pending) > 0 || g.state != StateEmpty {
			return fail(ErrNotStreamsGroup)
		}
		// An empty classic group (only offsets, or nothing) becomes a
		// streams group; its offsets are kept.
		if g.generation > 0 || g.protocolType != "" {
			g.unwritten = append(g.unwritten, Record{Key: groupKey(g.id)})
		}
		g.streams = newStreamsState()
		g.protocolType = "streams"
		g.protocolName, g.generation, g.leader = "", 0, ""
	}
	ss := g.streams
	now := c.clock.Now()
	m := ss.members[req.MemberID]
	bump := false
	replaced := false
	if req.MemberEpoch == 0 {
		if req.MemberID == "" {
			req.MemberID = c.cfg.NewMemberID("")[1:]
		}
		m = ss.members[req.MemberID]
		var static *streamsMember
		if req.InstanceID != nil {
			static = ss.staticMember(*req.InstanceID)
		}
		switch {
		case static != nil && static.id != req.MemberID && static.epoch != leaveGroupStaticMemberEpoch:
			return fail(ErrUnreleasedInstance)
		case static != nil && static.id != req.MemberID:
			g.replaceStaticStreamsMemberLocked(static, req.MemberID)
			m = ss.members[req.MemberID]
			replaced = true
		default:
			if m != nil {
				// Rejoining: start over from no tasks.
				g.removeStreamsMemberLocked(m)
			}
			if len(ss.members)+1 > int(settings.StreamsMaxSize) || len(ss.members)+1 > c.cfg.MaxGroupSize {
				return fail(ErrGroupMaxSizeReached)
			}
			if len(ss.members) == 0 && ss.targetEpoch == 0 && settings.StreamsInitialRebalanceDelay > 0 {
				ss.delayUntil = now.Add(settings.StreamsInitialRebalanceDelay)
			}
			m = &streamsMember{id: req.MemberID, assigned: newStreamsTasks(), revoking: newStreamsTasks(),
				rebalanceTimeout: req.RebalanceTimeout, clientTags: map[string]string{}}
			ss.members[m.id] = m
			c.metrics.memberDelta(1)
			bump = true
		}
		// The topology: the first one, or a newer one.
		if ss.topology == nil || req.Topology.Epoch > ss.topology.Epoch {
			t := *req.Topology
			ss.topology = &t
			ss.configured = nil
			bump = true
		}
		if m.topologyEpoch != req.Topology.Epoch {
			m.topologyEpoch = req.Topology.Epoch
			bump = true
		}
	} else {
		if m == nil {
			return fail(ErrUnknownMemberID)
		}
		if req.MemberEpoch != m.epoch {
			if req.MemberEpoch != m.prevEpoch || !streamsSubset(req, m.assigned) {
				return fail(ErrFencedMemberEpoch)
			}
		}
	}
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	if req.InstanceID != nil {
		m.instanceID = req.InstanceID
	}
	if req.RackID != nil && (m.rackID == nil || *m.rackID != *req.RackID) {
		m.rackID = req.RackID
		bump = true
	}
	if req.RebalanceTimeout > 0 {
		m.rebalanceTimeout = req.RebalanceTimeout
	}
	if req.ProcessID != nil && *req.ProcessID != m.processID {
		m.processID = *req.ProcessID
		bump = true
	}
	if req.UserEndpoint != nil && (m.endpoint == nil || *m.endpoint != *req.UserEndpoint) {
		e := *req.UserEndpoint
		m.endpoint = &e
		bump = true
	}
	if req.ClientTags != nil && !equalTags(req.ClientTags, m.clientTags) {
		m.clientTags = req.ClientTags
		bump = true
	}
	if req.TaskOffsets != nil {
		m.taskOffsets = req.TaskOffsets
	}
	if req.TaskEndOffsets != nil {
		m.taskEndOffsets = req.TaskEndOffsets
	}
	if req.ShutdownApplication {
		ss.shutdown = true
	}
	g.streamsSessionLocked(m)

	topics := c.listTopics()
	if h := ss.topicsHashLocked(topics); h != ss.metaHash {
		ss.metaHash = h
		ss.configured = nil
		bump = true
	}
	g.configureLocked(topics)
	if bump {
		ss.epoch++
		c.metrics.rebalance()
	}
	// During the initial rebalance delay members get an epoch and no
	// tasks; the first heartbeat after it bumps the epoch and assigns.
	delayed := now.Before(ss.delayUntil)
	if delayed {
		g.armStreamsDelayLocked()
	} else if ss.delayPending {
		ss.delayPending = false
		ss.epoch++
	}
	numStandby := settings.StreamsNumStandbyReplicas
	if ss.epoch > ss.targetEpoch || (numStandby != ss.numStandby && !delayed) {
		if ss.epoch == ss.targetEpoch { // the standby setting changed: a new epoch
			ss.epoch++
		}
		g.computeStreamsTargetLocked(numStandby, delayed)
		ss.delayPending = delayed
	}
	// The member acknowledged the revocation once it no longer reports
	// the tasks being revoked.
	if m.state == cmUnrevoked && (req.ActiveTasks != nil || req.StandbyTasks != nil || req.WarmupTasks != nil) &&
		!streamsOverlaps(req, m.revoking) {
		m.revoking = newStreamsTasks()
		m.state = cmStable
		if m.revokeTimer != nil {
			m.revokeTimer.Stop()
		}
	}
	endpointChanged := false
	changed := g.reconcileStreamsLocked(m, &endpointChanged)
	if endpointChanged || bump {
		ss.endpointEpoch++
	}
	res := StreamsHeartbeatResult{MemberID: m.id, MemberEpoch: m.epoch, HeartbeatInterval: settings.StreamsHeartbeatInterval,
		EndpointInformationEpoch: ss.endpointEpoch}
	if changed || !m.sentAssignment || replaced || req.MemberEpoch == 0 {
		res.Assigned = true
		res.ActiveTasks, res.StandbyTasks, res.WarmupTasks = copyTasks(m.assigned.active), copyTasks(m.assigned.standby), copyTasks(m.assigned.warmup)
		m.sentAssignment = true
	}
	if req.EndpointInformationEpoch < ss.endpointEpoch {
		res.PartitionsByEndpoint = g.partitionsByEndpointLocked()
	}
	res.Status, res.CreateTopics = g.streamsStatusLocked(m, delayed)
	return res
}

// configureLocked configures the topology against topics unless done
// since the last change of either.
func (g *group) configureLocked(topics []TopicMeta) {
	ss := g.streams
	if ss.configured == nil && ss.topology != nil {
		ss.configured = configureTopology(ss.topology, topics)
		if ss.configured.ready() {
			ss.validatedTopologyEpoch = ss.topology.Epoch
		}
	}
}

// streamsStatusLocked is the statuses a member is told about, and the
// internal topics to create.
func (g *group) streamsStatusLocked(m *streamsMember, delayed bool) ([]StreamsStatus, []StreamsTopicInfo) {
	ss := g.streams
	var out []StreamsStatus
	var create []StreamsTopicInfo
	if ss.shutdown {
		out = append(out, StreamsStatus{StreamsShutdownApplication, "A KafkaStreams instance encountered a fatal error and requested a shutdown for the entire application."})
	}
	if ss.topology != nil && m.topologyEpoch != ss.topology.Epoch {
		out = append(out, StreamsStatus{StreamsStaleTopology, "The member's topology epoch " + itoa(m.topologyEpoch) +
			" is behind the group's topology epoch " + itoa(ss.topology.Epoch) + "."})
	}
	if ct := ss.configured; ct != nil {
		out = append(out, ct.status...)
		create = ct.missingInternal
	}
	if delayed {
		out = append(out, StreamsStatus{StreamsAssignmentDelayed, "Assignment delayed due to the configured initial rebalance delay."})
	}
	return out, create
}

// armStreamsDelayLocked bumps nothing when the initial rebalance delay
// ends; it only makes sure the target is computed at the next heartbeat
// (the delay timer exists so that a describe shows the state moving on).
func (g *group) armStreamsDelayLocked() {
	ss := g.streams
	if ss.delayTimer != nil {
		return
	}
	ss.delayTimer = g.c.clock.AfterFunc(ss.delayUntil.Sub(g.c.clock.Now()), func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.streams == ss {
			ss.delayTimer = nil
		}
	})
}

func equalTags(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// staticMember is the member with the instance id, or nil.
func (ss *streamsState) staticMember(instanceID string) *streamsMember {
	for _, m := range ss.members {
		if m.instanceID != nil && *m.instanceID == instanceID {
			return m
		}
	}
	return nil
}

// replaceStaticStreamsMemberLocked gives old's place to a new member id.
func (g *group) replaceStaticStreamsMemberLocked(old *streamsMember, newID string) {
	ss := g.streams
	g.stopStreamsMemberTimers(old)
	m := *old
	m.id = newID
	m.timer, m.revokeTimer, m.timerSeq = nil, nil, 0
	if old.epoch == leaveGroupStaticMemberEpoch {
		m.epoch = old.prevEpoch
	}
	delete(ss.members, old.id)
	ss.members[newID] = &m
	ss.allDirty = true
	if t, ok := ss.target[old.id]; ok {
		delete(ss.target, old.id)
		ss.target[newID] = t
	}
	if m.state == cmUnrevoked {
		g.armStreamsRevokeTimerLocked(&m)
	}
}

func (g *group) stopStreamsMemberTimers(m *streamsMember) {
	if m.timer != nil {
		m.timer.Stop()
	}
	if m.revokeTimer != nil {
		m.revokeTimer.Stop()
	}
	m.timerSeq++
}

func (g *group) streamsSessionLocked(m *streamsMember) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timerSeq++
	seq := m.timerSeq
	ss := g.streams
	m.timer = g.c.clock.AfterFunc(g.c.settings(g.id).StreamsSessionTimeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.streams != ss || ss.members[m.id] != m || m.timerSeq != seq {
			return
		}
		g.c.logger.Info("streams group member session expired", "group", g.id, "member", m.id)
		g.removeStreamsMemberLocked(m)
		g.persistStreamsAsyncLocked()
	})
}

func (g *group) armStreamsRevokeTimerLocked(m *streamsMember) {
	if m.revokeTimer != nil {
		m.revokeTimer.Stop()
	}
	seq := m.timerSeq
	ss := g.streams
	m.revokeTimer = g.c.clock.AfterFunc(m.rebalanceTimeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.streams != ss || ss.members[m.id] != m || m.timerSeq != seq || m.state != cmUnrevoked {
			return
		}
		g.c.logger.Info("streams group member did not revoke its tasks in time", "group", g.id, "member", m.id)
		g.removeStreamsMemberLocked(m)
		g.persistStreamsAsyncLocked()
	})
}

// removeStreamsMemberLocked removes m and bumps the group epoch.
func (g *group) removeStreamsMemberLocked(m *streamsMember) {
	ss := g.streams
	g.stopStreamsMemberTimers(m)
	delete(ss.members, m.id)
	delete(ss.target, m.id)
	ss.allDirty = true
	g.c.metrics.memberDelta(-1)
	ss.epoch++
	ss.endpointEpoch++
	g.c.metrics.rebalance()
	if len(ss.members) == 0 {
		ss.targetEpoch = ss.epoch
		ss.target = map[string]streamsTasks{}
		ss.shutdown = false
		g.stateSince = g.c.clock.Now()
	}
}

// stopStreamsTimersLocked stops every timer of the streams state.
func (g *group) stopStreamsTimersLocked() {
	ss := g.streams
	if ss == nil {
		return
	}
	for _, m := range ss.members {
		g.stopStreamsMemberTimers(m)
	}
	if ss.delayTimer != nil {
		ss.delayTimer.Stop()
		ss.delayTimer = nil
	}
}

// reconcileStreamsLocked moves m one step towards its target (Kafka's
// streams CurrentAssignmentBuilder); it reports whether m's assignment or
// epoch changed, and sets endpointChanged when its active or standby tasks
// changed (the partitions by endpoint moved).
func (g *group) reconcileStreamsLocked(m *streamsMember, endpointChanged *bool) bool {
	ss := g.streams
	if m.state == cmUnrevoked {
		return false
	}
	target, ok := ss.target[m.id]
	if !ok {
		target = newStreamsTasks()
	}
	revoke := streamsTasks{active: minusTasks(m.assigned.active, target.active),
		standby: minusTasks(m.assigned.standby, target.standby), warmup: minusTasks(m.assigned.warmup, target.warmup)}
	if !revoke.empty() {
		m.assigned = streamsTasks{active: intersectTasks(m.assigned.active, target.active),
			standby: intersectTasks(m.assigned.standby, target.standby), warmup: intersectTasks(m.assigned.warmup, target.warmup)}
		m.revoking = revoke
		m.state = cmUnrevoked
		g.armStreamsRevokeTimerLocked(m)
		*endpointChanged = true
		return true
	}
	// Held elsewhere: active tasks by any other member (assigned or being
	// revoked); standby and warm-up tasks by another member of the same
	// process as active.
	heldActive := Tasks{}
	heldByProcess := Tasks{}
	for id, o := range ss.members {
		if id == m.id {
			continue
		}
		addTasks(heldActive, o.assigned.active)
		addTasks(heldActive, o.revoking.active)
		if o.processID == m.processID {
			addTasks(heldByProcess, o.assigned.active)
			addTasks(heldByProcess, o.revoking.active)
		}
	}
	unreleased := false
	changed := false
	take := func(dst, want, held Tasks) {
		for st, ps := range minusTasks(want, dst) {
			for _, p := range ps {
				if hasTask(held, st, p) {
					unreleased = true
					continue
				}
				dst[st] = append(dst[st], p)
				changed = true
			}
		}
		sortTasks(dst)
	}
	take(m.assigned.active, target.active, heldActive)
	take(m.assigned.standby, target.standby, heldByProcess)
	take(m.assigned.warmup, target.warmup, heldByProcess)
	if changed {
		*endpointChanged = true
	}
	if m.epoch != ss.targetEpoch {
		m.prevEpoch, m.epoch = m.epoch, ss.targetEpoch
		changed = true
	}
	m.state = cmStable
	if unreleased {
		m.state = cmUnreleased
	}
	return changed
}

// streamsSubset reports whether the tasks a member reports are all
// assigned to it (a member retrying with its previous epoch).
func streamsSubset(req StreamsHeartbeatRequest, a streamsTasks) bool {
	return len(minusTasks(req.ActiveTasks, a.active)) == 0 && len(minusTasks(req.StandbyTasks, a.standby)) == 0 &&
		len(minusTasks(req.WarmupTasks, a.warmup)) == 0
}

func streamsOverlaps(req StreamsHeartbeatRequest, r streamsTasks) bool {
	return len(intersectTasks(req.ActiveTasks, r.active)) > 0 || len(intersectTasks(req.StandbyTasks, r.standby)) > 0 ||
		len(intersectTasks(req.WarmupTasks, r.warmup)) > 0
}

// partitionsByEndpointLocked is, per user endpoint, the partitions of the
// source topics (and repartition source topics) of its members' active
// and standby tasks (Kafka's EndpointToPartitionsManager).
func (g *group) partitionsByEndpointLocked() []StreamsEndpointPartitions {
	ss := g.streams
	byEndpoint := map[StreamsEndpoint]*StreamsEndpointPartitions{}
	var order []StreamsEndpoint
	ids := make([]string, 0, len(ss.members))
	for id := range ss.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := ss.members[id]
		if m.endpoint == nil {
			continue
		}
		e := byEndpoint[*m.endpoint]
		if e == nil {
			e = &StreamsEndpointPartitions{Endpoint: *m.endpoint, Active: []TopicPartition{}, Standby: []TopicPartition{}}
			byEndpoint[*m.endpoint] = e
			order = append(order, *m.endpoint)
		}
		e.Active = append(e.Active, g.taskPartitionsLocked(m.assigned.active)...)
		e.Standby = append(e.Standby, g.taskPartitionsLocked(m.assigned.standby)...)
	}
	out := make([]StreamsEndpointPartitions, 0, len(order))
	for _, ep := range order {
		e := byEndpoint[ep]
		sortTopicPartitions(e.Active)
		sortTopicPartitions(e.Standby)
		out = append(out, *e)
	}
	return out
}

func sortTopicPartitions(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

// taskPartitionsLocked maps tasks to their source topics' partitions.
func (g *group) taskPartitionsLocked(t Tasks) []TopicPartition {
	ct := g.streams.configured
	if ct == nil {
		return nil
	}
	var out []TopicPartition
	for st, ps := range t {
		for _, topic := range ct.sourceTopics[st] {
			n := ct.partitions[topic]
			for _, p := range ps {
				if p < n {
					out = append(out, TopicPartition{topic, p})
				}
			}
		}
	}
	return out
}

// StreamsMemberDescription describes a streams group member.
type StreamsMemberDescription struct {
	MemberID, ClientID, ClientHost string
	InstanceID, RackID             *string
	MemberEpoch, TopologyEpoch     int32
	ProcessID                      string
	Endpoint                       *StreamsEndpoint
	ClientTags                     map[string]string
	TaskOffsets, TaskEndOffsets    []StreamsTaskOffset
	// Assigned and Target: active, standby and warm-up tasks.
	Active, Standby, Warmup                   Tasks
	TargetActive, TargetStandby, TargetWarmup Tasks
}

// StreamsGroupDescription describes a streams group.
type StreamsGroupDescription struct {
	State                   string // Empty, NotReady, Assigning, Reconciling, Stable
	GroupEpoch, TargetEpoch int32
	Topology                *StreamsTopology // nil: none yet
	Members                 []StreamsMemberDescription
}

// DescribeStreamsGroup describes a streams group (ErrGroupIDNotFound if
// none or of another type).
func (c *Coordinator) DescribeStreamsGroup(id string) (StreamsGroupDescription, error) {
	if err := c.checkGroupID(id); err != nil {
		if errors.Is(err, ErrInvalidGroupID) {
			return StreamsGroupDescription{}, ErrGroupIDNotFound
		}
		return StreamsGroupDescription{}, err
	}
	g := c.lockedGroup(id, false)
	if g == nil {
		return StreamsGroupDescription{}, ErrGroupIDNotFound
	}
	defer g.mu.Unlock()
	if g.streams == nil {
		return StreamsGroupDescription{}, ErrNotStreamsGroup
	}
	ss := g.streams
	d := StreamsGroupDescription{State: g.streamsStateLocked(), GroupEpoch: ss.epoch, TargetEpoch: ss.targetEpoch}
	if ss.topology != nil {
		t := *ss.topology
		d.Topology = &t
	}
	ids := make([]string, 0, len(ss.members))
	for id := range ss.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := ss.members[id]
		t := ss.target[id]
		d.Members = append(d.Members, StreamsMemberDescription{MemberID: m.id, ClientID: m.clientID, ClientHost: m.clientHost,
			InstanceID: m.instanceID, RackID: m.rackID, MemberEpoch: m.epoch, TopologyEpoch: m.topologyEpoch,
			ProcessID: m.processID, Endpoint: m.endpoint, ClientTags: m.clientTags,
			TaskOffsets: append([]StreamsTaskOffset(nil), m.taskOffsets...), TaskEndOffsets: append([]StreamsTaskOffset(nil), m.taskEndOffsets...),
			Active: copyTasks(m.assigned.active), Standby: copyTasks(m.assigned.standby), Warmup: copyTasks(m.assigned.warmup),
			TargetActive: copyTasks(t.active), TargetStandby: copyTasks(t.standby), TargetWarmup: copyTasks(t.warmup)})
	}
	return d, nil
}

// streamsStateLocked is Kafka's StreamsGroupState name.
func (g *group) streamsStateLocked() string {
	ss := g.streams
	if ss.configured == nil && ss.topology != nil {
		// After a load: configured on first use, as a heartbeat would.
		g.configureLocked(g.c.listTopics())
	}
	switch {
	case len(ss.members) == 0:
		return "Empty"
	case ss.topology == nil || ss.configured == nil || !ss.configured.ready():
		return "NotReady"
	case ss.targetEpoch != ss.epoch:
		return "Assigning"
	}
	for _, m := range ss.members {
		if m.epoch != ss.targetEpoch || m.state != cmStable {
			return "Reconciling"
		}
	}
	return "Stable"
}

// validateStreamsCommitLocked checks an offset commit (or a fetch with a
// member) against a streams group, as for a consumer group.
func (g *group) validateStreamsCommitLocked(memberID string, epoch int32) error {
	ss := g.streams
	if memberID == "" && epoch < 0 {
		if len(ss.members) > 0 {
			return ErrUnknownMemberID
		}
		return nil
	}
	m := ss.members[memberID]
	if m == nil {
		return ErrUnknownMemberID
	}
	if epoch != m.epoch {
		return ErrStaleMemberEpoch
	}
	return nil
}

// Task set helpers.

func copyTasks(t Tasks) Tasks {
	out := make(Tasks, len(t))
	for k, ps := range t {
		if len(ps) > 0 {
			out[k] = append([]int32(nil), ps...)
		}
	}
	return out
}

func hasTask(t Tasks, st string, p int32) bool {
	for _, q := range t[st] {
		if q == p {
			return true
		}
	}
	return false
}

func minusTasks(a, b Tasks) Tasks {
	out := Tasks{}
	for st, ps := range a {
		for _, p := range ps {
			if !hasTask(b, st, p) {
				out[st] = append(out[st], p)
			}
		}
	}
	return out
}

func intersectTasks(a, b Tasks) Tasks {
	out := Tasks{}
	for st, ps := range a {
		for _, p := range ps {
			if hasTask(b, st, p) {
				out[st] = append(out[st], p)
			}
		}
	}
	return out
}

func addTasks(dst, src Tasks) {
	for st, ps := range src {
		for _, p := range ps {
			if !hasTask(dst, st, p) {
				dst[st] = append(dst[st], p)
			}
		}
	}
}

func sortTasks(t Tasks) {
	for st := range t {
		sort.Slice(t[st], func(i, j int) bool { return t[st][i] < t[st][j] })
	}
}

func countTasks(t Tasks) int {
	n := 0
	for _, ps := range t {
		n += len(ps)
	}
	return n
}

// taskID is one task.
type taskID struct {
	subtopology string
	partition   int32
}

func (t taskID) String() string { return t.subtopology + "_" + strconv.Itoa(int(t.partition)) }

// streamsSourceTopicsLocked is every topic the group's topology reads
// (offsets of those cannot be deleted while it has members).
func (g *group) streamsSourceTopicsLocked() map[string]bool {
	out := map[string]bool{}
	if ct := g.streams.configured; ct != nil {
		for _, ts := range ct.sourceTopics {
			for _, t := range ts {
				out[t] = true
			}
		}
	}
	if t := g.streams.topology; t != nil {
		for _, st := range t.Subtopologies {
			for _, s := range st.SourceTopics {
				out[s] = true
			}
			for _, s := range st.RepartitionSourceTopics {
				out[s.Name] = true
			}
		}
	}
	return out
}
