package broker

// Partition reassignment in cluster mode (AlterPartitionReassignments,
// ListPartitionReassignments; replication/DESIGN.md §9, metadata
// FORMAT.md "Reassignment").
//
//   - The metadata records the goal: a partition's target replicas
//     (record 12), set through the controller like any admin change
//     (raftCluster.propose). Every broker in Replicas ∪ Target ∪ Lingering
//     (metadata.Partition.Hosts) hosts a replica: the reconciler opens one
//     on a broker being added (reconcileHosting), its Raft configuration
//     starting as the current replicas, and it joins from the leader's
//     log (a snapshot if the leader's log start has moved).
//   - The partition's Raft leader moves the group's configuration to the
//     target (reassignLoop, reassignStep): it adds each missing target
//     member as a learner (one conf change each), waits until every
//     learner caught up, hands its leadership to a caught-up target voter
//     if it is itself leaving, then makes one joint change (ConfChangeV2,
//     auto-leave) promoting the learners and removing the voters outside
//     the target. Once the configuration is exactly the target it proposes
//     record 13, which makes the target the replicas; the brokers no
//     longer hosting then drop their replica (group removed, log deleted).
//     Every step is decided from the group's applied configuration and
//     the metadata's target, so a new leader resumes where the old one
//     stopped.
//   - A cancel (or a new target replacing one in progress) makes the
//     target the replicas from before (or the new one): the leader walks
//     the configuration back the same way — learners outside the target
//     are removed, and if a joint change had already committed, the
//     removed members are added again and a joint change restores them.
//     Until record 13 says the configuration matches, the superseded
//     target's members keep hosting (Lingering), so no replica that may
//     still vote is ever deleted.
//
// Locking: reconcileHosting runs in reconcile (topics.adminMu held).
// reassignLoop runs on its own goroutine and starts one step per
// partition at a time (stepping guards it).

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/moldau/moldau/broker/metadata"
	"go.etcd.io/raft/v3/raftpb"
)

// errNoReassignmentInProgress: a cancel of a partition that is not being
// reassigned (NO_REASSIGNMENT_IN_PROGRESS).
var errNoReassignmentInProgress = errors.New("broker: no partition reassignment in progress")

// reassignInterval is how often the leaders look at their reassignments.
const reassignInterval = 200 * time.Millisecond

// learnerCaughtUp is how recently a learner must have had the leader's
// whole log to be promoted (or to take the leadership).
const learnerCaughtUp = 5 * time.Second

// setReplicas records mp's replica lists on a hosted replica.
func (r *raftPart) setReplicas(mp *metadata.Partition) {
	reps, reported := slices.Clone(mp.Replicas), slices.Clone(mp.ReportedReplicas())
	r.replicas.Store(&reps)
	r.reported.Store(&reported)
}

// reconcileHosting makes this node host exactly the partitions of t whose
// metadata names it (Hosts): it opens a replica where it is being added,
// drops one where it is no longer a member (the partition becomes a remote
// one in t's list), and follows replica list changes. It returns t's
// partitions after. topics.adminMu is held.
func (c *raftCluster) reconcileHosting(t *topic, mt *metadata.Topic, parts []*partition, errs *[]error) []*partition {
	var next []*partition
	for i, p := range parts {
		if i >= len(mt.Partitions) {
			break
		}
		mp := &mt.Partitions[i]
		want := mp.Hosts(c.self)
		switch {
		case want && p.repl == nil:
			np, err := c.openReplica(t, mp)
			if err != nil {
				*errs = append(*errs, err)
				continue
			}
			if next == nil {
				next = slices.Clone(parts)
			}
			next[i] = np
			p.notify() // long polls on the remote partition look again
			c.logger.Info("hosting a replica being added", "partition", np.dirName(), "replicas", mp.Replicas, "target", mp.Target)
		case !want && p.repl != nil:
			if next == nil {
				next = slices.Clone(parts)
			}
			next[i] = newPartition(t, mp.Partition, nil, remoteLeadership(mp))
			c.dropReplica(p)
			c.logger.Info("dropped a reassigned replica", "partition", p.dirName(), "replicas", mp.Replicas)
		case p.repl != nil:
			if !slices.Equal(*p.repl.reported.Load(), mp.ReportedReplicas()) || !slices.Equal(*p.repl.replicas.Load(), mp.Replicas) {
				p.repl.setReplicas(mp)
				l := p.lead.Load()
				isr := slices.DeleteFunc(slices.Clone(l.isr), func(r int32) bool { return !mp.Hosts(r) })
				_ = c.b.cluster.setLeadership(p, l.leader, l.epoch, *p.repl.reported.Load(), isr, l.offline)
			}
		default:
			if l := p.lead.Load(); !slices.Equal(l.replicas, mp.ReportedReplicas()) {
				nl := *l
				nl.replicas = slices.Clone(mp.ReportedReplicas())
				p.setLead(&nl)
			}
		}
	}
	if next == nil {
		return parts
	}
	t.partitions.Store(&next)
	return next
}

// removeStrayReplicas deletes the directories of partitions this node
// does not host: a replica reassigned away while this node was down (its
// removal applied at start with no replica open to drop, when the
// reconciler did not see the views in between). It runs once (it reports
// whether it ran), from reconcile (topics.adminMu held), once the view
// covers every entry of this node's own metadata log: this node opened a
// replica only after applying the record that made it a host, so that
// record is in its log, and a view past it that does not name this node
// comes from a later record (the completion, which removed it from the
// group's configuration). A view part way through the log is not enough:
// it may predate the record that made this node a voter.
func (c *raftCluster) removeStrayReplicas(v *metadata.View) bool {
	if last, err := c.metaStorage.LastIndex(); err != nil || v.Applied() < last {
		return false
	}
	fs := c.b.fs
	names, err := fs.ReadDir(c.b.dataDir)
	if err != nil {
		return false
	}
	present := make(map[string]bool, len(names))
	for _, n := range names {
		present[n] = true
	}
	for _, t := range v.Topics() {
		for i := range t.Partitions {
			mp := &t.Partitions[i]
			name := partitionDirName(t.Name, mp.Partition)
			if mp.Hosts(c.self) || !present[name] {
				continue
			}
			if err := fs.RemoveAll(filepath.Join(c.b.dataDir, name)); err != nil {
				c.logger.Warn("removing a stray replica", "partition", name, "err", err)
				continue
			}
			c.logger.Info("removed a replica this node no longer hosts", "partition", name, "replicas", mp.Replicas)
		}
	}
	return true
}

// reassignLoop runs on every node: it drives the reassignments of the
// partitions this node leads (see the file comment). While no partition
// is being reassigned it costs one comparison per interval.
func (c *raftCluster) reassignLoop() {
	tick := time.NewTicker(reassignInterval)
	defer tick.Stop()
	var (
		mu       sync.Mutex
		stepping = map[uint64]bool{}
	)
	completed := map[uint64]time.Time{} // group -> when record 13 was last proposed
	var seen uint64
	active := false
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		v := c.view()
		if !active && v.Applied() == seen {
			continue
		}
		seen, active = v.Applied(), false
		for gid, at := range completed {
			if time.Since(at) > time.Minute {
				delete(completed, gid)
			}
		}
		c.hostedMu.Lock()
		parts := make([]*partition, 0, len(c.hosted))
		for _, p := range c.hosted {
			parts = append(parts, p)
		}
		c.hostedMu.Unlock()
		for _, t := range v.Topics() {
			for _, mp := range t.Partitions {
				if mp.Reassigning() {
					active = true
				}
			}
		}
		if !active {
			continue
		}
		for _, p := range parts {
			mt, ok := v.TopicByID(metadata.UUID(p.topic.id))
			if !ok || int(p.index) >= len(mt.Partitions) {
				continue
			}
			mp := mt.Partitions[p.index]
			if !mp.Reassigning() || !p.lead.Load().local {
				continue
			}
			gid := p.repl.gid
			mu.Lock()
			busy := stepping[gid]
			stepping[gid] = true
			mu.Unlock()
			if busy {
				continue
			}
			complete := func() {
				if time.Since(completed[gid]) < time.Second {
					return
				}
				completed[gid] = time.Now()
				rec := metadata.CompletePartitionReassignment{TopicID: mt.ID, Partition: mp.Partition, Replicas: mp.Target}
				if data, err := metadata.Encode(rec); err == nil {
					_ = c.node.ProposeForward(metadataGroup, metadataBatch(data))
					c.logger.Info("reassignment complete", "partition", p.dirName(), "replicas", mp.Target)
				}
			}
			done, err := c.reassignReady(p, &mp)
			if err == nil && done {
				complete()
			}
			if err != nil || done {
				mu.Lock()
				delete(stepping, gid)
				mu.Unlock()
				continue
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				defer func() {
					mu.Lock()
					delete(stepping, gid)
					mu.Unlock()
				}()
				if err := c.reassignStep(p, &mp); err != nil {
					c.logger.Debug("reassignment step", "partition", p.dirName(), "err", err)
				}
			}()
		}
	}
}

// reassignReady reports whether p's Raft configuration is exactly mp's
// target (no learners, not joint): the reassignment can complete.
func (c *raftCluster) reassignReady(p *partition, mp *metadata.Partition) (bool, error) {
	cs, err := c.node.ConfState(p.repl.gid)
	if err != nil {
		return false, err
	}
	return len(cs.VotersOutgoing) == 0 && len(cs.Learners) == 0 && len(cs.LearnersNext) == 0 &&
		sameIDs(cs.Voters, raftIDs(mp.Target)), nil
}

// reassignStep makes one change of p's configuration towards mp's target
// (see the file comment) and returns once it is applied here (or failed:
// the next round tries again from what is then applied).
func (c *raftCluster) reassignStep(p *partition, mp *metadata.Partition) error {
	gid := p.repl.gid
	cs, err := c.node.ConfState(gid)
	if err != nil {
		return err
	}
	if len(cs.VotersOutgoing) > 0 {
		return nil // joint: Raft leaves it by itself (auto-leave)
	}
	target := raftIDs(mp.Target)
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	change := func(typ raftpb.ConfChangeType, id uint64) error {
		c.logger.Info("reassignment: configuration change", "partition", p.dirName(), "change", typ.String(), "node", kafkaID(id))
		return c.node.ProposeConfChange(ctx, gid, confChange(typ, id))
	}
	for _, l := range cs.Learners {
		if !slices.Contains(target, l) {
			return change(raftpb.ConfChangeRemoveNode, l)
		}
	}
	for _, id := range target {
		if !slices.Contains(cs.Voters, id) && !slices.Contains(cs.Learners, id) {
			// One learner per change: a replica replaying the log from a
			// different first configuration never sees two voters
			// demoted in one simple change (raft refuses those).
			return change(raftpb.ConfChangeAddLearnerNode, id)
		}
	}
	reps, err := c.node.Replicas(gid)
	if err != nil {
		return err
	}
	now := time.Now()
	caughtUp := func(id uint64) bool {
		for _, r := range reps {
			if r.ID == id {
				return r.Match > 0 && !r.CaughtUp.IsZero() && now.Sub(r.CaughtUp) <= learnerCaughtUp
			}
		}
		return false
	}
	for _, l := range cs.Learners {
		if !caughtUp(l) {
			return nil // still catching up
		}
	}
	self := raftID(c.self)
	if !slices.Contains(target, self) {
		// Leaving: hand the leadership to a caught-up voter that stays.
		for _, v := range cs.Voters {
			if v != self && slices.Contains(target, v) && caughtUp(v) {
				c.logger.Info("reassignment: leader leaves its partition, transferring", "partition", p.dirName(), "to", kafkaID(v))
				return c.node.TransferLeadership(gid, v)
			}
		}
		// None: the joint change removes this node, which steps down
		// once it leaves the configuration (StepDownOnRemoval).
	}
	cc := &raftpb.ConfChangeV2{Transition: raftpb.ConfChangeTransitionAuto.Enum()}
	for _, id := range target {
		if !slices.Contains(cs.Voters, id) {
			cc.Changes = append(cc.Changes, &raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: new(id)})
		}
	}
	for _, id := range cs.Voters {
		if !slices.Contains(target, id) {
			cc.Changes = append(cc.Changes, &raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode.Enum(), NodeId: new(id)})
		}
	}
	if len(cc.Changes) == 0 {
		return nil
	}
	c.logger.Info("reassignment: joint configuration change", "partition", p.dirName(), "target", mp.Target)
	return c.node.ProposeConfChange(ctx, gid, cc)
}

func sameIDs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// reassignment is one partition of an AlterPartitionReassignments
// request: its target (nil: cancel), and the outcome.
type reassignment struct {
	partition int32
	target    []int32
	err       error
}

// alterReassignments validates and commits the reassignments of one
// topic's partitions (the valid ones in one record), filling each one's
// err, and returns once the view shows them (any broker: the record is
// forwarded to the controller).
func (c *raftCluster) alterReassignments(ctx context.Context, topicName string, parts []reassignment, allowRFChange bool) {
	mt, ok := c.view().Topic(topicName)
	if !ok {
		for i := range parts {
			parts[i].err = fmt.Errorf("%w: %q", errUnknownTopic, topicName)
		}
		return
	}
	id := mt.ID
	seen := map[int32]int{}
	for _, rp := range parts {
		seen[rp.partition]++
	}
	var valid []*reassignment
	for i := range parts {
		rp := &parts[i]
		if seen[rp.partition] > 1 {
			rp.err = fmt.Errorf("%w: partition %d listed twice", errInvalidReplicaAssignment, rp.partition)
			continue
		}
		if err := c.view().ValidateReassignment(id, rp.partition, rp.target, allowRFChange); err != nil {
			rp.err = reassignError(err)
			continue
		}
		valid = append(valid, rp)
	}
	if len(valid) == 0 {
		return
	}
	err := c.propose(ctx, func(v *metadata.View) (metadata.Record, error) {
		rec := metadata.AlterPartitionReassignments{TopicID: id}
		for _, rp := range valid {
			if err := v.ValidateReassignment(id, rp.partition, rp.target, allowRFChange); err != nil {
				return nil, reassignError(err)
			}
			rec.Partitions = append(rec.Partitions, metadata.ReassignmentTarget{Partition: rp.partition, Replicas: rp.target})
		}
		return rec, nil
	}, func(v *metadata.View) (bool, error) {
		t, ok := v.TopicByID(id)
		if !ok {
			return false, fmt.Errorf("%w: %q", errUnknownTopic, topicName)
		}
		for _, rp := range valid {
			mp := &t.Partitions[rp.partition]
			switch {
			case rp.target == nil:
				if mp.Reassigning() && !slices.Equal(mp.Target, mp.Replicas) {
					return false, nil
				}
			case mp.Reassigning():
				if !slices.Equal(mp.Target, rp.target) {
					return false, nil
				}
			default:
				if !slices.Equal(mp.Replicas, rp.target) {
					return false, nil
				}
			}
		}
		return true, nil
	})
	for _, rp := range valid {
		rp.err = err
	}
}

// reassignError maps the metadata's reassignment rejections to the
// broker's errors.
func reassignError(err error) error {
	if errors.Is(err, metadata.ErrNoReassignment) {
		return fmt.Errorf("%w: %v", errNoReassignmentInProgress, err)
	}
	return metadataError(err)
}
