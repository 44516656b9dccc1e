package broker

// Finalized features (KIP-584): the feature levels ApiVersions v3+ reports
// and UpdateFeatures (57_update_features.go) changes, as a Kafka 4.4
// cluster has them.
//
//   - Supported ranges are Kafka 4.4's, lowered to what this broker serves
//     (the API table and --kafka-version): share.version needs the share
//     group APIs (ShareGroupHeartbeat, key 76), streams.version the streams
//     group APIs (88), group.version KIP-848's ConsumerGroupHeartbeat (68),
//     transaction.version 2 the transaction v2 versions
//     (transactionVersion). A feature whose supported maximum is 0 is not
//     listed, as Kafka's BrokerFeatures leaves it out.
//   - A finalized level starts at Kafka 4.4's default for a new cluster
//     (group 1, streams 1, transaction 2, eligible.leader.replicas 1,
//     share 2, metadata 33), capped by the supported maximum. UpdateFeatures
//     stores a level in the entity store (kind entityFeature, key the
//     feature name; durable, and replicated in a cluster); a stored level
//     above what the broker supports now (a restart with --kafka-version)
//     is capped too. Level 0 is not listed among the finalized features.
//   - FinalizedFeaturesEpoch moves on every change: each stored level
//     carries the epoch at which it was written (the highest stored epoch,
//     at least 1, plus one), and the epoch reported is the highest stored,
//     or 1 when nothing was ever changed. (Kafka reports the metadata log
//     offset, which also only grows.)
//   - kraft.version is fixed by the mode: 0 on a single node (no quorum;
//     not listed as finalized, as Kafka leaves out level 0), 1 in a
//     cluster (Moldau's quorum has dynamic voters: AddRaftVoter and
//     RemoveRaftVoter, KIP-853). metadata.version is 33 and cannot be
//     lowered (Kafka refuses every metadata downgrade too).
//
// Gates: featureLevel is what other handlers check (share groups: share.version
// >= 1; streams groups: streams.version >= 1; KIP-848: group.version >= 1,
// checked by ConsumerGroupHeartbeat). It reads the API table and the
// version caps directly, never versionRange, so versionRange may itself
// consult featureLevel without a cycle.
//
// Locking: featureMu serialises UpdateFeatures on this broker (read the
// levels, write the change); readers read the entity store, which takes no
// lock. Two brokers of a cluster updating at the same moment may write the
// same epoch (Kafka forwards to its one controller; Moldau accepts that
// rare duplicate: the epoch still never goes down).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// Feature names.
const (
	featureMetadata       = "metadata.version"
	featureKRaft          = "kraft.version"
	featureGroup          = "group.version"
	featureShare          = "share.version"
	featureStreams        = "streams.version"
	featureTransaction    = "transaction.version"
	featureEligibleLeader = "eligible.leader.replicas.version"
)

// metadataVersionMin and metadataVersionLatest: Kafka 4.4's supported
// metadata.version levels (3.3-IV3 .. 4.4-IV0).
const (
	metadataVersionMin    int16 = 7
	metadataVersionLatest int16 = 33
)

// featureOrder is the order ApiVersions lists supported features in (a
// real 4.4 broker's).
var featureOrder = []string{featureGroup, featureKRaft, featureMetadata, featureShare, featureStreams, featureTransaction, featureEligibleLeader}

// finalizedOrder is the order of the finalized features (a real 4.4
// broker's).
var finalizedOrder = []string{featureGroup, featureStreams, featureTransaction, featureEligibleLeader, featureShare, featureMetadata, featureKRaft}

var featureMu sync.Mutex

// supportedFeature is the range of levels this broker supports for name;
// ok false for a feature it does not know.
func (b *Broker) supportedFeature(name string) (lo, hi int16, ok bool) {
	// served reads the table and the caps, not versionRange: a handler or
	// versionRange may consult featureLevel, which calls this.
	served := func(key int16) bool { return apiFor(key) != nil && b.caps[key] >= 0 }
	level := func(on bool, l int16) int16 {
		if on {
			return l
		}
		return 0
	}
	switch name {
	case featureMetadata:
		return metadataVersionMin, metadataVersionLatest, true
	case featureKRaft:
		return 0, 1, true
	case featureGroup:
		return 0, level(served(68), 1), true
	case featureShare:
		return 0, level(served(76), 2), true
	case featureStreams:
		return 0, level(served(88), 1), true
	case featureTransaction:
		return 0, b.transactionVersion(), true
	case featureEligibleLeader:
		return 0, 1, true
	}
	return 0, 0, false
}

// defaultFeatureLevel is a new Kafka 4.4 cluster's level of name.
func defaultFeatureLevel(name string) int16 {
	switch name {
	case featureMetadata:
		return metadataVersionLatest
	case featureShare, featureTransaction:
		return 2
	case featureGroup, featureStreams, featureEligibleLeader:
		return 1
	}
	return 0
}

// featureLevel is the finalized level of the feature name on this broker (0
// for a feature that is off or unknown). Handlers gate behaviour on it:
// share groups need share.version >= 1, streams groups streams.version >=
// 1, the KIP-848 consumer protocol group.version >= 1.
func (b *Broker) featureLevel(name string) int16 {
	_, hi, ok := b.supportedFeature(name)
	if !ok {
		return 0
	}
	if name == featureKRaft {
		if b.raft != nil {
			return 1
		}
		return 0
	}
	level := defaultFeatureLevel(name)
	if v, ok := b.entities.Get(entityFeature, name); ok {
		if f, err := decodeFeatureValue(v); err == nil {
			level = f.level
		}
	}
	return min(level, hi)
}

// finalizedFeaturesEpoch is the epoch of the finalized levels: the highest
// stored, 1 when none was ever stored.
func (b *Broker) finalizedFeaturesEpoch() int64 {
	epoch := int64(1)
	for _, e := range b.entities.List(entityFeature) {
		if f, err := decodeFeatureValue(e.Value); err == nil {
			epoch = max(epoch, f.epoch)
		}
	}
	return epoch
}

// featureValue is the stored value of one finalized feature (FORMAT.md,
// "Entity values: feature").
type featureValue struct {
	level int16
	epoch int64
}

const featureValueVersion = 0

// errFeatureValue: a stored feature value this binary cannot read.
var errFeatureValue = errors.New("broker: corrupt feature value")

func (f featureValue) encode() []byte {
	v := make([]byte, 11)
	v[0] = featureValueVersion
	binary.BigEndian.PutUint16(v[1:], uint16(f.level))
	binary.BigEndian.PutUint64(v[3:], uint64(f.epoch))
	return v
}

func decodeFeatureValue(v []byte) (featureValue, error) {
	if len(v) != 11 || v[0] != featureValueVersion {
		return featureValue{}, fmt.Errorf("%w: %d bytes, version %v", errFeatureValue, len(v), v[:min(len(v), 1)])
	}
	return featureValue{level: int16(binary.BigEndian.Uint16(v[1:])), epoch: int64(binary.BigEndian.Uint64(v[3:]))}, nil
}
