package coordinator

// Online migration between the classic and the consumer protocol (KIP-848,
// Kafka's group.consumer.migration.policy=bidirectional, its default):
//
//   - Upgrade: a ConsumerGroupHeartbeat joining a non-empty classic group of
//     protocol type "consumer" converts it into a consumer group. The
//     classic members stay, as consumer group members that still speak the
//     classic protocol: their subscriptions and assignments come from their
//     JoinGroup metadata and SyncGroup assignment, the group epoch and their
//     member epochs from the generation.
//   - Classic members of a consumer group keep using JoinGroup, SyncGroup,
//     Heartbeat, LeaveGroup and OffsetCommit, with the member epoch as the
//     generation. The server-side assignor decides; a JoinGroup is answered
//     at once (no leader: every member is a follower) and the SyncGroup
//     hands the member its current assignment. Partitions a classic member
//     must give up are taken out of its assignment and stay pending until
//     its next JoinGroup no longer lists them as owned (cooperative
//     clients) or lists nothing (eager clients, which revoke everything
//     before rejoining). Heartbeat answers REBALANCE_IN_PROGRESS while the
//     member is behind the target assignment, so that it rejoins.
//   - Downgrade: when the last member using the consumer protocol leaves
//     (or its session expires) and classic members remain, the group turns
//     back into a classic group and rebalances.
//   - A classic group that is not of protocol type "consumer" cannot be
//     converted: GROUP_ID_NOT_FOUND, as Kafka answers.

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// classicMeta is what a consumer group keeps of a member that uses the
// classic protocol (Kafka's ClassicMemberMetadata).
type classicMeta struct {
	sessionTimeout time.Duration
	protocols      []Protocol
}

// topicIDs maps topic names to ids and back.
func (c *Coordinator) topicIDs() (byName map[string][16]byte, byID map[[16]byte]string) {
	byName, byID = map[string][16]byte{}, map[[16]byte]string{}
	for _, t := range c.listTopics() {
		byName[t.Name] = t.ID
		byID[t.ID] = t.Name
	}
	return byName, byID
}

// parseSubscription reads a classic member's ConsumerProtocolSubscription.
func parseSubscription(metadata []byte, byName map[string][16]byte) (topics []string, owned Assignment, ok bool) {
	var s kmsg.ConsumerMemberMetadata
	if err := s.ReadFrom(metadata); err != nil {
		return nil, nil, false
	}
	owned = Assignment{}
	for _, t := range s.OwnedPartitions {
		if id, ok := byName[t.Topic]; ok {
			owned[id] = append(owned[id], t.Partitions...)
		}
	}
	return sortedCopy(s.Topics), owned, true
}

// encodeClassicAssignment is the SyncGroup assignment of a classic member
// (ConsumerProtocolAssignment v0).
func encodeClassicAssignment(a Assignment, byID map[[16]byte]string) []byte {
	as := kmsg.NewConsumerMemberAssignment()
	as.Version = 0
	ids := make([][16]byte, 0, len(a))
	for id := range a {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return byID[ids[i]] < byID[ids[j]] })
	for _, id := range ids {
		name, ok := byID[id]
		if !ok || len(a[id]) == 0 {
			continue
		}
		t := kmsg.NewConsumerMemberAssignmentTopic()
		t.Topic, t.Partitions = name, append([]int32(nil), a[id]...)
		as.Topics = append(as.Topics, t)
	}
	return as.AppendTo(nil)
}

func parseClassicAssignment(b []byte, byName map[string][16]byte) Assignment {
	out := Assignment{}
	var as kmsg.ConsumerMemberAssignment
	if len(b) == 0 || as.ReadFrom(b) != nil {
		return out
	}
	for _, t := range as.Topics {
		if id, ok := byName[t.Topic]; ok {
			out[id] = append(out[id], t.Partitions...)
		}
	}
	for id := range out {
		sort.Slice(out[id], func(i, j int) bool { return out[id][i] < out[id][j] })
	}
	return out
}

// upgradeLocked converts a non-empty classic group into a consumer group
// (its members become classic members of the consumer group). false, with
// nothing changed, if it cannot be converted: as Kafka, when the group
// does not use the consumer embedded protocol, when a member's
// subscription or assignment is malformed, or when it has more members
// than a group may.
func (g *group) upgradeLocked() bool {
	if g.protocolType != "consumer" || g.state == StateDead || len(g.members) > g.c.cfg.MaxGroupSize {
		return false
	}
	byName, _ := g.c.topicIDs()
	protocol := g.protocolName
	metadata := func(m *member) []byte {
		meta := m.metadataFor(protocol)
		if meta == nil && len(m.protocols) > 0 {
			meta = m.protocols[0].Metadata
		}
		return meta
	}
	for _, m := range g.members {
		var as kmsg.ConsumerMemberAssignment
		if _, _, ok := parseSubscription(metadata(m), byName); !ok || (len(m.assignment) > 0 && as.ReadFrom(m.assignment) != nil) {
			g.c.logger.Info("cannot upgrade classic group: its embedded consumer protocol is malformed", "group", g.id, "member", m.id)
			return false
		}
	}
	cs := &consumerState{members: map[string]*consumerMember{}, target: map[string]Assignment{}, epoch: g.generation,
		targetEpoch: g.generation, targetTime: g.c.clock.Now().UnixMilli(), allDirty: true}
	// Members waiting for a join or sync answer rejoin (into the consumer
	// group); pending member ids are forgotten.
	g.stopJoinTimer()
	g.stopSyncTimer()
	for id := range g.pending {
		g.pending[id].timer.Stop()
	}
	g.pending = map[string]*pendingMember{}
	g.pendingSync = map[string]bool{}
	for _, m := range g.memberList() {
		if m.joinDone != nil {
			m.joinDone(JoinResult{Err: ErrRebalanceInProgress, MemberID: m.id, Generation: -1})
			m.joinDone = nil
		}
		if m.syncDone != nil {
			m.syncDone(SyncResult{Err: ErrRebalanceInProgress})
			m.syncDone = nil
		}
		g.stopMemberTimer(m)
		topics, _, _ := parseSubscription(metadata(m), byName)
		cm := &consumerMember{id: m.id, instanceID: m.instanceID, clientID: m.clientID, clientHost: m.clientHost,
			topics: topics, assignor: "uniform", rebalanceTimeout: m.rebalanceTimeout, epoch: g.generation,
			prevEpoch: g.generation, assigned: parseClassicAssignment(m.assignment, byName), revoking: Assignment{},
			classic: &classicMeta{sessionTimeout: m.sessionTimeout, protocols: m.protocols}}
		cs.members[cm.id] = cm
		cs.target[cm.id] = copyAssignment(cm.assigned)
	}
	g.members = map[string]*member{}
	g.static = map[string]string{}
	g.consumer = cs
	g.protocolName = ""
	g.leader = ""
	g.generation = 0
	g.transitionLocked(StateEmpty)
	cs.metaHash = g.subscriptionHashLocked(g.c.listTopics())
	for _, m := range cs.members {
		g.consumerSessionLocked(m)
	}
	g.c.logger.Info("classic group converted to a consumer group", "group", g.id, "members", len(cs.members), "epoch", cs.epoch)
	return true
}

// removeConsumerMemberOrDowngradeLocked removes a member that left or
// expired. If it was the last member using the consumer protocol and
// classic members remain, the group turns classic (at its current epoch, as
// Kafka's conversion does, so that the remaining members' heartbeats get
// REBALANCE_IN_PROGRESS and they rejoin) and rebalances. downgraded tells
// whether it did; off is then the log offset to Sync for durability (ok
// false: the records could not be appended).
func (g *group) removeConsumerMemberOrDowngradeLocked(m *consumerMember) (downgraded bool, off int64, ok bool) {
	cs := g.consumer
	if m.classic != nil || len(cs.members) < 2 {
		g.removeConsumerMemberLocked(m)
		return false, 0, false
	}
	for id, o := range cs.members {
		if id != m.id && o.classic == nil {
			g.removeConsumerMemberLocked(m)
			return false, 0, false
		}
	}
	g.dropConsumerMemberLocked(m)
	off, ok = g.maybeDowngradeLocked()
	return true, off, ok
}

// maybeDowngradeLocked turns a consumer group whose members all use the
// classic protocol back into a classic group, which then rebalances. It
// returns the offset of its records (ok false: not converted, or the
// append failed).
func (g *group) maybeDowngradeLocked() (off int64, ok bool) {
	cs := g.consumer
	if cs == nil || len(cs.members) == 0 {
		return 0, false
	}
	for _, m := range cs.members {
		if m.classic == nil {
			return 0, false
		}
	}
	_, byID := g.c.topicIDs()
	ids := make([]string, 0, len(cs.members))
	for id := range cs.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	recs := g.consumerTombstonesLocked()
	g.generation = cs.epoch
	g.protocolType = "consumer"
	for _, id := range ids {
		cm := cs.members[id]
		if cm.timer != nil {
			cm.timer.Stop()
		}
		if cm.revokeTimer != nil {
			cm.revokeTimer.Stop()
		}
		cm.timerSeq++
		g.memberSeq++
		m := &member{id: cm.id, instanceID: cm.instanceID, clientID: cm.clientID, clientHost: cm.clientHost,
			sessionTimeout: cm.classic.sessionTimeout, rebalanceTimeout: cm.rebalanceTimeout, protocolType: "consumer",
			protocols: cm.classic.protocols, assignment: encodeClassicAssignment(cm.assigned, byID), seq: g.memberSeq}
		g.members[m.id] = m
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
		g.heartbeatLocked(m, m.sessionTimeout)
	}
	g.consumer = nil
	g.persisted = nil
	g.protocolName = g.selectProtocol()
	g.leader = g.memberList()[0].id
	g.transitionLocked(StateStable)
	recs = append(recs, g.metadataRecord())
	g.unwritten = nil // an upgrade's tombstone not yet written is superseded
	off, err := g.c.log.Append(g.partition, recs)
	if err != nil {
		g.c.logger.Error("appending to __consumer_offsets failed", "group", g.id, "err", err)
	}
	g.c.logger.Info("consumer group converted back to a classic group", "group", g.id, "members", len(g.members), "generation", g.generation)
	g.prepareRebalanceLocked("the last consumer protocol member left")
	return off, err == nil
}

// classicJoinToConsumerLocked serves a JoinGroup to a non-empty consumer
// group. done is called once the member's records are durable.
func (g *group) classicJoinToConsumerLocked(req JoinRequest, done func(JoinResult)) {
	fail := func(err error) { done(JoinResult{Err: err, MemberID: req.MemberID, Generation: -1}) }
	cs := g.consumer
	if req.ProtocolType != "consumer" || len(req.Protocols) == 0 {
		fail(ErrInconsistentProtocol)
		return
	}
	byName, _ := g.c.topicIDs()
	topics, owned, ok := parseSubscription(req.Protocols[0].Metadata, byName)
	if !ok {
		fail(ErrInconsistentProtocol)
		return
	}
	m := cs.members[req.MemberID]
	if m != nil && m.classic == nil {
		fail(ErrUnknownMemberID) // a consumer protocol member's id
		return
	}
	bump := false
	if req.InstanceID != nil {
		if s := cs.staticMember(*req.InstanceID); s != nil && s.id != req.MemberID {
			if req.MemberID != "" {
				fail(ErrFencedInstanceID)
				return
			}
			// A static member restarted: the new member id takes over.
			id := g.c.cfg.NewMemberID(*req.InstanceID)
			g.replaceStaticConsumerMemberLocked(s, id)
			m = cs.members[id]
			req.MemberID = id
		}
	}
	if m == nil {
		if req.MemberID == "" {
			prefix := req.ClientID
			if req.InstanceID != nil {
				prefix = *req.InstanceID
			}
			req.MemberID = g.c.cfg.NewMemberID(prefix)
			if req.RequireKnownMemberID && req.InstanceID == nil {
				done(JoinResult{Err: ErrMemberIDRequired, MemberID: req.MemberID, Generation: -1})
				return
			}
		}
		if len(cs.members)+1 > g.c.cfg.MaxGroupSize {
			fail(ErrGroupMaxSizeReached)
			return
		}
		m = &consumerMember{id: req.MemberID, assigned: Assignment{}, revoking: Assignment{}, assignor: "uniform"}
		cs.members[m.id] = m
		g.c.metrics.memberDelta(1)
		bump = true
	}
	m.instanceID, m.clientID, m.clientHost = req.InstanceID, req.ClientID, req.ClientHost
	m.rebalanceTimeout = req.RebalanceTimeout
	m.classic = &classicMeta{sessionTimeout: req.SessionTimeout, protocols: req.Protocols}
	if !equalStrings(topics, m.topics) {
		m.topics = topics
		bump = true
	}
	g.consumerSessionLocked(m)
	if bump {
		cs.subs.valid = false
	}
	all := g.c.listTopics()
	if h := g.subscriptionHashLocked(all); h != cs.metaHash {
		cs.metaHash = h
		bump = true
	}
	if bump {
		cs.epoch++
		g.c.metrics.rebalance()
	}
	if cs.epoch > cs.targetEpoch {
		g.computeTargetLocked(all)
	}
	// What the member no longer owns (per its subscription's owned
	// partitions; eager clients own nothing when they rejoin) is revoked,
	// before and after this join's reconciliation.
	ack := func() {
		if m.state == cmUnrevoked {
			m.revoking = intersect(m.revoking, owned)
			if len(m.revoking) == 0 {
				m.state = cmStable
				if m.revokeTimer != nil {
					m.revokeTimer.Stop()
				}
			}
		}
	}
	ack()
	g.reconcileLocked(m)
	if m.state == cmUnrevoked {
		ack()
		g.reconcileLocked(m)
	}
	m.sentAssignment = true
	res := JoinResult{MemberID: m.id, Generation: m.epoch, ProtocolType: "consumer", ProtocolName: req.Protocols[0].Name}
	g.persistThenLocked(m.id, func(err error) {
		if err != nil {
			done(JoinResult{Err: err, MemberID: m.id, Generation: -1})
			return
		}
		done(res)
	})
}

// persistThenLocked appends what changed in g's consumer state and calls
// then once it is durable (from another goroutine, with the group lock
// held), or at once if nothing changed or the append failed.
func (g *group) persistThenLocked(only string, then func(error)) {
	off, ok, err := g.persistConsumerLocked(only)
	if err != nil || !ok {
		then(err)
		return
	}
	g.c.inflight.Add(1)
	go func() {
		defer g.c.inflight.Done()
		err := g.c.log.Sync(g.partition, off)
		if err != nil {
			err = ErrStorage
		}
		g.mu.Lock()
		then(err)
		g.mu.Unlock()
	}()
}

// classicMemberLocked finds a classic member of a consumer group and checks
// its instance id (Kafka's validation for classic requests).
func (g *group) classicMemberLocked(memberID string, instanceID *string) (*consumerMember, error) {
	cs := g.consumer
	if instanceID != nil {
		s := cs.staticMember(*instanceID)
		if s == nil {
			return nil, ErrUnknownMemberID
		}
		if s.id != memberID {
			return nil, ErrFencedInstanceID
		}
	}
	m := cs.members[memberID]
	if m == nil || m.classic == nil {
		return nil, ErrUnknownMemberID
	}
	return m, nil
}

// classicSyncToConsumerLocked serves a SyncGroup to a consumer group.
func (g *group) classicSyncToConsumerLocked(req SyncRequest, done func(SyncResult)) {
	m, err := g.classicMemberLocked(req.MemberID, req.InstanceID)
	if err != nil {
		done(SyncResult{Err: err})
		return
	}
	if req.Generation != m.epoch {
		done(SyncResult{Err: ErrIllegalGeneration})
		return
	}
	name := m.classic.protocols[0].Name
	if (req.ProtocolType != nil && *req.ProtocolType != "consumer") || (req.ProtocolName != nil && *req.ProtocolName != name) {
		done(SyncResult{Err: ErrInconsistentProtocol})
		return
	}
	_, byID := g.c.topicIDs()
	g.consumerSessionLocked(m)
	done(SyncResult{ProtocolType: "consumer", ProtocolName: name, Assignment: encodeClassicAssignment(m.assigned, byID)})
}

// classicHeartbeatToConsumerLocked serves a Heartbeat to a consumer group:
// REBALANCE_IN_PROGRESS while the member is behind its target.
func (g *group) classicHeartbeatToConsumerLocked(memberID string, instanceID *string, generation int32) error {
	m, err := g.classicMemberLocked(memberID, instanceID)
	if err != nil {
		return err
	}
	if generation != m.epoch {
		return ErrIllegalGeneration
	}
	g.consumerSessionLocked(m)
	if m.epoch != g.consumer.targetEpoch || m.state != cmStable || len(minus(g.consumer.target[m.id], m.assigned)) > 0 {
		return ErrRebalanceInProgress
	}
	return nil
}

// classicLeaveFromConsumerLocked removes a classic member (LeaveGroup).
func (g *group) classicLeaveFromConsumerLocked(l LeaveMember) error {
	cs := g.consumer
	var m *consumerMember
	if l.MemberID == "" && l.InstanceID != nil {
		m = cs.staticMember(*l.InstanceID)
		if m == nil {
			return ErrUnknownMemberID
		}
	} else {
		var err error
		if m, err = g.classicMemberLocked(l.MemberID, l.InstanceID); err != nil {
			return err
		}
	}
	g.removeConsumerMemberLocked(m)
	g.persistConsumerAsyncLocked()
	return nil
}

// Tagged field 0 of ConsumerGroupMemberMetadataValue: ClassicMemberMetadata
// (nullable struct: a presence byte, session timeout, supported protocols).
func encodeClassicMeta(cm *classicMeta) []byte {
	b := []byte{1}
	b = kbin.AppendInt32(b, int32(cm.sessionTimeout.Milliseconds()))
	b = kbin.AppendCompactArrayLen(b, len(cm.protocols))
	for _, p := range cm.protocols {
		b = kbin.AppendCompactString(b, p.Name)
		b = kbin.AppendCompactBytes(b, p.Metadata)
		b = kbin.AppendUvarint(b, 0)
	}
	return kbin.AppendUvarint(b, 0)
}

func decodeClassicMeta(v []byte) *classicMeta {
	r := kbin.Reader{Src: v}
	if r.Int8() != 1 {
		return nil
	}
	cm := &classicMeta{sessionTimeout: time.Duration(r.Int32()) * time.Millisecond}
	n := r.CompactArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		p := Protocol{Name: r.CompactString(), Metadata: append([]byte(nil), r.CompactBytes()...)}
		readTags(&r)
		cm.protocols = append(cm.protocols, p)
	}
	readTags(&r)
	if !r.Ok() || len(cm.protocols) == 0 {
		return nil
	}
	return cm
}
