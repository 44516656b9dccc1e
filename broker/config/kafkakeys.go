package config

import (
	_ "embed"
	"strings"
	"sync"
)

//go:embed kafka_broker_keys.txt
var kafkaBrokerKeysText string

var kafkaKeys = sync.OnceValues(func() (map[string]bool, []string) {
	exact := make(map[string]bool)
	var prefixes []string
	for _, line := range strings.Split(kafkaBrokerKeysText, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if p, ok := strings.CutSuffix(line, "*"); ok {
			prefixes = append(prefixes, p)
			continue
		}
		exact[line] = true
	}
	return exact, prefixes
})

// IsKafkaBrokerKey reports whether key is an Apache Kafka broker config key
// (or belongs to one of Kafka's open-ended key families such as
// listener.name.* or ssl.*). It says nothing about whether Moldau uses it.
func IsKafkaBrokerKey(key string) bool {
	exact, prefixes := kafkaKeys()
	if exact[key] {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
