// Package config holds the broker's configuration: defaults, loading from
// flags, environment and a Kafka-style server.properties file, validation, and
// the topic-level config table behind CreateTopics, DescribeConfigs and
// AlterConfigs.
//
// # Precedence
//
// Load builds a Config in layers, each overriding the one before:
//
//	defaults < properties (--config FILE, then --set key=value) < environment (MOLDAU_*) < flags
//
// --set edits the property set as if its line were appended to the file, so it
// overrides the file for that key. The environment and the dedicated flags
// (--addr, --node-id, --data-dir, ...) override whatever the properties say
// about the same setting: --node-id 3 wins over node.id=1 in the file or in a
// --set.
//
// # Kafka properties
//
// The file uses java.util.Properties syntax. Each key is one of:
//
//   - a key Moldau supports (see DescribeBrokerConfigs): parsed, validated and
//     applied; a bad value is an error naming key, value, file and line.
//     Kafka's own synonyms keep Kafka's precedence regardless of order in the
//     file: log.retention.ms over log.retention.minutes over
//     log.retention.hours, log.roll.ms over log.roll.hours, log.dirs over
//     log.dir. listeners, advertised.listeners, log.dirs/log.dir and
//     node.id/broker.id map onto Addr, AdvertiseAddr, DataDir and NodeID;
//     controller.quorum.voters onto Peers and the controller listener of
//     listeners (controller.listener.names, default CONTROLLER) onto
//     PeerAddr (peers.go).
//   - an Apache Kafka broker key Moldau does not use (kafka_broker_keys.txt):
//     accepted and logged once at info level.
//   - anything else: a start-up error, so typos never pass silently.
//
// The file is read as UTF-8 (Java reads server.properties as ISO-8859-1; the
// two agree on ASCII, and \uXXXX escapes work in both).
//
// # Topic configs
//
// TopicConfigDefs is the Kafka 4.x topic config table. A topic's effective
// value is its override, else the broker synonym set in the properties, else
// Kafka's default; DescribeTopicConfigs reports values, sources and synonyms
// the way Kafka's DescribeConfigs does, and ResolveTopic returns them typed.
//
// # Dynamic configs
//
// Config.WithDynamic lays a broker's dynamic configs (AlterConfigs on BROKER
// resources: its own and the cluster-wide default; dynamic.go) over the
// static configuration, as Kafka's DynamicBrokerConfig does: dynamic
// per-broker > dynamic default > static > default, a dynamic value replacing
// its lower-precedence synonyms. ValidateDynamicBrokerConfigs applies
// Kafka 4.4's rules on which keys may be set dynamically, and where.
// GROUP configs (KIP-848 group configs; groups.go) are validated against the
// broker's group.*.min/max keys and resolved against its group.* defaults.
//
// # Cluster
//
// --peers (MOLDAU_PEERS, controller.quorum.voters) lists every voter and
// --peer-addr (MOLDAU_PEER_ADDR, the controller listener) is where this
// node's inter-broker listener binds. After every layer, the two are checked
// together: unique ids, dialable addresses, this node among the voters; an
// empty PeerAddr becomes this node's voter address. Without Peers, PeerAddr
// is cleared: the single-node broker. Kafka 4's
// controller.quorum.bootstrap.servers is not read (a warning says so).
//
// Config is a plain value: it is not mutated after Load (WithDynamic returns
// a new one) and is safe to share between goroutines.
package config
