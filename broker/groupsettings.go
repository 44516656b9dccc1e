package broker

import (
	"strconv"
	"time"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/coordinator"
)

// groupSettingsSnapshot is every group's resolved settings, for one entity
// store version and one effective configuration.
type groupSettingsSnapshot struct {
	version uint64
	eff     *config.Config
	base    coordinator.GroupSettings
	groups  map[string]coordinator.GroupSettings
}

// groupSettings returns a group's effective settings: its GROUP configs
// (entityGroupConfig) where set, else the broker's group.* defaults.
// Called per request by the coordinator (Config.Settings) and by the share
// layer (record lock duration, delivery count limit, auto offset reset,
// isolation level); it does not block on I/O: the settings come from a
// snapshot rebuilt only when the entity store or the effective
// configuration changed.
func (b *Broker) groupSettings(group string) coordinator.GroupSettings {
	snap := b.groupSnapshot()
	if s, ok := snap.groups[group]; ok {
		return s
	}
	return snap.base
}

func (b *Broker) groupSnapshot() *groupSettingsSnapshot {
	eff := b.config()
	var v uint64
	if b.entities != nil {
		v = b.entities.Version()
	}
	if s := b.dyn.groups.Load(); s != nil && s.version == v && s.eff == eff {
		return s
	}
	b.dyn.groupMu.Lock()
	defer b.dyn.groupMu.Unlock()
	if s := b.dyn.groups.Load(); s != nil && s.version == v && s.eff == eff {
		return s
	}
	s := &groupSettingsSnapshot{version: v, eff: eff, base: resolveGroupSettings(eff, nil), groups: map[string]coordinator.GroupSettings{}}
	if b.entities != nil {
		for _, e := range b.entities.List(entityGroupConfig) {
			m, err := decodeConfigMap(e.Value)
			if err != nil {
				b.logger.Error("group configs ignored", "group", e.Key, "err", err)
				continue
			}
			s.groups[e.Key] = resolveGroupSettings(eff, m)
		}
	}
	b.dyn.groups.Store(s)
	return s
}

// resolveGroupSettings is a group's settings: overrides, else c's group.*
// broker keys.
func resolveGroupSettings(c *config.Config, overrides map[string]string) coordinator.GroupSettings {
	n := func(name string) int64 {
		v, _ := strconv.ParseInt(c.GroupConfigValue(overrides, name), 10, 64)
		return v
	}
	ms := func(name string) time.Duration { return time.Duration(n(name)) * time.Millisecond }
	s := coordinator.DefaultGroupSettings()
	s.ConsumerSessionTimeout = ms("consumer.session.timeout.ms")
	s.ConsumerHeartbeatInterval = ms("consumer.heartbeat.interval.ms")
	s.ShareSessionTimeout = ms("share.session.timeout.ms")
	s.ShareHeartbeatInterval = ms("share.heartbeat.interval.ms")
	s.ShareRecordLockDuration = ms("share.record.lock.duration.ms")
	s.ShareDeliveryCountLimit = int32(n("share.delivery.count.limit"))
	s.SharePartitionMaxRecordLocks = int32(n("share.partition.max.record.locks"))
	s.ShareAutoOffsetReset = c.GroupConfigValue(overrides, "share.auto.offset.reset")
	s.ShareIsolationLevel = c.GroupConfigValue(overrides, "share.isolation.level")
	s.ShareMaxSize = c.Groups.ShareMaxSize
	s.ShareAssignmentInterval = ms("share.assignment.interval.ms")
	s.StreamsSessionTimeout = ms("streams.session.timeout.ms")
	s.StreamsHeartbeatInterval = ms("streams.heartbeat.interval.ms")
	s.StreamsNumStandbyReplicas = int32(n("streams.num.standby.replicas"))
	s.StreamsInitialRebalanceDelay = ms("streams.initial.rebalance.delay.ms")
	s.StreamsMaxSize = c.Groups.StreamsMaxSize
	return s
}
