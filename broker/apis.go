package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/moldau/moldau/protocol"
)

// api is one served Kafka API: its version range and handler. The table
// below is the one source ApiVersions is built from; only fully implemented
// versions go in it.
type api struct {
	key      int16
	name     string
	min, max int16
	handle   func(b *Broker, ctx context.Context, req *protocol.Request) protocol.Reply
}

// clusterOnly lists the APIs served and advertised only in cluster mode.
// (None today: a single node serves every API a cluster does.)
var clusterOnly = map[int16]bool{}

// apiTable is filled in init (ApiVersions reads it, which would otherwise be
// an initialisation cycle).
var (
	apiTable  []api
	apisByKey [128]*api
)

func init() {
	apiTable = servedAPIs()
	apisByKey = indexAPIs(apiTable)
}

// servedAPIs lists the served APIs. Version ranges: Kafka 4.2's, widened
// downwards to the older versions that Kafka 4.0 dropped (KIP-896) where
// clients such as sarama still send them.
func servedAPIs() []api {
	return []api{
		{0, "Produce", 3, 13, (*Broker).handleProduce},
		{1, "Fetch", 4, 18, (*Broker).handleFetch},
		{2, "ListOffsets", 0, 11, (*Broker).handleListOffsets},
		{3, "Metadata", 0, 13, (*Broker).handleMetadata},
		{8, "OffsetCommit", 0, 10, (*Broker).handleOffsetCommit},
		{9, "OffsetFetch", 0, 10, (*Broker).handleOffsetFetch},
		{10, "FindCoordinator", 0, 6, (*Broker).handleFindCoordinator},
		{11, "JoinGroup", 0, 9, (*Broker).handleJoinGroup},
		{12, "Heartbeat", 0, 4, (*Broker).handleHeartbeat},
		{13, "LeaveGroup", 0, 5, (*Broker).handleLeaveGroup},
		{14, "SyncGroup", 0, 5, (*Broker).handleSyncGroup},
		{15, "DescribeGroups", 0, 6, (*Broker).handleDescribeGroups},
		{16, "ListGroups", 0, 5, (*Broker).handleListGroups},
		{17, "SaslHandshake", 0, 1, (*Broker).handleSaslHandshake},
		{18, "ApiVersions", 0, 5, (*Broker).handleApiVersions},
		{19, "CreateTopics", 0, 7, (*Broker).handleCreateTopics},
		{20, "DeleteTopics", 0, 6, (*Broker).handleDeleteTopics},
		{21, "DeleteRecords", 0, 2, (*Broker).handleDeleteRecords},
		{22, "InitProducerId", 0, 5, (*Broker).handleInitProducerID},
		{23, "OffsetForLeaderEpoch", 0, 4, (*Broker).handleOffsetForLeaderEpoch},
		{24, "AddPartitionsToTxn", 0, 5, (*Broker).handleAddPartitionsToTxn},
		{25, "AddOffsetsToTxn", 0, 4, (*Broker).handleAddOffsetsToTxn},
		{26, "EndTxn", 0, 5, (*Broker).handleEndTxn},
		{27, "WriteTxnMarkers", 0, 2, (*Broker).handleWriteTxnMarkers},
		{28, "TxnOffsetCommit", 0, 6, (*Broker).handleTxnOffsetCommit},
		{29, "DescribeAcls", 0, 3, (*Broker).handleDescribeACLs},
		{30, "CreateAcls", 0, 3, (*Broker).handleCreateACLs},
		{31, "DeleteAcls", 0, 3, (*Broker).handleDeleteACLs},
		{32, "DescribeConfigs", 0, 4, (*Broker).handleDescribeConfigs},
		{33, "AlterConfigs", 0, 2, (*Broker).handleAlterConfigs},
		{34, "AlterReplicaLogDirs", 1, 2, (*Broker).handleAlterReplicaLogDirs},
		{35, "DescribeLogDirs", 0, 5, (*Broker).handleDescribeLogDirs},
		{36, "SaslAuthenticate", 0, 2, (*Broker).handleSaslAuthenticate},
		{37, "CreatePartitions", 0, 3, (*Broker).handleCreatePartitions},
		{38, "CreateDelegationToken", 0, 3, (*Broker).handleCreateDelegationToken},
		{39, "RenewDelegationToken", 0, 2, (*Broker).handleRenewDelegationToken},
		{40, "ExpireDelegationToken", 0, 2, (*Broker).handleExpireDelegationToken},
		{41, "DescribeDelegationToken", 0, 3, (*Broker).handleDescribeDelegationToken},
		{42, "DeleteGroups", 0, 3, (*Broker).handleDeleteGroups},
		{43, "ElectLeaders", 0, 2, (*Broker).handleElectLeaders},
		{44, "IncrementalAlterConfigs", 0, 1, (*Broker).handleIncrementalAlterConfigs},
		{45, "AlterPartitionReassignments", 0, 1, (*Broker).handleAlterPartitionReassignments},
		{46, "ListPartitionReassignments", 0, 0, (*Broker).handleListPartitionReassignments},
		{47, "OffsetDelete", 0, 0, (*Broker).handleOffsetDelete},
		{48, "DescribeClientQuotas", 0, 1, (*Broker).handleDescribeClientQuotas},
		{49, "AlterClientQuotas", 0, 1, (*Broker).handleAlterClientQuotas},
		{50, "DescribeUserScramCredentials", 0, 0, (*Broker).handleDescribeUserScramCredentials},
		{51, "AlterUserScramCredentials", 0, 0, (*Broker).handleAlterUserScramCredentials},
		{55, "DescribeQuorum", 0, 2, (*Broker).handleDescribeQuorum},
		{57, "UpdateFeatures", 0, 2, (*Broker).handleUpdateFeatures},
		{60, "DescribeCluster", 0, 2, (*Broker).handleDescribeCluster},
		{61, "DescribeProducers", 0, 0, (*Broker).handleDescribeProducers},
		{64, "UnregisterBroker", 0, 0, (*Broker).handleUnregisterBroker},
		{65, "DescribeTransactions", 0, 0, (*Broker).handleDescribeTransactions},
		{66, "ListTransactions", 0, 2, (*Broker).handleListTransactions},
		{68, "ConsumerGroupHeartbeat", 0, 1, (*Broker).handleConsumerGroupHeartbeat},
		{69, "ConsumerGroupDescribe", 0, 1, (*Broker).handleConsumerGroupDescribe},
		{71, "GetTelemetrySubscriptions", 0, 0, (*Broker).handleGetTelemetrySubscriptions},
		{72, "PushTelemetry", 0, 0, (*Broker).handlePushTelemetry},
		{74, "ListConfigResources", 0, 1, (*Broker).handleListConfigResources},
		{76, "ShareGroupHeartbeat", 1, 1, (*Broker).handleShareGroupHeartbeat},
		{77, "ShareGroupDescribe", 1, 1, (*Broker).handleShareGroupDescribe},
		{90, "DescribeShareGroupOffsets", 0, 1, (*Broker).handleDescribeShareGroupOffsets},
		{91, "AlterShareGroupOffsets", 0, 0, (*Broker).handleAlterShareGroupOffsets},
		{92, "DeleteShareGroupOffsets", 0, 0, (*Broker).handleDeleteShareGroupOffsets},
		{75, "DescribeTopicPartitions", 0, 0, (*Broker).handleDescribeTopicPartitions},
		{78, "ShareFetch", 1, 2, (*Broker).handleShareFetch},
		{79, "ShareAcknowledge", 1, 2, (*Broker).handleShareAcknowledge},
		{88, "StreamsGroupHeartbeat", 0, 1, (*Broker).handleStreamsGroupHeartbeat},
		{89, "StreamsGroupDescribe", 0, 1, (*Broker).handleStreamsGroupDescribe},
		{93, "StreamsGroupTopologyDescriptionUpdate", 0, 0, (*Broker).handleStreamsGroupTopologyDescriptionUpdate},
		{80, "AddRaftVoter", 0, 1, (*Broker).handleAddRaftVoter},
		{81, "RemoveRaftVoter", 0, 0, (*Broker).handleRemoveRaftVoter},
		{83, "InitializeShareGroupState", 0, 0, (*Broker).handleInitializeShareGroupState},
		{84, "ReadShareGroupState", 0, 0, (*Broker).handleReadShareGroupState},
		{85, "WriteShareGroupState", 0, 1, (*Broker).handleWriteShareGroupState},
		{86, "DeleteShareGroupState", 0, 0, (*Broker).handleDeleteShareGroupState},
		{87, "ReadShareGroupStateSummary", 0, 1, (*Broker).handleReadShareGroupStateSummary},
		{94, "UnregisterController", 0, 0, (*Broker).handleUnregisterController},
	}
}

// indexAPIs indexes the table by key, rejecting duplicates and bad ranges.
func indexAPIs(table []api) [128]*api {
	var t [128]*api
	for i := range table {
		a := &table[i]
		if a.key < 0 || int(a.key) >= len(t) {
			panic(fmt.Sprintf("broker: api key %d out of range", a.key))
		}
		if t[a.key] != nil {
			panic(fmt.Sprintf("broker: api key %d listed twice", a.key))
		}
		if a.min > a.max {
			panic(fmt.Sprintf("broker: api key %d: min %d > max %d", a.key, a.min, a.max))
		}
		t[a.key] = a
	}
	return t
}

func apiFor(key int16) *api {
	if key < 0 || int(key) >= len(apisByKey) {
		return nil
	}
	return apisByKey[key]
}

// versionCaps holds, per key, the highest version this broker advertises:
// the table's max, lowered by --kafka-version to what that Kafka release
// served; -1 when the key is not served at all.
type versionCaps [128]int16

func newVersionCaps(kafkaVersion string) (*versionCaps, error) {
	var caps versionCaps
	for i := range caps {
		caps[i] = -1
	}
	var kv *kversion.Versions
	if kafkaVersion != "" {
		if kv = kversion.FromString(kafkaVersion); kv == nil {
			return nil, fmt.Errorf("broker: unknown Kafka version %q", kafkaVersion)
		}
	}
	for _, a := range apiTable {
		hi := a.max
		if kv != nil {
			kmax, ok := kv.LookupMaxKeyVersion(a.key)
			if !ok {
				continue
			}
			hi = min(hi, kmax)
		}
		if hi >= a.min {
			caps[a.key] = hi
		}
	}
	return &caps, nil
}

// versionRange is the range of versions of key this broker serves.
func (b *Broker) versionRange(key int16) (lo, hi int16, ok bool) {
	a := apiFor(key)
	if a == nil || b.caps[key] < 0 || (clusterOnly[key] && b.raft == nil) {
		return 0, 0, false
	}
	return a.min, b.caps[key], true
}
