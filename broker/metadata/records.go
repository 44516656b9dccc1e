// Package metadata is the cluster metadata state machine that the broker
// drives from the metadata Raft group (group 0, replication/DESIGN.md §1
// and §8): brokers and their listeners, topics, partitions with their
// replica assignments, Raft group ids and reported leadership, topic
// configs, and the security entities (SCRAM credentials, ACLs, quotas,
// delegation tokens: entities.go).
//
// It is pure and deterministic: no clocks, no randomness, no I/O. Every
// value that must be chosen (topic ids, Raft group ids, replica
// assignments) is chosen by the proposer and carried in the record, so
// every replica that applies the same log reaches byte-identical state
// (Snapshot). The records and the snapshot are specified in FORMAT.md.
//
// The package imports nothing of Moldau; the broker composes it with the
// replication package.
package metadata

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// RecordVersion is the version byte every record starts with (FORMAT.md).
const RecordVersion byte = 1

// RecordType is the second byte of a record: which record it is.
type RecordType byte

// The record types. The numbers are part of the format: never reuse one.
const (
	TypeRegisterBroker            RecordType = 1
	TypeFenceBroker               RecordType = 2
	TypeUnfenceBroker             RecordType = 3
	TypeCreateTopic               RecordType = 4
	TypeCreatePartitions          RecordType = 5
	TypeDeleteTopic               RecordType = 6
	TypeAlterTopicConfigs         RecordType = 7
	TypeChangePartitionLeadership RecordType = 8
	TypeAdvanceGroupIDs           RecordType = 9
	TypeUnregisterBroker          RecordType = 10
	TypeSetClusterID              RecordType = 11
)

var typeNames = map[RecordType]string{
	TypeRegisterBroker:            "RegisterBroker",
	TypeFenceBroker:               "FenceBroker",
	TypeUnfenceBroker:             "UnfenceBroker",
	TypeCreateTopic:               "CreateTopic",
	TypeCreatePartitions:          "CreatePartitions",
	TypeDeleteTopic:               "DeleteTopic",
	TypeAlterTopicConfigs:         "AlterTopicConfigs",
	TypeChangePartitionLeadership: "ChangePartitionLeadership",
	TypeAdvanceGroupIDs:           "AdvanceGroupIDs",
	TypeUnregisterBroker:          "UnregisterBroker",
	TypeSetClusterID:              "SetClusterID",
}

func (t RecordType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("RecordType(%d)", byte(t))
}

// ErrCorruptRecord is returned by Decode for bytes that are not a record
// of a known version and type.
var ErrCorruptRecord = errors.New("metadata: corrupt record")

// UUID is Kafka's 16-byte Uuid: a topic id (chosen by the proposer) or a
// broker incarnation. Its text form (JSON) is 32 lower-case hex digits.
type UUID [16]byte

func (id UUID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the all-zero id, which Kafka reserves.
func (id UUID) IsZero() bool { return id == UUID{} }

// MarshalText implements encoding.TextMarshaler.
func (id UUID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *UUID) UnmarshalText(b []byte) error {
	if len(b) != 32 {
		return fmt.Errorf("topic id %q: want 32 hex digits", b)
	}
	_, err := hex.Decode(id[:], b)
	return err
}

// Listener is one of a broker's advertised endpoints.
type Listener struct {
	Name             string `json:"name"`
	Host             string `json:"host"`
	Port             int32  `json:"port"`
	SecurityProtocol string `json:"security_protocol"`
}

// PartitionAssignment is one new partition: its number, its Raft group id
// and its replicas (the first is the preferred leader).
type PartitionAssignment struct {
	Partition int32   `json:"partition"`
	GroupID   uint64  `json:"group_id"`
	Replicas  []int32 `json:"replicas"`
}

// Record is one metadata record. The concrete types below are the only
// implementations.
type Record interface {
	Type() RecordType
}

// RegisterBroker registers a broker, or re-registers it. A new
// incarnation (a restarted process) leaves the broker fenced until an
// UnfenceBroker; the same incarnation only updates listeners and rack.
type RegisterBroker struct {
	NodeID      int32      `json:"node_id"`
	Incarnation UUID       `json:"incarnation"` // a Uuid, chosen by the broker at start-up
	Listeners   []Listener `json:"listeners"`
	Rack        string     `json:"rack,omitempty"`
}

// FenceBroker marks a registered broker not live: placement skips it.
type FenceBroker struct {
	NodeID int32 `json:"node_id"`
}

// UnfenceBroker marks a registered broker live.
type UnfenceBroker struct {
	NodeID int32 `json:"node_id"`
}

// UnregisterBroker removes a broker that is the replica of no partition
// (remove-node: its replicas are reassigned first).
type UnregisterBroker struct {
	NodeID int32 `json:"node_id"`
}

// CreateTopic creates a topic with partitions 0..n-1.
type CreateTopic struct {
	Name       string                `json:"name"`
	TopicID    UUID                  `json:"topic_id"`
	Configs    map[string]string     `json:"configs,omitempty"`
	Partitions []PartitionAssignment `json:"partitions"`
}

// CreatePartitions adds partitions to a topic, numbered on from its
// current count.
type CreatePartitions struct {
	TopicID    UUID                  `json:"topic_id"`
	Partitions []PartitionAssignment `json:"partitions"`
}

// DeleteTopic removes a topic. Its group ids are never handed out again.
type DeleteTopic struct {
	TopicID UUID `json:"topic_id"`
}

// AlterTopicConfigs replaces a topic's whole override set.
type AlterTopicConfigs struct {
	TopicID UUID              `json:"topic_id"`
	Configs map[string]string `json:"configs,omitempty"`
}

// LeadershipChange is one partition's report from its Raft group.
type LeadershipChange struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`       // -1: none
	LeaderEpoch int32   `json:"leader_epoch"` // the Raft term
	ISR         []int32 `json:"isr"`
}

// ChangePartitionLeadership publishes the leader, leader epoch and ISR of
// some partitions of one topic, as their Raft groups report them. It is
// applied all or nothing.
type ChangePartitionLeadership struct {
	TopicID    UUID               `json:"topic_id"`
	Partitions []LeadershipChange `json:"partitions"`
}

// AdvanceGroupIDs moves the group id counter forward to Next (it never
// goes back): a proposer reserves ids for groups that are not partitions,
// or skips ids it may have handed out in a proposal that failed.
type AdvanceGroupIDs struct {
	Next uint64 `json:"next"`
}

func (RegisterBroker) Type() RecordType            { return TypeRegisterBroker }
func (FenceBroker) Type() RecordType               { return TypeFenceBroker }
func (UnfenceBroker) Type() RecordType             { return TypeUnfenceBroker }
func (CreateTopic) Type() RecordType               { return TypeCreateTopic }
func (CreatePartitions) Type() RecordType          { return TypeCreatePartitions }
func (DeleteTopic) Type() RecordType               { return TypeDeleteTopic }
func (AlterTopicConfigs) Type() RecordType         { return TypeAlterTopicConfigs }
func (ChangePartitionLeadership) Type() RecordType { return TypeChangePartitionLeadership }
func (AdvanceGroupIDs) Type() RecordType           { return TypeAdvanceGroupIDs }
func (UnregisterBroker) Type() RecordType          { return TypeUnregisterBroker }
func (SetClusterID) Type() RecordType              { return TypeSetClusterID }

// SetClusterID names the cluster (Kafka's cluster id, 22 characters of
// URL-safe base64): the first one committed wins, later ones are
// rejected, so every broker reports the same id.
type SetClusterID struct {
	ClusterID string `json:"cluster_id"`
}

// Encode returns the record's bytes: version, type, JSON body (FORMAT.md).
func Encode(r Record) ([]byte, error) {
	if _, ok := typeNames[r.Type()]; !ok {
		return nil, fmt.Errorf("metadata: encode: unknown record type %d", r.Type())
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("metadata: encode %s: %w", r.Type(), err)
	}
	return append([]byte{recordVersionOf(r), byte(r.Type())}, body...), nil
}

// Decode parses a record. Any error wraps ErrCorruptRecord. The returned
// record is a value of one of the concrete types (not a pointer).
func Decode(b []byte) (Record, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorruptRecord, len(b))
	}
	t := RecordType(b[1])
	if b[0] == RecordVersionPeerDir && t == TypeRegisterPeer {
		// Version 2: RegisterPeer with its directory id (peers.go).
		r, err := decodeRegisterPeerV2(t, b[2:])
		if err != nil {
			return nil, fmt.Errorf("%w: %s version 2: %v", ErrCorruptRecord, t, err)
		}
		return r, nil
	}
	if b[0] != RecordVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorruptRecord, b[0])
	}
	var r Record
	var err error
	switch t {
	case TypeRegisterBroker:
		r, err = decodeAs[RegisterBroker](b[2:])
	case TypeFenceBroker:
		r, err = decodeAs[FenceBroker](b[2:])
	case TypeUnfenceBroker:
		r, err = decodeAs[UnfenceBroker](b[2:])
	case TypeCreateTopic:
		r, err = decodeAs[CreateTopic](b[2:])
	case TypeCreatePartitions:
		r, err = decodeAs[CreatePartitions](b[2:])
	case TypeDeleteTopic:
		r, err = decodeAs[DeleteTopic](b[2:])
	case TypeAlterTopicConfigs:
		r, err = decodeAs[AlterTopicConfigs](b[2:])
	case TypeChangePartitionLeadership:
		r, err = decodeAs[ChangePartitionLeadership](b[2:])
	case TypeAdvanceGroupIDs:
		r, err = decodeAs[AdvanceGroupIDs](b[2:])
	case TypeUnregisterBroker:
		r, err = decodeAs[UnregisterBroker](b[2:])
	case TypeSetClusterID:
		r, err = decodeAs[SetClusterID](b[2:])
	case TypeAlterPartitionReassignments:
		r, err = decodeAs[AlterPartitionReassignments](b[2:])
	case TypeCompletePartitionReassignment:
		r, err = decodeAs[CompletePartitionReassignment](b[2:])
	case TypePutEntities:
		r, err = decodeAs[PutEntities](b[2:])
	default:
		var handled bool
		if r, handled, err = decodePeerRecord(t, b[2:]); !handled {
			return nil, fmt.Errorf("%w: unknown type %d", ErrCorruptRecord, b[1])
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptRecord, t, err)
	}
	return r, nil
}

// decodeAs decodes one JSON object into a T, refusing trailing data and
// unknown fields (a field a newer version added comes with a new version
// byte).
func decodeAs[T any](body []byte) (T, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return v, errors.New("trailing data")
	}
	return v, nil
}
