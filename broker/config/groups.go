package config

// The group coordinator's broker keys (group.consumer.*, group.share.*,
// group.streams.*: Kafka 4.4's GroupCoordinatorConfig and ShareGroupConfig,
// defaults and validators as Kafka's), and GROUP config resources (KIP-848's
// group configs, Kafka 4.4's GroupConfig): their keys, validation against
// the broker's group.*.min/max keys, and DescribeConfigs' view of them.

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// GroupDefaults are the group coordinator's broker keys besides
// group.consumer.session.timeout.ms and group.consumer.heartbeat.interval.ms
// (Config's own fields). Each field names its key and Kafka's default.
type GroupDefaults struct {
	ConsumerAssignmentIntervalMs    int32  // group.consumer.assignment.interval.ms = 1000
	ConsumerAssignors               string // group.consumer.assignors = uniform,range
	ConsumerMaxAssignmentIntervalMs int32  // group.consumer.max.assignment.interval.ms = 15000
	ConsumerMaxHeartbeatIntervalMs  int32  // group.consumer.max.heartbeat.interval.ms = 15000
	ConsumerMaxSessionTimeoutMs     int32  // group.consumer.max.session.timeout.ms = 60000
	ConsumerMaxSize                 int32  // group.consumer.max.size = 2147483647
	ConsumerMigrationPolicy         string // group.consumer.migration.policy = bidirectional
	ConsumerMinAssignmentIntervalMs int32  // group.consumer.min.assignment.interval.ms = 0
	ConsumerMinHeartbeatIntervalMs  int32  // group.consumer.min.heartbeat.interval.ms = 5000
	ConsumerMinSessionTimeoutMs     int32  // group.consumer.min.session.timeout.ms = 45000

	ShareAssignmentIntervalMs       int32  // group.share.assignment.interval.ms = 1000
	ShareAssignors                  string // group.share.assignors = simple
	ShareDeliveryCountLimit         int32  // group.share.delivery.count.limit = 5
	ShareHeartbeatIntervalMs        int32  // group.share.heartbeat.interval.ms = 5000
	ShareMaxAssignmentIntervalMs    int32  // group.share.max.assignment.interval.ms = 15000
	ShareMaxDeliveryCountLimit      int32  // group.share.max.delivery.count.limit = 10
	ShareMaxHeartbeatIntervalMs     int32  // group.share.max.heartbeat.interval.ms = 15000
	ShareMaxPartitionMaxRecordLocks int32  // group.share.max.partition.max.record.locks = 4000
	ShareMaxRecordLockDurationMs    int32  // group.share.max.record.lock.duration.ms = 60000
	ShareMaxSessionTimeoutMs        int32  // group.share.max.session.timeout.ms = 60000
	ShareMaxShareSessions           int32  // group.share.max.share.sessions = 2000
	ShareMaxSize                    int32  // group.share.max.size = 200
	ShareMinAssignmentIntervalMs    int32  // group.share.min.assignment.interval.ms = 0
	ShareMinDeliveryCountLimit      int32  // group.share.min.delivery.count.limit = 2
	ShareMinHeartbeatIntervalMs     int32  // group.share.min.heartbeat.interval.ms = 5000
	ShareMinPartitionMaxRecordLocks int32  // group.share.min.partition.max.record.locks = 100
	ShareMinRecordLockDurationMs    int32  // group.share.min.record.lock.duration.ms = 15000
	ShareMinSessionTimeoutMs        int32  // group.share.min.session.timeout.ms = 45000
	SharePartitionMaxRecordLocks    int32  // group.share.partition.max.record.locks = 2000
	ShareRecordLockDurationMs       int32  // group.share.record.lock.duration.ms = 30000
	ShareSessionTimeoutMs           int32  // group.share.session.timeout.ms = 45000

	StreamsAssignmentIntervalMs    int32  // group.streams.assignment.interval.ms = 1000
	StreamsAssignors               string // group.streams.assignors = sticky
	StreamsHeartbeatIntervalMs     int32  // group.streams.heartbeat.interval.ms = 5000
	StreamsInitialRebalanceDelayMs int32  // group.streams.initial.rebalance.delay.ms = 3000
	StreamsMaxAssignmentIntervalMs int32  // group.streams.max.assignment.interval.ms = 15000
	StreamsMaxHeartbeatIntervalMs  int32  // group.streams.max.heartbeat.interval.ms = 15000
	StreamsMaxSessionTimeoutMs     int32  // group.streams.max.session.timeout.ms = 60000
	StreamsMaxSize                 int32  // group.streams.max.size = 2147483647
	StreamsMaxStandbyReplicas      int32  // group.streams.max.standby.replicas = 2
	StreamsMinAssignmentIntervalMs int32  // group.streams.min.assignment.interval.ms = 0
	StreamsMinHeartbeatIntervalMs  int32  // group.streams.min.heartbeat.interval.ms = 5000
	StreamsMinSessionTimeoutMs     int32  // group.streams.min.session.timeout.ms = 45000
	StreamsNumStandbyReplicas      int32  // group.streams.num.standby.replicas = 0
	StreamsRackAwareAssignmentTags string // group.streams.rack.aware.assignment.tags = (empty list)
	StreamsSessionTimeoutMs        int32  // group.streams.session.timeout.ms = 45000
}

func defaultGroupDefaults() GroupDefaults {
	return GroupDefaults{
		ConsumerAssignmentIntervalMs: 1000, ConsumerAssignors: "uniform,range", ConsumerMaxAssignmentIntervalMs: 15000,
		ConsumerMaxHeartbeatIntervalMs: 15000, ConsumerMaxSessionTimeoutMs: 60000, ConsumerMaxSize: math.MaxInt32,
		ConsumerMigrationPolicy: "bidirectional", ConsumerMinHeartbeatIntervalMs: 5000, ConsumerMinSessionTimeoutMs: 45000,

		ShareAssignmentIntervalMs: 1000, ShareAssignors: "simple", ShareDeliveryCountLimit: 5, ShareHeartbeatIntervalMs: 5000,
		ShareMaxAssignmentIntervalMs: 15000, ShareMaxDeliveryCountLimit: 10, ShareMaxHeartbeatIntervalMs: 15000,
		ShareMaxPartitionMaxRecordLocks: 4000, ShareMaxRecordLockDurationMs: 60000, ShareMaxSessionTimeoutMs: 60000,
		ShareMaxShareSessions: 2000, ShareMaxSize: 200, ShareMinDeliveryCountLimit: 2, ShareMinHeartbeatIntervalMs: 5000,
		ShareMinPartitionMaxRecordLocks: 100, ShareMinRecordLockDurationMs: 15000, ShareMinSessionTimeoutMs: 45000,
		SharePartitionMaxRecordLocks: 2000, ShareRecordLockDurationMs: 30000, ShareSessionTimeoutMs: 45000,

		StreamsAssignmentIntervalMs: 1000, StreamsAssignors: "sticky", StreamsHeartbeatIntervalMs: 5000,
		StreamsInitialRebalanceDelayMs: 3000, StreamsMaxAssignmentIntervalMs: 15000, StreamsMaxHeartbeatIntervalMs: 15000,
		StreamsMaxSessionTimeoutMs: 60000, StreamsMaxSize: math.MaxInt32, StreamsMaxStandbyReplicas: 2,
		StreamsMinHeartbeatIntervalMs: 5000, StreamsMinSessionTimeoutMs: 45000, StreamsSessionTimeoutMs: 45000,
	}
}

var migrationPolicies = []string{"disabled", "downgrade", "upgrade", "bidirectional"}

// groupBrokerKeys are appended to brokerKeys.
func groupBrokerKeys() []brokerKey {
	g := func(f func(*GroupDefaults) *int32) func(*Config) *int32 {
		return func(c *Config) *int32 { return f(&c.Groups) }
	}
	gs := func(f func(*GroupDefaults) *string) func(*Config) *string {
		return func(c *Config) *string { return f(&c.Groups) }
	}
	pos, nonNeg := intSpec(1, math.MaxInt32), intSpec(0, math.MaxInt32)
	list := valueSpec{typ: TypeList}
	return []brokerKey{
		int32Key("group.consumer.assignment.interval.ms", nonNeg, "The default minimum time between two assignments of a consumer group.", g(func(d *GroupDefaults) *int32 { return &d.ConsumerAssignmentIntervalMs })),
		stringKey("group.consumer.assignors", list, "The server-side assignors of consumer groups, the first the default.", gs(func(d *GroupDefaults) *string { return &d.ConsumerAssignors })),
		int32Key("group.consumer.max.assignment.interval.ms", nonNeg, "The largest consumer.assignment.interval.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ConsumerMaxAssignmentIntervalMs })),
		int32Key("group.consumer.max.heartbeat.interval.ms", pos, "The largest consumer.heartbeat.interval.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ConsumerMaxHeartbeatIntervalMs })),
		int32Key("group.consumer.max.session.timeout.ms", pos, "The largest consumer.session.timeout.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ConsumerMaxSessionTimeoutMs })),
		int32Key("group.consumer.max.size", pos, "The most members a consumer group may have.", g(func(d *GroupDefaults) *int32 { return &d.ConsumerMaxSize })),
		{name: "group.consumer.migration.policy", spec: valueSpec{typ: TypeString, check: oneOfFold(migrationPolicies)}, doc: "Upgrades and downgrades between classic and consumer groups: disabled, downgrade, upgrade or bidirectional (case insensitive).",
			apply: func(c *Config, v string, _ map[string]string) error { c.Groups.ConsumerMigrationPolicy = v; return nil },
			value: func(c *Config) *string { return ptr(c.Groups.ConsumerMigrationPolicy) }},
		int32Key("group.consumer.min.assignment.interval.ms", nonNeg, "The smallest consumer.assignment.interval.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ConsumerMinAssignmentIntervalMs })),
		int32Key("group.consumer.min.heartbeat.interval.ms", pos, "The smallest consumer.heartbeat.interval.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ConsumerMinHeartbeatIntervalMs })),
		int32Key("group.consumer.min.session.timeout.ms", pos, "The smallest consumer.session.timeout.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ConsumerMinSessionTimeoutMs })),

		int32Key("group.share.assignment.interval.ms", nonNeg, "The default minimum time between two assignments of a share group.", g(func(d *GroupDefaults) *int32 { return &d.ShareAssignmentIntervalMs })),
		stringKey("group.share.assignors", list, "The server-side assignors of share groups.", gs(func(d *GroupDefaults) *string { return &d.ShareAssignors })),
		int32Key("group.share.delivery.count.limit", intSpec(2, 10), "How many times a record of a share group is delivered before it is archived.", g(func(d *GroupDefaults) *int32 { return &d.ShareDeliveryCountLimit })),
		int32Key("group.share.heartbeat.interval.ms", pos, "Heartbeat interval of share group members.", g(func(d *GroupDefaults) *int32 { return &d.ShareHeartbeatIntervalMs })),
		int32Key("group.share.max.assignment.interval.ms", nonNeg, "The largest share.assignment.interval.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ShareMaxAssignmentIntervalMs })),
		int32Key("group.share.max.delivery.count.limit", intSpec(5, 25), "The largest share.delivery.count.limit a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ShareMaxDeliveryCountLimit })),
		int32Key("group.share.max.heartbeat.interval.ms", pos, "The largest share.heartbeat.interval.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ShareMaxHeartbeatIntervalMs })),
		int32Key("group.share.max.partition.max.record.locks", intSpec(2000, 10000), "The largest share.partition.max.record.locks a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ShareMaxPartitionMaxRecordLocks })),
		int32Key("group.share.max.record.lock.duration.ms", intSpec(30000, 3600000), "The largest share.record.lock.duration.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ShareMaxRecordLockDurationMs })),
		int32Key("group.share.max.session.timeout.ms", pos, "The largest share.session.timeout.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ShareMaxSessionTimeoutMs })),
		int32Key("group.share.max.share.sessions", pos, "The most share sessions a broker keeps.", g(func(d *GroupDefaults) *int32 { return &d.ShareMaxShareSessions })),
		int32Key("group.share.max.size", intSpec(1, 1000), "The most members a share group may have.", g(func(d *GroupDefaults) *int32 { return &d.ShareMaxSize })),
		int32Key("group.share.min.assignment.interval.ms", nonNeg, "The smallest share.assignment.interval.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ShareMinAssignmentIntervalMs })),
		int32Key("group.share.min.delivery.count.limit", intSpec(2, 5), "The smallest share.delivery.count.limit a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ShareMinDeliveryCountLimit })),
		int32Key("group.share.min.heartbeat.interval.ms", pos, "The smallest share.heartbeat.interval.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ShareMinHeartbeatIntervalMs })),
		int32Key("group.share.min.partition.max.record.locks", intSpec(100, 2000), "The smallest share.partition.max.record.locks a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ShareMinPartitionMaxRecordLocks })),
		int32Key("group.share.min.record.lock.duration.ms", intSpec(1000, 30000), "The smallest share.record.lock.duration.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ShareMinRecordLockDurationMs })),
		int32Key("group.share.min.session.timeout.ms", pos, "The smallest share.session.timeout.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.ShareMinSessionTimeoutMs })),
		int32Key("group.share.partition.max.record.locks", intSpec(100, 10000), "The most records of a share partition acquired at once.", g(func(d *GroupDefaults) *int32 { return &d.SharePartitionMaxRecordLocks })),
		int32Key("group.share.record.lock.duration.ms", intSpec(1000, 3600000), "How long a share group member holds an acquired record before it is released.", g(func(d *GroupDefaults) *int32 { return &d.ShareRecordLockDurationMs })),
		int32Key("group.share.session.timeout.ms", pos, "Session timeout of share group members.", g(func(d *GroupDefaults) *int32 { return &d.ShareSessionTimeoutMs })),

		int32Key("group.streams.assignment.interval.ms", nonNeg, "The default minimum time between two assignments of a streams group.", g(func(d *GroupDefaults) *int32 { return &d.StreamsAssignmentIntervalMs })),
		stringKey("group.streams.assignors", list, "The server-side task assignors of streams groups, the first the default.", gs(func(d *GroupDefaults) *string { return &d.StreamsAssignors })),
		int32Key("group.streams.heartbeat.interval.ms", pos, "Heartbeat interval of streams group members.", g(func(d *GroupDefaults) *int32 { return &d.StreamsHeartbeatIntervalMs })),
		int32Key("group.streams.initial.rebalance.delay.ms", nonNeg, "How long a new streams group waits for more members before its first assignment.", g(func(d *GroupDefaults) *int32 { return &d.StreamsInitialRebalanceDelayMs })),
		int32Key("group.streams.max.assignment.interval.ms", nonNeg, "The largest streams.assignment.interval.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.StreamsMaxAssignmentIntervalMs })),
		int32Key("group.streams.max.heartbeat.interval.ms", pos, "The largest streams.heartbeat.interval.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.StreamsMaxHeartbeatIntervalMs })),
		int32Key("group.streams.max.session.timeout.ms", pos, "The largest streams.session.timeout.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.StreamsMaxSessionTimeoutMs })),
		int32Key("group.streams.max.size", pos, "The most members a streams group may have.", g(func(d *GroupDefaults) *int32 { return &d.StreamsMaxSize })),
		int32Key("group.streams.max.standby.replicas", nonNeg, "The largest streams.num.standby.replicas a group may set.", g(func(d *GroupDefaults) *int32 { return &d.StreamsMaxStandbyReplicas })),
		int32Key("group.streams.min.assignment.interval.ms", nonNeg, "The smallest streams.assignment.interval.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.StreamsMinAssignmentIntervalMs })),
		int32Key("group.streams.min.heartbeat.interval.ms", pos, "The smallest streams.heartbeat.interval.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.StreamsMinHeartbeatIntervalMs })),
		int32Key("group.streams.min.session.timeout.ms", pos, "The smallest streams.session.timeout.ms a group may set.", g(func(d *GroupDefaults) *int32 { return &d.StreamsMinSessionTimeoutMs })),
		int32Key("group.streams.num.standby.replicas", nonNeg, "The default number of standby replicas of a streams group's tasks.", g(func(d *GroupDefaults) *int32 { return &d.StreamsNumStandbyReplicas })),
		stringKey("group.streams.rack.aware.assignment.tags", list, "The client tags the streams assignor spreads standby replicas over.", gs(func(d *GroupDefaults) *string { return &d.StreamsRackAwareAssignmentTags })),
		int32Key("group.streams.session.timeout.ms", pos, "Session timeout of streams group members.", g(func(d *GroupDefaults) *int32 { return &d.StreamsSessionTimeoutMs })),
	}
}

// oneOfFold accepts one of values in any case (Kafka's
// ValidString.in(...) with case-insensitive matching).
func oneOfFold(values []string) func(string) error {
	return func(v string) error {
		for _, x := range values {
			if strings.EqualFold(x, v) {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s (case insensitive)", strings.Join(values, ", "))
	}
}

// groupKey is one of Kafka 4.4's GROUP configs.
type groupKey struct {
	name      string
	spec      valueSpec
	def       string // Kafka's default, used when brokerKey is not a Moldau broker key
	brokerKey string // the broker synonym (GroupConfig.brokerSynonym), "" for none
	internal  bool   // Kafka's internal configs: described only when set
	doc       string
	// bounds, for an INT config whose value the broker's keys bound:
	// returns lo, hi and whether each applies.
	bounds func(c *Config) (lo, hi int64, hasLo, hasHi bool)
}

func rangeOf(lo, hi func(*GroupDefaults) int32) func(c *Config) (int64, int64, bool, bool) {
	return func(c *Config) (int64, int64, bool, bool) {
		return int64(lo(&c.Groups)), int64(hi(&c.Groups)), true, true
	}
}

var groupKeyList = sync.OnceValue(func() []groupKey {
	pos, nonNeg := intSpec(1, math.MaxInt32), intSpec(0, math.MaxInt32)
	b := boolSpec()
	return []groupKey{
		{name: "consumer.assignment.interval.ms", spec: nonNeg, def: "1000", brokerKey: "group.consumer.assignment.interval.ms", doc: "The minimum time between two assignments of the consumer group.",
			bounds: rangeOf(func(d *GroupDefaults) int32 { return d.ConsumerMinAssignmentIntervalMs }, func(d *GroupDefaults) int32 { return d.ConsumerMaxAssignmentIntervalMs })},
		{name: "consumer.assignor.offload.enable", spec: b, def: "true", brokerKey: "group.consumer.assignor.offload.enable", internal: true},
		{name: "consumer.heartbeat.interval.ms", spec: pos, def: "5000", brokerKey: "group.consumer.heartbeat.interval.ms", doc: "The heartbeat interval given to the members of the consumer group.",
			bounds: rangeOf(func(d *GroupDefaults) int32 { return d.ConsumerMinHeartbeatIntervalMs }, func(d *GroupDefaults) int32 { return d.ConsumerMaxHeartbeatIntervalMs })},
		{name: "consumer.session.timeout.ms", spec: pos, def: "45000", brokerKey: "group.consumer.session.timeout.ms", doc: "The timeout to detect client failures of the consumer group.",
			bounds: rangeOf(func(d *GroupDefaults) int32 { return d.ConsumerMinSessionTimeoutMs }, func(d *GroupDefaults) int32 { return d.ConsumerMaxSessionTimeoutMs })},
		{name: "errors.deadletterqueue.copy.record.enable", spec: b, def: "false", doc: "Copy the record to the dead-letter queue topic (share groups)."},
		{name: "errors.deadletterqueue.topic.name", spec: valueSpec{typ: TypeString}, def: "", doc: "The dead-letter queue topic of the share group."},
		{name: "share.assignment.interval.ms", spec: nonNeg, def: "1000", brokerKey: "group.share.assignment.interval.ms", doc: "The minimum time between two assignments of the share group.",
			bounds: rangeOf(func(d *GroupDefaults) int32 { return d.ShareMinAssignmentIntervalMs }, func(d *GroupDefaults) int32 { return d.ShareMaxAssignmentIntervalMs })},
		{name: "share.assignor.offload.enable", spec: b, def: "true", brokerKey: "group.share.assignor.offload.enable", internal: true},
		{name: "share.auto.offset.reset", spec: valueSpec{typ: TypeString, check: shareAutoOffsetReset}, def: "latest", doc: "Where a share group starts consuming a partition without a start offset: latest, earliest or by_duration:<ISO-8601 duration>."},
		{name: "share.delivery.count.limit", spec: intSpec(2, math.MaxInt32), def: "5", brokerKey: "group.share.delivery.count.limit", doc: "How many times a record is delivered to the share group before it is archived.",
			bounds: rangeOf(func(d *GroupDefaults) int32 { return d.ShareMinDeliveryCountLimit }, func(d *GroupDefaults) int32 { return d.ShareMaxDeliveryCountLimit })},
		{name: "share.heartbeat.interval.ms", spec: pos, def: "5000", brokerKey: "group.share.heartbeat.interval.ms", doc: "The heartbeat interval given to the members of the share group.",
			bounds: rangeOf(func(d *GroupDefaults) int32 { return d.ShareMinHeartbeatIntervalMs }, func(d *GroupDefaults) int32 { return d.ShareMaxHeartbeatIntervalMs })},
		{name: "share.isolation.level", spec: valueSpec{typ: TypeString, oneOf: []string{"read_committed", "read_uncommitted"}}, def: "read_uncommitted", doc: "Whether the share group reads transactional records only once committed (read_committed) or all (read_uncommitted)."},
		{name: "share.partition.max.record.locks", spec: intSpec(100, math.MaxInt32), def: "2000", brokerKey: "group.share.partition.max.record.locks", doc: "The most records of a share partition acquired at once.",
			bounds: rangeOf(func(d *GroupDefaults) int32 { return d.ShareMinPartitionMaxRecordLocks }, func(d *GroupDefaults) int32 { return d.ShareMaxPartitionMaxRecordLocks })},
		{name: "share.record.lock.duration.ms", spec: intSpec(1000, math.MaxInt32), def: "30000", brokerKey: "group.share.record.lock.duration.ms", doc: "How long a member holds an acquired record before it is released.",
			bounds: rangeOf(func(d *GroupDefaults) int32 { return d.ShareMinRecordLockDurationMs }, func(d *GroupDefaults) int32 { return d.ShareMaxRecordLockDurationMs })},
		{name: "share.renew.acknowledge.enable", spec: b, def: "true", doc: "Whether members of the share group may renew acquisition locks with RENEW acknowledgements."},
		{name: "share.session.timeout.ms", spec: pos, def: "45000", brokerKey: "group.share.session.timeout.ms", doc: "The timeout to detect client failures of the share group.",
			bounds: rangeOf(func(d *GroupDefaults) int32 { return d.ShareMinSessionTimeoutMs }, func(d *GroupDefaults) int32 { return d.ShareMaxSessionTimeoutMs })},
		{name: "streams.acceptable.recovery.lag", spec: longSpec(0), def: "10000", brokerKey: "group.streams.acceptable.recovery.lag", internal: true},
		{name: "streams.assignment.interval.ms", spec: nonNeg, def: "1000", brokerKey: "group.streams.assignment.interval.ms", doc: "The minimum time between two assignments of the streams group.",
			bounds: rangeOf(func(d *GroupDefaults) int32 { return d.StreamsMinAssignmentIntervalMs }, func(d *GroupDefaults) int32 { return d.StreamsMaxAssignmentIntervalMs })},
		{name: "streams.assignor.name", spec: valueSpec{typ: TypeString, nullable: true}, def: "sticky", brokerKey: "group.streams.assignors", doc: "The task assignor of the streams group."},
		{name: "streams.assignor.offload.enable", spec: b, def: "true", brokerKey: "group.streams.assignor.offload.enable", internal: true},
		{name: "streams.heartbeat.interval.ms", spec: pos, def: "5000", brokerKey: "group.streams.heartbeat.interval.ms", doc: "The heartbeat interval given to the members of the streams group.",
			bounds: rangeOf(func(d *GroupDefaults) int32 { return d.StreamsMinHeartbeatIntervalMs }, func(d *GroupDefaults) int32 { return d.StreamsMaxHeartbeatIntervalMs })},
		{name: "streams.initial.rebalance.delay.ms", spec: nonNeg, def: "3000", brokerKey: "group.streams.initial.rebalance.delay.ms", doc: "How long a new streams group waits for more members before its first assignment."},
		{name: "streams.num.standby.replicas", spec: nonNeg, def: "0", brokerKey: "group.streams.num.standby.replicas", doc: "The number of standby replicas of each task of the streams group.",
			bounds: func(c *Config) (int64, int64, bool, bool) {
				return 0, int64(c.Groups.StreamsMaxStandbyReplicas), false, true
			}},
		{name: "streams.num.warmup.replicas", spec: nonNeg, def: "2", brokerKey: "group.streams.num.warmup.replicas", internal: true,
			bounds: func(*Config) (int64, int64, bool, bool) { return 0, 20, false, true }},
		{name: "streams.rack.aware.assignment.tags", spec: valueSpec{typ: TypeList}, def: "", brokerKey: "group.streams.rack.aware.assignment.tags", doc: "The client tags the streams assignor spreads standby replicas over."},
		{name: "streams.session.timeout.ms", spec: pos, def: "45000", brokerKey: "group.streams.session.timeout.ms", doc: "The timeout to detect client failures of the streams group.",
			bounds: rangeOf(func(d *GroupDefaults) int32 { return d.StreamsMinSessionTimeoutMs }, func(d *GroupDefaults) int32 { return d.StreamsMaxSessionTimeoutMs })},
		{name: "streams.task.offset.interval.ms", spec: pos, def: "60000", brokerKey: "group.streams.task.offset.interval.ms", internal: true,
			bounds: func(*Config) (int64, int64, bool, bool) { return 15000, 0, true, false }},
	}
})

func lookupGroupKey(name string) (groupKey, bool) {
	for _, k := range groupKeyList() {
		if k.name == name {
			return k, true
		}
	}
	return groupKey{}, false
}

// IsGroupConfig reports whether name is one of Kafka 4.4's GROUP configs.
func IsGroupConfig(name string) bool {
	_, ok := lookupGroupKey(name)
	return ok
}

var isoDuration = regexp.MustCompile(`(?i)^P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$`)

// shareAutoOffsetReset accepts Kafka's values: latest, earliest or
// by_duration:<non-negative ISO-8601 duration> (as Java's Duration.parse
// reads it: PnDTnHnMn.nS, at least one part).
func shareAutoOffsetReset(v string) error {
	switch strings.ToLower(v) {
	case "latest", "earliest":
		return nil
	}
	if len(v) > len("by_duration:") && strings.EqualFold(v[:len("by_duration:")], "by_duration:") {
		d := v[len("by_duration:"):]
		if isoDuration.MatchString(d) && !strings.EqualFold(d, "P") && !strings.HasSuffix(strings.ToUpper(d), "T") {
			return nil
		}
	}
	return fmt.Errorf("Invalid value `%s` for configuration share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'.", v)
}

// groupConfigError is Kafka's INVALID_CONFIG answer with its message.
func groupConfigError(name, value, msg string) error {
	return &InvalidConfigError{Name: name, Value: value, Message: msg}
}

// ValidateGroupConfigs checks a group's whole new set of GROUP configs as
// Kafka 4.4 does (GroupConfig.validate): unknown names, then each value's
// type and validator, then the bounds the broker's group.*.min/max keys set.
// The error is an *InvalidConfigError carrying Kafka's message.
func (c Config) ValidateGroupConfigs(props map[string]string) error {
	names := slices.Sorted(maps.Keys(props))
	for _, n := range names {
		if !IsGroupConfig(n) {
			return groupConfigError(n, props[n], "Unknown group config name: "+n)
		}
	}
	for _, n := range names {
		k, _ := lookupGroupKey(n)
		if err := kafkaValidate(k.spec, n, props[n]); err != nil {
			return groupConfigError(n, props[n], err.Error())
		}
	}
	for _, k := range groupKeyList() {
		v, ok := props[k.name]
		if !ok {
			continue
		}
		if k.name == "streams.assignor.name" {
			if t := strings.TrimSpace(v); t != "" && !slices.Contains(splitList(c.Groups.StreamsAssignors), t) {
				return groupConfigError(k.name, v, fmt.Sprintf("streams.assignor.name '%s' is not a registered task assignor. Registered assignors are: [%s].", t, strings.Join(splitList(c.Groups.StreamsAssignors), ", ")))
			}
		}
		if k.bounds == nil {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		lo, hi, hasLo, hasHi := k.bounds(&c)
		switch {
		case hasLo && hasHi && (n < lo || n > hi):
			return groupConfigError(k.name, v, fmt.Sprintf("%s must be in the range %d to %d inclusive.", k.name, lo, hi))
		case hasLo && !hasHi && n < lo:
			return groupConfigError(k.name, v, fmt.Sprintf("%s must be greater than or equal to %d", k.name, lo))
		case hasHi && !hasLo && n > hi:
			return groupConfigError(k.name, v, fmt.Sprintf("%s must be less than or equal to %d", k.name, hi))
		}
	}
	return nil
}

// GroupConfigValue is a GROUP config's effective value for a group with
// the given overrides: the override, else the broker's synonym, else
// Kafka's default. It is "" for a name that is not a GROUP config.
func (c Config) GroupConfigValue(overrides map[string]string, name string) string {
	k, ok := lookupGroupKey(name)
	if !ok {
		return ""
	}
	if v, ok := overrides[name]; ok {
		if cv, err := k.spec.validate(v); err == nil {
			return cv
		}
	}
	return c.groupBrokerValue(k)
}

// groupBrokerValue is the broker's default for a GROUP config.
func (c *Config) groupBrokerValue(k groupKey) string {
	if bk, ok := lookupBrokerKey(k.brokerKey); ok {
		if v := bk.value(c); v != nil {
			if k.name == "streams.assignor.name" {
				if l := splitList(*v); len(l) > 0 {
					return l[0]
				}
			}
			return *v
		}
	}
	return k.def
}

// DescribeGroupConfigs reports a group's configs as Kafka's
// ConfigHelper.createGroupConfigEntry does: every GROUP config but the
// internal ones not set, the value the group's own (source GROUP_CONFIG) or
// the broker default's. Synonyms: the group's value first when set; then
// the broker synonym's sources (brokerSynonyms), or, for a config without a
// broker synonym Moldau serves, a DEFAULT_CONFIG entry (under the broker
// synonym's name if Kafka has one). keys nil means all; sorted by name.
func (c Config) DescribeGroupConfigs(overrides map[string]string, keys []string, includeSynonyms, includeDocs bool) []ConfigEntry {
	out := []ConfigEntry{}
	for _, k := range groupKeyList() {
		_, set := overrides[k.name]
		if !wanted(keys, k.name) || (k.internal && !set) {
			continue
		}
		value := c.GroupConfigValue(overrides, k.name)
		var syns []Synonym
		if set {
			syns = append(syns, Synonym{Name: k.name, Value: ptr(value), Source: SourceGroup})
		}
		if _, ok := lookupBrokerKey(k.brokerKey); ok {
			syns = append(syns, c.brokerSynonyms(k.brokerKey, []string{k.brokerKey})...)
		} else if k.brokerKey != "" {
			syns = append(syns, Synonym{Name: k.brokerKey, Value: ptr(k.def), Source: SourceDefault})
		} else if !set {
			syns = append(syns, Synonym{Name: k.name, Value: ptr(value), Source: SourceDefault})
		} else {
			syns = append(syns, Synonym{Name: k.name, Value: ptr(k.def), Source: SourceDefault})
		}
		e := ConfigEntry{Name: k.name, Value: ptr(value), Source: SourceDefault, Type: k.spec.typ}
		if len(syns) > 0 {
			e.Source = syns[0].Source
		}
		if includeSynonyms {
			e.Synonyms = syns
		}
		if includeDocs {
			e.Doc = k.doc
		}
		out = append(out, e)
	}
	return out
}
