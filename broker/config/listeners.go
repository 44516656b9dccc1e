package config

// ListenersConfig is the listeners part of Security (security.go).
type ListenersConfig struct{}

func listenersHandles(key string) bool { return false }

func parseListeners(c *Config, props map[string]string) error { return nil }
