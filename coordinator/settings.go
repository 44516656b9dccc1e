package coordinator

import "time"

// GroupSettings are the effective settings of one group: its dynamic GROUP
// config (KIP-848's group configs, set through IncrementalAlterConfigs)
// where set, else the broker's group.* default. The broker resolves them;
// the coordinator asks for them through Config.Settings whenever it needs
// one (they change at run time), so it never caches them across requests.
type GroupSettings struct {
	// Consumer groups (KIP-848).
	ConsumerSessionTimeout    time.Duration // consumer.session.timeout.ms / group.consumer.session.timeout.ms
	ConsumerHeartbeatInterval time.Duration // consumer.heartbeat.interval.ms / group.consumer.heartbeat.interval.ms

	// Share groups (KIP-932).
	ShareSessionTimeout          time.Duration // share.session.timeout.ms / group.share.session.timeout.ms
	ShareHeartbeatInterval       time.Duration // share.heartbeat.interval.ms / group.share.heartbeat.interval.ms
	ShareRecordLockDuration      time.Duration // share.record.lock.duration.ms / group.share.record.lock.duration.ms
	ShareDeliveryCountLimit      int32         // share.delivery.count.limit / group.share.delivery.count.limit
	SharePartitionMaxRecordLocks int32         // share.partition.max.record.locks / group.share.partition.max.record.locks
	ShareAutoOffsetReset         string        // share.auto.offset.reset: "latest", "earliest" or "by_duration:<ISO-8601>"
	ShareIsolationLevel          string        // share.isolation.level: "read_uncommitted" or "read_committed"
	ShareMaxSize                 int32         // group.share.max.size (broker only)
	ShareAssignmentInterval      time.Duration // share.assignment.interval.ms / group.share.assignment.interval.ms (KIP-1263)

	// Streams groups (KIP-1071).
	StreamsSessionTimeout        time.Duration // streams.session.timeout.ms / group.streams.session.timeout.ms
	StreamsHeartbeatInterval     time.Duration // streams.heartbeat.interval.ms / group.streams.heartbeat.interval.ms
	StreamsNumStandbyReplicas    int32         // streams.num.standby.replicas / group.streams.num.standby.replicas
	StreamsInitialRebalanceDelay time.Duration // streams.initial.rebalance.delay.ms / group.streams.initial.rebalance.delay.ms
	StreamsMaxSize               int32         // group.streams.max.size (broker only)
}

// DefaultGroupSettings are Kafka 4.4's broker defaults.
func DefaultGroupSettings() GroupSettings {
	return GroupSettings{
		ConsumerSessionTimeout:    45 * time.Second,
		ConsumerHeartbeatInterval: 5 * time.Second,

		ShareSessionTimeout:          45 * time.Second,
		ShareHeartbeatInterval:       5 * time.Second,
		ShareRecordLockDuration:      30 * time.Second,
		ShareDeliveryCountLimit:      5,
		SharePartitionMaxRecordLocks: 2000,
		ShareAutoOffsetReset:         "latest",
		ShareIsolationLevel:          "read_uncommitted",
		ShareMaxSize:                 200,
		ShareAssignmentInterval:      time.Second,

		StreamsSessionTimeout:        45 * time.Second,
		StreamsHeartbeatInterval:     5 * time.Second,
		StreamsNumStandbyReplicas:    0,
		StreamsInitialRebalanceDelay: 3 * time.Second,
		StreamsMaxSize:               1<<31 - 1,
	}
}

// settings returns a group's effective settings.
func (c *Coordinator) settings(group string) GroupSettings {
	if c.cfg.Settings != nil {
		return c.cfg.Settings(group)
	}
	s := DefaultGroupSettings()
	s.ConsumerSessionTimeout, s.ConsumerHeartbeatInterval = c.consumerSession, c.consumerHeartbeat
	return s
}
