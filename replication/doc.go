// Package replication runs Moldau's Raft groups over go.etcd.io/raft/v3:
// one group per partition and one for cluster metadata, many groups per
// node (multi-raft). DESIGN.md is the design: how the partition's segment
// log is the Raft log, what is persisted where, the Ready order, the fsync
// policy, quiescing, and what is not decided yet.
//
// The pieces:
//
//   - Node (node.go) hosts the groups of one broker: one ticker, a worker
//     pool that runs the groups with work (group.go: the Ready loop in
//     etcd's order), one sender per peer that batches every group's
//     messages, node-level liveness and quiescing of idle groups.
//   - Storage (storage.go) is what a group persists through; LogStorage
//     (logstorage.go) puts the Raft log in a partition's log.Log,
//     MemStorage keeps it in memory for tests. A group's StateMachine
//     (group.go) applies committed entries.
//   - Transport (transport.go) carries batches of messages between nodes:
//     TCPTransport (tcp.go) over one connection per node pair,
//     LocalNetwork (localnet.go) in process, with faults for tests.
//
// The package imports log and log/records, never broker, coordinator, txn
// or protocol (tests/deps_test.go holds the line): the broker implements
// the interfaces defined here and wires them.
package replication
