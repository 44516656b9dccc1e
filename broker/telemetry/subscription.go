// Package telemetry is the pure logic of client telemetry (KIP-714):
// client-metrics subscriptions (Kafka's CLIENT_METRICS config resources),
// matching them against a client, the per-client-instance state that
// GetTelemetrySubscriptions and PushTelemetry follow (Kafka's
// ClientMetricsManager), decoding the pushed OTLP MetricsData, and a
// bounded store of the latest pushed values. It knows nothing of the wire
// (no kmsg, no kerr) or of Prometheus; the broker package wires it.
package telemetry

import (
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Subscription config keys and limits, as Kafka's ClientMetricsConfigs.
const (
	KeyMetrics  = "metrics"     // LIST of metric name prefixes; "*" is every metric
	KeyInterval = "interval.ms" // INT push interval, 100..3600000
	KeyMatch    = "match"       // LIST of selector=regex

	DefaultIntervalMs = 300000 // 5 minutes
	MinIntervalMs     = 100
	MaxIntervalMs     = 3600000 // 1 hour
	AllMetrics        = "*"
)

// Keys lists the subscription config keys in DescribeConfigs order.
var Keys = []string{KeyMetrics, KeyInterval, KeyMatch}

// Selectors are the client properties a subscription's match may name.
var Selectors = []string{
	"client_instance_id", "client_id", "client_software_name",
	"client_software_version", "client_source_address", "client_source_port",
}

var (
	// ErrInvalidSubscription: a subscription's name or configs are not
	// acceptable (unknown key, interval out of range): Kafka's
	// InvalidRequestException.
	ErrInvalidSubscription = errors.New("telemetry: invalid subscription")
	// ErrInvalidConfig: a value does not parse (a match pattern, a
	// non-integer interval): Kafka's InvalidConfigurationException.
	ErrInvalidConfig = errors.New("telemetry: invalid config")
)

// Subscription is one parsed client-metrics resource.
type Subscription struct {
	Name       string
	Metrics    []string // prefixes; nil or empty: none
	IntervalMs int32
	Match      map[string]*regexp.Regexp // selector -> full-match regex; empty matches every client
}

// ClientInfo is what a subscription's match is evaluated against: the
// client instance's properties as the broker saw them on the request that
// created the instance.
type ClientInfo struct {
	InstanceID      [16]byte
	ClientID        string
	SoftwareName    string
	SoftwareVersion string
	SourceAddress   string
	SourcePort      string
}

func (c *ClientInfo) selector(name string) string {
	switch name {
	case "client_instance_id":
		return UUIDString(c.InstanceID)
	case "client_id":
		return c.ClientID
	case "client_software_name":
		return c.SoftwareName
	case "client_software_version":
		return c.SoftwareVersion
	case "client_source_address":
		return c.SourceAddress
	case "client_source_port":
		return c.SourcePort
	}
	return ""
}

// SplitList splits a LIST config value as Kafka does: on commas, trimmed,
// empty elements dropped.
func SplitList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Validate checks a subscription's name and configs (the whole set after an
// alter), with Kafka's rules and messages.
func Validate(name string, configs map[string]string) error {
	_, err := Parse(name, configs)
	return err
}

// Parse validates and parses a subscription. Unset keys take their
// defaults: no metrics, interval 300000 ms, match every client.
func Parse(name string, configs map[string]string) (Subscription, error) {
	s := Subscription{Name: name, IntervalMs: DefaultIntervalMs, Match: map[string]*regexp.Regexp{}}
	if name == "" {
		return s, fmt.Errorf("%w: subscription name can't be empty", ErrInvalidSubscription)
	}
	keys := make([]string, 0, len(configs))
	for k := range configs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(Keys, k) {
			return s, fmt.Errorf("%w: unknown client metrics configuration: %s", ErrInvalidSubscription, k)
		}
	}
	if v, ok := configs[KeyInterval]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return s, fmt.Errorf("%w: invalid value %s for configuration %s: not a number of type INT", ErrInvalidConfig, v, KeyInterval)
		}
		if n < MinIntervalMs || n > MaxIntervalMs {
			return s, fmt.Errorf("%w: invalid value %d for %s, interval must be between 100 and 3600000 (1 hour)", ErrInvalidSubscription, n, KeyInterval)
		}
		s.IntervalMs = int32(n)
	}
	s.Metrics = SplitList(configs[KeyMetrics])
	m, err := ParseMatch(SplitList(configs[KeyMatch]))
	if err != nil {
		return s, err
	}
	s.Match = m
	return s, nil
}

// ParseMatch parses match patterns "selector=regex" as Kafka's
// parseMatchingPatterns: exactly one '=', a known selector, a regex that
// compiles. The regex must match the whole value (Java's Matcher.matches);
// it is RE2 syntax, which for the patterns people write (literals,
// alternations, classes, .*) agrees with Java's.
func ParseMatch(patterns []string) (map[string]*regexp.Regexp, error) {
	out := make(map[string]*regexp.Regexp, len(patterns))
	for _, p := range patterns {
		parts := strings.Split(p, "=")
		if len(parts) != 2 {
			return nil, fmt.Errorf("%w: illegal client matching pattern: %s", ErrInvalidConfig, p)
		}
		sel := strings.TrimSpace(parts[0])
		if !slices.Contains(Selectors, sel) {
			return nil, fmt.Errorf("%w: illegal client matching pattern: %s", ErrInvalidConfig, p)
		}
		re, err := regexp.Compile(`^(?:` + strings.TrimSpace(parts[1]) + `)$`)
		if err != nil {
			return nil, fmt.Errorf("%w: illegal regex pattern: %s", ErrInvalidConfig, parts[1])
		}
		out[sel] = re
	}
	return out, nil
}

// Matches reports whether every selector of s matches c (a subscription
// without selectors matches every client).
func (s *Subscription) Matches(c *ClientInfo) bool {
	for sel, re := range s.Match {
		if !re.MatchString(c.selector(sel)) {
			return false
		}
	}
	return true
}

// Plan is what a client instance is asked to push: the union of the
// metrics of every subscription it matches ("*" alone when one asks for
// all), the smallest of their intervals (DefaultIntervalMs when none
// matches), and the subscription id naming that set.
type Plan struct {
	Metrics        []string
	IntervalMs     int32
	SubscriptionID int32
}

// Resolve computes a client instance's plan from the subscriptions, as
// Kafka's createClientInstance.
func Resolve(subs []Subscription, c *ClientInfo) Plan {
	p := Plan{IntervalMs: DefaultIntervalMs, Metrics: []string{}}
	all := false
	for i := range subs {
		s := &subs[i]
		if !s.Matches(c) {
			continue
		}
		for _, m := range s.Metrics {
			if m == AllMetrics {
				all = true
			}
			if !slices.Contains(p.Metrics, m) {
				p.Metrics = append(p.Metrics, m)
			}
		}
		p.IntervalMs = min(p.IntervalMs, s.IntervalMs)
	}
	if all {
		p.Metrics = []string{AllMetrics}
	}
	slices.Sort(p.Metrics)
	p.SubscriptionID = SubscriptionID(p.Metrics, p.IntervalMs, c.InstanceID)
	return p
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SubscriptionID is Kafka's computeSubscriptionId: the CRC32C of the
// metrics set's string form ("[a, b]", here sorted) followed by the push
// interval, XORed with the instance id's Java hashCode. It changes when the
// client's metrics or interval change, which tells a pushing client to
// fetch its subscription again.
func SubscriptionID(metrics []string, intervalMs int32, instance [16]byte) int32 {
	s := "[" + strings.Join(metrics, ", ") + "]" + strconv.Itoa(int(intervalMs))
	crc := crc32.Checksum([]byte(s), castagnoli)
	return int32(crc) ^ uuidHashCode(instance)
}

// uuidHashCode is Java's Uuid.hashCode: the high and low 64 bits XORed,
// then the two halves of that XORed.
func uuidHashCode(u [16]byte) int32 {
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(u[i])
		lo = lo<<8 | uint64(u[8+i])
	}
	x := hi ^ lo
	return int32(x>>32) ^ int32(x)
}

// Selected reports whether the metric name is selected by the plan's
// prefixes ("*" selects all).
func Selected(metrics []string, name string) bool {
	for _, m := range metrics {
		if m == AllMetrics || strings.HasPrefix(name, m) {
			return true
		}
	}
	return false
}
