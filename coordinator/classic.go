package coordinator

import (
	"errors"
	"time"
)

// JoinRequest is a JoinGroup, normalised across versions.
type JoinRequest struct {
	Group            string
	MemberID         string  // "" for a member joining for the first time
	InstanceID       *string // static membership (KIP-345)
	ClientID         string
	ClientHost       string
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []Protocol
	// RequireKnownMemberID (KIP-394, JoinGroup v4+): a first join gets
	// ErrMemberIDRequired with an assigned id instead of joining.
	RequireKnownMemberID bool
}

// JoinMember is a member as the leader sees it in a join response.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// JoinResult is a JoinGroup's answer. With ErrMemberIDRequired, MemberID is
// the id to join with.
type JoinResult struct {
	Err            error
	MemberID       string
	Generation     int32
	ProtocolType   string
	ProtocolName   string
	LeaderID       string
	SkipAssignment bool
	Members        []JoinMember // the leader's only
}

// JoinGroup joins a member. done is called exactly once, possibly before
// JoinGroup returns, and otherwise when the rebalance completes.
func (c *Coordinator) JoinGroup(req JoinRequest, done func(JoinResult)) {
	if err := c.checkGroupID(req.Group); err != nil {
		done(JoinResult{Err: err, MemberID: req.MemberID, Generation: -1})
		return
	}
	if req.SessionTimeout < c.cfg.MinSessionTimeout || req.SessionTimeout > c.cfg.MaxSessionTimeout {
		done(JoinResult{Err: ErrInvalidSessionTimeout, MemberID: req.MemberID, Generation: -1})
		return
	}
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout // JoinGroup v0
	}
	unknown := req.MemberID == ""
	g := c.lockedGroup(req.Group, unknown)
	if g == nil {
		done(JoinResult{Err: ErrUnknownMemberID, MemberID: req.MemberID, Generation: -1})
		return
	}
	defer g.mu.Unlock()
	fail := func(err error) { done(JoinResult{Err: err, MemberID: req.MemberID, Generation: -1}) }
	if g.streams != nil {
		// Kafka: GroupIdNotFoundException, "Group %s is not a classic group."
		fail(ErrGroupIDNotFound)
		return
	}
	if g.share != nil {
		done(JoinResult{Err: ErrInconsistentProtocol, Generation: -1}) // Kafka: a share group's id
		return
	}
	if g.consumer != nil {
		if len(g.consumer.members) > 0 {
			// A classic member of a consumer group (migration.go).
			g.classicJoinToConsumerLocked(req, done)
			return
		}
		// An empty consumer group becomes classic: its consumer records
		// are deleted (Kafka writes the same tombstones).
		if recs := g.consumerTombstonesLocked(); len(recs) > 0 {
			if _, err := c.log.Append(g.partition, recs); err != nil {
				fail(errors.Join(ErrStorage, err))
				return
			}
		}
		g.consumer = nil
		g.persisted = nil
		g.protocolType = ""
	}

	// group.max.size: a member that is not yet in the group may not join a
	// full one.
	if !g.acceptsLocked(req) {
		fail(ErrGroupMaxSizeReached)
		return
	}
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		fail(ErrInconsistentProtocol)
		return
	}
	if unknown {
		g.joinNewMemberLocked(req, done)
	} else {
		g.joinKnownMemberLocked(req, done)
	}
}

func (g *group) acceptsLocked(req JoinRequest) bool {
	if req.MemberID != "" && (g.members[req.MemberID] != nil) {
		return true
	}
	if req.InstanceID != nil && g.static[*req.InstanceID] != "" {
		return true
	}
	return len(g.members)+len(g.pending) < g.c.cfg.MaxGroupSize || (req.MemberID != "" && g.pending[req.MemberID] != nil)
}

func (g *group) joinNewMemberLocked(req JoinRequest, done func(JoinResult)) {
	prefix := req.ClientID
	if req.InstanceID != nil {
		prefix = *req.InstanceID
	}
	id := g.c.cfg.NewMemberID(prefix)
	if req.InstanceID != nil {
		if old := g.static[*req.InstanceID]; old != "" && g.members[old] != nil {
			g.replaceStaticMemberLocked(req, old, id, done)
			return
		}
		g.addMemberLocked(req, id, done)
		return
	}
	if req.RequireKnownMemberID {
		g.addPendingLocked(id, req.SessionTimeout)
		done(JoinResult{Err: ErrMemberIDRequired, MemberID: id, Generation: -1})
		return
	}
	g.addMemberLocked(req, id, done)
}

func (g *group) joinKnownMemberLocked(req JoinRequest, done func(JoinResult)) {
	fail := func(err error) { done(JoinResult{Err: err, MemberID: req.MemberID, Generation: -1}) }
	if g.pending[req.MemberID] != nil {
		if req.InstanceID != nil {
			fail(ErrUnknownMemberID)
			return
		}
		pm := g.pending[req.MemberID]
		pm.timer.Stop()
		delete(g.pending, req.MemberID)
		g.addMemberLocked(req, req.MemberID, done)
		return
	}
	if err := g.validateMemberLocked(req.MemberID, req.InstanceID); err != nil {
		fail(err)
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case StatePreparingRebalance:
		g.updateMemberAndRebalanceLocked(m, req, done)
	case StateCompletingRebalance:
		if m.matches(req.Protocols) {
			// A retried join: answer with the current generation.
			res := JoinResult{MemberID: m.id, Generation: g.generation, ProtocolType: g.protocolType,
				ProtocolName: g.protocolName, LeaderID: g.leader}
			if m.id == g.leader {
				res.Members = g.joinMembers()
			}
			done(res)
			return
		}
		g.updateMemberAndRebalanceLocked(m, req, done)
	case StateStable:
		if m.id == g.leader || !m.matches(req.Protocols) {
			// The leader rejoining, or changed metadata, starts a rebalance.
			g.updateMemberAndRebalanceLocked(m, req, done)
			return
		}
		done(JoinResult{MemberID: m.id, Generation: g.generation, ProtocolType: g.protocolType,
			ProtocolName: g.protocolName, LeaderID: g.leader})
	default:
		fail(ErrUnknownMemberID)
	}
}

// validateMemberLocked is Kafka's validateCurrentMember.
func (g *group) validateMemberLocked(memberID string, instanceID *string) error {
	if instanceID != nil {
		cur, ok := g.static[*instanceID]
		switch {
		case !ok:
			return ErrUnknownMemberID
		case cur != memberID:
			return ErrFencedInstanceID
		}
		return nil
	}
	if g.members[memberID] == nil {
		return ErrUnknownMemberID
	}
	return nil
}

func (g *group) addMemberLocked(req JoinRequest, id string, done func(JoinResult)) {
	g.memberSeq++
	m := &member{
		id: id, instanceID: req.InstanceID, clientID: req.ClientID, clientHost: req.ClientHost,
		sessionTimeout: req.SessionTimeout, rebalanceTimeout: req.RebalanceTimeout,
		protocolType: req.ProtocolType, protocols: req.Protocols, joinDone: done, seq: g.memberSeq,
	}
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	if g.leader == "" {
		g.leader = id
	}
	g.members[id] = m
	g.c.metrics.memberDelta(1)
	if m.instanceID != nil {
		g.static[*m.instanceID] = id
	}
	if g.state == StatePreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true
	}
	// New members cannot heartbeat yet: their join times out on its own.
	m.isNew = true
	g.heartbeatLocked(m, newMemberJoinTimeout)
	g.maybePrepareRebalanceLocked("new member " + id + " joined")
	if g.state == StatePreparingRebalance {
		g.tryCompleteJoinLocked()
	}
}

func (g *group) updateMemberAndRebalanceLocked(m *member, req JoinRequest, done func(JoinResult)) {
	g.updateMemberLocked(m, req, done)
	g.maybePrepareRebalanceLocked("member " + m.id + " rejoined")
	if g.state == StatePreparingRebalance {
		g.tryCompleteJoinLocked()
	}
}

func (g *group) updateMemberLocked(m *member, req JoinRequest, done func(JoinResult)) {
	m.protocols = req.Protocols
	m.rebalanceTimeout = req.RebalanceTimeout
	m.sessionTimeout = req.SessionTimeout
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	if m.joinDone != nil && done != nil {
		// A duplicate join replaces the earlier one, which is fenced.
		m.joinDone(JoinResult{Err: ErrRebalanceInProgress, MemberID: m.id, Generation: -1})
	}
	m.joinDone = done
}

// replaceStaticMemberLocked is Kafka's updateStaticMemberAndRebalance: a
// static member rejoining with a new member id takes over the old one's
// place; the old id is fenced.
func (g *group) replaceStaticMemberLocked(req JoinRequest, oldID, newID string, done func(JoinResult)) {
	old := g.members[oldID]
	if old.joinDone != nil {
		old.joinDone(JoinResult{Err: ErrFencedInstanceID, MemberID: oldID, Generation: -1})
		old.joinDone = nil
	}
	if old.syncDone != nil {
		old.syncDone(SyncResult{Err: ErrFencedInstanceID})
		old.syncDone = nil
	}
	oldProtocols := old.protocols
	delete(g.members, oldID)
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	old.id = newID
	g.members[newID] = old
	g.static[*req.InstanceID] = newID
	if g.leader == oldID {
		g.leader = newID
	}
	g.heartbeatLocked(old, req.SessionTimeout)
	g.updateMemberLocked(old, req, done)
	switch g.state {
	case StateStable:
		if g.selectProtocol() != g.protocolName {
			g.prepareRebalanceLocked("static member " + newID + " rejoined with a different protocol")
			return
		}
		// Persist the new member id, then answer without a rebalance.
		gen := g.generation
		g.c.storeLocked(g, []Record{g.metadataRecord()}, func(err error) {
			m := g.members[newID]
			if m == nil || m.joinDone == nil {
				return
			}
			if err != nil {
				// Revert to the old member id so the old instance keeps working.
				m.joinDone(JoinResult{Err: err, MemberID: newID, Generation: -1})
				m.joinDone = nil
				delete(g.members, newID)
				m.id = oldID
				m.protocols = oldProtocols
				g.members[oldID] = m
				g.static[*req.InstanceID] = oldID
				if g.leader == newID {
					g.leader = oldID
				}
				return
			}
			res := JoinResult{MemberID: newID, Generation: gen, ProtocolType: g.protocolType,
				ProtocolName: g.protocolName, LeaderID: g.leader}
			if newID == g.leader {
				res.Members = g.joinMembers()
				res.SkipAssignment = true
			}
			m.joinDone(res)
			m.joinDone = nil
		})
	case StateCompletingRebalance:
		// The old id may already be in the leader's assignment.
		g.prepareRebalanceLocked("static member " + newID + " rejoined during sync")
	case StatePreparingRebalance:
		g.tryCompleteJoinLocked()
	}
}

// SyncRequest is a SyncGroup, normalised across versions.
type SyncRequest struct {
	Group        string
	MemberID     string
	InstanceID   *string
	Generation   int32
	ProtocolType *string // v5+
	ProtocolName *string // v5+
	Assignments  map[string][]byte
}

// SyncResult is a SyncGroup's answer.
type SyncResult struct {
	Err          error
	ProtocolType string
	ProtocolName string
	Assignment   []byte
}

// SyncGroup delivers the leader's assignment and hands each member its
// own. done is called exactly once, possibly before SyncGroup returns.
func (c *Coordinator) SyncGroup(req SyncRequest, done func(SyncResult)) {
	if err := c.checkGroupID(req.Group); err != nil {
		done(SyncResult{Err: err})
		return
	}
	g := c.lockedGroup(req.Group, false)
	if g == nil {
		done(SyncResult{Err: ErrUnknownMemberID})
		return
	}
	defer g.mu.Unlock()
	if g.consumer != nil {
		g.classicSyncToConsumerLocked(req, done)
		return
	}
	if err := g.validateMemberLocked(req.MemberID, req.InstanceID); err != nil {
		done(SyncResult{Err: err})
		return
	}
	if req.Generation != g.generation {
		done(SyncResult{Err: ErrIllegalGeneration})
		return
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) ||
		(req.ProtocolName != nil && *req.ProtocolName != g.protocolName) {
		done(SyncResult{Err: ErrInconsistentProtocol})
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case StateEmpty:
		done(SyncResult{Err: ErrUnknownMemberID})
	case StatePreparingRebalance:
		done(SyncResult{Err: ErrRebalanceInProgress})
	case StateCompletingRebalance:
		if m.syncDone != nil {
			m.syncDone(SyncResult{Err: ErrRebalanceInProgress})
		}
		m.syncDone = done
		delete(g.pendingSync, m.id)
		if m.id != g.leader {
			return
		}
		assignments := make(map[string][]byte, len(g.members))
		for id := range g.members {
			assignments[id] = req.Assignments[id]
			if assignments[id] == nil {
				assignments[id] = []byte{}
			}
		}
		gen := g.generation
		g.c.storeLocked(g, []Record{g.metadataRecordWith(assignments)}, func(err error) {
			if g.state != StateCompletingRebalance || g.generation != gen {
				return
			}
			if err != nil {
				g.resetAssignmentsLocked(err)
				g.maybePrepareRebalanceLocked("storing the assignment failed")
				return
			}
			g.setAssignmentsLocked(assignments)
			g.transitionLocked(StateStable)
		})
	case StateStable:
		delete(g.pendingSync, m.id)
		done(SyncResult{ProtocolType: g.protocolType, ProtocolName: g.protocolName, Assignment: m.assignment})
		g.heartbeatLocked(m, m.sessionTimeout)
	default:
		done(SyncResult{Err: ErrCoordinatorNotAvailable})
	}
}

// Heartbeat keeps a member's session alive and tells it whether a
// rebalance is under way.
func (c *Coordinator) Heartbeat(groupID, memberID string, instanceID *string, generation int32) error {
	if err := c.checkGroupID(groupID); err != nil {
		return err
	}
	g := c.lockedGroup(groupID, false)
	if g == nil {
		return ErrUnknownMemberID
	}
	defer g.mu.Unlock()
	if g.consumer != nil {
		return g.classicHeartbeatToConsumerLocked(memberID, instanceID, generation)
	}
	if err := g.validateMemberLocked(memberID, instanceID); err != nil {
		return err
	}
	if generation != g.generation {
		return ErrIllegalGeneration
	}
	m := g.members[memberID]
	switch g.state {
	case StateEmpty:
		return ErrUnknownMemberID
	case StateCompletingRebalance, StateStable:
		g.heartbeatLocked(m, m.sessionTimeout)
		return nil
	case StatePreparingRebalance:
		g.heartbeatLocked(m, m.sessionTimeout)
		return ErrRebalanceInProgress
	}
	return ErrCoordinatorNotAvailable
}

// LeaveMember names a member leaving: by member id, or by instance id
// alone (an administrative removal of a static member).
type LeaveMember struct {
	MemberID   string
	InstanceID *string
}

// LeaveGroup removes members; the result has one error (or nil) per member.
func (c *Coordinator) LeaveGroup(groupID string, leaving []LeaveMember) ([]error, error) {
	if err := c.checkGroupID(groupID); err != nil {
		return nil, err
	}
	errs := make([]error, len(leaving))
	g := c.lockedGroup(groupID, false)
	if g == nil {
		for i := range errs {
			errs[i] = ErrUnknownMemberID
		}
		return errs, nil
	}
	defer g.mu.Unlock()
	if g.consumer != nil {
		for i, l := range leaving {
			errs[i] = g.classicLeaveFromConsumerLocked(l)
		}
		return errs, nil
	}
	for i, l := range leaving {
		if l.MemberID != "" && g.pending[l.MemberID] != nil {
			g.removePendingLocked(l.MemberID)
			continue
		}
		id := l.MemberID
		if id == "" && l.InstanceID != nil {
			id = g.static[*l.InstanceID]
			if id == "" {
				errs[i] = ErrUnknownMemberID
				continue
			}
		} else if err := g.validateMemberLocked(l.MemberID, l.InstanceID); err != nil {
			errs[i] = err
			continue
		}
		m := g.members[id]
		if m == nil {
			errs[i] = ErrUnknownMemberID
			continue
		}
		g.c.logger.Debug("group member left", "group", g.id, "member", id)
		g.removeMemberLocked(m, "member "+id+" left")
	}
	return errs, nil
}

// MemberDescription is a member as DescribeGroups shows it.
type MemberDescription struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte // Stable groups only
	Assignment []byte // Stable groups only
}

// GroupDescription is a group as DescribeGroups shows it.
type GroupDescription struct {
	State        State
	ProtocolType string
	Protocol     string // Stable groups only
	Members      []MemberDescription
}

// DescribeGroup describes a group; ErrGroupIDNotFound if none exists.
func (c *Coordinator) DescribeGroup(groupID string) (GroupDescription, error) {
	if err := c.checkGroupID(groupID); err != nil && err != ErrInvalidGroupID {
		return GroupDescription{}, err
	}
	g := c.lockedGroup(groupID, false)
	if g == nil {
		return GroupDescription{State: StateDead}, ErrGroupIDNotFound
	}
	defer g.mu.Unlock()
	if g.consumer != nil || g.streams != nil || g.share != nil {
		return GroupDescription{State: StateDead}, ErrGroupIDNotFound // not a classic group
	}
	d := GroupDescription{State: g.state, ProtocolType: g.protocolType}
	stable := g.state == StateStable
	if stable {
		d.Protocol = g.protocolName
	}
	for _, m := range g.memberList() {
		md := MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
		if stable {
			md.Metadata = m.metadataFor(g.protocolName)
			md.Assignment = m.assignment
		}
		d.Members = append(d.Members, md)
	}
	return d, nil
}

// GroupListing is one group as ListGroups shows it.
type GroupListing struct {
	Group        string
	ProtocolType string
	State        State
	StateName    string // Kafka's name of the state (classic or consumer)
	Type         string // "classic" or "consumer"
}

// ListGroups lists every loaded group.
func (c *Coordinator) ListGroups() []GroupListing {
	var out []GroupListing
	for _, g := range c.allGroups() {
		g.mu.Lock()
		switch {
		case g.state == StateDead:
		case g.share != nil:
			out = append(out, GroupListing{Group: g.id, ProtocolType: "share", State: g.state, StateName: g.shareStateNameLocked(), Type: "share"})
		case g.consumer != nil:
			out = append(out, GroupListing{Group: g.id, ProtocolType: "consumer", State: g.state, StateName: g.consumerStateLocked(), Type: "consumer"})
		case g.streams != nil:
			out = append(out, GroupListing{Group: g.id, ProtocolType: "streams", State: g.state, StateName: g.streamsStateLocked(), Type: "streams"})
		default:
			out = append(out, GroupListing{Group: g.id, ProtocolType: g.protocolType, State: g.state, StateName: g.state.String(), Type: "classic"})
		}
		g.mu.Unlock()
	}
	return out
}

// DeleteGroup deletes an empty group and its offsets, durably (it blocks
// until the tombstones are synced).
func (c *Coordinator) DeleteGroup(groupID string) error {
	if err := c.checkGroupID(groupID); err != nil {
		return err
	}
	g := c.lockedGroup(groupID, false)
	if g == nil {
		return ErrGroupIDNotFound
	}
	if g.share != nil {
		return c.deleteShareGroupLocked(g) // unlocks g
	}
	if g.state != StateEmpty || (g.consumer != nil && len(g.consumer.members) > 0) || (g.streams != nil && len(g.streams.members) > 0) {
		g.mu.Unlock()
		return ErrNonEmptyGroup
	}
	recs := g.deleteTombstonesLocked()
	off, err := c.log.Append(g.partition, recs)
	if err != nil {
		g.mu.Unlock()
		return ErrStorage
	}
	g.offsets = make(map[TopicPartition]*offsetEntry)
	g.persisted = nil
	g.killLocked()
	g.mu.Unlock()
	if err := c.log.Sync(g.partition, off); err != nil {
		return ErrStorage
	}
	return nil
}

// killLocked makes the group Dead and forgets it; every timer of the group
// stops (a classic or a KIP-848 member's session, revocation and pending
// timers), so nothing of a dead group runs on.
func (g *group) killLocked() {
	g.stopTimersLocked(nil)
	g.transitionLocked(StateDead)
	g.c.metrics.groupsRemoved()
	g.c.removeGroupLocked(g)
}

// stopTimersLocked stops every timer of g. With answer non-nil, waiting
// JoinGroup and SyncGroup callers are answered with it (the coordinator
// closes or resigns the group's partition).
func (g *group) stopTimersLocked(answer error) {
	g.stopJoinTimer()
	g.stopSyncTimer()
	for _, m := range g.members {
		g.stopMemberTimer(m)
		if answer == nil {
			continue
		}
		if m.joinDone != nil {
			m.joinDone(JoinResult{Err: answer, MemberID: m.id, Generation: -1})
			m.joinDone = nil
		}
		if m.syncDone != nil {
			m.syncDone(SyncResult{Err: answer})
			m.syncDone = nil
		}
	}
	for id := range g.pending {
		g.pending[id].timer.Stop()
	}
	g.stopStreamsTimersLocked()
	if g.share != nil {
		for _, m := range g.share.members {
			m.timerSeq++
			if m.timer != nil {
				m.timer.Stop()
			}
		}
	}
	if g.consumer != nil {
		for _, m := range g.consumer.members {
			m.timerSeq++
			if m.timer != nil {
				m.timer.Stop()
			}
			if m.revokeTimer != nil {
				m.revokeTimer.Stop()
			}
		}
	}
}
