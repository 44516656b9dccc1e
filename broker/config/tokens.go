package config

import (
	"math"
	"strings"
	"time"
)

// TokensConfig is the delegation-token part of Security (security.go):
// Kafka's delegation.token.* broker keys (KIP-48). The zero value is Kafka's
// defaults with tokens disabled, so a Config built by Default() without
// Load still works; read the durations through the methods.
type TokensConfig struct {
	// SecretKey is delegation.token.secret.key (or its old name
	// delegation.token.master.key; the new name wins when both are set):
	// the key token HMACs are made with. "" (Kafka's null) disables
	// delegation tokens. Every broker of a cluster needs the same key.
	SecretKey string
	// MaxLifetimeMs is delegation.token.max.lifetime.ms = 604800000 (7
	// days): no token lives longer, renewed or not. 0 means the default.
	MaxLifetimeMs int64
	// ExpiryTimeMs is delegation.token.expiry.time.ms = 86400000 (1 day):
	// how long a token lives after creation or a renewal. 0: the default.
	ExpiryTimeMs int64
	// ExpiryCheckIntervalMs is delegation.token.expiry.check.interval.ms
	// = 3600000 (1 hour): how often expired tokens are removed. 0: the
	// default.
	ExpiryCheckIntervalMs int64
}

// Kafka's defaults of the delegation.token.* durations.
const (
	DefaultTokenMaxLifetime         = 7 * 24 * time.Hour
	DefaultTokenExpiryTime          = 24 * time.Hour
	DefaultTokenExpiryCheckInterval = time.Hour
)

const (
	tokenSecretKey           = "delegation.token.secret.key"
	tokenMasterKey           = "delegation.token.master.key" // deprecated alias of the secret key
	tokenMaxLifetimeKey      = "delegation.token.max.lifetime.ms"
	tokenExpiryTimeKey       = "delegation.token.expiry.time.ms"
	tokenExpiryCheckInterval = "delegation.token.expiry.check.interval.ms"
)

// Enabled reports whether delegation tokens are on (a secret key is set).
func (t TokensConfig) Enabled() bool { return t.SecretKey != "" }

// MaxLifetime is delegation.token.max.lifetime.ms.
func (t TokensConfig) MaxLifetime() time.Duration {
	return msOr(t.MaxLifetimeMs, DefaultTokenMaxLifetime)
}

// ExpiryTime is delegation.token.expiry.time.ms.
func (t TokensConfig) ExpiryTime() time.Duration { return msOr(t.ExpiryTimeMs, DefaultTokenExpiryTime) }

// ExpiryCheckInterval is delegation.token.expiry.check.interval.ms.
func (t TokensConfig) ExpiryCheckInterval() time.Duration {
	return msOr(t.ExpiryCheckIntervalMs, DefaultTokenExpiryCheckInterval)
}

func msOr(ms int64, def time.Duration) time.Duration {
	if ms <= 0 {
		return def
	}
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ms) * time.Millisecond
}

func tokensHandles(key string) bool {
	switch key {
	case tokenSecretKey, tokenMasterKey, tokenMaxLifetimeKey, tokenExpiryTimeKey, tokenExpiryCheckInterval:
		return true
	}
	return false
}

func parseTokens(c *Config, props map[string]string) error {
	t := TokensConfig{}
	if v, ok := props[tokenMasterKey]; ok {
		t.SecretKey = strings.TrimSpace(v)
	}
	if v, ok := props[tokenSecretKey]; ok && strings.TrimSpace(v) != "" {
		t.SecretKey = strings.TrimSpace(v)
	}
	for _, k := range []struct {
		name string
		dst  *int64
	}{
		{tokenMaxLifetimeKey, &t.MaxLifetimeMs},
		{tokenExpiryTimeKey, &t.ExpiryTimeMs},
		{tokenExpiryCheckInterval, &t.ExpiryCheckIntervalMs},
	} {
		v, ok := props[k.name]
		if !ok {
			continue
		}
		canon, err := longSpec(1).validate(v)
		if err != nil {
			return &InvalidConfigError{Name: k.name, Value: v, Reason: err.Error()}
		}
		*k.dst = atoi(canon)
	}
	c.Security.Tokens = t
	return nil
}
