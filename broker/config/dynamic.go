package config

// Dynamic broker configs (Kafka's DynamicBrokerConfig): the keys that
// AlterConfigs and IncrementalAlterConfigs may set on a BROKER resource, per
// broker ("<id>") or as the cluster-wide default (""), Kafka 4.4's rules for
// them, and the effective configuration a broker runs with once they are
// laid over its static properties.
//
// Precedence, as Kafka's: DYNAMIC_BROKER_CONFIG > DYNAMIC_DEFAULT_BROKER_CONFIG
// > STATIC_BROKER_CONFIG > DEFAULT_CONFIG. A dynamic value replaces its
// synonyms of lower layers (Kafka's overrideProps), so a dynamic
// log.retention.ms wins over a static log.retention.hours.

import (
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// dynamicKey is one of Kafka 4.4's dynamically updatable broker configs
// (DynamicBrokerConfig.ALL_DYNAMIC_CONFIGS with the quota configs of
// DynamicConfig.Broker), with Kafka's type, validator and default.
type dynamicKey struct {
	name string
	// perBroker: Kafka's update mode "per-broker": refused at the
	// cluster-wide default.
	perBroker bool
	def       *string // Kafka's default, nil for null
	spec      valueSpec
}

// dynamicKeyList is Kafka 4.4's table, dumped from its jars
// (DynamicBrokerConfig.dynamicConfigUpdateModes and
// DynamicConfig.Broker.configKeys).
var dynamicKeyList = []dynamicKey{
	{name: "background.threads", perBroker: false, def: ptr("10"), spec: valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}},
	{name: "compression.gzip.level", perBroker: false, def: ptr("-1"), spec: valueSpec{typ: TypeInt, min: -1, max: 9, check: gzipLevel}},
	{name: "compression.lz4.level", perBroker: false, def: ptr("9"), spec: valueSpec{typ: TypeInt, min: 1, max: 17}},
	{name: "compression.type", perBroker: false, def: ptr("producer"), spec: valueSpec{typ: TypeString, oneOf: []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}}},
	{name: "compression.zstd.level", perBroker: false, def: ptr("3"), spec: valueSpec{typ: TypeInt, min: -131072, max: 22}},
	{name: "config.providers", perBroker: false, def: ptr(""), spec: valueSpec{typ: TypeList}},
	{name: "cordoned.log.dirs", perBroker: true, def: ptr(""), spec: valueSpec{typ: TypeList}},
	{name: "errors.deadletterqueue.auto.create.topics.enable", perBroker: false, def: ptr("false"), spec: valueSpec{typ: TypeBoolean}},
	{name: "errors.deadletterqueue.topic.name.prefix", perBroker: false, def: ptr("dlq."), spec: valueSpec{typ: TypeString}},
	{name: "follower.fetch.last.tiered.offset.enable", perBroker: false, def: ptr("false"), spec: valueSpec{typ: TypeBoolean}},
	{name: "follower.replication.throttled.rate", perBroker: false, def: ptr("9223372036854775807"), spec: valueSpec{typ: TypeLong, min: 0, max: math.MaxInt64}},
	{name: "group.consumer.assignment.interval.ms", perBroker: false, def: ptr("1000"), spec: valueSpec{typ: TypeInt, min: 0, max: math.MaxInt32}},
	{name: "group.consumer.assignor.offload.enable", perBroker: false, def: ptr("true"), spec: valueSpec{typ: TypeBoolean}},
	{name: "group.coordinator.cached.buffer.max.bytes", perBroker: false, def: ptr("1048588"), spec: valueSpec{typ: TypeInt, min: 524288, max: math.MaxInt32}},
	{name: "group.share.assignment.interval.ms", perBroker: false, def: ptr("1000"), spec: valueSpec{typ: TypeInt, min: 0, max: math.MaxInt32}},
	{name: "group.share.assignor.offload.enable", perBroker: false, def: ptr("true"), spec: valueSpec{typ: TypeBoolean}},
	{name: "group.streams.assignment.interval.ms", perBroker: false, def: ptr("1000"), spec: valueSpec{typ: TypeInt, min: 0, max: math.MaxInt32}},
	{name: "group.streams.assignor.offload.enable", perBroker: false, def: ptr("true"), spec: valueSpec{typ: TypeBoolean}},
	{name: "leader.replication.throttled.rate", perBroker: false, def: ptr("9223372036854775807"), spec: valueSpec{typ: TypeLong, min: 0, max: math.MaxInt64}},
	{name: "listener.security.protocol.map", perBroker: true, def: ptr("SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"), spec: valueSpec{typ: TypeString}},
	{name: "listeners", perBroker: true, def: ptr("PLAINTEXT://:9092"), spec: valueSpec{typ: TypeList}},
	{name: "log.cleaner.backoff.ms", perBroker: false, def: ptr("15000"), spec: valueSpec{typ: TypeLong, min: 0, max: math.MaxInt64}},
	{name: "log.cleaner.dedupe.buffer.size", perBroker: false, def: ptr("134217728"), spec: valueSpec{typ: TypeLong, min: math.MinInt64, max: math.MaxInt64}},
	{name: "log.cleaner.delete.retention.ms", perBroker: false, def: ptr("86400000"), spec: valueSpec{typ: TypeLong, min: 0, max: math.MaxInt64}},
	{name: "log.cleaner.io.buffer.load.factor", perBroker: false, def: ptr("0.9"), spec: valueSpec{typ: TypeDouble, minF: -math.MaxFloat64, maxF: math.MaxFloat64}},
	{name: "log.cleaner.io.buffer.size", perBroker: false, def: ptr("524288"), spec: valueSpec{typ: TypeInt, min: 0, max: math.MaxInt32}},
	{name: "log.cleaner.io.max.bytes.per.second", perBroker: false, def: ptr("1.7976931348623157E308"), spec: valueSpec{typ: TypeDouble, minF: -math.MaxFloat64, maxF: math.MaxFloat64}},
	{name: "log.cleaner.max.compaction.lag.ms", perBroker: false, def: ptr("9223372036854775807"), spec: valueSpec{typ: TypeLong, min: 1, max: math.MaxInt64}},
	{name: "log.cleaner.min.cleanable.ratio", perBroker: false, def: ptr("0.5"), spec: valueSpec{typ: TypeDouble, min: 0, max: 1, minF: 0, maxF: 1}},
	{name: "log.cleaner.min.compaction.lag.ms", perBroker: false, def: ptr("0"), spec: valueSpec{typ: TypeLong, min: 0, max: math.MaxInt64}},
	{name: "log.cleaner.threads", perBroker: false, def: ptr("1"), spec: valueSpec{typ: TypeInt, min: 0, max: math.MaxInt32}},
	{name: "log.cleanup.policy", perBroker: false, def: ptr("delete"), spec: valueSpec{typ: TypeList, oneOf: []string{"compact", "delete"}}},
	{name: "log.flush.interval.messages", perBroker: false, def: ptr("9223372036854775807"), spec: valueSpec{typ: TypeLong, min: 1, max: math.MaxInt64}},
	{name: "log.flush.interval.ms", perBroker: false, def: nil, spec: valueSpec{typ: TypeLong, min: math.MinInt64, max: math.MaxInt64}},
	{name: "log.index.interval.bytes", perBroker: false, def: ptr("4096"), spec: valueSpec{typ: TypeInt, min: 0, max: math.MaxInt32}},
	{name: "log.index.size.max.bytes", perBroker: false, def: ptr("10485760"), spec: valueSpec{typ: TypeInt, min: 4, max: math.MaxInt32}},
	{name: "log.local.retention.bytes", perBroker: false, def: ptr("-2"), spec: valueSpec{typ: TypeLong, min: -2, max: math.MaxInt64}},
	{name: "log.local.retention.ms", perBroker: false, def: ptr("-2"), spec: valueSpec{typ: TypeLong, min: -2, max: math.MaxInt64}},
	{name: "log.message.timestamp.after.max.ms", perBroker: false, def: ptr("3600000"), spec: valueSpec{typ: TypeLong, min: 0, max: math.MaxInt64}},
	{name: "log.message.timestamp.before.max.ms", perBroker: false, def: ptr("9223372036854775807"), spec: valueSpec{typ: TypeLong, min: 0, max: math.MaxInt64}},
	{name: "log.message.timestamp.type", perBroker: false, def: ptr("CreateTime"), spec: valueSpec{typ: TypeString, oneOf: []string{"CreateTime", "LogAppendTime"}}},
	{name: "log.preallocate", perBroker: false, def: ptr("false"), spec: valueSpec{typ: TypeBoolean}},
	{name: "log.remote.copy.lag.bytes", perBroker: false, def: ptr("-1"), spec: valueSpec{typ: TypeLong, min: -1, max: math.MaxInt64}},
	{name: "log.remote.copy.lag.ms", perBroker: false, def: ptr("0"), spec: valueSpec{typ: TypeLong, min: -1, max: math.MaxInt64}},
	{name: "log.retention.bytes", perBroker: false, def: ptr("-1"), spec: valueSpec{typ: TypeLong, min: math.MinInt64, max: math.MaxInt64}},
	{name: "log.retention.ms", perBroker: false, def: nil, spec: valueSpec{typ: TypeLong, min: math.MinInt64, max: math.MaxInt64}},
	{name: "log.roll.jitter.ms", perBroker: false, def: nil, spec: valueSpec{typ: TypeLong, min: math.MinInt64, max: math.MaxInt64}},
	{name: "log.roll.ms", perBroker: false, def: nil, spec: valueSpec{typ: TypeLong, min: math.MinInt64, max: math.MaxInt64}},
	{name: "log.segment.bytes", perBroker: false, def: ptr("1073741824"), spec: valueSpec{typ: TypeInt, min: 1048576, max: math.MaxInt32}},
	{name: "log.segment.delete.delay.ms", perBroker: false, def: ptr("60000"), spec: valueSpec{typ: TypeLong, min: 0, max: math.MaxInt64}},
	{name: "max.connection.creation.rate", perBroker: false, def: ptr("2147483647"), spec: valueSpec{typ: TypeInt, min: 0, max: math.MaxInt32}},
	{name: "max.connections", perBroker: false, def: ptr("2147483647"), spec: valueSpec{typ: TypeInt, min: 0, max: math.MaxInt32}},
	{name: "max.connections.per.ip", perBroker: false, def: ptr("2147483647"), spec: valueSpec{typ: TypeInt, min: 0, max: math.MaxInt32}},
	{name: "max.connections.per.ip.overrides", perBroker: false, def: ptr(""), spec: valueSpec{typ: TypeString}},
	{name: "max.decompressed.message.bytes", perBroker: false, def: ptr("2147483639"), spec: valueSpec{typ: TypeInt, min: 1, max: 2147483639}},
	{name: "message.max.bytes", perBroker: false, def: ptr("1048588"), spec: valueSpec{typ: TypeInt, min: 0, max: math.MaxInt32}},
	{name: "metric.reporters", perBroker: false, def: ptr("org.apache.kafka.common.metrics.JmxReporter"), spec: valueSpec{typ: TypeList}},
	{name: "min.insync.replicas", perBroker: false, def: ptr("1"), spec: valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}},
	{name: "num.io.threads", perBroker: false, def: ptr("8"), spec: valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}},
	{name: "num.network.threads", perBroker: false, def: ptr("3"), spec: valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}},
	{name: "num.recovery.threads.per.data.dir", perBroker: false, def: ptr("2"), spec: valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}},
	{name: "num.replica.fetchers", perBroker: false, def: ptr("1"), spec: valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}},
	{name: "principal.builder.class", perBroker: true, def: ptr("org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder"), spec: valueSpec{typ: TypeClass}},
	{name: "producer.id.expiration.ms", perBroker: false, def: ptr("86400000"), spec: valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}},
	{name: "remote.fetch.max.wait.ms", perBroker: false, def: ptr("500"), spec: valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}},
	{name: "remote.list.offsets.request.timeout.ms", perBroker: false, def: ptr("30000"), spec: valueSpec{typ: TypeLong, min: 1, max: math.MaxInt64}},
	{name: "remote.log.index.file.cache.total.size.bytes", perBroker: false, def: ptr("1073741824"), spec: valueSpec{typ: TypeLong, min: 1, max: math.MaxInt64}},
	{name: "remote.log.manager.copier.thread.pool.size", perBroker: false, def: ptr("10"), spec: valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}},
	{name: "remote.log.manager.copy.max.bytes.per.second", perBroker: false, def: ptr("9223372036854775807"), spec: valueSpec{typ: TypeLong, min: 1, max: math.MaxInt64}},
	{name: "remote.log.manager.expiration.thread.pool.size", perBroker: false, def: ptr("10"), spec: valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}},
	{name: "remote.log.manager.fetch.max.bytes.per.second", perBroker: false, def: ptr("9223372036854775807"), spec: valueSpec{typ: TypeLong, min: 1, max: math.MaxInt64}},
	{name: "remote.log.manager.follower.thread.pool.size", perBroker: false, def: ptr("2"), spec: valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}},
	{name: "remote.log.reader.threads", perBroker: false, def: ptr("10"), spec: valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}},
	{name: "replica.alter.log.dirs.io.max.bytes.per.second", perBroker: false, def: ptr("9223372036854775807"), spec: valueSpec{typ: TypeLong, min: 0, max: math.MaxInt64}},
	{name: "sasl.enabled.mechanisms", perBroker: true, def: ptr("GSSAPI"), spec: valueSpec{typ: TypeList}},
	{name: "sasl.jaas.config", perBroker: true, def: nil, spec: valueSpec{typ: TypePassword}},
	{name: "sasl.kerberos.kinit.cmd", perBroker: true, def: ptr("/usr/bin/kinit"), spec: valueSpec{typ: TypeString}},
	{name: "sasl.kerberos.min.time.before.relogin", perBroker: true, def: ptr("60000"), spec: valueSpec{typ: TypeLong, min: math.MinInt64, max: math.MaxInt64}},
	{name: "sasl.kerberos.principal.to.local.rules", perBroker: true, def: ptr("DEFAULT"), spec: valueSpec{typ: TypeList}},
	{name: "sasl.kerberos.service.name", perBroker: true, def: nil, spec: valueSpec{typ: TypeString}},
	{name: "sasl.kerberos.ticket.renew.jitter", perBroker: true, def: ptr("0.05"), spec: valueSpec{typ: TypeDouble, minF: -math.MaxFloat64, maxF: math.MaxFloat64}},
	{name: "sasl.kerberos.ticket.renew.window.factor", perBroker: true, def: ptr("0.8"), spec: valueSpec{typ: TypeDouble, minF: -math.MaxFloat64, maxF: math.MaxFloat64}},
	{name: "sasl.login.refresh.buffer.seconds", perBroker: true, def: ptr("300"), spec: valueSpec{typ: TypeShort, min: math.MinInt16, max: math.MaxInt16}},
	{name: "sasl.login.refresh.min.period.seconds", perBroker: true, def: ptr("60"), spec: valueSpec{typ: TypeShort, min: math.MinInt16, max: math.MaxInt16}},
	{name: "sasl.login.refresh.window.factor", perBroker: true, def: ptr("0.8"), spec: valueSpec{typ: TypeDouble, minF: -math.MaxFloat64, maxF: math.MaxFloat64}},
	{name: "sasl.login.refresh.window.jitter", perBroker: true, def: ptr("0.05"), spec: valueSpec{typ: TypeDouble, minF: -math.MaxFloat64, maxF: math.MaxFloat64}},
	{name: "sasl.mechanism.inter.broker.protocol", perBroker: true, def: ptr("GSSAPI"), spec: valueSpec{typ: TypeString}},
	{name: "share.coordinator.cached.buffer.max.bytes", perBroker: false, def: ptr("1048588"), spec: valueSpec{typ: TypeInt, min: 524288, max: math.MaxInt32}},
	{name: "ssl.cipher.suites", perBroker: true, def: ptr(""), spec: valueSpec{typ: TypeList}},
	{name: "ssl.client.auth", perBroker: true, def: ptr("none"), spec: valueSpec{typ: TypeString, oneOf: []string{"required", "requested", "none"}}},
	{name: "ssl.enabled.protocols", perBroker: true, def: ptr("TLSv1.2,TLSv1.3"), spec: valueSpec{typ: TypeList}},
	{name: "ssl.endpoint.identification.algorithm", perBroker: true, def: ptr("https"), spec: valueSpec{typ: TypeString}},
	{name: "ssl.engine.factory.class", perBroker: true, def: nil, spec: valueSpec{typ: TypeClass}},
	{name: "ssl.key.password", perBroker: true, def: nil, spec: valueSpec{typ: TypePassword}},
	{name: "ssl.keymanager.algorithm", perBroker: true, def: ptr("SunX509"), spec: valueSpec{typ: TypeString}},
	{name: "ssl.keystore.certificate.chain", perBroker: true, def: nil, spec: valueSpec{typ: TypePassword}},
	{name: "ssl.keystore.key", perBroker: true, def: nil, spec: valueSpec{typ: TypePassword}},
	{name: "ssl.keystore.location", perBroker: true, def: nil, spec: valueSpec{typ: TypeString}},
	{name: "ssl.keystore.password", perBroker: true, def: nil, spec: valueSpec{typ: TypePassword}},
	{name: "ssl.keystore.type", perBroker: true, def: ptr("JKS"), spec: valueSpec{typ: TypeString}},
	{name: "ssl.protocol", perBroker: true, def: ptr("TLSv1.3"), spec: valueSpec{typ: TypeString}},
	{name: "ssl.provider", perBroker: true, def: nil, spec: valueSpec{typ: TypeString}},
	{name: "ssl.secure.random.implementation", perBroker: true, def: nil, spec: valueSpec{typ: TypeString}},
	{name: "ssl.trustmanager.algorithm", perBroker: true, def: ptr("PKIX"), spec: valueSpec{typ: TypeString}},
	{name: "ssl.truststore.certificates", perBroker: true, def: nil, spec: valueSpec{typ: TypePassword}},
	{name: "ssl.truststore.location", perBroker: true, def: nil, spec: valueSpec{typ: TypeString}},
	{name: "ssl.truststore.password", perBroker: true, def: nil, spec: valueSpec{typ: TypePassword}},
	{name: "ssl.truststore.type", perBroker: true, def: ptr("JKS"), spec: valueSpec{typ: TypeString}},
	{name: "transaction.partition.verification.enable", perBroker: false, def: ptr("true"), spec: valueSpec{typ: TypeBoolean}},
	{name: "unclean.leader.election.enable", perBroker: false, def: ptr("false"), spec: valueSpec{typ: TypeBoolean}},
}

var dynamicKeys = sync.OnceValue(func() map[string]dynamicKey {
	m := make(map[string]dynamicKey, len(dynamicKeyList))
	for _, k := range dynamicKeyList {
		m[k.name] = k
	}
	return m
})

// IsDynamicBrokerKey reports whether Kafka 4.4 lets AlterConfigs update the
// broker config name at run time.
func IsDynamicBrokerKey(name string) bool {
	_, ok := dynamicKeys()[name]
	return ok
}

// dynamicSecurityKeys are Kafka's DYNAMIC_SECURITY_CONFIGS: settable at run
// time only with a listener prefix (listener.name.NAME.ssl.keystore.location).
var dynamicSecurityKeys = []string{
	"ssl.key.password", "ssl.keystore.certificate.chain", "ssl.keystore.key", "ssl.keystore.location",
	"ssl.keystore.password", "ssl.keystore.type", "ssl.truststore.certificates", "ssl.truststore.location",
	"ssl.truststore.password", "ssl.truststore.type",
}

// moldauStaticOnly reports the keys Kafka updates at run time but Moldau
// cannot apply without a restart: Kafka's per-broker listener and security
// configs (listeners, listener.security.protocol.map, principal.builder.class,
// ssl.*, sasl.*) and every listener.name.* key. Moldau refuses them rather
// than store a value it would not use. So are the connection limits
// (max.connections*, max.connection.creation.rate), which Moldau enforces
// from their static values only.
func moldauStaticOnly(name string) bool {
	if strings.HasPrefix(name, "listener.name.") {
		return true
	}
	switch name {
	case "max.connections", "max.connections.per.ip", "max.connections.per.ip.overrides", "max.connection.creation.rate":
		// Enforced (broker/quotas.go) from the static value only: storing
		// a dynamic one would report a limit that is not applied.
		return true
	}
	k, ok := dynamicKeys()[name]
	return ok && k.perBroker && name != "cordoned.log.dirs"
}

// isNonDynamicKafkaKey: a broker config Kafka knows that is not dynamic
// (Kafka's DynamicConfig.Broker.nonDynamicProps). Keys Kafka does not know
// at all are custom configs, which Kafka accepts and stores.
func isNonDynamicKafkaKey(name string) bool {
	if IsDynamicBrokerKey(name) {
		return false
	}
	if _, ok := lookupBrokerKey(name); ok {
		return true
	}
	exact, _ := kafkaKeys()
	return exact[name]
}

// ErrInvalidDynamicConfig is matched (errors.Is) by every DynamicConfigError.
var ErrInvalidDynamicConfig = errors.New("config: invalid dynamic broker config")

// DynamicConfigError is a dynamic broker config change Kafka refuses with
// INVALID_REQUEST; Msg is Kafka's message for it.
type DynamicConfigError struct{ Msg string }

func (e *DynamicConfigError) Error() string { return e.Msg }
func (e *DynamicConfigError) Unwrap() error { return ErrInvalidDynamicConfig }

// javaSet formats names as Kafka's messages print a Java set: "[a, b]"
// (sorted here; Kafka's order is a hash set's).
func javaSet(names []string) string {
	s := slices.Clone(names)
	slices.Sort(s)
	return "[" + strings.Join(s, ", ") + "]"
}

// Dynamic is the dynamic layer of a broker's configuration, as stored: the
// configs set on this broker's own resource and on the cluster-wide
// default. Both maps are treated as read-only once in a Config.
type Dynamic struct {
	Broker  map[string]string // resource "<node id>": DYNAMIC_BROKER_CONFIG
	Default map[string]string // resource "": DYNAMIC_DEFAULT_BROKER_CONFIG
}

// ValidateDynamicBrokerConfigs checks a BROKER resource's whole new set of
// dynamic configs (perBroker: a broker id's, else the cluster default's)
// with Kafka's rules, in Kafka's order (DynamicBrokerConfig.validateConfigs,
// then the effective configuration): keys that are not dynamic, security
// keys without a listener prefix, value types and ranges, per-broker keys at
// the default level, then the values' own rules. Moldau refuses, besides,
// the listener and security keys it cannot apply at run time. Custom keys
// (unknown to Kafka) are accepted, as Kafka does. The error is a
// *DynamicConfigError with Kafka's message.
func (c Config) ValidateDynamicBrokerConfigs(props map[string]string, perBroker bool) error {
	names := slices.Sorted(maps.Keys(props))
	var bad []string
	for _, n := range names {
		if isNonDynamicKafkaKey(n) {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		return &DynamicConfigError{"Cannot update these configs dynamically: " + javaSet(bad)}
	}
	for _, n := range names {
		if slices.Contains(dynamicSecurityKeys, n) {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		return &DynamicConfigError{"These security configs can be dynamically updated only per-listener using the listener prefix: " + javaSet(bad)}
	}
	for _, n := range names {
		base := n
		if rest, ok := strings.CutPrefix(n, "listener.name."); ok {
			if _, b, ok := strings.Cut(rest, "."); ok {
				base = b
			}
		}
		k, ok := dynamicKeys()[base]
		if !ok {
			continue
		}
		if err := kafkaValidate(k.spec, n, props[n]); err != nil {
			return err
		}
	}
	if !perBroker {
		for _, n := range names {
			if k, ok := dynamicKeys()[n]; (ok && k.perBroker) || (strings.HasPrefix(n, "listener.name.") && !clusterLevelListenerKey(n)) {
				bad = append(bad, n)
			}
		}
		if len(bad) > 0 {
			return &DynamicConfigError{"Cannot update these configs at default cluster level, broker id must be specified: " + javaSet(bad)}
		}
	}
	for _, n := range names {
		if moldauStaticOnly(n) {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		return &DynamicConfigError{"Moldau cannot update these configs at run time (listener, security and connection-limit configs): " + javaSet(bad) + "; set them in the properties file and restart"}
	}
	for _, n := range names {
		if err := checkDynamicValue(n, props[n]); err != nil {
			return err
		}
	}
	return nil
}

// clusterLevelListenerKey: Kafka's ClusterLevelListenerConfigs, which a
// listener prefix may set at the default level.
func clusterLevelListenerKey(name string) bool {
	for _, k := range []string{"max.connections", "max.connection.creation.rate", "num.network.threads"} {
		if strings.HasSuffix(name, "."+k) {
			return true
		}
	}
	return false
}

// kafkaValidate checks v against spec with Kafka's ConfigDef messages
// ("Invalid value abc for configuration log.retention.ms: Not a number of
// type LONG").
func kafkaValidate(spec valueSpec, name, v string) error {
	fail := func(reason string) error {
		return &DynamicConfigError{"Invalid value " + v + " for configuration " + name + ": " + reason}
	}
	t := strings.TrimSpace(v)
	switch spec.typ {
	case TypeInt, TypeShort, TypeLong:
		bits, tname := 64, "LONG"
		switch spec.typ {
		case TypeInt:
			bits, tname = 32, "INT"
		case TypeShort:
			bits, tname = 16, "SHORT"
		}
		n, err := strconv.ParseInt(t, 10, bits)
		if err != nil {
			return fail("Not a number of type " + tname)
		}
		if n < spec.min {
			return fail("Value must be at least " + strconv.FormatInt(spec.min, 10))
		}
		if n > spec.max {
			return fail("Value must be no more than " + strconv.FormatInt(spec.max, 10))
		}
	case TypeDouble:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return fail("Not a number of type DOUBLE")
		}
		if f < spec.minF {
			return fail("Value must be at least " + formatDouble(spec.minF))
		}
		if f > spec.maxF {
			return fail("Value must be no more than " + formatDouble(spec.maxF))
		}
	case TypeBoolean:
		if !strings.EqualFold(t, "true") && !strings.EqualFold(t, "false") {
			return fail("Expected value to be either true or false")
		}
	case TypeString:
		if len(spec.oneOf) > 0 && !slices.Contains(spec.oneOf, t) {
			return fail("String must be one of: " + strings.Join(spec.oneOf, ", "))
		}
	case TypeList:
		if len(spec.oneOf) > 0 {
			for _, e := range splitList(t) {
				if !slices.Contains(spec.oneOf, e) {
					return fail("Invalid value " + e + " for configuration " + name + ": String must be one of: " + strings.Join(spec.oneOf, ", "))
				}
			}
		}
	}
	if spec.check != nil {
		if err := spec.check(t); err != nil {
			return fail(err.Error())
		}
	}
	return nil
}

// checkDynamicValue applies the rules Kafka's KafkaConfig checks beyond the
// value's type (log.retention.ms must not be 0), and Moldau's own rule for a
// key it applies, so that a stored value always applies. (Kafka 4.4 takes a
// negative log.flush.interval.ms, which then fails every topic's
// DescribeConfigs with UNKNOWN_SERVER_ERROR; Moldau refuses it.)
func checkDynamicValue(name, v string) error {
	t := strings.TrimSpace(v)
	if name == "log.retention.ms" && t == "0" {
		return &DynamicConfigError{"requirement failed: log.retention.ms must be unlimited (-1) or, greater than or equal to 1"}
	}
	bk, ok := lookupBrokerKey(name)
	if !ok {
		return nil
	}
	if _, err := bk.spec.validate(t); err != nil {
		return &DynamicConfigError{"Invalid value " + v + " for configuration " + name + ": " + err.Error()}
	}
	return nil
}

// overrideProps lays over onto props as Kafka's overrideProps does: each
// key of over first removes its synonyms from props.
func overrideProps(props, over map[string]string) {
	for k, v := range over {
		for _, s := range dynamicSynonyms(k) {
			delete(props, s)
		}
		props[k] = v
	}
}

// dynamicSynonyms is Kafka's brokerConfigSynonyms without listener
// overrides.
func dynamicSynonyms(name string) []string {
	for _, g := range [][]string{rollGroup, jitterGroup, retentionGroup} {
		if slices.Contains(g, name) {
			return g
		}
	}
	if name == "log.flush.interval.ms" {
		return flushGroup
	}
	return []string{name}
}

// WithDynamic returns the configuration a broker runs with when d is its
// dynamic layer: c (the static configuration) with d's values of the keys
// Moldau applies laid over, and d kept for DescribeConfigs. A stored value
// that no longer validates is skipped and named in ignored (Kafka logs and
// ignores such values too).
func (c Config) WithDynamic(d Dynamic) (eff Config, ignored []string) {
	eff = c
	eff.Dynamic = Dynamic{Broker: maps.Clone(d.Broker), Default: maps.Clone(d.Default)}
	merged := maps.Clone(c.Properties)
	if merged == nil {
		merged = map[string]string{}
	}
	layer := map[string]string{}
	overrideProps(layer, d.Default)
	overrideProps(layer, d.Broker)
	overrideProps(merged, layer)
	for _, bk := range brokerKeys() {
		v, ok := layer[bk.name]
		if !ok {
			continue
		}
		cv, err := bk.spec.validate(v)
		if err == nil {
			err = checkDynamicValue(bk.name, v)
		}
		if err != nil {
			ignored = append(ignored, bk.name)
			continue
		}
		if err := bk.apply(&eff, cv, merged); err != nil {
			ignored = append(ignored, bk.name)
		}
	}
	return eff, ignored
}

// propValue is the value of a broker property as Kafka's merged properties
// hold it: the dynamic per-broker value, else the dynamic default, else the
// static one.
func (c *Config) propValue(name string) (string, bool) {
	if v, ok := c.Dynamic.Broker[name]; ok {
		return strings.TrimSpace(v), true
	}
	if v, ok := c.Dynamic.Default[name]; ok {
		return strings.TrimSpace(v), true
	}
	if v, ok := c.Properties[name]; ok {
		return strings.TrimSpace(v), true
	}
	return "", false
}

// dynamicEntry describes a dynamic config set in d that is not in Moldau's
// broker key table (a Kafka key Moldau only accepts, or a custom key) as
// Kafka does: its type, sensitivity and read-only flag.
func dynamicEntry(name string) (typ int8, sensitive, readOnly bool) {
	base := name
	if rest, ok := strings.CutPrefix(name, "listener.name."); ok {
		if _, b, ok := strings.Cut(rest, "."); ok {
			base = b
		}
	}
	k, ok := dynamicKeys()[base]
	if !ok {
		return TypeUnknown, true, true // Kafka: a custom config may be a secret
	}
	return k.spec.typ, k.spec.typ == TypePassword, base != name || !IsDynamicBrokerKey(name)
}
