package broker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/metadata"
	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/log/vfs"
)

// freeAddr returns a 127.0.0.1 address whose port is reserved for this
// test binary (testenv.Addr).
func freeAddr(t *testing.T) string {
	t.Helper()
	return testenv.Addr(t, "127.0.0.1")
}

// newTCPTestCluster is newTestCluster over real TCP transports (peer
// addresses matter: joiners register theirs).
func newTCPTestCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	tc := &testCluster{t: t}
	var peers []config.Peer
	for i := 1; i <= n; i++ {
		peers = append(peers, config.Peer{NodeID: int32(i), Addr: freeAddr(t)})
	}
	for i := 1; i <= n; i++ {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.NodeID = int32(i)
		cfg.Peers = peers
		cfg.Addr = "127.0.0.1:0"
		if err := cfg.ResolveCluster(); err != nil {
			t.Fatal(err)
		}
		tc.cfgs = append(tc.cfgs, cfg)
		tc.brokers = append(tc.brokers, nil)
		tc.start(i - 1)
	}
	t.Cleanup(func() {
		for _, b := range tc.brokers {
			if b != nil {
				_ = b.Close(context.Background())
			}
		}
	})
	tc.waitFor("every broker registered", func() bool { return tc.allList(n) })
	return tc
}

// allList reports whether every running broker lists n brokers.
func (tc *testCluster) allList(n int) bool {
	for _, b := range tc.brokers {
		if b != nil && len(b.cluster.brokers()) != n {
			return false
		}
	}
	return true
}

// join starts a new node that joins the cluster (its id not among the
// peers) and returns its index.
func (tc *testCluster) join() int {
	tc.t.Helper()
	cfg := config.Default()
	cfg.DataDir = tc.t.TempDir()
	cfg.NodeID = int32(len(tc.cfgs) + 1)
	cfg.Peers = tc.cfgs[0].Peers
	cfg.PeerAddr = freeAddr(tc.t)
	cfg.Addr = "127.0.0.1:0"
	if err := cfg.ResolveCluster(); err != nil {
		tc.t.Fatal(err)
	}
	tc.cfgs = append(tc.cfgs, cfg)
	tc.brokers = append(tc.brokers, nil)
	tc.start(len(tc.cfgs) - 1)
	return len(tc.cfgs) - 1
}

// quorumOf asks broker i for DescribeQuorum: voters and observers.
func quorumOf(t *testing.T, addr string) (voters, observers []int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	for _, v := range p.CurrentVoters {
		voters = append(voters, v.ReplicaID)
	}
	for _, o := range p.Observers {
		observers = append(observers, o.ReplicaID)
	}
	return voters, observers
}

func memberRequest(t *testing.T, addr string, req kmsg.Request) (int16, string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := cl.Request(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	code, msg := memberAnswer(resp, nil)
	if msg == nil {
		return code, ""
	}
	return code, *msg
}

func addVoterReq(id int32, clusterID *string, timeoutMs int32) *kmsg.AddRaftVoterRequest {
	r := kmsg.NewPtrAddRaftVoterRequest()
	r.VoterID, r.ClusterID, r.TimeoutMillis, r.AckWhenCommitted = id, clusterID, timeoutMs, true
	return r
}

func removeVoterReq(id int32) *kmsg.RemoveRaftVoterRequest {
	r := kmsg.NewPtrRemoveRaftVoterRequest()
	r.VoterID = id
	return r
}

func unregisterReq(id int32) *kmsg.UnregisterBrokerRequest {
	r := kmsg.NewPtrUnregisterBrokerRequest()
	r.BrokerID = id
	return r
}

func wantMember(t *testing.T, what string, code int16, msg string, want *kerr.Error) {
	t.Helper()
	if want == nil && code != 0 || want != nil && code != want.Code {
		t.Fatalf("%s: %v (%s), want %v", what, kerr.ErrorForCode(code), msg, want)
	}
}

// Three nodes, a fourth joins over TCP (its address learnt from the
// metadata), becomes a voter with AddRaftVoter, takes replicas; writes go
// on; it is demoted (RemoveRaftVoter) and unregistered; a restarted
// original voter dials the joined node from the replayed metadata.
func TestClusterAddRemoveVoter(t *testing.T) {
	tc := newTCPTestCluster(t, 3)
	seeds := tc.seeds()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("grow"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "grow"); err != nil {
		t.Fatal(err)
	}
	produceN(t, cl, "grow", 0, 20)

	j := tc.join()
	tc.waitFor("the joiner registered on every broker", func() bool { return tc.allList(4) })
	tc.waitFor("the joiner an observer", func() bool {
		v, o := quorumOf(t, seeds[0])
		return slices.Equal(v, []int32{1, 2, 3}) && slices.Equal(o, []int32{4})
	})
	// Every original node dials the joiner at the address it registered.
	for i := range 3 {
		if got := tc.brokers[i].raft.tcp.Peers()[raftID(4)]; got != tc.cfgs[j].PeerAddr {
			t.Fatalf("node %d has address %q for node 4, want %q", i+1, got, tc.cfgs[j].PeerAddr)
		}
	}

	// Bad requests.
	wrong := "not-this-cluster"
	code, msg := memberRequest(t, seeds[1], addVoterReq(4, &wrong, 5000))
	wantMember(t, "wrong cluster id", code, msg, kerr.InconsistentClusterID)
	code, msg = memberRequest(t, seeds[1], addVoterReq(9, nil, 1000))
	wantMember(t, "unknown node", code, msg, kerr.RequestTimedOut)
	code, msg = memberRequest(t, seeds[1], addVoterReq(2, nil, 1000))
	wantMember(t, "a voter already", code, msg, kerr.DuplicateVoter)
	code, msg = memberRequest(t, seeds[1], removeVoterReq(4))
	wantMember(t, "removing an observer", code, msg, kerr.VoterNotFound)
	code, msg = memberRequest(t, seeds[1], unregisterReq(9))
	wantMember(t, "unregistering an unknown broker", code, msg, kerr.BrokerIDNotRegistered)

	// Promote, through every broker in turn (forwarded to the controller).
	id := tc.brokers[0].clusterID()
	code, msg = memberRequest(t, seeds[2], addVoterReq(4, &id, 30000))
	wantMember(t, "AddRaftVoter 4", code, msg, nil)
	for i := range 4 {
		tc.waitFor(fmt.Sprintf("node %d to see 4 voters", i+1), func() bool {
			v, o := quorumOf(t, tc.cfgs[i].Addr)
			return slices.Equal(v, []int32{1, 2, 3, 4}) && len(o) == 0
		})
	}
	code, msg = memberRequest(t, seeds[0], addVoterReq(4, nil, 1000))
	wantMember(t, "AddRaftVoter 4 again", code, msg, kerr.DuplicateVoter)

	// Writes go on, and the new node hosts replicas.
	produceN(t, cl, "grow", 20, 20)
	if _, err := adm.CreateTopic(ctx, 2, 4, nil, "wide"); err != nil {
		t.Fatal(err)
	}
	tc.waitFor("node 4 hosts wide", func() bool { return tc.brokers[j].topics.get("wide") != nil })
	if got := consumeAll(t, seeds, "grow", 40); len(got) != 40 {
		t.Fatalf("consumed %d", len(got))
	}

	// A restarted original voter finds the joiner from the metadata log.
	tc.stop(0)
	tc.start(0)
	tc.waitFor("node 1 back with 4 brokers", func() bool { return tc.brokers[0].raft.ready.Load() && tc.allList(4) })
	if got := tc.brokers[0].raft.tcp.Peers()[raftID(4)]; got != tc.cfgs[j].PeerAddr {
		t.Fatalf("restarted node 1 has address %q for node 4, want %q", got, tc.cfgs[j].PeerAddr)
	}
	// So does the joined node, started again with the same flags.
	tc.stop(j)
	tc.start(j)
	tc.waitFor("node 4 back, caught up", func() bool { return tc.brokers[j].raft.ready.Load() && tc.allList(4) })
	produceN(t, cl, "grow", 40, 10)

	// Shrink: demote node 4, refuse to unregister it while it hosts
	// replicas, then unregister it.
	code, msg = memberRequest(t, seeds[1], removeVoterReq(4))
	wantMember(t, "RemoveRaftVoter 4", code, msg, nil)
	tc.waitFor("node 4 an observer again", func() bool {
		v, o := quorumOf(t, seeds[1])
		return slices.Equal(v, []int32{1, 2, 3}) && slices.Equal(o, []int32{4})
	})
	code, msg = memberRequest(t, seeds[1], unregisterReq(4))
	wantMember(t, "unregistering a replica holder", code, msg, kerr.InvalidRequest)
	if _, err := adm.DeleteTopic(ctx, "wide"); err != nil {
		t.Fatal(err)
	}
	tc.waitFor("node 2 sees wide deleted", func() bool {
		_, ok := tc.brokers[1].raft.view().Topic("wide")
		return !ok
	})
	code, msg = memberRequest(t, seeds[1], unregisterReq(4))
	wantMember(t, "UnregisterBroker 4", code, msg, nil)
	tc.waitFor("node 4 gone from the quorum and the brokers", func() bool {
		v, o := quorumOf(t, seeds[2])
		return slices.Equal(v, []int32{1, 2, 3}) && len(o) == 0 && len(tc.brokers[1].cluster.brokers()) == 3
	})
	tc.waitFor("node 4 knows it was removed", func() bool { return tc.brokers[j].raft.removed.Load() })
	produceN(t, cl, "grow", 50, 10)
	if got := consumeAll(t, tc.seeds()[:3], "grow", 60); len(got) != 60 {
		t.Fatalf("consumed %d", len(got))
	}
}

// The controller removing itself hands the leadership over first; the
// last voter cannot be removed.
func TestClusterRemoveControllerAndLastVoter(t *testing.T) {
	tc := newTestCluster(t, 2)
	var ctrl int32 = -1
	tc.waitFor("a controller", func() bool { ctrl = tc.brokers[0].raft.controller(); return ctrl >= 0 })
	other := 3 - ctrl
	code, msg := memberRequest(t, tc.cfgs[ctrl-1].Addr, removeVoterReq(ctrl))
	wantMember(t, "removing the controller", code, msg, nil)
	tc.waitFor("one voter", func() bool {
		v, _ := quorumOf(t, tc.cfgs[other-1].Addr)
		return slices.Equal(v, []int32{other})
	})
	code, msg = memberRequest(t, tc.cfgs[0].Addr, removeVoterReq(other))
	wantMember(t, "removing the last voter", code, msg, kerr.VoterNotFound)
	if !strings.Contains(msg, "last voter") {
		t.Fatalf("removing the last voter: message %q", msg)
	}
}

// proposeRecord commits r through broker b (forwarded to the leader) and
// returns once b's refusal count moved past before (r refused) or the
// deadline passed.
func proposeRecord(t *testing.T, b *Broker, r metadata.Record) {
	t.Helper()
	data, err := metadata.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := b.raft.node.ProposeForward(metadataGroup, metadataBatch(data))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("proposing %#v: %v", r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A RegisterPeer that would take over a live node's id (3, another
// directory id) is refused by the metadata on every node: node 3 keeps
// its address and keeps serving. A joiner whose id is held by another
// data directory (node 4, registered by a node that is not running) is
// refused, sees the conflict in the metadata log it receives as a
// learner, and registers nothing. DescribeQuorum reports the directory
// ids; AddRaftVoter refuses another one.
//
// The joiner takes the id of a peer that is not running: one claiming a
// running node's id cannot connect (the transport refuses a second
// connection from an id it dials), and one claiming a stopped voter's id
// receives the voter's heartbeats and stops in etcd raft's panic (a
// commit index beyond its empty log) before it could be tested here;
// the record-level refusal covers both (the first part of the test).
func TestClusterJoinRefusesTakenID(t *testing.T) {
	tc := newTCPTestCluster(t, 3)
	seeds := tc.seeds()
	dir3 := tc.brokers[2].raft.directoryID
	if dir3.IsZero() {
		t.Fatal("node 3 has no directory id")
	}
	for i := range 3 {
		tc.waitFor(fmt.Sprintf("node %d to know node 3's directory id", i+1), func() bool {
			d, _ := tc.brokers[i].raft.view().PeerDirectoryID(3)
			return d == dir3
		})
	}
	tc.waitFor("DescribeQuorum to report node 3's directory id", func() bool {
		return quorumDirectoryID(t, seeds[0], 3) == [16]byte(dir3)
	})
	req := addVoterReq(3, nil, 1000)
	req.VoterDirectoryID = [16]byte{0xee}
	code, msg := memberRequest(t, seeds[1], req)
	wantMember(t, "AddRaftVoter with another directory id", code, msg, kerr.InvalidRequest)

	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("guard"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 3, nil, "guard"); err != nil {
		t.Fatal(err)
	}
	produceN(t, cl, "guard", 0, 10)

	// Taking over live node 3's id: refused everywhere.
	addr3 := tc.cfgs[2].Peers[2].Addr
	before := tc.brokers[0].raft.peerRefusals.Load()
	proposeRecord(t, tc.brokers[1], metadata.RegisterPeer{NodeID: 3, PeerAddr: freeAddr(t), DirectoryID: metadata.UUID{0xee}})
	tc.waitFor("the quorum to refuse the takeover", func() bool {
		return tc.brokers[0].raft.peerRefusals.Load() > before
	})
	tc.waitFor("every node to apply the refusal", func() bool {
		a := tc.brokers[0].raft.view().Applied()
		return tc.brokers[1].raft.view().Applied() >= a && tc.brokers[2].raft.view().Applied() >= a
	})
	for i := range 3 {
		v := tc.brokers[i].raft.view()
		if a, _ := v.Peer(3); a != addr3 {
			t.Fatalf("node %d has node 3 at %q, want %q", i+1, a, addr3)
		}
		if d, _ := v.PeerDirectoryID(3); d != dir3 {
			t.Fatalf("node %d has node 3's directory id %s, want %s", i+1, d, dir3)
		}
		if i < 2 && tc.brokers[i].raft.tcp.Peers()[raftID(3)] != addr3 {
			t.Fatalf("node %d dials node 3 at %q", i+1, tc.brokers[i].raft.tcp.Peers()[raftID(3)])
		}
	}
	produceN(t, cl, "guard", 10, 10)
	if got := consumeAll(t, []string{tc.cfgs[2].Addr}, "guard", 20); len(got) != 20 {
		t.Fatalf("consumed %d through node 3", len(got))
	}

	// Node 4's id is held by another data directory (a node at an
	// address where nothing runs); a joiner started as 4 is refused.
	held := freeAddr(t)
	proposeRecord(t, tc.brokers[0], metadata.RegisterPeer{NodeID: 4, PeerAddr: held, DirectoryID: metadata.UUID{0x44}})
	tc.waitFor("node 4 registered by the other directory", func() bool {
		a, _ := tc.brokers[0].raft.view().Peer(4)
		return a == held
	})
	j := tc.join()
	imp := tc.brokers[j]
	// The joiner's RegisterPeer, if it sent one before it caught up, was
	// refused; either way it sees the conflict in the log.
	tc.waitFor("the joiner to see the conflict", func() bool { return imp.raft.idInUse.Load() })
	v := tc.brokers[0].raft.view()
	if a, _ := v.Peer(4); a != held {
		t.Fatalf("node 4 at %q, want %q", a, held)
	}
	if _, ok := v.Broker(4); ok {
		t.Fatal("the refused joiner registered its broker")
	}
	if !imp.raft.removed.Load() {
		t.Fatal("the refused joiner would register again")
	}
	tc.stop(j)
	// Restarted, node 3 keeps its directory id.
	tc.stop(2)
	tc.start(2)
	if got := tc.brokers[2].raft.directoryID; got != dir3 {
		t.Fatalf("node 3 restarted with directory id %s, want %s", got, dir3)
	}
	tc.waitFor("node 3 back", func() bool { return tc.brokers[2].raft.ready.Load() })
}

// quorumDirectoryID is the ReplicaDirectoryID DescribeQuorum (v2) on
// addr reports for voter id.
func quorumDirectoryID(t *testing.T, addr string, id int32) [16]byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = 2
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range resp.Topics[0].Partitions[0].CurrentVoters {
		if v.ReplicaID == id {
			return v.ReplicaDirectoryID
		}
	}
	return [16]byte{}
}

// The directory id is made once and read back; a damaged file stops the
// start instead of making a new id (which would look like another node).
func TestDirectoryIDFile(t *testing.T) {
	fs := vfs.NewMem()
	id, err := loadDirectoryID(fs, "/data")
	if err != nil || id.IsZero() {
		t.Fatalf("first start: %s, %v", id, err)
	}
	again, err := loadDirectoryID(fs, "/data")
	if err != nil || again != id {
		t.Fatalf("second start: %s, %v; want %s", again, err, id)
	}
	other, err := loadDirectoryID(vfs.NewMem(), "/data")
	if err != nil || other == id {
		t.Fatalf("another directory: %s, %v", other, err)
	}
	// Flip one byte of the id: the CRC no longer matches.
	name := filepath.Join("/data", directoryIDFile)
	f, err := fs.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, directoryIDSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b[5] ^= 1
	if err := fs.Remove(name); err != nil {
		t.Fatal(err)
	}
	w, err := fs.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := loadDirectoryID(fs, "/data"); !errors.Is(err, errDirectoryIDFile) {
		t.Fatalf("damaged file: %v, want errDirectoryIDFile", err)
	}
}
