package config

// AuthzConfig is the authz part of Security (security.go).
type AuthzConfig struct{}

func authzHandles(key string) bool { return false }

func parseAuthz(c *Config, props map[string]string) error { return nil }
