package metadata

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// SnapshotVersion is the first byte of a snapshot (FORMAT.md). Version 2
// adds the partitions' reassignment fields (`target`, `lingering`) and
// lets partitions of one topic differ in replication factor; version 1 is
// still read.
const SnapshotVersion byte = 2

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapshotBody is the JSON inside a snapshot. Brokers are sorted by node
// id, topics by name, so equal states give equal bytes.
type snapshotBody struct {
	ClusterID   string    `json:"cluster_id,omitempty"`
	Applied     uint64    `json:"applied"`
	NextGroupID uint64    `json:"next_group_id"`
	Brokers     []*Broker `json:"brokers"`
	Topics      []*Topic  `json:"topics"`
	// Peers (peers.go): omitted when none, so a state without peers
	// has the bytes it had before they existed.
	Peers []PeerInfo `json:"peers,omitempty"`
	// Entities and the recent entity change ids (entities.go, version
	// 4 only): omitted when there are none, so a state that never had
	// an entity keeps the bytes of version 2 or 3.
	Entities      []snapshotEntities `json:"entities,omitempty"`
	EntityChanges []UUID             `json:"entity_changes,omitempty"`
}

// snapshotVersionEntities is the snapshot version that may carry
// entities (and, as version 3, peers' directory ids); Snapshot writes it
// only when the state has entities or recent entity changes.
const snapshotVersionEntities byte = 4

// Snapshot returns the state as bytes: version, JSON body, CRC-32C of
// both. Replicas that applied the same log return the same bytes.
func (s *State) Snapshot() []byte {
	return s.View().Snapshot()
}

// Snapshot returns the view's state as bytes (State.Snapshot).
func (v *View) Snapshot() []byte {
	ents, changes := v.entitiesForSnapshot()
	body, err := json.Marshal(snapshotBody{
		ClusterID: v.clusterID, Applied: v.applied, NextGroupID: v.nextGroupID,
		Brokers: v.Brokers(), Topics: v.Topics(), Peers: v.Peers(),
		Entities: ents, EntityChanges: changes,
	})
	if err != nil {
		// Only plain strings, numbers and slices: cannot fail.
		panic(fmt.Sprintf("metadata: snapshot: %v", err))
	}
	out := make([]byte, 0, 1+len(body)+4)
	version := v.snapshotVersion()
	if len(ents) > 0 || len(changes) > 0 {
		version = snapshotVersionEntities
	}
	out = append(out, version)
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// Restore replaces the state with a snapshot's. On error (wrapping
// ErrCorruptSnapshot) the state is unchanged. The controller is kept.
func (s *State) Restore(b []byte) error {
	v, err := decodeSnapshot(b)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v.controller = s.view.Load().controller
	s.view.Store(v)
	return nil
}

// decodeSnapshot parses and validates a snapshot: every invariant Apply
// keeps is checked, so a restored state is one Apply could have built.
func decodeSnapshot(b []byte) (*View, error) {
	if len(b) < 5 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorruptSnapshot, len(b))
	}
	if b[0] != SnapshotVersion && b[0] != 1 && b[0] != snapshotVersionPeerDirs && b[0] != snapshotVersionEntities {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorruptSnapshot, b[0])
	}
	n := len(b) - 4
	if got, want := crc32.Checksum(b[:n], castagnoli), binary.BigEndian.Uint32(b[n:]); got != want {
		return nil, fmt.Errorf("%w: crc %08x, want %08x", ErrCorruptSnapshot, got, want)
	}
	var body snapshotBody
	dec := json.NewDecoder(bytes.NewReader(b[1:n]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptSnapshot, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data", ErrCorruptSnapshot)
	}
	if b[0] == 1 {
		if err := checkSnapshotV1(&body); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
		}
	}
	v := emptyView()
	v.applied = body.Applied
	v.clusterID = body.ClusterID
	if body.NextGroupID < FirstGroupID {
		return nil, fmt.Errorf("%w: next group id %d", ErrCorruptSnapshot, body.NextGroupID)
	}
	v.nextGroupID = body.NextGroupID
	for _, br := range body.Brokers {
		if br == nil {
			return nil, fmt.Errorf("%w: null broker", ErrCorruptSnapshot)
		}
		if err := validateBroker(br.NodeID, br.Incarnation, br.Listeners); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
		}
		if _, dup := v.brokers[br.NodeID]; dup {
			return nil, fmt.Errorf("%w: broker %d twice", ErrCorruptSnapshot, br.NodeID)
		}
		v.brokers[br.NodeID] = br
	}
	if err := v.restorePeers(body.Peers, b[0] >= snapshotVersionPeerDirs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
	}
	if b[0] < snapshotVersionEntities && (body.Entities != nil || body.EntityChanges != nil) {
		return nil, fmt.Errorf("%w: entities in a snapshot version below %d", ErrCorruptSnapshot, snapshotVersionEntities)
	}
	if err := v.restoreEntities(body.Entities, body.EntityChanges); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
	}
	groups := map[uint64]bool{}
	keys := map[string]string{}
	for _, t := range body.Topics {
		if err := v.validateRestoredTopic(t, groups); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
		}
		if other, ok := keys[collisionKey(t.Name)]; ok {
			return nil, fmt.Errorf("%w: %w: %s and %s", ErrCorruptSnapshot, ErrTopicCollision, t.Name, other)
		}
		keys[collisionKey(t.Name)] = t.Name
		t.Configs = cloneConfigs(t.Configs)
		v.putTopic(t)
	}
	return v, nil
}

func (v *View) validateRestoredTopic(t *Topic, groups map[uint64]bool) error {
	if t == nil {
		return fmt.Errorf("null topic")
	}
	if err := ValidateTopicName(t.Name); err != nil {
		return err
	}
	if _, dup := v.topics[t.Name]; dup {
		return fmt.Errorf("%w: %s", ErrTopicExists, t.Name)
	}
	if t.ID.IsZero() {
		return fmt.Errorf("%w: zero", ErrInvalidTopicID)
	}
	if _, dup := v.byID[t.ID]; dup {
		return fmt.Errorf("%w: %s", ErrTopicIDExists, t.ID)
	}
	if err := validateConfigs(t.Configs); err != nil {
		return err
	}
	if len(t.Partitions) == 0 || len(t.Partitions) > math.MaxInt32 {
		return fmt.Errorf("%w: topic %s has %d", ErrInvalidPartitions, t.Name, len(t.Partitions))
	}
	for i, p := range t.Partitions {
		if p.Partition != int32(i) {
			return fmt.Errorf("%w: topic %s: partition %d at %d", ErrInvalidPartitions, t.Name, p.Partition, i)
		}
		// Each partition's own replication factor: a reassignment may
		// change one partition's (version 2).
		rf := len(p.Replicas)
		if rf < 1 || rf > math.MaxInt16 {
			return fmt.Errorf("%w: %d", ErrInvalidReplicationFactor, rf)
		}
		if err := validateReplicas(v.brokers, p.Replicas, rf); err != nil {
			return err
		}
		if err := validateRestoredReassignment(v.brokers, &p); err != nil {
			return err
		}
		if err := validateLeadership(p.members(), p.Leader, p.LeaderEpoch, p.ISR); err != nil {
			return err
		}
		if p.GroupID < FirstGroupID || p.GroupID >= v.nextGroupID || groups[p.GroupID] {
			return fmt.Errorf("%w: group id %d (counter %d)", ErrStaleGroupID, p.GroupID, v.nextGroupID)
		}
		groups[p.GroupID] = true
	}
	return nil
}

// checkSnapshotV1 holds a version 1 body to version 1's rules: no
// reassignment fields, one replication factor per topic.
func checkSnapshotV1(body *snapshotBody) error {
	for _, t := range body.Topics {
		if t == nil || len(t.Partitions) == 0 {
			continue // refused by the common checks
		}
		rf := len(t.Partitions[0].Replicas)
		for _, p := range t.Partitions {
			if p.Target != nil || p.Lingering != nil {
				return fmt.Errorf("version 1 with reassignment fields in %s-%d", t.Name, p.Partition)
			}
			if len(p.Replicas) != rf {
				return fmt.Errorf("%w: version 1: %s-%d has %d replicas, want %d", ErrInvalidReplicaAssignment, t.Name, p.Partition, len(p.Replicas), rf)
			}
		}
	}
	return nil
}
