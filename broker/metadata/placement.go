package metadata

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Replica placement, run by the proposer (the metadata leader) before it
// proposes a CreateTopic or CreatePartitions; its result travels in the
// record, so apply never places anything.
//
// The shape follows Kafka's StripedReplicaPlacer (KRaft): only live
// (unfenced) brokers are used, the list is rotated by a per-topic start so
// that different topics start their leaders on different brokers, leaders
// go round-robin over the list, and the followers of each partition are
// spread so that every broker carries the same share. Kafka shuffles with
// a random source; here the start comes from the topic id (StartFor), so
// CreatePartitions continues exactly where CreateTopic stopped.
//
// Followers: with n live brokers and replication factor rf, partition p
// (global number) is in round r = p/n at position p%n. Its replicas sit at
// offsets o_j = floor(j*n/rf) (j = 0..rf-1) from position p%n, evenly
// spaced round the ring; each round starts the offset set at a different
// j (k = r mod rf, offsets o_{(k+j) mod rf} - o_k), so a broker's followers
// change from round to round. Guarantees, for any number of partitions of
// one topic placed with the same live brokers and start: leaders per
// broker differ by at most one (round-robin), and so do replicas per
// broker: a full round gives every broker exactly rf replicas, and in a
// partial round of m partitions a broker's count is the number of offsets
// in a ring window of length m, which for evenly spaced offsets is
// floor(m*rf/n) or its ceiling. (TestPlacementEvenness checks both over
// every n <= 9, rf <= n, partition count <= 3n and split points.)
//
// Rack awareness is not implemented: racks are recorded but placement
// ignores them.

// PlacementSpec asks for replicas of partitions StartPartition ..
// StartPartition+Partitions-1.
type PlacementSpec struct {
	StartPartition    int32
	Partitions        int32
	ReplicationFactor int16
	Start             uint32 // rotation of the broker list; StartFor(topic id)
}

// StartFor is the placement start of a topic, derived from its id so that
// placing the same topic again (CreatePartitions) continues its spread.
func StartFor(id UUID) uint32 { return binary.BigEndian.Uint32(id[:4]) }

// LiveBrokers returns the unfenced brokers' ids, ascending.
func (v *View) LiveBrokers() []int32 {
	var out []int32
	for _, b := range v.Brokers() {
		if !b.Fenced {
			out = append(out, b.NodeID)
		}
	}
	return out
}

// Place returns the replica lists of the spec's partitions over the
// view's live brokers. A replication factor above the number of live
// brokers is ErrInvalidReplicationFactor.
func (v *View) Place(spec PlacementSpec) ([][]int32, error) {
	return Place(v.LiveBrokers(), spec)
}

// Place is View.Place over a given list of live broker ids (ascending).
func Place(live []int32, spec PlacementSpec) ([][]int32, error) {
	rf := int(spec.ReplicationFactor)
	if rf < 1 {
		return nil, fmt.Errorf("%w: %d", ErrInvalidReplicationFactor, rf)
	}
	n := len(live)
	if rf > n {
		return nil, fmt.Errorf("%w: %d replicas but only %d brokers are live", ErrInvalidReplicationFactor, rf, n)
	}
	if spec.Partitions < 1 || spec.StartPartition < 0 || int64(spec.StartPartition)+int64(spec.Partitions) > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d from %d", ErrInvalidPartitions, spec.Partitions, spec.StartPartition)
	}
	start := int(spec.Start % uint32(n))
	ring := make([]int32, n)
	for i := range ring {
		ring[i] = live[(start+i)%n]
	}
	base := make([]int, rf)
	for j := range base {
		base[j] = j * n / rf
	}
	out := make([][]int32, spec.Partitions)
	for i := range out {
		p := int(spec.StartPartition) + i
		pos, k := p%n, (p/n)%rf
		replicas := make([]int32, rf)
		for j := range replicas {
			off := (base[(k+j)%rf] - base[k] + n) % n
			replicas[j] = ring[(pos+off)%n]
		}
		out[i] = replicas
	}
	return out, nil
}

// ValidateAssignment checks manual replica lists: at least one partition,
// every list of the same length (rf when rf > 0), no broker twice in a
// list, every broker registered. The errors are the ones apply would
// reject the record with (ErrInvalidReplicaAssignment,
// ErrInvalidReplicationFactor).
func (v *View) ValidateAssignment(assignment [][]int32, rf int) error {
	if len(assignment) == 0 {
		return fmt.Errorf("%w: no partitions", ErrInvalidReplicaAssignment)
	}
	if rf <= 0 {
		rf = len(assignment[0])
	}
	if rf < 1 || rf > math.MaxInt16 {
		return fmt.Errorf("%w: %d", ErrInvalidReplicationFactor, rf)
	}
	for i, replicas := range assignment {
		if err := validateReplicas(v.brokers, replicas, rf); err != nil {
			return fmt.Errorf("partition %d: %w", i, err)
		}
	}
	return nil
}

// NewCreateTopic builds the record a proposer commits for CreateTopics:
// it validates against the view what apply would (name, existing name or
// id, assignment), places the replicas (manual nil) or takes the manual
// assignment (partitions and rf are then ignored, as Kafka requires them
// to be -1), and gives the partitions the next group ids.
func (v *View) NewCreateTopic(name string, id UUID, configs map[string]string, partitions int32, rf int16, manual [][]int32) (CreateTopic, error) {
	if err := ValidateTopicName(name); err != nil {
		return CreateTopic{}, err
	}
	if _, ok := v.topics[name]; ok {
		return CreateTopic{}, fmt.Errorf("%w: %s", ErrTopicExists, name)
	}
	if err := v.checkCollision(name); err != nil {
		return CreateTopic{}, err
	}
	if id.IsZero() {
		return CreateTopic{}, fmt.Errorf("%w: zero", ErrInvalidTopicID)
	}
	if _, ok := v.byID[id]; ok {
		return CreateTopic{}, fmt.Errorf("%w: %s", ErrTopicIDExists, id)
	}
	if err := validateConfigs(configs); err != nil {
		return CreateTopic{}, err
	}
	assignment := manual
	if manual != nil {
		if err := v.ValidateAssignment(manual, 0); err != nil {
			return CreateTopic{}, err
		}
	} else {
		var err error
		if assignment, err = v.Place(PlacementSpec{Partitions: partitions, ReplicationFactor: rf, Start: StartFor(id)}); err != nil {
			return CreateTopic{}, err
		}
	}
	return CreateTopic{Name: name, TopicID: id, Configs: cloneConfigs(configs), Partitions: v.assign(0, assignment)}, nil
}

// NewCreatePartitions builds the record for CreatePartitions: the topic
// grows to total partitions, placed on (manual nil) or as given, with the
// topic's replication factor.
func (v *View) NewCreatePartitions(id UUID, total int32, manual [][]int32) (CreatePartitions, error) {
	t, ok := v.byID[id]
	if !ok {
		return CreatePartitions{}, fmt.Errorf("%w: %s", ErrUnknownTopic, id)
	}
	have := int32(len(t.Partitions))
	if total <= have {
		return CreatePartitions{}, fmt.Errorf("%w: topic %s has %d, asked for %d", ErrInvalidPartitions, t.Name, have, total)
	}
	rf := len(t.Partitions[0].Replicas)
	assignment := manual
	if manual != nil {
		if int32(len(manual)) != total-have {
			return CreatePartitions{}, fmt.Errorf("%w: %d lists for %d new partitions", ErrInvalidReplicaAssignment, len(manual), total-have)
		}
		if err := v.ValidateAssignment(manual, rf); err != nil {
			return CreatePartitions{}, err
		}
	} else {
		var err error
		if assignment, err = v.Place(PlacementSpec{StartPartition: have, Partitions: total - have, ReplicationFactor: int16(rf), Start: StartFor(id)}); err != nil {
			return CreatePartitions{}, err
		}
	}
	return CreatePartitions{TopicID: id, Partitions: v.assign(have, assignment)}, nil
}

func (v *View) assign(start int32, assignment [][]int32) []PartitionAssignment {
	ids := v.GroupIDs(len(assignment))
	out := make([]PartitionAssignment, len(assignment))
	for i, r := range assignment {
		out[i] = PartitionAssignment{Partition: start + int32(i), GroupID: ids[i], Replicas: slices.Clone(r)}
	}
	return out
}
