package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// QuotasConfig is the quotas part of Security (security.go): Kafka's
// connection limits and client-quota sample window. A zero field means
// Kafka's default (so config.Default() needs no entry).
type QuotasConfig struct {
	// MaxConnectionsPerIP is max.connections.per.ip (default 2147483647).
	// Zero is allowed only with overrides: then only the overridden hosts
	// may connect. MaxConnectionsPerIPSet tells an explicit zero apart.
	MaxConnectionsPerIP    int32
	MaxConnectionsPerIPSet bool
	// MaxConnectionsPerIPOverrides is max.connections.per.ip.overrides,
	// "host:count,host:count" (host names are resolved by the broker).
	MaxConnectionsPerIPOverrides map[string]int32
	// MaxConnections is max.connections (default 2147483647).
	MaxConnections int32
	// MaxConnectionCreationRate is max.connection.creation.rate, broker-wide
	// new connections per second (default 2147483647).
	MaxConnectionCreationRate int32
	// QuotaWindowNum is quota.window.num (default 11).
	QuotaWindowNum int32
	// QuotaWindowSizeSeconds is quota.window.size.seconds (default 1).
	QuotaWindowSizeSeconds int32
	// ControllerQuotaWindowNum and ControllerQuotaWindowSizeSeconds are
	// controller.quota.window.num (11) and .size.seconds (1): the burst of
	// controller_mutation_rate's token buckets.
	ControllerQuotaWindowNum         int32
	ControllerQuotaWindowSizeSeconds int32
}

const (
	keyMaxConnectionsPerIP          = "max.connections.per.ip"
	keyMaxConnectionsPerIPOverrides = "max.connections.per.ip.overrides"
	keyMaxConnections               = "max.connections"
	keyMaxConnectionCreationRate    = "max.connection.creation.rate"
	keyQuotaWindowNum               = "quota.window.num"
	keyQuotaWindowSizeSeconds       = "quota.window.size.seconds"
	keyControllerQuotaWindowNum     = "controller.quota.window.num"
	keyControllerQuotaWindowSize    = "controller.quota.window.size.seconds"
)

func quotasHandles(key string) bool {
	switch key {
	case keyMaxConnectionsPerIP, keyMaxConnectionsPerIPOverrides, keyMaxConnections, keyMaxConnectionCreationRate,
		keyQuotaWindowNum, keyQuotaWindowSizeSeconds, keyControllerQuotaWindowNum, keyControllerQuotaWindowSize:
		return true
	}
	return false
}

// Window is quota.window.num and quota.window.size.seconds with Kafka's
// defaults applied.
func (q QuotasConfig) Window() (samples int, sizeSeconds int) {
	samples, sizeSeconds = 11, 1
	if q.QuotaWindowNum > 0 {
		samples = int(q.QuotaWindowNum)
	}
	if q.QuotaWindowSizeSeconds > 0 {
		sizeSeconds = int(q.QuotaWindowSizeSeconds)
	}
	return samples, sizeSeconds
}

// ControllerWindow is controller.quota.window.num and
// controller.quota.window.size.seconds with Kafka's defaults applied.
func (q QuotasConfig) ControllerWindow() (samples int, sizeSeconds int) {
	samples, sizeSeconds = 11, 1
	if q.ControllerQuotaWindowNum > 0 {
		samples = int(q.ControllerQuotaWindowNum)
	}
	if q.ControllerQuotaWindowSizeSeconds > 0 {
		sizeSeconds = int(q.ControllerQuotaWindowSizeSeconds)
	}
	return samples, sizeSeconds
}

func parseQuotas(c *Config, props map[string]string) error {
	q := &c.Security.Quotas
	intKey := func(key string, min int64, dst *int32) (bool, error) {
		v, ok := props[key]
		if !ok {
			return false, nil
		}
		canon, err := intSpec(min, math.MaxInt32).validate(v)
		if err != nil {
			return false, &InvalidConfigError{Name: key, Value: v, Reason: err.Error()}
		}
		n, _ := strconv.ParseInt(canon, 10, 32)
		*dst = int32(n)
		return true, nil
	}
	var err error
	if q.MaxConnectionsPerIPSet, err = intKey(keyMaxConnectionsPerIP, 0, &q.MaxConnectionsPerIP); err != nil {
		return err
	}
	for _, k := range []struct {
		key string
		min int64
		dst *int32
	}{
		{keyMaxConnections, 0, &q.MaxConnections},
		{keyMaxConnectionCreationRate, 0, &q.MaxConnectionCreationRate},
		{keyQuotaWindowNum, 1, &q.QuotaWindowNum},
		{keyQuotaWindowSizeSeconds, 1, &q.QuotaWindowSizeSeconds},
		{keyControllerQuotaWindowNum, 1, &q.ControllerQuotaWindowNum},
		{keyControllerQuotaWindowSize, 1, &q.ControllerQuotaWindowSizeSeconds},
	} {
		if _, err := intKey(k.key, k.min, k.dst); err != nil {
			return err
		}
	}
	if v := strings.TrimSpace(props[keyMaxConnectionsPerIPOverrides]); v != "" {
		q.MaxConnectionsPerIPOverrides = map[string]int32{}
		for _, item := range splitList(v) {
			// host:count; the host may be an IPv6 address (the last colon
			// separates the count).
			i := strings.LastIndexByte(item, ':')
			if i <= 0 {
				return &InvalidConfigError{Name: keyMaxConnectionsPerIPOverrides, Value: v, Reason: fmt.Sprintf("entry %q: want host:count", item)}
			}
			host := strings.Trim(strings.TrimSpace(item[:i]), "[]")
			n, err := strconv.ParseInt(strings.TrimSpace(item[i+1:]), 10, 32)
			if err != nil || n < 0 || host == "" {
				return &InvalidConfigError{Name: keyMaxConnectionsPerIPOverrides, Value: v, Reason: fmt.Sprintf("entry %q: want host:count with a count of at least 0", item)}
			}
			q.MaxConnectionsPerIPOverrides[host] = int32(n)
		}
	}
	if q.MaxConnectionsPerIPSet && q.MaxConnectionsPerIP == 0 && len(q.MaxConnectionsPerIPOverrides) == 0 {
		return &InvalidConfigError{Name: keyMaxConnectionsPerIP, Value: "0",
			Reason: "max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides property is set."}
	}
	return nil
}
