package config

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// TopicConfigDef describes one Kafka 4.x topic config.
type TopicConfigDef struct {
	Name string
	Type int8 // TypeBoolean, TypeString, ...
	// BrokerSynonyms are the broker properties that set this config's default,
	// in Kafka's precedence order (retention.ms: log.retention.ms,
	// log.retention.minutes, log.retention.hours). Empty for configs without a
	// broker default (remote.storage.enable, *.replication.throttled.replicas).
	BrokerSynonyms []string
	Default        string // Kafka's default with no broker properties set
	ValidValues    string // human-readable, as in Kafka's docs: "[0,...]"
	Doc            string
	Sensitive      bool
	ReadOnly       bool

	spec  valueSpec
	value func(c *Config) string // the broker-derived default
}

func throttledReplicas(v string) error {
	if v == "" || v == "*" {
		return nil
	}
	for _, e := range strings.Split(v, ",") {
		p, b, ok := strings.Cut(e, ":")
		if !ok {
			return errors.New(`must be "*" or a list of partition:brokerId`)
		}
		if _, err := strconv.ParseUint(strings.TrimSpace(p), 10, 31); err != nil {
			return errors.New(`must be "*" or a list of partition:brokerId`)
		}
		if _, err := strconv.ParseUint(strings.TrimSpace(b), 10, 31); err != nil {
			return errors.New(`must be "*" or a list of partition:brokerId`)
		}
	}
	return nil
}

// TopicNameStrategy is Confluent's default subject name strategy (the
// subject of a topic's values is "<topic>-value", of its keys
// "<topic>-key"), the one broker-side schema validation supports.
const TopicNameStrategy = "io.confluent.kafka.serializers.subject.TopicNameStrategy"

// checkSubjectNameStrategy accepts TopicNameStrategy, by its class name or
// its short name; the record-name strategies need the schema's record name,
// which the broker's validation does not look up.
func checkSubjectNameStrategy(v string) error {
	switch v {
	case TopicNameStrategy:
		return nil
	case "TopicNameStrategy":
		return errors.New("use the class name " + TopicNameStrategy)
	case "io.confluent.kafka.serializers.subject.RecordNameStrategy", "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
		"RecordNameStrategy", "TopicRecordNameStrategy":
		return errors.New("only " + TopicNameStrategy + " is supported by Moldau's schema validation")
	}
	return errors.New("must be " + TopicNameStrategy)
}

func i32s(n int32) string { return strconv.FormatInt(int64(n), 10) }

var topicDefs = sync.OnceValue(func() []TopicConfigDef {
	defs := []TopicConfigDef{
		{Name: "cleanup.policy", Type: TypeList, BrokerSynonyms: []string{"log.cleanup.policy"}, Default: "delete", ValidValues: "[compact, delete]",
			Doc:  `A string that is either "delete" or "compact" or both ("compact,delete"). "delete" discards old segments when their retention time or size limit is reached; "compact" enables log compaction, keeping the latest value of each key.`,
			spec: valueSpec{typ: TypeList, oneOf: cleanupPolicies}, value: func(c *Config) string { return c.LogCleanupPolicy }},
		{Name: "compression.type", Type: TypeString, BrokerSynonyms: []string{"compression.type"}, Default: "producer", ValidValues: "[uncompressed, zstd, lz4, snappy, gzip, producer]",
			Doc:  `The final compression type for the topic: a codec ('gzip', 'snappy', 'lz4', 'zstd'), 'uncompressed', or 'producer' to keep the codec the producer used.`,
			spec: valueSpec{typ: TypeString, oneOf: compressionTypes}, value: func(c *Config) string { return c.CompressionType }},
		{Name: "compression.gzip.level", Type: TypeInt, BrokerSynonyms: []string{"compression.gzip.level"}, Default: "-1", ValidValues: "[1,...,9] or -1",
			Doc:  "The compression level to use if compression.type is gzip.",
			spec: valueSpec{typ: TypeInt, min: -1, max: 9, check: gzipLevel}, value: func(c *Config) string { return i32s(c.CompressionGzipLevel) }},
		{Name: "compression.lz4.level", Type: TypeInt, BrokerSynonyms: []string{"compression.lz4.level"}, Default: "9", ValidValues: "[1,...,17]",
			Doc:  "The compression level to use if compression.type is lz4.",
			spec: intSpec(1, 17), value: func(c *Config) string { return i32s(c.CompressionLz4Level) }},
		{Name: "compression.zstd.level", Type: TypeInt, BrokerSynonyms: []string{"compression.zstd.level"}, Default: "3", ValidValues: "[-131072,...,22]",
			Doc:  "The compression level to use if compression.type is zstd.",
			spec: intSpec(-131072, 22), value: func(c *Config) string { return i32s(c.CompressionZstdLevel) }},
		{Name: "confluent.key.schema.validation", Type: TypeBoolean, Default: "false", ValidValues: "",
			Doc:  "Confluent Server's broker-side schema ID validation of record keys: with true, every produced record's non-null key must start with the schema registry wire format (magic byte 0 and a 4-byte schema id) naming a schema registered under the key's subject (confluent.key.subject.name.strategy), else the batch is refused with INVALID_RECORD. Needs the built-in schema registry (--schema-registry-addr).",
			spec: boolSpec(), value: func(*Config) string { return "false" }},
		{Name: "confluent.key.subject.name.strategy", Type: TypeString, Default: TopicNameStrategy, ValidValues: "[" + TopicNameStrategy + "]",
			Doc:  "How confluent.key.schema.validation names a key's subject: TopicNameStrategy, <topic>-key (RecordNameStrategy and TopicRecordNameStrategy are refused: Moldau does not validate by record name).",
			spec: valueSpec{typ: TypeString, check: checkSubjectNameStrategy}, value: func(*Config) string { return TopicNameStrategy }},
		{Name: "confluent.value.schema.validation", Type: TypeBoolean, Default: "false", ValidValues: "",
			Doc:  "Confluent Server's broker-side schema ID validation of record values: with true, every produced record's non-null value must start with the schema registry wire format (magic byte 0 and a 4-byte schema id) naming a schema registered under the value's subject (confluent.value.subject.name.strategy), else the batch is refused with INVALID_RECORD. Null values (tombstones) pass. Needs the built-in schema registry (--schema-registry-addr).",
			spec: boolSpec(), value: func(*Config) string { return "false" }},
		{Name: "confluent.value.subject.name.strategy", Type: TypeString, Default: TopicNameStrategy, ValidValues: "[" + TopicNameStrategy + "]",
			Doc:  "How confluent.value.schema.validation names a value's subject: TopicNameStrategy, <topic>-value (RecordNameStrategy and TopicRecordNameStrategy are refused: Moldau does not validate by record name).",
			spec: valueSpec{typ: TypeString, check: checkSubjectNameStrategy}, value: func(*Config) string { return TopicNameStrategy }},
		{Name: "delete.retention.ms", Type: TypeLong, BrokerSynonyms: []string{"log.cleaner.delete.retention.ms"}, Default: "86400000", ValidValues: "[0,...]",
			Doc:  "How long delete tombstones are kept in a compacted topic; also bounds how long a consumer reading from offset 0 has to finish to see a consistent snapshot.",
			spec: longSpec(0), value: func(c *Config) string { return i64(c.LogCleanerDeleteRetentionMs) }},
		{Name: "file.delete.delay.ms", Type: TypeLong, BrokerSynonyms: []string{"log.segment.delete.delay.ms"}, Default: "60000", ValidValues: "[0,...]",
			Doc:  "The time to wait before deleting a file from the filesystem.",
			spec: longSpec(0), value: func(c *Config) string { return i64(c.LogSegmentDeleteDelayMs) }},
		{Name: "flush.messages", Type: TypeLong, BrokerSynonyms: []string{"log.flush.interval.messages"}, Default: "9223372036854775807", ValidValues: "[1,...]",
			Doc:  "Force an fsync after this many messages. Replication is the recommended durability mechanism; leave this unset.",
			spec: longSpec(1), value: func(c *Config) string { return i64(c.LogFlushIntervalMessages) }},
		{Name: "flush.ms", Type: TypeLong, BrokerSynonyms: flushGroup, Default: "9223372036854775807", ValidValues: "[0,...]",
			Doc:  "Force an fsync after this many milliseconds. Replication is the recommended durability mechanism; leave this unset.",
			spec: longSpec(0), value: func(c *Config) string { return i64(c.EffectiveFlushMs()) }},
		{Name: "follower.replication.throttled.replicas", Type: TypeList, Default: "", ValidValues: "[partitionId]:[brokerId],[partitionId]:[brokerId],...",
			Doc:  `Replicas whose log replication is throttled on the follower side: a list of partition:brokerId, or "*" for all replicas of the topic.`,
			spec: valueSpec{typ: TypeList, check: throttledReplicas}, value: func(*Config) string { return "" }},
		{Name: "index.interval.bytes", Type: TypeInt, BrokerSynonyms: []string{"log.index.interval.bytes"}, Default: "4096", ValidValues: "[0,...]",
			Doc:  "How often an entry is added to the offset index, in bytes of log.",
			spec: intSpec(0, math.MaxInt32), value: func(c *Config) string { return i32s(c.LogIndexIntervalBytes) }},
		{Name: "leader.replication.throttled.replicas", Type: TypeList, Default: "", ValidValues: "[partitionId]:[brokerId],[partitionId]:[brokerId],...",
			Doc:  `Replicas whose log replication is throttled on the leader side: a list of partition:brokerId, or "*" for all replicas of the topic.`,
			spec: valueSpec{typ: TypeList, check: throttledReplicas}, value: func(*Config) string { return "" }},
		{Name: "local.retention.bytes", Type: TypeLong, BrokerSynonyms: []string{"log.local.retention.bytes"}, Default: "-2", ValidValues: "[-2,...]",
			Doc:  "With tiered storage, the most bytes a partition keeps locally before local segments become eligible for deletion; -2 means retention.bytes.",
			spec: longSpec(-2), value: func(c *Config) string { return i64(c.LogLocalRetentionBytes) }},
		{Name: "local.retention.ms", Type: TypeLong, BrokerSynonyms: []string{"log.local.retention.ms"}, Default: "-2", ValidValues: "[-2,...]",
			Doc:  "With tiered storage, how long a local segment is kept before it becomes eligible for deletion; -2 means retention.ms.",
			spec: longSpec(-2), value: func(c *Config) string { return i64(c.LogLocalRetentionMs) }},
		{Name: "max.compaction.lag.ms", Type: TypeLong, BrokerSynonyms: []string{"log.cleaner.max.compaction.lag.ms"}, Default: "9223372036854775807", ValidValues: "[1,...]",
			Doc:  "The longest a message stays ineligible for compaction. Only applies to compacted topics.",
			spec: longSpec(1), value: func(c *Config) string { return i64(c.LogCleanerMaxCompactionLagMs) }},
		{Name: "max.message.bytes", Type: TypeInt, BrokerSynonyms: []string{"message.max.bytes"}, Default: "1048588", ValidValues: "[0,...]",
			Doc:  "The largest record batch size allowed, after compression.",
			spec: intSpec(0, math.MaxInt32), value: func(c *Config) string { return i32s(c.MessageMaxBytes) }},
		{Name: "message.downconversion.enable", Type: TypeBoolean, Default: "true", ValidValues: "",
			Doc:  "Deprecated: down-conversion is not possible in Kafka 4.0 and later, so this config is a no-op.",
			spec: boolSpec(), value: func(c *Config) string { return "true" }},
		{Name: "message.timestamp.after.max.ms", Type: TypeLong, BrokerSynonyms: []string{"log.message.timestamp.after.max.ms"}, Default: "3600000", ValidValues: "[0,...]",
			Doc:  "With CreateTime, a batch is rejected if its timestamp is more than this many milliseconds after the broker's time.",
			spec: longSpec(0), value: func(c *Config) string { return i64(c.LogMessageTimestampAfterMaxMs) }},
		{Name: "message.timestamp.before.max.ms", Type: TypeLong, BrokerSynonyms: []string{"log.message.timestamp.before.max.ms"}, Default: "9223372036854775807", ValidValues: "[0,...]",
			Doc:  "With CreateTime, a batch is rejected if its timestamp is more than this many milliseconds before the broker's time.",
			spec: longSpec(0), value: func(c *Config) string { return i64(c.LogMessageTimestampBeforeMaxMs) }},
		{Name: "message.timestamp.type", Type: TypeString, BrokerSynonyms: []string{"log.message.timestamp.type"}, Default: "CreateTime", ValidValues: "[CreateTime, LogAppendTime]",
			Doc:  "Whether a record's timestamp is its create time or the time the broker appended it: CreateTime or LogAppendTime.",
			spec: valueSpec{typ: TypeString, oneOf: timestampTypes}, value: func(c *Config) string { return c.LogMessageTimestampType }},
		{Name: "min.cleanable.dirty.ratio", Type: TypeDouble, BrokerSynonyms: []string{"log.cleaner.min.cleanable.ratio"}, Default: "0.5", ValidValues: "[0,...,1]",
			Doc:  "The share of a log that must be uncompacted before the cleaner compacts it (unless min/max.compaction.lag.ms say otherwise).",
			spec: valueSpec{typ: TypeDouble, minF: 0, maxF: 1}, value: func(c *Config) string { return formatDouble(c.LogCleanerMinCleanableRatio) }},
		{Name: "min.compaction.lag.ms", Type: TypeLong, BrokerSynonyms: []string{"log.cleaner.min.compaction.lag.ms"}, Default: "0", ValidValues: "[0,...]",
			Doc:  "The shortest time a message stays uncompacted. Only applies to compacted topics.",
			spec: longSpec(0), value: func(c *Config) string { return i64(c.LogCleanerMinCompactionLagMs) }},
		{Name: "min.insync.replicas", Type: TypeInt, BrokerSynonyms: []string{"min.insync.replicas"}, Default: "1", ValidValues: "[1,...]",
			Doc:  `With acks=all, the fewest replicas that must acknowledge a write; below it the producer gets NOT_ENOUGH_REPLICAS.`,
			spec: intSpec(1, math.MaxInt32), value: func(c *Config) string { return i32s(c.MinInsyncReplicas) }},
		{Name: "preallocate", Type: TypeBoolean, BrokerSynonyms: []string{"log.preallocate"}, Default: "false", ValidValues: "",
			Doc:  "Preallocate the file on disk when creating a new log segment. Accepted and reported as set; Moldau does not preallocate whole segments but always zero-fills a busy active segment 256 KiB ahead of its data (README, Log engine).",
			spec: boolSpec(), value: func(c *Config) string { return strconv.FormatBool(c.LogPreallocate) }},
		{Name: "remote.log.copy.disable", Type: TypeBoolean, Default: "false", ValidValues: "",
			Doc:  "Stop copying segments of a tiered-storage topic to remote storage; remote segments are then only read and expired.",
			spec: boolSpec(), value: func(*Config) string { return "false" }},
		{Name: "remote.log.delete.on.disable", Type: TypeBoolean, Default: "false", ValidValues: "",
			Doc:  "Delete remote data when tiered storage is turned off for the topic; must be true to disable it.",
			spec: boolSpec(), value: func(*Config) string { return "false" }},
		{Name: "remote.storage.enable", Type: TypeBoolean, Default: "false", ValidValues: "",
			Doc:  "Enable tiered storage for the topic.",
			spec: boolSpec(), value: func(*Config) string { return "false" }},
		{Name: "retention.bytes", Type: TypeLong, BrokerSynonyms: []string{"log.retention.bytes"}, Default: "-1", ValidValues: "",
			Doc:  `The largest a partition grows before old segments are deleted under the "delete" policy; -1 means no size limit. Applies per partition.`,
			spec: longSpec(math.MinInt64), value: func(c *Config) string { return i64(c.LogRetentionBytes) }},
		{Name: "retention.ms", Type: TypeLong, BrokerSynonyms: retentionGroup, Default: "604800000", ValidValues: "[-1,...]",
			Doc:  `The longest a log is kept before old segments are deleted under the "delete" policy; -1 means no time limit.`,
			spec: longSpec(-1), value: func(c *Config) string { return i64(c.LogRetentionMs) }},
		{Name: "segment.bytes", Type: TypeInt, BrokerSynonyms: []string{"log.segment.bytes"}, Default: "1073741824", ValidValues: "[1048576,...]",
			Doc:  "The size of a log segment file. Retention and compaction work a segment at a time.",
			spec: segmentBytesSpec, value: func(c *Config) string { return i64(c.LogSegmentBytes) }},
		{Name: "segment.index.bytes", Type: TypeInt, BrokerSynonyms: []string{"log.index.size.max.bytes"}, Default: "10485760", ValidValues: "[4,...]",
			Doc:  "The size of the offset index of a segment.",
			spec: intSpec(4, math.MaxInt32), value: func(c *Config) string { return i32s(c.LogIndexSizeMaxBytes) }},
		{Name: "segment.jitter.ms", Type: TypeLong, BrokerSynonyms: jitterGroup, Default: "0", ValidValues: "[0,...]",
			Doc:  "The maximum random jitter subtracted from the scheduled segment roll time.",
			spec: longSpec(0), value: func(c *Config) string { return i64(c.LogSegmentJitterMs) }},
		{Name: "segment.ms", Type: TypeLong, BrokerSynonyms: rollGroup, Default: "604800000", ValidValues: "[1,...]",
			Doc:  "Roll a new segment after this long even if the current one is not full, so retention and compaction can act.",
			spec: longSpec(1), value: func(c *Config) string { return i64(c.LogSegmentMs) }},
		{Name: "unclean.leader.election.enable", Type: TypeBoolean, BrokerSynonyms: []string{"unclean.leader.election.enable"}, Default: "false", ValidValues: "",
			Doc:  "Allow a replica outside the ISR to become leader as a last resort, which may lose data.",
			spec: boolSpec(), value: func(c *Config) string { return strconv.FormatBool(c.UncleanLeaderElectionEnable) }},
	}
	slices.SortFunc(defs, func(a, b TopicConfigDef) int { return strings.Compare(a.Name, b.Name) })
	return defs
})

var topicDefIndex = sync.OnceValue(func() map[string]int {
	m := make(map[string]int)
	for i, d := range topicDefs() {
		m[d.Name] = i
	}
	return m
})

// TopicConfigDefs returns the topic config table, sorted by name. The caller
// may modify the returned slice but not the BrokerSynonyms slices.
func TopicConfigDefs() []TopicConfigDef {
	return slices.Clone(topicDefs())
}

// LookupTopicConfig returns the definition of the topic config name.
func LookupTopicConfig(name string) (TopicConfigDef, bool) {
	i, ok := topicDefIndex()[name]
	if !ok {
		return TopicConfigDef{}, false
	}
	return topicDefs()[i], true
}

// ValidateTopicConfig checks one topic config as CreateTopics or
// AlterConfigs would set it. value nil means delete the override (reset to
// the default), which is valid for every known config. It returns an
// *UnknownConfigError (errors.Is ErrUnknownConfig) or an
// *InvalidConfigError.
func (c Config) ValidateTopicConfig(name string, value *string) error {
	d, ok := LookupTopicConfig(name)
	if !ok {
		return &UnknownConfigError{Name: name}
	}
	if value == nil {
		return nil
	}
	if _, err := d.spec.validate(*value); err != nil {
		return &InvalidConfigError{Name: name, Value: *value, Reason: err.Error()}
	}
	return nil
}

// ValidateTopicConfigs checks a topic's whole override set: every entry as
// ValidateTopicConfig does, then the rules that span configs
// (min.compaction.lag.ms <= max.compaction.lag.ms, as Kafka's LogConfig).
func (c Config) ValidateTopicConfigs(overrides map[string]string) error {
	names := make([]string, 0, len(overrides))
	for k := range overrides {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v := overrides[k]
		if err := c.ValidateTopicConfig(k, &v); err != nil {
			return err
		}
	}
	s := c.ResolveTopic(overrides)
	if s.MinCompactionLagMs > s.MaxCompactionLagMs {
		return &InvalidConfigError{Name: "min.compaction.lag.ms", Value: i64(s.MinCompactionLagMs),
			Reason: "must not be greater than max.compaction.lag.ms (" + i64(s.MaxCompactionLagMs) + ")"}
	}
	return nil
}

// topicValue is the effective canonical value of a topic config: a valid
// override, else the broker-derived default.
func (c *Config) topicValue(d TopicConfigDef, overrides map[string]string) string {
	if v, ok := overrides[d.Name]; ok {
		if cv, err := d.spec.validate(v); err == nil {
			return cv
		}
	}
	return d.value(c)
}

// TopicSettings are a topic's effective configs, typed.
type TopicSettings struct {
	CleanupPolicy               string // "delete", "compact" or "compact,delete"
	Compact, Delete             bool   // CleanupPolicy, parsed
	CompressionType             string
	CompressionGzipLevel        int32
	CompressionLz4Level         int32
	CompressionZstdLevel        int32
	DeleteRetentionMs           int64
	FileDeleteDelayMs           int64
	FlushMessages               int64
	FlushMs                     int64
	IndexIntervalBytes          int32
	LocalRetentionBytes         int64
	LocalRetentionMs            int64
	MaxCompactionLagMs          int64
	MaxMessageBytes             int64
	MessageTimestampType        string // "CreateTime" or "LogAppendTime"
	TimestampAfterMaxMs         int64
	TimestampBeforeMaxMs        int64
	MinCleanableDirtyRatio      float64
	MinCompactionLagMs          int64
	MinInsyncReplicas           int32
	Preallocate                 bool
	RemoteStorageEnable         bool
	RetentionBytes              int64 // -1: no size limit
	RetentionMs                 int64 // -1: no time limit
	SegmentBytes                int64
	SegmentIndexBytes           int32
	SegmentJitterMs             int64
	SegmentMs                   int64
	UncleanLeaderElectionEnable bool
	LeaderThrottledReplicas     string
	FollowerThrottledReplicas   string
	// Broker-side schema ID validation (Confluent Server's
	// confluent.key/value.schema.validation).
	KeySchemaValidation, ValueSchemaValidation bool
}

// SchemaValidation reports whether either side is validated: the one
// check the produce path makes.
func (s *TopicSettings) SchemaValidation() bool {
	return s.KeySchemaValidation || s.ValueSchemaValidation
}

// ResolveTopic returns the effective settings of a topic with the given
// overrides. An override that does not validate (it should have been
// rejected by ValidateTopicConfig) is ignored in favour of the default.
func (c Config) ResolveTopic(overrides map[string]string) TopicSettings {
	get := func(name string) string {
		d, _ := LookupTopicConfig(name)
		return c.topicValue(d, overrides)
	}
	n := func(name string) int64 { return atoi(get(name)) }
	b := func(name string) bool { return get(name) == "true" }
	ratio, _ := strconv.ParseFloat(get("min.cleanable.dirty.ratio"), 64)
	policy := get("cleanup.policy")
	parts := splitList(policy)
	s := TopicSettings{
		Compact:                     slices.Contains(parts, "compact"),
		Delete:                      slices.Contains(parts, "delete"),
		CompressionType:             get("compression.type"),
		CompressionGzipLevel:        int32(n("compression.gzip.level")),
		CompressionLz4Level:         int32(n("compression.lz4.level")),
		CompressionZstdLevel:        int32(n("compression.zstd.level")),
		DeleteRetentionMs:           n("delete.retention.ms"),
		FileDeleteDelayMs:           n("file.delete.delay.ms"),
		FlushMessages:               n("flush.messages"),
		FlushMs:                     n("flush.ms"),
		IndexIntervalBytes:          int32(n("index.interval.bytes")),
		LocalRetentionBytes:         n("local.retention.bytes"),
		LocalRetentionMs:            n("local.retention.ms"),
		MaxCompactionLagMs:          n("max.compaction.lag.ms"),
		MaxMessageBytes:             n("max.message.bytes"),
		MessageTimestampType:        get("message.timestamp.type"),
		TimestampAfterMaxMs:         n("message.timestamp.after.max.ms"),
		TimestampBeforeMaxMs:        n("message.timestamp.before.max.ms"),
		MinCleanableDirtyRatio:      ratio,
		MinCompactionLagMs:          n("min.compaction.lag.ms"),
		MinInsyncReplicas:           int32(n("min.insync.replicas")),
		Preallocate:                 b("preallocate"),
		RemoteStorageEnable:         b("remote.storage.enable"),
		RetentionBytes:              n("retention.bytes"),
		RetentionMs:                 n("retention.ms"),
		SegmentBytes:                n("segment.bytes"),
		SegmentIndexBytes:           int32(n("segment.index.bytes")),
		SegmentJitterMs:             n("segment.jitter.ms"),
		SegmentMs:                   n("segment.ms"),
		UncleanLeaderElectionEnable: b("unclean.leader.election.enable"),
		LeaderThrottledReplicas:     get("leader.replication.throttled.replicas"),
		FollowerThrottledReplicas:   get("follower.replication.throttled.replicas"),
		KeySchemaValidation:         b("confluent.key.schema.validation"),
		ValueSchemaValidation:       b("confluent.value.schema.validation"),
	}
	switch {
	case s.Compact && s.Delete:
		s.CleanupPolicy = "compact,delete"
	case s.Compact:
		s.CleanupPolicy = "compact"
	default:
		s.CleanupPolicy = "delete"
		s.Delete = true
	}
	return s
}
