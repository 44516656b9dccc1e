// Package scenarios names the compatibility scenarios every driver runs. The
// names are stable: they key tests/compat/expectations.txt and MATRIX.md.
package scenarios

// Names in matrix order. Each driver reports every one of them, as pass,
// fail or na (with the reason the client cannot express it).
var Names = []string{
	"metadata",                    // brokers, controller, a new topic's partitions and leaders
	"topics_admin",                // create, list, describe, add partitions, delete
	"configs",                     // create with a config, describe, alter, describe again
	"produce_none",                // produce uncompressed, consume back, compare
	"produce_gzip",                //   ... gzip
	"produce_snappy",              //   ... snappy
	"produce_lz4",                 //   ... lz4
	"produce_zstd",                //   ... zstd
	"acks_0",                      // produce with acks=0, consume back
	"acks_1",                      // acks=1
	"acks_all",                    // acks=all
	"idempotent",                  // idempotent producer: no gaps, no duplicates
	"roundtrip",                   // keys, values, headers, timestamps byte for byte
	"consume_earliest",            // assign, start at the log start
	"consume_latest",              // assign at the end, see only what comes after
	"consume_timestamp",           // ListOffsets by timestamp, consume from there
	"group_commit_resume",         // group consumer commits, a new one resumes there
	"group_two_members",           // two members split partitions, rebalance on leave
	"transactions_read_committed", // commit, abort, commit; read_committed sees two
	"static_membership",           // group.instance.id: rejoin and resume
	"kip848",                      // group.protocol=consumer (KIP-848)
	"produce_record_errors",       // KIP-467: 10 keyless of 100 to a compacted topic fail as INVALID_RECORD, the 90 others otherwise
	"share_group",                 // KIP-932: two share consumers get every record once under ACCEPT; a RELEASE redelivers (delivery count 2); describe the group
	"streams_group_protocol",      // KIP-1071: a Kafka Streams app with group.protocol=streams copies records (map/filter)
	"client_telemetry",            // KIP-714: a client-metrics subscription; the client gets it (GetTelemetrySubscriptions) and pushes (PushTelemetry)
	"log_dirs",                    // DescribeLogDirs lists the topic's partitions with a size > 0 after producing
	"features",                    // finalized features (group/transaction/share/streams.version), UpdateFeatures validate-only, DescribeQuorum
}
