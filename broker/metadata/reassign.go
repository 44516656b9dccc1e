package metadata

// Partition reassignment (Kafka's AlterPartitionReassignments, KIP-455, in
// the KRaft shape; FORMAT.md "Reassignment"). The metadata only records
// the goal; the partition's Raft leader moves its group's configuration
// there (broker/raft_reassign.go) and reports completion:
//
//   - AlterPartitionReassignments (type 12) sets a partition's Target, or
//     cancels (a null target: the target becomes the partition's Replicas,
//     the ones it had before the reassignment began, so that the Raft
//     configuration is walked back to them).
//   - CompletePartitionReassignment (type 13) makes the target the
//     replicas once the group's configuration equals it.
//
// Hosting: a broker keeps (or opens) a replica of a partition while it is
// in Replicas ∪ Target ∪ Lingering (Hosts). Lingering holds the members of
// a superseded target (a new target or a cancel replaced it) that may be
// in the group's Raft configuration already: their replicas must not be
// deleted before the configuration no longer holds them, which only the
// completion says.

import (
	"errors"
	"fmt"
	"slices"
)

// Reassignment rejections.
var (
	// ErrNoReassignment: a cancel of a partition with no reassignment in
	// progress (Kafka's NO_REASSIGNMENT_IN_PROGRESS).
	ErrNoReassignment = errors.New("metadata: no reassignment in progress")
	// ErrStaleReassignment: a completion whose replicas are not the
	// partition's current target (superseded meanwhile).
	ErrStaleReassignment = errors.New("metadata: completion does not match the target")
)

// The reassignment record types (FORMAT.md). 14 and 15 belong to the Raft
// voter records.
const (
	TypeAlterPartitionReassignments   RecordType = 12
	TypeCompletePartitionReassignment RecordType = 13
)

func init() {
	typeNames[TypeAlterPartitionReassignments] = "AlterPartitionReassignments"
	typeNames[TypeCompletePartitionReassignment] = "CompletePartitionReassignment"
}

// ReassignmentTarget is one partition's new replica list; Replicas nil
// cancels the partition's reassignment.
type ReassignmentTarget struct {
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
}

// AlterPartitionReassignments starts, replaces or cancels reassignments of
// partitions of one topic, all or nothing.
type AlterPartitionReassignments struct {
	TopicID    UUID                 `json:"topic_id"`
	Partitions []ReassignmentTarget `json:"partitions"`
}

// CompletePartitionReassignment ends a partition's reassignment: its Raft
// configuration is Replicas, which must be the target.
type CompletePartitionReassignment struct {
	TopicID   UUID    `json:"topic_id"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
}

func (AlterPartitionReassignments) Type() RecordType   { return TypeAlterPartitionReassignments }
func (CompletePartitionReassignment) Type() RecordType { return TypeCompletePartitionReassignment }

// Reassigning reports whether p has a reassignment in progress.
func (p *Partition) Reassigning() bool { return p.Target != nil }

// Adding is Kafka's adding replicas: the target's that are not replicas.
func (p *Partition) Adding() []int32 {
	out := []int32{}
	for _, r := range p.Target {
		if !slices.Contains(p.Replicas, r) {
			out = append(out, r)
		}
	}
	return out
}

// Removing is Kafka's removing replicas: the replicas (and lingering
// members of a superseded target) that are not in the target.
func (p *Partition) Removing() []int32 {
	out := []int32{}
	if p.Target == nil {
		return out
	}
	for _, r := range slices.Concat(p.Replicas, p.Lingering) {
		if !slices.Contains(p.Target, r) && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// ReportedReplicas is the replica list Metadata shows: the replicas, or
// during a reassignment (as Kafka) the target followed by the others being
// removed.
func (p *Partition) ReportedReplicas() []int32 {
	if p.Target == nil {
		return p.Replicas
	}
	return slices.Concat(p.Target, p.Removing())
}

// Hosts reports whether broker id keeps a replica of p (see the file
// comment).
func (p *Partition) Hosts(id int32) bool {
	return slices.Contains(p.Replicas, id) || slices.Contains(p.Target, id) || slices.Contains(p.Lingering, id)
}

// members is every broker that may be in p's Raft configuration.
func (p *Partition) members() []int32 {
	out := slices.Clone(p.Replicas)
	for _, r := range slices.Concat(p.Target, p.Lingering) {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// ValidateReassignment checks one requested target against the view, as
// Kafka's controller does before it commits: the topic and partition
// exist (ErrUnknownTopic, ErrInvalidPartitions), a cancel needs a
// reassignment in progress (ErrNoReassignment), a target is non-empty,
// without duplicates, of registered brokers (ErrInvalidReplicaAssignment)
// and, unless allowRFChange (KIP-860), as long as the replicas before the
// reassignment (ErrInvalidReplicationFactor).
func (v *View) ValidateReassignment(id UUID, partition int32, target []int32, allowRFChange bool) error {
	t, ok := v.byID[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, id)
	}
	if partition < 0 || int(partition) >= len(t.Partitions) {
		return fmt.Errorf("%w: %s has no partition %d", ErrUnknownTopic, t.Name, partition)
	}
	p := &t.Partitions[partition]
	if target == nil {
		if !p.Reassigning() || slices.Equal(p.Target, p.Replicas) {
			return fmt.Errorf("%w: %s-%d", ErrNoReassignment, t.Name, partition)
		}
		return nil
	}
	if err := validateTarget(v.brokers, target); err != nil {
		return fmt.Errorf("%s-%d: %w", t.Name, partition, err)
	}
	if !allowRFChange && len(target) != len(p.Replicas) {
		return fmt.Errorf("%w: the replication factor of %s-%d would change from %d to %d and allowReplicationFactorChange is false",
			ErrInvalidReplicationFactor, t.Name, partition, len(p.Replicas), len(target))
	}
	return nil
}

// validateTarget: non-empty, no broker twice, every broker registered.
func validateTarget(brokers map[int32]*Broker, target []int32) error {
	if len(target) == 0 {
		return fmt.Errorf("%w: empty replica list", ErrInvalidReplicaAssignment)
	}
	return validateReplicas(brokers, target, len(target))
}

func (v *View) alterReassignments(r AlterPartitionReassignments) error {
	t, ok := v.byID[r.TopicID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, r.TopicID)
	}
	if len(r.Partitions) == 0 {
		return fmt.Errorf("%w: no partitions", ErrInvalidReplicaAssignment)
	}
	nt := *t
	nt.Partitions = slices.Clone(t.Partitions)
	seen := map[int32]bool{}
	for _, c := range r.Partitions {
		if c.Partition < 0 || int(c.Partition) >= len(nt.Partitions) {
			return fmt.Errorf("%w: %s has no partition %d", ErrUnknownTopic, t.Name, c.Partition)
		}
		if seen[c.Partition] {
			return fmt.Errorf("%w: partition %d twice", ErrInvalidReplicaAssignment, c.Partition)
		}
		seen[c.Partition] = true
		p := &nt.Partitions[c.Partition]
		old := p.Target
		next := c.Replicas
		if next == nil {
			if old == nil {
				return fmt.Errorf("%w: %s-%d", ErrNoReassignment, t.Name, c.Partition)
			}
			next = p.Replicas // cancel: back to the replicas before it
		} else if err := validateTarget(v.brokers, next); err != nil {
			return fmt.Errorf("partition %d: %w", c.Partition, err)
		}
		// Members of the superseded target that the new one does not
		// keep may be in the Raft configuration: they linger.
		lingering := slices.DeleteFunc(slices.Clone(p.Lingering), func(m int32) bool { return slices.Contains(next, m) })
		for _, m := range old {
			if !slices.Contains(next, m) && !slices.Contains(p.Replicas, m) && !slices.Contains(lingering, m) {
				lingering = append(lingering, m)
			}
		}
		p.Target, p.Lingering = slices.Clone(next), nilIfEmpty(lingering)
	}
	v.putTopic(&nt)
	return nil
}

func (v *View) completeReassignment(r CompletePartitionReassignment) error {
	t, ok := v.byID[r.TopicID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, r.TopicID)
	}
	if r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
		return fmt.Errorf("%w: %s has no partition %d", ErrUnknownTopic, t.Name, r.Partition)
	}
	p := t.Partitions[r.Partition]
	if p.Target == nil {
		return fmt.Errorf("%w: %s-%d", ErrNoReassignment, t.Name, r.Partition)
	}
	if !slices.Equal(p.Target, r.Replicas) {
		return fmt.Errorf("%w: %s-%d: %v, target %v", ErrStaleReassignment, t.Name, r.Partition, r.Replicas, p.Target)
	}
	nt := *t
	nt.Partitions = slices.Clone(t.Partitions)
	np := &nt.Partitions[r.Partition]
	np.Replicas, np.Target, np.Lingering = slices.Clone(r.Replicas), nil, nil
	isr := []int32{}
	for _, m := range p.ISR {
		if slices.Contains(np.Replicas, m) {
			isr = append(isr, m)
		}
	}
	np.ISR = isr
	if np.Leader != -1 && !slices.Contains(isr, np.Leader) {
		np.Leader = -1
	}
	v.putTopic(&nt)
	return nil
}

func nilIfEmpty(s []int32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return s
}

// validateRestoredReassignment checks a restored partition's target and
// lingering members: registered, no duplicates, lingering ones outside
// the replicas and the target.
func validateRestoredReassignment(brokers map[int32]*Broker, p *Partition) error {
	if p.Target != nil {
		if err := validateTarget(brokers, p.Target); err != nil {
			return err
		}
	} else if p.Lingering != nil {
		return fmt.Errorf("%w: lingering replicas without a target", ErrInvalidReplicaAssignment)
	}
	for i, m := range p.Lingering {
		if _, ok := brokers[m]; !ok || slices.Contains(p.Lingering[:i], m) || slices.Contains(p.Replicas, m) || slices.Contains(p.Target, m) {
			return fmt.Errorf("%w: lingering replica %d", ErrInvalidReplicaAssignment, m)
		}
	}
	return nil
}
