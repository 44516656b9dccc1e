package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// brokerKey is one Kafka broker property Moldau supports.
type brokerKey struct {
	name string
	spec valueSpec
	doc  string
	// apply stores the validated, canonical value v into c. props is the
	// whole property set, for keys that depend on another key.
	apply func(c *Config, v string, props map[string]string) error
	// value is the key's current value as DescribeConfigs reports it; nil
	// for Kafka's "null" (e.g. log.retention.ms when only hours is set).
	value func(c *Config) *string
	// synonyms lists, in precedence order, the keys that set the same
	// setting (Kafka's DynamicBrokerConfig.brokerConfigSynonyms); nil means
	// just the key itself.
	synonyms []string
}

func int32Key(name string, spec valueSpec, doc string, f func(*Config) *int32) brokerKey {
	return brokerKey{name: name, spec: spec, doc: doc,
		apply: func(c *Config, v string, _ map[string]string) error {
			*f(c) = int32(atoi(v))
			return nil
		},
		value: func(c *Config) *string { return ptr(i64(int64(*f(c)))) },
	}
}

func int64Key(name string, spec valueSpec, doc string, f func(*Config) *int64) brokerKey {
	return brokerKey{name: name, spec: spec, doc: doc,
		apply: func(c *Config, v string, _ map[string]string) error {
			*f(c) = atoi(v)
			return nil
		},
		value: func(c *Config) *string { return ptr(i64(*f(c))) },
	}
}

func boolKey(name, doc string, f func(*Config) *bool) brokerKey {
	return brokerKey{name: name, spec: boolSpec(), doc: doc,
		apply: func(c *Config, v string, _ map[string]string) error {
			*f(c) = v == "true"
			return nil
		},
		value: func(c *Config) *string { return ptr(strconv.FormatBool(*f(c))) },
	}
}

func stringKey(name string, spec valueSpec, doc string, f func(*Config) *string) brokerKey {
	return brokerKey{name: name, spec: spec, doc: doc,
		apply: func(c *Config, v string, _ map[string]string) error {
			*f(c) = v
			return nil
		},
		value: func(c *Config) *string { return ptr(*f(c)) },
	}
}

// timeKey is one of a group of synonyms (ms/minutes/hours) for one
// millisecond setting. Its reported value is what was set for this very key,
// or Kafka's default for it (def, nil for null), as Kafka reports it.
func timeKey(name string, spec valueSpec, unitMs int64, def *string, doc string, group []string, f func(*Config) *int64) brokerKey {
	return brokerKey{name: name, spec: spec, doc: doc, synonyms: group,
		apply: func(c *Config, v string, _ map[string]string) error {
			n := atoi(v)
			if n > 0 && n > math.MaxInt64/unitMs {
				n = math.MaxInt64
			} else {
				n *= unitMs
			}
			if n < 0 {
				n = -1
			}
			*f(c) = n
			return nil
		},
		value: func(c *Config) *string {
			if v, ok := c.propValue(name); ok {
				return ptr(v)
			}
			return def
		},
	}
}

func atoi(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

var (
	compressionTypes = []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}
	timestampTypes   = []string{"CreateTime", "LogAppendTime"}
	cleanupPolicies  = []string{"compact", "delete"}

	retentionGroup = []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
	rollGroup      = []string{"log.roll.ms", "log.roll.hours"}
	jitterGroup    = []string{"log.roll.jitter.ms", "log.roll.jitter.hours"}
	flushGroup     = []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
)

func notZero(v string) error {
	if v == "0" {
		return errors.New("must be -1 (unlimited) or positive")
	}
	return nil
}

func gzipLevel(v string) error {
	if n := atoi(v); n != -1 && (n < 1 || n > 9) {
		return errors.New("must be -1 (default) or between 1 and 9")
	}
	return nil
}

var segmentBytesSpec = intSpec(1048576, math.MaxInt32)

// brokerKeys is the table of supported broker properties. Order matters:
// keys are applied in this order, so that of two synonyms the one Kafka
// prefers comes later and wins (hours, then minutes, then ms).
var brokerKeys = sync.OnceValue(func() []brokerKey {
	return append([]brokerKey{
		{name: "broker.id", spec: intSpec(0, math.MaxInt32), doc: "The broker's id; a synonym of node.id.",
			apply: func(c *Config, v string, _ map[string]string) error { c.NodeID = int32(atoi(v)); return nil },
			value: func(c *Config) *string { return ptr(i64(int64(c.NodeID))) }},
		{name: "node.id", spec: intSpec(0, math.MaxInt32), doc: "The node id of this broker (--node-id).",
			apply: func(c *Config, v string, p map[string]string) error {
				if b, ok := p["broker.id"]; ok && strings.TrimSpace(b) != v {
					return fmt.Errorf("differs from broker.id=%s; set one of them", strings.TrimSpace(b))
				}
				c.NodeID = int32(atoi(v))
				return nil
			},
			value: func(c *Config) *string { return ptr(i64(int64(c.NodeID))) }},
		{name: "listeners", spec: valueSpec{typ: TypeString}, doc: "The listener Moldau binds (--addr): the first entry of a Kafka listener list that is not a controller listener, NAME:// stripped. In a cluster the controller listener (controller.listener.names, default CONTROLLER) is the inter-broker listener (--peer-addr).",
			apply: func(c *Config, v string, p map[string]string) error {
				addr, err := pickListener(v, controllerNames(p), "")
				if err != nil {
					return err
				}
				if err := checkListenAddr(addr); err != nil {
					return err
				}
				c.Addr = addr
				// Checked by resolveCluster, and only used, when
				// there are peers.
				c.PeerAddr, _ = findListener(v, controllerListenerName(p))
				return nil
			},
			value: func(c *Config) *string {
				v := "PLAINTEXT://" + c.Addr
				if ls := c.Security.Listeners.Listeners; len(ls) > 0 {
					parts := make([]string, len(ls))
					for i, l := range ls {
						parts[i] = l.Name + "://" + l.Addr
					}
					v = strings.Join(parts, ",")
				}
				if len(c.Peers) > 0 && c.PeerAddr != "" {
					v += "," + controllerListenerName(c.Properties) + "://" + c.PeerAddr
				}
				return ptr(v)
			}},
		{name: "advertised.listeners", spec: valueSpec{typ: TypeString, nullable: true}, doc: "The address given to clients (--advertise-addr); the entry for the listener Moldau binds, else the first.",
			apply: func(c *Config, v string, p map[string]string) error {
				if v == "" {
					c.AdvertiseAddr = ""
					return nil
				}
				name := ""
				if l, ok := p["listeners"]; ok {
					name = listenerName(l, controllerNames(p))
				}
				addr, err := pickListener(v, controllerNames(p), name)
				if err != nil {
					return err
				}
				if err := checkAdvertiseAddr(addr); err != nil {
					return err
				}
				c.AdvertiseAddr = addr
				return nil
			},
			value: func(c *Config) *string {
				var parts []string
				for _, l := range c.Security.Listeners.Listeners {
					if l.Advertised != "" {
						parts = append(parts, l.Name+"://"+l.Advertised)
					}
				}
				if len(parts) > 0 {
					return ptr(strings.Join(parts, ","))
				}
				if c.AdvertiseAddr == "" {
					return nil
				}
				return ptr("PLAINTEXT://" + c.AdvertiseAddr)
			}},
		{name: "controller.quorum.voters", spec: valueSpec{typ: TypeList}, doc: "Every voter of the cluster, this node included, as ID@HOST:PORT,... with each node's inter-broker address (--peers). Empty: a single-node broker. (Kafka 4's controller.quorum.bootstrap.servers is not read.)",
			apply: func(c *Config, v string, _ map[string]string) error {
				peers, err := parsePeers(v)
				if err != nil {
					return err
				}
				c.Peers = peers
				return nil
			},
			value: func(c *Config) *string { return ptr(FormatPeers(c.Peers)) }},
		{name: "log.dir", spec: valueSpec{typ: TypeString}, doc: "The data directory (--data-dir) when log.dirs is not set.",
			apply: func(c *Config, v string, _ map[string]string) error {
				if v == "" {
					return errors.New("must not be empty")
				}
				c.DataDir = v
				return nil
			},
			value: func(c *Config) *string { return ptr(c.DataDir) }},
		{name: "log.dirs", spec: valueSpec{typ: TypeString}, doc: "The data directory (--data-dir); Moldau uses the first entry of the list.",
			apply: func(c *Config, v string, _ map[string]string) error {
				dirs := splitList(v)
				if len(dirs) == 0 || dirs[0] == "" {
					return errors.New("must not be empty")
				}
				c.DataDir = dirs[0]
				return nil
			},
			value: func(c *Config) *string { return ptr(c.DataDir) }},

		int32Key("num.partitions", intSpec(1, math.MaxInt32), "The default number of partitions of an auto-created topic.", func(c *Config) *int32 { return &c.NumPartitions }),
		{name: "default.replication.factor", spec: valueSpec{typ: TypeShort, min: 1, max: math.MaxInt16}, doc: "The default replication factor of an auto-created topic.",
			apply: func(c *Config, v string, _ map[string]string) error {
				c.DefaultReplicationFactor = int16(atoi(v))
				return nil
			},
			value: func(c *Config) *string { return ptr(i64(int64(c.DefaultReplicationFactor))) }},
		boolKey("auto.create.topics.enable", "Create a topic when a client asks for metadata or produces to one that does not exist.", func(c *Config) *bool { return &c.AutoCreateTopics }),
		boolKey("delete.topic.enable", "Allow DeleteTopics.", func(c *Config) *bool { return &c.DeleteTopicEnable }),
		int32Key("message.max.bytes", intSpec(0, math.MaxInt32), "The largest record batch size allowed (after compression); the default of max.message.bytes.", func(c *Config) *int32 { return &c.MessageMaxBytes }),
		int32Key("socket.request.max.bytes", intSpec(1, math.MaxInt32), "The largest request the broker reads.", func(c *Config) *int32 { return &c.SocketRequestMaxBytes }),
		int32Key("fetch.max.bytes", intSpec(1024, math.MaxInt32), "The most bytes a fetch response returns.", func(c *Config) *int32 { return &c.FetchMaxBytes }),
		int64Key("connections.max.idle.ms", valueSpec{typ: TypeLong, min: math.MinInt64, max: math.MaxInt64}, "Idle connections are closed after this many milliseconds.", func(c *Config) *int64 { return &c.ConnectionsMaxIdleMs }),
		int32Key("min.insync.replicas", intSpec(1, math.MaxInt32), "The default of the topic config min.insync.replicas.", func(c *Config) *int32 { return &c.MinInsyncReplicas }),
		boolKey("auto.leader.rebalance.enable", "Cluster mode: the controller moves leadership back to preferred replicas when a broker's share of partitions led by others passes leader.imbalance.per.broker.percentage.", func(c *Config) *bool { return &c.AutoLeaderRebalanceEnable }),
		int64Key("leader.imbalance.check.interval.seconds", valueSpec{typ: TypeLong, min: 1, max: math.MaxInt64}, "Cluster mode: how often the controller checks the leader balance.", func(c *Config) *int64 { return &c.LeaderImbalanceCheckIntervalSeconds }),
		int32Key("leader.imbalance.per.broker.percentage", intSpec(0, 100), "Cluster mode: the share of a broker's preferred partitions led elsewhere that triggers a rebalance.", func(c *Config) *int32 { return &c.LeaderImbalancePerBrokerPercentage }),
		boolKey("unclean.leader.election.enable", "The default of the topic config unclean.leader.election.enable.", func(c *Config) *bool { return &c.UncleanLeaderElectionEnable }),
		int64Key("replica.lag.time.max.ms", longSpec(math.MinInt64), "A follower that has not caught up for this long leaves the ISR.", func(c *Config) *int64 { return &c.ReplicaLagTimeMaxMs }),
		stringKey("compression.type", valueSpec{typ: TypeString, oneOf: compressionTypes}, "The default of the topic config compression.type.", func(c *Config) *string { return &c.CompressionType }),
		int32Key("compression.gzip.level", valueSpec{typ: TypeInt, min: -1, max: 9, check: gzipLevel}, "The default gzip level.", func(c *Config) *int32 { return &c.CompressionGzipLevel }),
		int32Key("compression.lz4.level", intSpec(1, 17), "The default lz4 level.", func(c *Config) *int32 { return &c.CompressionLz4Level }),
		int32Key("compression.zstd.level", intSpec(-131072, 22), "The default zstd level.", func(c *Config) *int32 { return &c.CompressionZstdLevel }),
		stringKey("log.cleanup.policy", valueSpec{typ: TypeList, oneOf: cleanupPolicies}, "The default of the topic config cleanup.policy.", func(c *Config) *string { return &c.LogCleanupPolicy }),

		timeKey("log.retention.hours", intSpec(math.MinInt32, math.MaxInt32).withCheck(notZero), hourMs, ptr("168"), "Hours to keep a log segment; overridden by log.retention.minutes and log.retention.ms.", retentionGroup, func(c *Config) *int64 { return &c.LogRetentionMs }),
		timeKey("log.retention.minutes", intSpec(math.MinInt32, math.MaxInt32).withCheck(notZero), 60000, nil, "Minutes to keep a log segment; overridden by log.retention.ms.", retentionGroup, func(c *Config) *int64 { return &c.LogRetentionMs }),
		timeKey("log.retention.ms", longSpec(math.MinInt64).withCheck(notZero), 1, nil, "Milliseconds to keep a log segment; -1 keeps it forever.", retentionGroup, func(c *Config) *int64 { return &c.LogRetentionMs }),
		int64Key("log.retention.bytes", longSpec(math.MinInt64), "The default of the topic config retention.bytes.", func(c *Config) *int64 { return &c.LogRetentionBytes }),
		int64Key("log.retention.check.interval.ms", longSpec(1), "How often retention is enforced.", func(c *Config) *int64 { return &c.LogRetentionCheckIntervalMs }),
		{name: "log.segment.bytes", spec: segmentBytesSpec, doc: "The default of the topic config segment.bytes.",
			apply: func(c *Config, v string, _ map[string]string) error { c.LogSegmentBytes = atoi(v); return nil },
			value: func(c *Config) *string { return ptr(i64(c.LogSegmentBytes)) }},
		timeKey("log.roll.hours", intSpec(1, math.MaxInt32), hourMs, ptr("168"), "Hours after which a new segment is rolled; overridden by log.roll.ms.", rollGroup, func(c *Config) *int64 { return &c.LogSegmentMs }),
		timeKey("log.roll.ms", longSpec(1), 1, nil, "Milliseconds after which a new segment is rolled.", rollGroup, func(c *Config) *int64 { return &c.LogSegmentMs }),
		timeKey("log.roll.jitter.hours", intSpec(0, math.MaxInt32), hourMs, ptr("0"), "Maximum jitter subtracted from the roll time, in hours.", jitterGroup, func(c *Config) *int64 { return &c.LogSegmentJitterMs }),
		timeKey("log.roll.jitter.ms", longSpec(0), 1, nil, "Maximum jitter subtracted from the roll time.", jitterGroup, func(c *Config) *int64 { return &c.LogSegmentJitterMs }),
		int64Key("log.segment.delete.delay.ms", longSpec(0), "The default of the topic config file.delete.delay.ms.", func(c *Config) *int64 { return &c.LogSegmentDeleteDelayMs }),
		int32Key("log.index.interval.bytes", intSpec(0, math.MaxInt32), "The default of the topic config index.interval.bytes.", func(c *Config) *int32 { return &c.LogIndexIntervalBytes }),
		int32Key("log.index.size.max.bytes", intSpec(4, math.MaxInt32), "The default of the topic config segment.index.bytes.", func(c *Config) *int32 { return &c.LogIndexSizeMaxBytes }),
		boolKey("log.preallocate", "The default of the topic config preallocate.", func(c *Config) *bool { return &c.LogPreallocate }),
		int64Key("log.flush.interval.messages", longSpec(1), "The default of the topic config flush.messages.", func(c *Config) *int64 { return &c.LogFlushIntervalMessages }),
		{name: "log.flush.scheduler.interval.ms", spec: longSpec(math.MinInt64), doc: "The flush interval used when log.flush.interval.ms is not set.", synonyms: flushGroup,
			apply: func(c *Config, v string, _ map[string]string) error {
				c.LogFlushSchedulerIntervalMs = atoi(v)
				return nil
			},
			value: func(c *Config) *string { return ptr(i64(c.LogFlushSchedulerIntervalMs)) }},
		{name: "log.flush.interval.ms", spec: valueSpec{typ: TypeLong, min: 0, max: math.MaxInt64, nullable: true}, doc: "The default of the topic config flush.ms.", synonyms: flushGroup,
			apply: func(c *Config, v string, _ map[string]string) error {
				c.LogFlushIntervalMs = -1
				if v != "" {
					c.LogFlushIntervalMs = atoi(v)
				}
				return nil
			},
			value: func(c *Config) *string {
				if c.LogFlushIntervalMs < 0 {
					return nil
				}
				return ptr(i64(c.LogFlushIntervalMs))
			}},
		stringKey("log.message.timestamp.type", valueSpec{typ: TypeString, oneOf: timestampTypes}, "The default of the topic config message.timestamp.type.", func(c *Config) *string { return &c.LogMessageTimestampType }),
		int64Key("log.message.timestamp.before.max.ms", longSpec(0), "The default of the topic config message.timestamp.before.max.ms.", func(c *Config) *int64 { return &c.LogMessageTimestampBeforeMaxMs }),
		int64Key("log.message.timestamp.after.max.ms", longSpec(0), "The default of the topic config message.timestamp.after.max.ms.", func(c *Config) *int64 { return &c.LogMessageTimestampAfterMaxMs }),
		boolKey("log.cleaner.enable", "Run the log cleaner (compaction).", func(c *Config) *bool { return &c.LogCleanerEnable }),
		int64Key("log.cleaner.delete.retention.ms", longSpec(0), "The default of the topic config delete.retention.ms.", func(c *Config) *int64 { return &c.LogCleanerDeleteRetentionMs }),
		int64Key("log.cleaner.min.compaction.lag.ms", longSpec(0), "The default of the topic config min.compaction.lag.ms.", func(c *Config) *int64 { return &c.LogCleanerMinCompactionLagMs }),
		int64Key("log.cleaner.max.compaction.lag.ms", longSpec(1), "The default of the topic config max.compaction.lag.ms.", func(c *Config) *int64 { return &c.LogCleanerMaxCompactionLagMs }),
		{name: "log.cleaner.min.cleanable.ratio", spec: valueSpec{typ: TypeDouble, minF: 0, maxF: 1}, doc: "The default of the topic config min.cleanable.dirty.ratio.",
			apply: func(c *Config, v string, _ map[string]string) error {
				c.LogCleanerMinCleanableRatio, _ = strconv.ParseFloat(v, 64)
				return nil
			},
			value: func(c *Config) *string { return ptr(formatDouble(c.LogCleanerMinCleanableRatio)) }},
		int64Key("log.local.retention.ms", longSpec(-2), "The default of the topic config local.retention.ms.", func(c *Config) *int64 { return &c.LogLocalRetentionMs }),
		int64Key("log.local.retention.bytes", longSpec(-2), "The default of the topic config local.retention.bytes.", func(c *Config) *int64 { return &c.LogLocalRetentionBytes }),

		int64Key("transaction.max.timeout.ms", valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}, "The largest transaction timeout a producer may ask for.", func(c *Config) *int64 { return &c.TransactionMaxTimeoutMs }),
		int64Key("transactional.id.expiration.ms", valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}, "An idle transactional id expires after this long.", func(c *Config) *int64 { return &c.TransactionalIDExpirationMs }),
		int64Key("producer.id.expiration.ms", valueSpec{typ: TypeInt, min: 1, max: math.MaxInt32}, "An idle producer id expires after this long.", func(c *Config) *int64 { return &c.ProducerIDExpirationMs }),
		int32Key("offsets.topic.num.partitions", intSpec(1, math.MaxInt32), "Partitions of the offsets topic.", func(c *Config) *int32 { return &c.OffsetsTopicNumPartitions }),
		int32Key("offsets.retention.minutes", intSpec(1, math.MaxInt32), "Committed offsets of an empty group are kept this long.", func(c *Config) *int32 { return &c.OffsetsRetentionMinutes }),
		int64Key("offsets.retention.check.interval.ms", longSpec(1), "How often stale offsets are looked for.", func(c *Config) *int64 { return &c.OffsetsRetentionCheckIntervalMs }),
		int32Key("offset.metadata.max.bytes", intSpec(math.MinInt32, math.MaxInt32), "The largest metadata string of an offset commit.", func(c *Config) *int32 { return &c.OffsetMetadataMaxBytes }),
		int64Key("group.initial.rebalance.delay.ms", valueSpec{typ: TypeInt, min: 0, max: math.MaxInt32}, "How long a new classic group waits for more members before the first rebalance.", func(c *Config) *int64 { return &c.GroupInitialRebalanceDelayMs }),
		int32Key("group.min.session.timeout.ms", intSpec(math.MinInt32, math.MaxInt32), "The smallest session timeout a classic group member may ask for.", func(c *Config) *int32 { return &c.GroupMinSessionTimeoutMs }),
		int32Key("group.max.session.timeout.ms", intSpec(math.MinInt32, math.MaxInt32), "The largest session timeout a classic group member may ask for.", func(c *Config) *int32 { return &c.GroupMaxSessionTimeoutMs }),
		int32Key("group.max.size", intSpec(1, math.MaxInt32), "The most members a classic group may have.", func(c *Config) *int32 { return &c.GroupMaxSize }),
		int32Key("group.consumer.session.timeout.ms", intSpec(1, math.MaxInt32), "Session timeout of consumer-protocol (KIP-848) group members.", func(c *Config) *int32 { return &c.GroupConsumerSessionTimeoutMs }),
		int32Key("group.consumer.heartbeat.interval.ms", intSpec(1, math.MaxInt32), "Heartbeat interval of consumer-protocol (KIP-848) group members.", func(c *Config) *int32 { return &c.GroupConsumerHeartbeatIntervalMs }),
	}, groupBrokerKeys()...)
})

func (s valueSpec) withCheck(f func(string) error) valueSpec { s.check = f; return s }

var brokerKeyIndex = sync.OnceValue(func() map[string]int {
	m := make(map[string]int)
	for i, k := range brokerKeys() {
		if _, dup := m[k.name]; dup {
			panic("config: duplicate broker key " + k.name)
		}
		m[k.name] = i
	}
	return m
})

func lookupBrokerKey(name string) (brokerKey, bool) {
	i, ok := brokerKeyIndex()[name]
	if !ok {
		return brokerKey{}, false
	}
	return brokerKeys()[i], true
}

// listenerEntry splits "NAME://host:port" (NAME:// optional).
func listenerEntry(s string) (name, addr string) {
	if n, a, ok := strings.Cut(s, "://"); ok {
		return strings.ToUpper(strings.TrimSpace(n)), strings.TrimSpace(a)
	}
	return "", strings.TrimSpace(s)
}

// listenerName is the name of the listener pickListener chooses from
// listeners.
func listenerName(listeners, controllerNames string) string {
	ctl := splitList(strings.ToUpper(controllerNames))
	for _, e := range splitList(listeners) {
		if n, _ := listenerEntry(e); !slices.Contains(ctl, n) {
			return n
		}
	}
	return ""
}

// pickListener returns the address of the entry named want, else of the
// first entry that is not a controller listener.
func pickListener(list, controllerNames, want string) (string, error) {
	entries := splitList(list)
	if len(entries) == 0 {
		return "", errors.New("no listener given")
	}
	ctl := splitList(strings.ToUpper(controllerNames))
	first := ""
	for _, e := range entries {
		n, a := listenerEntry(e)
		if want != "" && n == want {
			return a, nil
		}
		if first == "" && !slices.Contains(ctl, n) {
			first = a
		}
	}
	if first == "" {
		return "", errors.New("every listener is a controller listener")
	}
	return first, nil
}

// checkListenAddr accepts host:port with an optional host and a port in
// 0..65535.
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want HOST:PORT: %v", err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || (p == 0 && port != "0") {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// checkAdvertiseAddr accepts host:port that a client can dial: a host that is
// not the unspecified address and a non-zero port.
func checkAdvertiseAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want HOST:PORT: %v", err)
	}
	if host == "" {
		return errors.New("host must not be empty")
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("cannot advertise the unspecified address %s", host)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}
