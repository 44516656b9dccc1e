// Package jepsen is Moldau's fault campaign: Jepsen-style workloads (queue,
// transactions, groups) run by real Kafka clients against a three-node
// cluster while a nemesis kills, pauses, partitions and re-shapes it, then a
// checker reads everything back and reports anomalies (lost writes,
// duplicates, aborted reads, ...). The same campaign runs against Moldau and
// against a three-broker Apache Kafka, side by side.
//
// This file is the contract between the three parts: clusters (Cluster),
// faults (Nemesis) and the runner/checker (Run).
package jepsen

import (
	"context"
	"net"
	"time"
)

// ClientIP is the source address every client connection of the campaign is
// bound to (Cluster.Dial). Network partitions are made between the node
// addresses 127.0.0.1-3 (and 127.0.0.4+ for nodes added by a membership
// fault); clients on ClientIP keep reaching every node unless a fault cuts
// a node off from clients too (FaultIsolate).
const ClientIP = "127.0.0.100"

// Cluster is a running cluster under test. Implementations: the Moldau and
// Kafka process clusters (nodes on 127.0.0.1-3) and the in-process Moldau
// cluster with a crashable file system (disk faults).
type Cluster interface {
	// Name is "moldau", "kafka" or "moldau-inprocess".
	Name() string
	// Seeds are the bootstrap addresses of the nodes currently members.
	Seeds() []string
	// Dial dials a Kafka listener with the connection bound to ClientIP
	// (kgo.Dialer(c.Dial)); in-process clusters dial plainly.
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
	// Close stops every node and removes every fault (network rules too).
	Close() error
}

// FaultKind names one kind of fault.
type FaultKind string

// The fault kinds. A Nemesis serves those it lists in Kinds.
const (
	FaultKillLeader      FaultKind = "kill9-leader"      // kill -9 the leader of a chosen partition
	FaultKillController  FaultKind = "kill9-controller"  // kill -9 the metadata leader / active controller
	FaultKillRandom      FaultKind = "kill9-random"      // kill -9 a random node
	FaultPause           FaultKind = "pause"             // SIGSTOP a node longer than the session timeout, SIGCONT on heal
	FaultPartitionHalves FaultKind = "partition-halves"  // one node cut from the two others (majority/minority); clients reach all
	FaultPartitionBridge FaultKind = "partition-bridge"  // a-b and b-c connected, a-c cut
	FaultIsolate         FaultKind = "partition-isolate" // one node cut from the other nodes and from clients
	FaultMembership      FaultKind = "membership"        // a node removed and a node added through the membership API while writes continue
	FaultDiskFsync       FaultKind = "disk-fsync-error"  // in-process: a node's fsync fails (the node stops), crash, restart
	FaultDiskTornWrite   FaultKind = "disk-torn-write"   // in-process: a node's write lands half, then crash, restart
)

// Fault is one injected fault, as recorded in the history and the summary.
type Fault struct {
	Kind   FaultKind
	Nodes  []int32 // the nodes it hit
	Detail string  // human-readable: "leader of jepsen-queue/2 = node 3", "cut 1 | 2,3"
	At     time.Time
}

// Nemesis injects faults into one Cluster.
type Nemesis interface {
	// Kinds lists the fault kinds this nemesis can inject.
	Kinds() []FaultKind
	// Inject applies one fault of kind; topic names a topic of the running
	// workloads (for FaultKillLeader: whose partition leader is hit). The
	// fault stays until Heal. An error means nothing was injected.
	Inject(ctx context.Context, kind FaultKind, topic string) (Fault, error)
	// Heal undoes every fault in place: restarts killed nodes, resumes
	// paused ones, removes network rules, finishes membership changes. It
	// returns once every member node serves Metadata again.
	Heal(ctx context.Context) error
}

// Workload names for Config.Workloads.
const (
	WorkloadQueue        = "queue"        // idempotent acks=all producers, assign-mode readers, final drain
	WorkloadTransactions = "transactions" // multi-partition transactions (some aborted) and an exactly-once copy
	WorkloadGroups       = "groups"       // consumers join, leave and are killed (classic and KIP-848)
)

// Config is one campaign run.
type Config struct {
	Cluster Cluster
	// Nemesis injects the faults; nil runs the workloads without faults.
	Nemesis Nemesis
	// Faults are the kinds to inject, cycled in a seeded random order so
	// each appears once before any repeats; empty means Nemesis.Kinds().
	Faults []FaultKind
	// Duration is the fault phase; afterwards everything is healed and the
	// workloads drain and are checked.
	Duration time.Duration
	// IntervalMin/IntervalMax bound the time between two faults (default
	// 10 s and 15 s); each fault is healed before the next one.
	IntervalMin, IntervalMax time.Duration
	// Workloads to run (default all three).
	Workloads []string
	// OutDir receives history.jsonl, anomalies.txt and summary.md.
	OutDir string
	// Seed makes fault order and workload choices reproducible.
	Seed int64
	// Logf reports progress (t.Logf); nil is silent.
	Logf func(format string, args ...any)
}

// Result is what Run found.
type Result struct {
	// Anomalies lists every anomaly with its offending operations; any one
	// fails the campaign.
	Anomalies []Anomaly
	// Summary is the one-page markdown table (operations, faults,
	// anomalies by kind, recovery times), also written to OutDir/summary.md.
	Summary string
}

// Anomaly is one violated promise.
type Anomaly struct {
	Kind   string // "lost-write", "duplicate", "inconsistent-offset", "non-monotonic-send", "non-monotonic-poll", "aborted-read", "g1c-cycle", "offset-regression", "double-assignment", ...
	Detail string // the offending operations, human-readable
}
