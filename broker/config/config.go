package config

import (
	"log/slog"
	"math"
)

// Peer is one voter of the cluster: its node id and inter-broker address.
type Peer struct {
	NodeID int32
	Addr   string // HOST:PORT of its inter-broker listener
}

// Config is the broker's configuration. Fields named after a Kafka property
// carry that property's name and Kafka's default in their comment.
type Config struct {
	Addr          string // --addr; listeners (first non-controller listener). Default "127.0.0.1:9092".
	AdvertiseAddr string // --advertise-addr; advertised.listeners. "" = the actual listen address.
	DataDir       string // --data-dir; log.dirs (first) / log.dir. Default "./moldau-data".
	Memory        bool   // --memory: keep nothing on disk.
	NodeID        int32  // --node-id; node.id / broker.id. Default 0.
	LogLevel      string // --log-level: debug|info|warn|error. Default info.
	LogFormat     string // --log-format: text|json. Default text.
	// LogLevelVar, when set, is the level of the process's log handler:
	// IncrementalAlterConfigs on the BROKER_LOGGER resource changes it at
	// run time (broker/brokerlogger.go). nil (tests, embedding): the broker
	// keeps its own, initialised from LogLevel, and a change only shows in
	// DescribeConfigs.
	LogLevelVar *slog.LevelVar
	ConfigFile  string // --config: the server.properties read, "" if none.
	AdminAddr   string // --admin-addr: metrics/admin HTTP listener. Default "127.0.0.1:9644"; "" disables it.
	// SchemaRegistryAddr is --schema-registry-addr: the listener of the
	// built-in schema registry (Confluent's REST API). Default
	// "127.0.0.1:8081" (Confluent's port); "" turns the registry off.
	SchemaRegistryAddr string
	// ConsoleAddr is --console-addr: the listener of the web console
	// (broker/console). Default "127.0.0.1:8080"; "" turns it off.
	ConsoleAddr string
	// HTTPAllowedHosts is --http-allowed-hosts: host names (a port is
	// ignored) browsers may use for the console and the HTTP proxy besides
	// loopback ones; non-empty turns the Host check on for every
	// connection (DNS rebinding protection off loopback).
	HTTPAllowedHosts []string
	// HTTPProxyAddr is --http-proxy-addr: the listener of the Confluent
	// REST Proxy-compatible API (broker/restproxy). Default
	// "127.0.0.1:8082" (Confluent's port); "" turns it off.
	HTTPProxyAddr string
	Pprof         bool   // --pprof: serve /debug/pprof on the admin listener
	LogRequests   bool   // --log-requests: log every request (at debug level)
	KafkaVersion  string // --kafka-version: cap advertised API versions at this Kafka release's ("" = no cap)
	// Peers is every voter of the cluster (the controller quorum), this
	// node included: --peers 1@HOST:PORT,2@HOST:PORT,... / MOLDAU_PEERS /
	// controller.quorum.voters (Kafka's id@host:port list). Empty: the
	// single-node broker, no Raft anywhere.
	Peers []Peer
	// PeerAddr is this node's inter-broker (Raft) listener, HOST:PORT:
	// --peer-addr / MOLDAU_PEER_ADDR / the CONTROLLER listener of
	// listeners (Kafka's controller.listener.names, default CONTROLLER).
	// After Load (or ResolveCluster): with Peers, never "" (this node's
	// entry in Peers when not given); without Peers, always "".
	PeerAddr string
	// Security: listeners and TLS, SASL, the authorizer, quotas (issue 16;
	// security.go).
	Security Security
	// SyncOnAcksAll: with one replica, fsync before answering acks=all
	// (the default; the --dev profile turns it off).
	SyncOnAcksAll bool

	NumPartitions            int32 // num.partitions = 1
	DefaultReplicationFactor int16 // default.replication.factor = 1
	AutoCreateTopics         bool  // auto.create.topics.enable = true
	DeleteTopicEnable        bool  // delete.topic.enable = true
	MessageMaxBytes          int32 // message.max.bytes = 1048588
	SocketRequestMaxBytes    int32 // socket.request.max.bytes = 104857600
	FetchMaxBytes            int32 // fetch.max.bytes = 57671680
	ConnectionsMaxIdleMs     int64 // connections.max.idle.ms = 600000
	MinInsyncReplicas        int32 // min.insync.replicas = 1
	// Cluster mode: preferred-leader balancing by the controller.
	AutoLeaderRebalanceEnable           bool    // auto.leader.rebalance.enable = true
	LeaderImbalanceCheckIntervalSeconds int64   // leader.imbalance.check.interval.seconds = 300
	LeaderImbalancePerBrokerPercentage  int32   // leader.imbalance.per.broker.percentage = 10
	UncleanLeaderElectionEnable         bool    // unclean.leader.election.enable = false
	ReplicaLagTimeMaxMs                 int64   // replica.lag.time.max.ms = 30000
	CompressionType                     string  // compression.type = producer
	CompressionGzipLevel                int32   // compression.gzip.level = -1
	CompressionLz4Level                 int32   // compression.lz4.level = 9
	CompressionZstdLevel                int32   // compression.zstd.level = 3
	LogCleanupPolicy                    string  // log.cleanup.policy = delete ("delete", "compact" or "compact,delete")
	LogRetentionMs                      int64   // log.retention.ms > log.retention.minutes > log.retention.hours = 168h; -1 = unlimited
	LogRetentionBytes                   int64   // log.retention.bytes = -1
	LogRetentionCheckIntervalMs         int64   // log.retention.check.interval.ms = 300000
	LogSegmentBytes                     int64   // log.segment.bytes = 1073741824 (at least 1048576)
	LogSegmentMs                        int64   // log.roll.ms > log.roll.hours = 168h
	LogSegmentJitterMs                  int64   // log.roll.jitter.ms > log.roll.jitter.hours = 0
	LogSegmentDeleteDelayMs             int64   // log.segment.delete.delay.ms = 60000
	LogIndexIntervalBytes               int32   // log.index.interval.bytes = 4096
	LogIndexSizeMaxBytes                int32   // log.index.size.max.bytes = 10485760
	LogPreallocate                      bool    // log.preallocate = false
	LogFlushIntervalMessages            int64   // log.flush.interval.messages = 9223372036854775807
	LogFlushIntervalMs                  int64   // log.flush.interval.ms = null (-1 here): use LogFlushSchedulerIntervalMs
	LogFlushSchedulerIntervalMs         int64   // log.flush.scheduler.interval.ms = 9223372036854775807
	LogMessageTimestampType             string  // log.message.timestamp.type = CreateTime
	LogMessageTimestampBeforeMaxMs      int64   // log.message.timestamp.before.max.ms = 9223372036854775807
	LogMessageTimestampAfterMaxMs       int64   // log.message.timestamp.after.max.ms = 3600000 (Kafka 4.0 default)
	LogCleanerEnable                    bool    // log.cleaner.enable = true
	LogCleanerDeleteRetentionMs         int64   // log.cleaner.delete.retention.ms = 86400000
	LogCleanerMinCompactionLagMs        int64   // log.cleaner.min.compaction.lag.ms = 0
	LogCleanerMaxCompactionLagMs        int64   // log.cleaner.max.compaction.lag.ms = 9223372036854775807
	LogCleanerMinCleanableRatio         float64 // log.cleaner.min.cleanable.ratio = 0.5
	LogLocalRetentionMs                 int64   // log.local.retention.ms = -2 (use retention.ms)
	LogLocalRetentionBytes              int64   // log.local.retention.bytes = -2 (use retention.bytes)

	TransactionMaxTimeoutMs          int64 // transaction.max.timeout.ms = 900000
	TransactionalIDExpirationMs      int64 // transactional.id.expiration.ms = 604800000
	ProducerIDExpirationMs           int64 // producer.id.expiration.ms = 86400000
	OffsetsTopicNumPartitions        int32 // offsets.topic.num.partitions = 50
	OffsetsRetentionMinutes          int32 // offsets.retention.minutes = 10080
	OffsetsRetentionCheckIntervalMs  int64 // offsets.retention.check.interval.ms = 600000
	OffsetMetadataMaxBytes           int32 // offset.metadata.max.bytes = 4096
	GroupInitialRebalanceDelayMs     int64 // group.initial.rebalance.delay.ms = 3000
	GroupMinSessionTimeoutMs         int32 // group.min.session.timeout.ms = 6000
	GroupMaxSessionTimeoutMs         int32 // group.max.session.timeout.ms = 1800000
	GroupMaxSize                     int32 // group.max.size = 2147483647
	GroupConsumerSessionTimeoutMs    int32 // group.consumer.session.timeout.ms = 45000
	GroupConsumerHeartbeatIntervalMs int32 // group.consumer.heartbeat.interval.ms = 5000

	// Properties holds every Kafka property as given, after precedence: the
	// file, overridden by --set, and the Kafka keys of settings made by a
	// flag or the environment (node.id, listeners, advertised.listeners,
	// log.dirs). A key present here is reported as STATIC_BROKER_CONFIG.
	// Treat it as read-only.
	Properties map[string]string
	// Dynamic is the dynamic layer (AlterConfigs on BROKER resources) this
	// configuration was built with by WithDynamic; empty for the static
	// configuration. Treat it as read-only.
	Dynamic Dynamic
	// Groups are the group coordinator's broker keys besides the two
	// above (groups.go).
	Groups GroupDefaults
}

const (
	defaultAddr      = "127.0.0.1:9092"
	defaultDataDir   = "./moldau-data"
	defaultAdminAddr = "127.0.0.1:9644"
	// DefaultSchemaRegistryAddr is Confluent Schema Registry's default
	// listener port, on loopback as the admin listener is.
	DefaultSchemaRegistryAddr = "127.0.0.1:8081"
	// DefaultConsoleAddr is the web console's default listener.
	DefaultConsoleAddr = "127.0.0.1:8080"
	// DefaultHTTPProxyAddr is Confluent REST Proxy's default listener
	// port, on loopback.
	DefaultHTTPProxyAddr = "127.0.0.1:8082"
	hourMs               = int64(3600000)
)

// Default returns the configuration Moldau runs with when nothing is set,
// except that the schema registry, the web console and the HTTP proxy are
// off here (SchemaRegistryAddr, ConsoleAddr and HTTPProxyAddr ""): Load,
// which the binary and embed go through, turns them on at
// DefaultSchemaRegistryAddr, DefaultConsoleAddr and DefaultHTTPProxyAddr,
// so that the many brokers tests build from Default() do not all try to
// bind ports 8081, 8080 and 8082.
func Default() Config {
	return Config{
		SyncOnAcksAll: true,
		Addr:          defaultAddr,
		DataDir:       defaultDataDir,
		LogLevel:      "info",
		LogFormat:     "text",
		AdminAddr:     defaultAdminAddr,

		NumPartitions:            1,
		DefaultReplicationFactor: 1,
		AutoCreateTopics:         true,
		DeleteTopicEnable:        true,
		MessageMaxBytes:          1048588,
		SocketRequestMaxBytes:    104857600,
		FetchMaxBytes:            57671680,
		ConnectionsMaxIdleMs:     600000,
		MinInsyncReplicas:        1,

		AutoLeaderRebalanceEnable:           true,
		LeaderImbalanceCheckIntervalSeconds: 300,
		LeaderImbalancePerBrokerPercentage:  10,
		ReplicaLagTimeMaxMs:                 30000,
		CompressionType:                     "producer",
		CompressionGzipLevel:                -1,
		CompressionLz4Level:                 9,
		CompressionZstdLevel:                3,
		LogCleanupPolicy:                    "delete",
		LogRetentionMs:                      168 * hourMs,
		LogRetentionBytes:                   -1,
		LogRetentionCheckIntervalMs:         300000,
		LogSegmentBytes:                     1073741824,
		LogSegmentMs:                        168 * hourMs,
		LogSegmentDeleteDelayMs:             60000,
		LogIndexIntervalBytes:               4096,
		LogIndexSizeMaxBytes:                10485760,
		LogFlushIntervalMessages:            math.MaxInt64,
		LogFlushIntervalMs:                  -1,
		LogFlushSchedulerIntervalMs:         math.MaxInt64,
		LogMessageTimestampType:             "CreateTime",
		LogMessageTimestampBeforeMaxMs:      math.MaxInt64,
		LogMessageTimestampAfterMaxMs:       3600000,
		LogCleanerEnable:                    true,
		LogCleanerDeleteRetentionMs:         86400000,
		LogCleanerMaxCompactionLagMs:        math.MaxInt64,
		LogCleanerMinCleanableRatio:         0.5,
		LogLocalRetentionMs:                 -2,
		LogLocalRetentionBytes:              -2,

		TransactionMaxTimeoutMs:          900000,
		TransactionalIDExpirationMs:      604800000,
		ProducerIDExpirationMs:           86400000,
		OffsetsTopicNumPartitions:        50,
		OffsetsRetentionMinutes:          10080,
		OffsetsRetentionCheckIntervalMs:  600000,
		OffsetMetadataMaxBytes:           4096,
		GroupInitialRebalanceDelayMs:     3000,
		GroupMinSessionTimeoutMs:         6000,
		GroupMaxSessionTimeoutMs:         1800000,
		GroupMaxSize:                     math.MaxInt32,
		GroupConsumerSessionTimeoutMs:    45000,
		GroupConsumerHeartbeatIntervalMs: 5000,
		Groups:                           defaultGroupDefaults(),

		Properties: map[string]string{},
	}
}

// EffectiveFlushMs is the broker-level flush interval: log.flush.interval.ms
// if set, else log.flush.scheduler.interval.ms (Kafka's synonym order).
func (c Config) EffectiveFlushMs() int64 {
	if c.LogFlushIntervalMs >= 0 {
		return c.LogFlushIntervalMs
	}
	return c.LogFlushSchedulerIntervalMs
}

// ApplyDevProfile switches c to the --dev profile: topics are auto-created
// with one partition, acks=all is answered without waiting for an fsync, and
// segments are 16 MiB so small dev data sets still roll and expire.
func (c *Config) ApplyDevProfile() {
	c.AutoCreateTopics = true
	c.NumPartitions = 1
	c.SyncOnAcksAll = false
	c.LogSegmentBytes = 16 << 20
}
