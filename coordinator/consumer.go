package coordinator

// KIP-848 consumer groups (group.protocol=consumer): the broker assigns
// partitions. Members heartbeat with ConsumerGroupHeartbeat; each change of
// membership, subscriptions or subscribed topics' metadata bumps the group
// epoch, a new target assignment is computed with the server-side assignor
// (uniform or range), and each member is reconciled towards its target:
// partitions are first revoked from their old owner (which keeps its epoch
// until it acknowledges), and only then assigned to the new one.
//
// Every change is written to __consumer_offsets as Kafka's consumer group
// records (types 3, 5, 6, 7, 8; consumer_records.go) before the heartbeat
// is answered, and replayed on load: after a restart members carry on with
// their epochs and assignments.
//
// Static members (group.instance.id) may leave with epoch -2: they keep
// their assignment, without a rebalance, until their session times out; the
// same instance rejoining with epoch 0 takes their place. Another member
// joining with an instance id that is held gets UNRELEASED_INSTANCE_ID.

import (
	"errors"
	"regexp"
	"sort"
	"time"
)

// Errors of the consumer protocol.
var (
	ErrFencedMemberEpoch   = errors.New("coordinator: fenced member epoch")
	ErrStaleMemberEpoch    = errors.New("coordinator: stale member epoch")
	ErrUnsupportedAssignor = errors.New("coordinator: unsupported assignor")
	ErrInvalidRequest      = errors.New("coordinator: invalid request")
	ErrNotConsumerGroup    = errors.New("coordinator: group is not a consumer group")
	ErrUnreleasedInstance  = errors.New("coordinator: unreleased instance id")
)

// TopicMeta is a topic as the assignor sees it.
type TopicMeta struct {
	ID         [16]byte
	Name       string
	Partitions int32
}

// Topics lists the cluster's topics (for assignment and regex
// subscriptions). Set with SetTopics before serving consumer groups.
type Topics func() []TopicMeta

// SetTopics sets the topic lister and the consumer protocol's timeouts.
func (c *Coordinator) SetTopics(t Topics, session, heartbeat time.Duration) {
	c.topics = t
	c.consumerSession = session
	c.consumerHeartbeat = heartbeat
}

// Assignment is partitions by topic id.
type Assignment map[[16]byte][]int32

// ConsumerHeartbeatRequest is a ConsumerGroupHeartbeat, normalised.
type ConsumerHeartbeatRequest struct {
	Group            string
	MemberID         string
	MemberEpoch      int32
	InstanceID       *string
	RackID           *string
	RebalanceTimeout time.Duration // <0: unchanged
	SubscribedTopics []string      // nil: unchanged
	SubscribedRegex  *string       // nil: unchanged
	ServerAssignor   *string
	Owned            Assignment // nil: unchanged (a keepalive)
	ClientID         string
	ClientHost       string
}

// ConsumerHeartbeatResult is the answer.
type ConsumerHeartbeatResult struct {
	Err               error
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	Assignment        Assignment // nil: unchanged
}

type memberState int8

const (
	cmStable memberState = iota
	cmUnrevoked
	cmUnreleased
)

type consumerMember struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	topics           []string
	regex            string
	assignor         string
	rebalanceTimeout time.Duration
	epoch, prevEpoch int32
	state            memberState
	assigned         Assignment
	revoking         Assignment
	sentAssignment   bool         // the current assignment reached the member
	classic          *classicMeta // non-nil: the member uses the classic protocol (migration.go)
	// assignedAt (KIP-1251's assignment epochs): for a partition the
	// member holds (assigned or revoking), the member epoch at which it
	// was assigned; a commit at an older epoch than the member's current
	// one is accepted for a partition held since that epoch or before.
	// Kept in memory only: a partition without an entry (a group loaded
	// from its records) counts as assigned at the current epoch, Kafka's
	// rule before KIP-1251.
	assignedAt map[assignedPartition]int32

	timer       Timer
	timerSeq    uint64
	revokeTimer Timer
}

// subscriptionUnion is every topic name and regex the members subscribe
// to; valid false: recompute (members or subscriptions changed).
type subscriptionUnion struct {
	valid   bool
	names   map[string]bool
	regexes []*regexp.Regexp
}

// consumerState is a group's KIP-848 state (group.consumer non-nil).
type consumerState struct {
	epoch       int32
	targetEpoch int32
	target      map[string]Assignment
	members     map[string]*consumerMember
	metaHash    int64 // hashMetadata of the subscribed topics' metadata
	allDirty    bool  // records of members other than the heartbeating one may have changed
	subs        subscriptionUnion
	targetTime  int64 // ms: when the target was computed
	assignor    string
}

// Member epochs a heartbeat sends to leave: -1 leaves for good, -2 is a
// static member leaving for a while (its assignment is held for it until
// its session times out).
const (
	leaveGroupMemberEpoch       = -1
	leaveGroupStaticMemberEpoch = -2
)

// ConsumerHeartbeat serves one ConsumerGroupHeartbeat. The records of what
// changed are durable before it returns.
func (c *Coordinator) ConsumerHeartbeat(req ConsumerHeartbeatRequest) ConsumerHeartbeatResult {
	fail := func(err error) ConsumerHeartbeatResult {
		return ConsumerHeartbeatResult{Err: err, MemberID: req.MemberID, MemberEpoch: -1}
	}
	if req.Group == "" {
		return fail(ErrInvalidGroupID)
	}
	if err := c.checkGroupID(req.Group); err != nil {
		return fail(err)
	}
	if req.MemberEpoch == 0 && req.SubscribedTopics == nil && req.SubscribedRegex == nil {
		return fail(ErrInvalidRequest)
	}
	if req.MemberEpoch == leaveGroupStaticMemberEpoch && req.InstanceID == nil {
		return fail(ErrInvalidRequest) // Kafka: "InstanceId can't be null."
	}
	if req.MemberEpoch < leaveGroupStaticMemberEpoch {
		return fail(ErrInvalidRequest)
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != "uniform" && *req.ServerAssignor != "range" {
		return fail(ErrUnsupportedAssignor)
	}
	g := c.lockedGroup(req.Group, req.MemberEpoch == 0)
	if g == nil {
		if req.MemberEpoch < 0 {
			return ConsumerHeartbeatResult{MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
		}
		return fail(ErrUnknownMemberID)
	}
	if g.streams != nil {
		// Kafka: "Group %s is not a consumer group." (and nothing of the
		// streams group may be touched: no consumer records diff).
		g.mu.Unlock()
		return fail(ErrGroupIDNotFound)
	}
	if g.share != nil {
		g.mu.Unlock()
		return fail(ErrGroupIDNotFound) // Kafka: not a consumer group
	}
	res := c.consumerHeartbeatLocked(g, req)
	only := res.MemberID
	if res.Err != nil {
		only = ""
	}
	off, wrote, err := g.persistConsumerLocked(only)
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

func (c *Coordinator) consumerHeartbeatLocked(g *group, req ConsumerHeartbeatRequest) ConsumerHeartbeatResult {
	fail := func(err error) ConsumerHeartbeatResult {
		return ConsumerHeartbeatResult{Err: err, MemberID: req.MemberID, MemberEpoch: -1}
	}
	left := ConsumerHeartbeatResult{MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	if req.MemberEpoch < 0 {
		cs := g.consumer
		if cs == nil {
			return left
		}
		m := cs.members[req.MemberID]
		if req.InstanceID != nil {
			m = cs.staticMember(*req.InstanceID)
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
			// A static member leaves for a while (a restart): it keeps its
			// assignment, no rebalance; it is removed if it does not come
			// back within its session timeout.
			// Like Kafka, partitions it was revoking are released. The
			// epoch it left with is kept as the previous epoch.
			if m.epoch != leaveGroupStaticMemberEpoch {
				m.prevEpoch = m.epoch
			}
			m.epoch = leaveGroupStaticMemberEpoch
			m.revoking = Assignment{}
			if m.state == cmUnrevoked {
				m.state = cmStable
			}
			if m.revokeTimer != nil {
				m.revokeTimer.Stop()
			}
			g.consumerSessionLocked(m)
			return left
		}
		// With the last consumer protocol member gone, the group may turn
		// classic again (the policy is bidirectional). That rare write is
		// synced under the group lock before the member is answered.
		if _, off, ok := g.removeConsumerMemberOrDowngradeLocked(m); ok {
			if err := c.log.Sync(g.partition, off); err != nil {
				return fail(errors.Join(ErrStorage, err))
			}
		}
		return left
	}
	if g.consumer == nil {
		empty := len(g.members) == 0 && len(g.pending) == 0 && g.state == StateEmpty
		hadMetadata := g.generation > 0 || g.protocolType != ""
		if !empty && !g.upgradeLocked() {
			return fail(ErrGroupIDNotFound) // a classic group that cannot be converted
		}
		// A classic group becomes a consumer group (offsets kept); its
		// classic metadata is deleted, as Kafka does.
		if hadMetadata { // written with the group's first consumer records
			g.unwritten = append(g.unwritten, Record{Key: groupKey(g.id)})
		}
		if empty {
			g.consumer = &consumerState{members: map[string]*consumerMember{}, target: map[string]Assignment{}, allDirty: true}
			g.protocolType = "consumer"
			g.protocolName = ""
			g.generation = 0
			g.leader = ""
		}
	}
	cs := g.consumer
	if req.MemberID == "" {
		req.MemberID = c.cfg.NewMemberID("")[1:] // a bare UUID (v0 clients)
	}
	m := cs.members[req.MemberID]
	bump := false
	replaced := false
	if req.MemberEpoch == 0 {
		var static *consumerMember
		if req.InstanceID != nil {
			static = cs.staticMember(*req.InstanceID)
		}
		switch {
		case static != nil && static.id != req.MemberID && static.epoch != leaveGroupStaticMemberEpoch:
			// The instance id is held by a member that has not left.
			return fail(ErrUnreleasedInstance)
		case static != nil && static.id != req.MemberID:
			// The static member is back (with a new member id): it takes
			// over its previous incarnation's epoch and assignment without
			// a rebalance.
			g.replaceStaticConsumerMemberLocked(static, req.MemberID)
			m = cs.members[req.MemberID]
			replaced = true
		default:
			if m != nil {
				// Rejoining: start over from no partitions.
				g.removeConsumerMemberLocked(m)
			}
			if len(cs.members)+1 > c.cfg.MaxGroupSize {
				return fail(ErrGroupMaxSizeReached)
			}
			m = &consumerMember{id: req.MemberID, assigned: Assignment{}, revoking: Assignment{}, assignor: "uniform",
				rebalanceTimeout: 5 * time.Minute}
			cs.members[m.id] = m
			c.metrics.memberDelta(1)
			bump = true
		}
	} else {
		if m == nil || m.classic != nil {
			return fail(ErrUnknownMemberID)
		}
		if req.MemberEpoch != m.epoch {
			if req.MemberEpoch != m.prevEpoch || !subsetOf(req.Owned, m.assigned) {
				return fail(ErrFencedMemberEpoch)
			}
		}
	}
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	if req.InstanceID != nil {
		m.instanceID = req.InstanceID
	}
	if req.RackID != nil {
		m.rackID = req.RackID
	}
	if req.RebalanceTimeout > 0 {
		m.rebalanceTimeout = req.RebalanceTimeout
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != m.assignor {
		m.assignor = *req.ServerAssignor
		bump = true
	}
	if req.SubscribedTopics != nil && !equalStrings(sortedCopy(req.SubscribedTopics), m.topics) {
		m.topics = sortedCopy(req.SubscribedTopics)
		bump = true
	}
	if req.SubscribedRegex != nil && *req.SubscribedRegex != m.regex {
		if *req.SubscribedRegex != "" {
			if _, err := regexp.Compile(*req.SubscribedRegex); err != nil {
				if req.MemberEpoch == 0 && !replaced {
					delete(cs.members, m.id)
					c.metrics.memberDelta(-1)
				}
				return fail(ErrInvalidRequest)
			}
		}
		m.regex = *req.SubscribedRegex
		bump = true
	}
	g.consumerSessionLocked(m)
	if bump {
		cs.subs.valid = false // a member or a subscription changed
	}
	topics := c.listTopics()
	if h := g.subscriptionHashLocked(topics); h != cs.metaHash {
		cs.metaHash = h
		bump = true
	}
	if bump {
		cs.epoch++
		g.c.metrics.rebalance()
	}
	if cs.epoch > cs.targetEpoch {
		g.computeTargetLocked(topics)
	}
	if req.Owned != nil && m.state == cmUnrevoked && !overlaps(req.Owned, m.revoking) {
		m.revoking = Assignment{}
		m.state = cmStable
		if m.revokeTimer != nil {
			m.revokeTimer.Stop()
		}
	}
	changed := g.reconcileLocked(m)
	res := ConsumerHeartbeatResult{MemberID: m.id, MemberEpoch: m.epoch, HeartbeatInterval: c.settings(g.id).ConsumerHeartbeatInterval}
	if changed || !m.sentAssignment || req.Owned != nil || replaced {
		res.Assignment = copyAssignment(m.assigned)
		m.sentAssignment = true
	}
	return res
}

// staticMember is the member with the instance id, or nil.
func (cs *consumerState) staticMember(instanceID string) *consumerMember {
	for _, m := range cs.members {
		if m.instanceID != nil && *m.instanceID == instanceID {
			return m
		}
	}
	return nil
}

// replaceStaticConsumerMemberLocked gives old's place in the group (epochs,
// assignment, target, subscription) to a new member id.
func (g *group) replaceStaticConsumerMemberLocked(old *consumerMember, newID string) {
	cs := g.consumer
	if old.timer != nil {
		old.timer.Stop()
	}
	if old.revokeTimer != nil {
		old.revokeTimer.Stop()
	}
	old.timerSeq++
	m := &consumerMember{id: newID, instanceID: old.instanceID, rackID: old.rackID, topics: old.topics, regex: old.regex,
		assignor: old.assignor, rebalanceTimeout: old.rebalanceTimeout, epoch: old.epoch, prevEpoch: old.prevEpoch,
		state: old.state, assigned: old.assigned, revoking: old.revoking, classic: old.classic, assignedAt: old.assignedAt}
	if old.epoch == leaveGroupStaticMemberEpoch {
		m.epoch = old.prevEpoch
	}
	delete(cs.members, old.id)
	cs.members[newID] = m
	cs.allDirty = true
	if t, ok := cs.target[old.id]; ok {
		delete(cs.target, old.id)
		cs.target[newID] = t
	}
	if m.state == cmUnrevoked {
		g.armRevokeTimerLocked(m)
	}
}

func (c *Coordinator) listTopics() []TopicMeta {
	if c.topics == nil {
		return nil
	}
	return c.topics()
}

func (g *group) consumerSessionLocked(m *consumerMember) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timerSeq++
	seq := m.timerSeq
	timeout := g.c.settings(g.id).ConsumerSessionTimeout
	if m.classic != nil {
		timeout = m.classic.sessionTimeout
	}
	m.timer = g.c.clock.AfterFunc(timeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.consumer == nil || g.consumer.members[m.id] != m || m.timerSeq != seq {
			return
		}
		g.c.logger.Info("consumer group member session expired", "group", g.id, "member", m.id)
		if downgraded, _, _ := g.removeConsumerMemberOrDowngradeLocked(m); !downgraded {
			g.persistConsumerAsyncLocked()
		}
	})
}

// dropConsumerMemberLocked stops m's timers and deletes it and its target
// (what removal and a downgrade share; the epoch is the caller's).
func (g *group) dropConsumerMemberLocked(m *consumerMember) {
	cs := g.consumer
	if m.timer != nil {
		m.timer.Stop()
	}
	if m.revokeTimer != nil {
		m.revokeTimer.Stop()
	}
	m.timerSeq++
	delete(cs.members, m.id)
	delete(cs.target, m.id)
	cs.allDirty = true
	cs.subs.valid = false
	g.c.metrics.memberDelta(-1)
}

func (g *group) removeConsumerMemberLocked(m *consumerMember) {
	cs := g.consumer
	g.dropConsumerMemberLocked(m)
	cs.epoch++
	g.c.metrics.rebalance()
	if len(cs.members) == 0 {
		cs.targetEpoch = cs.epoch
		cs.target = map[string]Assignment{}
		g.stateSince = g.c.clock.Now() // offsets retention counts from here
	}
}

// subscribed resolves a member's subscription to topics.
func (m *consumerMember) subscribed(topics []TopicMeta) []TopicMeta {
	var re *regexp.Regexp
	if m.regex != "" {
		re, _ = regexp.Compile("^(?:" + m.regex + ")$")
	}
	var out []TopicMeta
	for _, t := range topics {
		// Like Kafka, a regex may match internal topics too.
		if sortedContains(m.topics, t.Name) || (re != nil && re.MatchString(t.Name)) {
			out = append(out, t)
		}
	}
	return out
}

func isInternal(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state"
}

// subscriptionHashLocked fingerprints the metadata of every topic a
// member subscribes to. The union of the members' subscriptions is cached
// (consumerState.subs), so a heartbeat costs O(topics), not O(members).
func (g *group) subscriptionHashLocked(topics []TopicMeta) int64 {
	cs := g.consumer
	if !cs.subs.valid {
		cs.subs = subscriptionUnion{valid: true, names: map[string]bool{}}
		regexes := map[string]bool{}
		for _, m := range cs.members {
			for _, n := range m.topics {
				cs.subs.names[n] = true
			}
			if m.regex != "" && !regexes[m.regex] {
				regexes[m.regex] = true
				if re, err := regexp.Compile("^(?:" + m.regex + ")$"); err == nil {
					cs.subs.regexes = append(cs.subs.regexes, re)
				}
			}
		}
	}
	seen := map[string]TopicMeta{}
	for _, t := range topics {
		if cs.subs.names[t.Name] {
			seen[t.Name] = t
			continue
		}
		for _, re := range cs.subs.regexes {
			if re.MatchString(t.Name) {
				seen[t.Name] = t
				break
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	h := ""
	for _, n := range names {
		t := seen[n]
		h += n + string(t.ID[:]) + itoa(t.Partitions) + ";"
	}
	return hashMetadata(h)
}

// computeTargetLocked runs the server-side assignor over every member.
func (g *group) computeTargetLocked(topics []TopicMeta) {
	cs := g.consumer
	ids := make([]string, 0, len(cs.members))
	assignor := "uniform"
	for id, m := range cs.members {
		ids = append(ids, id)
		if m.assignor == "range" {
			assignor = "range"
		}
	}
	sort.Strings(ids)
	cs.assignor = assignor
	target := make(map[string]Assignment, len(ids))
	for _, id := range ids {
		target[id] = Assignment{}
	}
	// Subscribers per topic.
	type tp struct {
		t TopicMeta
		p int32
	}
	subs := map[[16]byte][]string{}
	var all []TopicMeta
	for _, t := range topics {
		for _, id := range ids {
			for _, st := range cs.members[id].subscribed([]TopicMeta{t}) {
				_ = st
				if len(subs[t.ID]) == 0 {
					all = append(all, t)
				}
				subs[t.ID] = append(subs[t.ID], id)
			}
		}
	}
	if assignor == "range" {
		for _, t := range all {
			ms := subs[t.ID]
			n := int32(len(ms))
			per, extra := t.Partitions/n, t.Partitions%n
			var p int32
			for i, id := range ms {
				cnt := per
				if int32(i) < extra {
					cnt++
				}
				for k := int32(0); k < cnt; k++ {
					target[id][t.ID] = append(target[id][t.ID], p)
					p++
				}
			}
		}
	} else {
		// Uniform: each subscribing member's fair share is total/n, and
		// total%n of them get one more. Partitions stay with their current
		// owner up to its share (the extra slots go to owners first), then
		// the rest go to the least loaded subscriber.
		total := 0
		for _, t := range all {
			total += int(t.Partitions)
		}
		n := 0
		for _, id := range ids {
			if len(cs.members[id].subscribed(all)) > 0 {
				n++
			}
		}
		minQuota, extra := 0, 0
		if n > 0 {
			minQuota, extra = total/n, total%n
		}
		count := map[string]int{}
		owner := map[[16]byte]map[int32]string{}
		for id, a := range cs.target {
			for tid, ps := range a {
				for _, p := range ps {
					if owner[tid] == nil {
						owner[tid] = map[int32]string{}
					}
					owner[tid][p] = id
				}
			}
		}
		type owned struct {
			tp
			owner string
		}
		var rest []tp
		var over []owned
		for _, t := range all {
			for p := int32(0); p < t.Partitions; p++ {
				o := owner[t.ID][p]
				if o != "" && cs.members[o] != nil && containsString(subs[t.ID], o) {
					if count[o] < minQuota {
						target[o][t.ID] = append(target[o][t.ID], p)
						count[o]++
					} else {
						over = append(over, owned{tp{t, p}, o})
					}
					continue
				}
				rest = append(rest, tp{t, p})
			}
		}
		for _, x := range over {
			if extra > 0 && count[x.owner] == minQuota {
				target[x.owner][x.t.ID] = append(target[x.owner][x.t.ID], x.p)
				count[x.owner]++
				extra--
				continue
			}
			rest = append(rest, x.tp)
		}
		for _, x := range rest {
			best := ""
			for _, id := range subs[x.t.ID] {
				if best == "" || count[id] < count[best] {
					best = id
				}
			}
			target[best][x.t.ID] = append(target[best][x.t.ID], x.p)
			count[best]++
		}
	}
	for _, a := range target {
		for tid := range a {
			sort.Slice(a[tid], func(i, j int) bool { return a[tid][i] < a[tid][j] })
		}
	}
	cs.target = target
	cs.targetEpoch = cs.epoch
	cs.targetTime = g.c.clock.Now().UnixMilli()
	cs.allDirty = true
}

// armRevokeTimerLocked removes m if it does not revoke within its
// rebalance timeout.
func (g *group) armRevokeTimerLocked(m *consumerMember) {
	if m.revokeTimer != nil {
		m.revokeTimer.Stop()
	}
	seq := m.timerSeq
	m.revokeTimer = g.c.clock.AfterFunc(m.rebalanceTimeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.consumer == nil || g.consumer.members[m.id] != m || m.timerSeq != seq || m.state != cmUnrevoked {
			return
		}
		g.c.logger.Info("consumer group member did not revoke in time", "group", g.id, "member", m.id)
		if downgraded, _, _ := g.removeConsumerMemberOrDowngradeLocked(m); !downgraded {
			g.persistConsumerAsyncLocked()
		}
	})
}

// reconcileLocked moves m one step towards its target; it reports whether
// its assignment changed.
func (g *group) reconcileLocked(m *consumerMember) bool {
	cs := g.consumer
	if m.state == cmUnrevoked {
		return false // waiting for the member to give partitions up
	}
	target := cs.target[m.id]
	revoke := minus(m.assigned, target)
	if len(revoke) > 0 {
		m.assigned = intersect(m.assigned, target)
		m.revoking = revoke
		m.state = cmUnrevoked
		g.armRevokeTimerLocked(m)
		return true
	}
	// Assign what is not held by anyone else (only the topics m still
	// wants are looked at: a keepalive of a reconciled member is O(1)).
	want := minus(target, m.assigned)
	free := Assignment{}
	if len(want) > 0 {
		held := make(map[[16]byte]map[int32]bool, len(want))
		for tid := range want {
			held[tid] = map[int32]bool{}
		}
		for id, o := range cs.members {
			if id == m.id {
				continue
			}
			for tid, h := range held {
				for _, p := range o.assigned[tid] {
					h[p] = true
				}
				for _, p := range o.revoking[tid] {
					h[p] = true
				}
			}
		}
		for tid, ps := range want {
			for _, p := range ps {
				if !held[tid][p] {
					free[tid] = append(free[tid], p)
				}
			}
		}
	}
	changed := len(free) > 0
	addAll(m.assigned, free)
	newState := cmStable
	if len(minus(want, free)) > 0 {
		newState = cmUnreleased
	}
	if m.epoch != cs.targetEpoch {
		m.prevEpoch, m.epoch = m.epoch, cs.targetEpoch
		changed = true
	}
	m.noteAssignedLocked(free)
	m.state = newState
	return changed
}

// assignedPartition keys consumerMember.assignedAt.
type assignedPartition struct {
	topic [16]byte
	part  int32
}

// noteAssignedLocked records that m was given the partitions of a at its
// current epoch, and forgets those it no longer holds.
func (m *consumerMember) noteAssignedLocked(a Assignment) {
	if len(a) == 0 {
		return
	}
	if m.assignedAt == nil {
		m.assignedAt = make(map[assignedPartition]int32)
	}
	for t, ps := range a {
		for _, p := range ps {
			m.assignedAt[assignedPartition{t, p}] = m.epoch
		}
	}
	for k := range m.assignedAt {
		if !has(m.assigned, k.topic, k.part) && !has(m.revoking, k.topic, k.part) {
			delete(m.assignedAt, k)
		}
	}
}

// ConsumerMemberDescription describes a consumer group member.
type ConsumerMemberDescription struct {
	MemberID, ClientID, ClientHost string
	InstanceID, RackID             *string
	MemberEpoch                    int32
	SubscribedTopics               []string
	SubscribedRegex                string
	Assignment, Target             Assignment
	Classic                        bool // uses the classic protocol
}

// ConsumerGroupDescription describes a consumer group.
type ConsumerGroupDescription struct {
	State                   string // Empty, Assigning, Reconciling, Stable
	GroupEpoch, TargetEpoch int32
	Assignor                string
	Members                 []ConsumerMemberDescription
}

// DescribeConsumerGroup describes a KIP-848 group (ErrGroupIDNotFound if
// none; ErrNotConsumerGroup for a classic group).
func (c *Coordinator) DescribeConsumerGroup(id string) (ConsumerGroupDescription, error) {
	if err := c.checkGroupID(id); err != nil {
		if errors.Is(err, ErrInvalidGroupID) {
			return ConsumerGroupDescription{}, ErrGroupIDNotFound
		}
		return ConsumerGroupDescription{}, err
	}
	g := c.lockedGroup(id, false)
	if g == nil {
		return ConsumerGroupDescription{}, ErrGroupIDNotFound
	}
	defer g.mu.Unlock()
	if g.consumer == nil {
		return ConsumerGroupDescription{}, ErrNotConsumerGroup
	}
	cs := g.consumer
	d := ConsumerGroupDescription{State: g.consumerStateLocked(), GroupEpoch: cs.epoch, TargetEpoch: cs.targetEpoch, Assignor: cs.assignor}
	if d.Assignor == "" {
		d.Assignor = "uniform"
	}
	ids := make([]string, 0, len(cs.members))
	for id := range cs.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := cs.members[id]
		d.Members = append(d.Members, ConsumerMemberDescription{MemberID: m.id, ClientID: m.clientID, ClientHost: m.clientHost,
			InstanceID: m.instanceID, RackID: m.rackID, MemberEpoch: m.epoch, SubscribedTopics: m.topics, SubscribedRegex: m.regex,
			Assignment: copyAssignment(m.assigned), Target: copyAssignment(cs.target[id]), Classic: m.classic != nil})
	}
	return d, nil
}

// consumerStateLocked is Kafka's ConsumerGroupState name.
func (g *group) consumerStateLocked() string {
	cs := g.consumer
	switch {
	case len(cs.members) == 0:
		return "Empty"
	case cs.targetEpoch != cs.epoch:
		return "Assigning"
	}
	for _, m := range cs.members {
		if m.epoch != cs.targetEpoch || m.state != cmStable {
			return "Reconciling"
		}
	}
	return "Stable"
}

// consumerCommitCheckLocked checks an offset commit against a consumer
// group as validateConsumerCommitLocked does, except that a KIP-848
// member may commit with an epoch older than its current one (KIP-1251):
// the epoch moves on whenever the group's target assignment does, often
// while a commit is in flight, and Kafka since 4.3 accepts such a commit
// for each partition the member has held since that epoch or before
// (assignment epoch <= commit epoch <= member epoch). The returned check
// (nil: every partition is accepted) gives each partition's error.
func (g *group) consumerCommitCheckLocked(memberID string, epoch int32) (func(topic string, part int32) error, error) {
	err := g.validateConsumerCommitLocked(memberID, epoch)
	if !errors.Is(err, ErrStaleMemberEpoch) || epoch < 0 {
		return nil, err
	}
	m := g.consumer.members[memberID]
	if epoch > m.epoch || m.epoch < 0 {
		return nil, err
	}
	var ids map[string][16]byte // topic name -> id, filled on first use
	return func(topic string, part int32) error {
		if ids == nil {
			ids = make(map[string][16]byte)
			for _, t := range g.c.listTopics() {
				ids[t.Name] = t.ID
			}
		}
		id, ok := ids[topic]
		if !ok || (!has(m.assigned, id, part) && !has(m.revoking, id, part)) {
			return ErrStaleMemberEpoch
		}
		since, ok := m.assignedAt[assignedPartition{id, part}]
		if !ok || epoch < since {
			return ErrStaleMemberEpoch
		}
		return nil
	}, nil
}

// validateConsumerCommitLocked checks an offset commit (or a fetch with a
// member) against a consumer group: the member must exist and commit with
// its current epoch.
func (g *group) validateConsumerCommitLocked(memberID string, epoch int32) error {
	cs := g.consumer
	if memberID == "" && epoch < 0 {
		if len(cs.members) > 0 {
			return ErrUnknownMemberID
		}
		return nil
	}
	m := cs.members[memberID]
	if m == nil {
		return ErrUnknownMemberID
	}
	if epoch != m.epoch {
		if m.classic != nil {
			return ErrIllegalGeneration // a classic member: its generation
		}
		return ErrStaleMemberEpoch
	}
	return nil
}

func copyAssignment(a Assignment) Assignment {
	out := make(Assignment, len(a))
	for t, ps := range a {
		out[t] = append([]int32(nil), ps...)
	}
	return out
}

func has(a Assignment, t [16]byte, p int32) bool {
	for _, q := range a[t] {
		if q == p {
			return true
		}
	}
	return false
}

// minus is a without b.
func minus(a, b Assignment) Assignment {
	out := Assignment{}
	for t, ps := range a {
		for _, p := range ps {
			if !has(b, t, p) {
				out[t] = append(out[t], p)
			}
		}
	}
	return out
}

func intersect(a, b Assignment) Assignment {
	out := Assignment{}
	for t, ps := range a {
		for _, p := range ps {
			if has(b, t, p) {
				out[t] = append(out[t], p)
			}
		}
	}
	return out
}

func overlaps(a, b Assignment) bool { return len(intersect(a, b)) > 0 }

func subsetOf(a, b Assignment) bool { return len(minus(a, b)) == 0 }

func addAll(dst, src Assignment) {
	for t, ps := range src {
		for _, p := range ps {
			if !has(dst, t, p) {
				dst[t] = append(dst[t], p)
			}
		}
	}
	for t := range dst {
		sort.Slice(dst[t], func(i, j int) bool { return dst[t][i] < dst[t][j] })
	}
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

func sortedContains(s []string, v string) bool {
	i := sort.SearchStrings(s, v)
	return i < len(s) && s[i] == v
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
