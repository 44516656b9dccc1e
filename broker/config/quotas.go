package config

// QuotasConfig is the quotas part of Security (security.go).
type QuotasConfig struct{}

func quotasHandles(key string) bool { return false }

func parseQuotas(c *Config, props map[string]string) error { return nil }
