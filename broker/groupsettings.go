package broker

import (
	"time"

	"github.com/moldau/moldau/coordinator"
)

// groupSettings returns a group's effective settings: its GROUP configs
// (entityGroupConfig) where set, else the broker's group.* defaults.
// Called per request by the coordinator (Config.Settings) and by the share
// layer (record lock duration, delivery count limit, auto offset reset,
// isolation level); it must not block and must be cheap.
func (b *Broker) groupSettings(group string) coordinator.GroupSettings {
	s := coordinator.DefaultGroupSettings()
	s.ConsumerSessionTimeout = time.Duration(b.cfg.GroupConsumerSessionTimeoutMs) * time.Millisecond
	s.ConsumerHeartbeatInterval = time.Duration(b.cfg.GroupConsumerHeartbeatIntervalMs) * time.Millisecond
	return s
}
