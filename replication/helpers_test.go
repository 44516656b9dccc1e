package replication

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/log/vfs"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testSM is a StateMachine that records the data of applied normal
// entries; its snapshot is that list.
type testSM struct {
	mu       sync.Mutex
	data     []string
	applied  uint64
	failWith error
	// logStart applies a log start entry (LogStorage.ApplyLogStart), as
	// the broker's state machine does; nil: recorded as data.
	logStart func(int64) (int64, error)
}

func (s *testSM) Apply(entries []*raftpb.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != nil {
		return s.failWith
	}
	for _, e := range entries {
		if e.GetIndex() != s.applied+1 {
			return fmt.Errorf("testSM: applied %d then %d", s.applied, e.GetIndex())
		}
		s.applied = e.GetIndex()
		if off, ok := DecodeLogStart(e.Data); ok && s.logStart != nil && e.GetType() == raftpb.EntryNormal {
			if _, err := s.logStart(off); err != nil {
				return err
			}
			continue
		}
		if e.GetType() == raftpb.EntryNormal && len(e.Data) > 0 {
			s.data = append(s.data, entryValue(e.Data))
		}
	}
	return nil
}

// entryValue is the data as a string, or, for a RecordBatch (LogStorage
// tests), its first record's value.
func entryValue(data []byte) string {
	if len(data) >= records.HeaderSize && data[records.OffMagic] == records.Magic {
		if it, err := records.BatchRecords(data); err == nil {
			if r, ok := it.Next(); ok {
				return string(r.Value)
			}
		}
	}
	return string(data)
}

func (s *testSM) Restore(snap *raftpb.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := snap.Data; len(d) == 9 && d[0] == 1 || len(d) == 17 && d[0] == 2 || len(d) == 25 && d[0] == 3 {
		// A LogStorage snapshot: no state to restore but the index; what
		// came before it is not known here.
		s.data, s.applied = []string{"<snapshot>"}, snap.GetMetadata().GetIndex()
		return nil
	}
	data, err := decodeStrings(snap.Data)
	if err != nil {
		return err
	}
	s.data, s.applied = data, snap.GetMetadata().GetIndex()
	return nil
}

func (s *testSM) snapshot() (uint64, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied, encodeStrings(s.data)
}

func (s *testSM) values() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.data)
}

func encodeStrings(v []string) []byte {
	var b []byte
	for _, s := range v {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeStrings(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errors.New("testSM: bad snapshot")
		}
		out = append(out, string(b[k:k+int(n)]))
		b = b[k+int(n):]
	}
	return out, nil
}

// cluster is an in-process cluster on a LocalNetwork, ticked by hand.
type cluster struct {
	t        *testing.T
	net      *LocalNetwork
	ids      []uint64
	groups   []uint64
	nodes    map[uint64]*Node
	storages map[[2]uint64]Storage // (node, group)
	sms      map[[2]uint64]*testSM
	quiesce  bool     // nodes know their peers: liveness and quiescing on
	voters   []uint64 // the groups' initial voters (nil: every node)
	kind     string   // "mem" (MemStorage) or "log" (LogStorage on a MemFS per node)
	sync     bool     // log: entries fsynced before acknowledged (else UnsafeNoSync)
	fss      map[uint64]*vfs.MemFS
	wrapFS   func(id uint64, fs vfs.FS) vfs.FS // log: what node id's logs see (fault injection)
	noTail   bool                              // log: the storages keep no tail cache (every read goes to the log)
	logs     map[[2]uint64]*plog.Log
	clock    fakeClock
}

// fakeClock is the nodes' clock for replica lag, moved by the test.
type fakeClock struct{ ms atomic.Int64 }

func (f *fakeClock) now() time.Time          { return time.UnixMilli(f.ms.Load()) }
func (f *fakeClock) advance(d time.Duration) { f.ms.Add(d.Milliseconds()) }

// newCluster starts nodes 1..size each hosting groups 1..groups, every
// node a voter of every group. Nothing ticks until the test does.
func newCluster(t *testing.T, size, groups int) *cluster {
	t.Helper()
	return newClusterWith(t, size, groups, false)
}

// storageKinds are the Storage implementations the conformance tests run
// over (STYLE: one suite over every variant).
var storageKinds = []string{"mem", "log"}

// eachStorage runs f once per storage kind, as subtests.
func eachStorage(t *testing.T, f func(t *testing.T, kind string)) {
	for _, kind := range storageKinds {
		t.Run(kind, func(t *testing.T) { f(t, kind) })
	}
}

// newClusterKind is newCluster over the given storage kind.
func newClusterKind(t *testing.T, kind string, size, groups int) *cluster {
	t.Helper()
	return newClusterOpts(t, size, groups, clusterOpts{kind: kind})
}

// newLogCluster is a cluster of one group over LogStorage; with sync,
// entries are fsynced before they are acknowledged (so they survive a
// crash of the node's file system).
func newLogCluster(t *testing.T, size int, sync bool) *cluster {
	t.Helper()
	return newClusterOpts(t, size, 1, clusterOpts{kind: "log", sync: sync})
}

// clusterOpts: the storage kind ("mem" if empty), fsync of entries (log),
// quiescing (the nodes know their peers), the groups' initial voters (nil:
// every node).
type clusterOpts struct {
	kind    string
	sync    bool
	quiesce bool
	voters  []uint64
	wrapFS  func(id uint64, fs vfs.FS) vfs.FS
	noTail  bool // log: no tail cache (reads reach the log files)
}

// newClusterWith is newCluster; with quiesce the nodes are given their
// peers, so that idle groups quiesce.
func newClusterWith(t *testing.T, size, groups int, quiesce bool, voters ...uint64) *cluster {
	t.Helper()
	return newClusterOpts(t, size, groups, clusterOpts{quiesce: quiesce, voters: voters})
}

func newClusterOpts(t *testing.T, size, groups int, o clusterOpts) *cluster {
	t.Helper()
	c := &cluster{
		quiesce: o.quiesce, voters: o.voters, kind: o.kind, sync: o.sync, wrapFS: o.wrapFS, noTail: o.noTail,
		fss: make(map[uint64]*vfs.MemFS), logs: make(map[[2]uint64]*plog.Log),
		t: t, net: NewLocalNetwork(),
		nodes:    make(map[uint64]*Node),
		storages: make(map[[2]uint64]Storage),
		sms:      make(map[[2]uint64]*testSM),
	}
	for i := 1; i <= size; i++ {
		c.ids = append(c.ids, uint64(i))
	}
	for g := 1; g <= groups; g++ {
		c.groups = append(c.groups, uint64(g))
	}
	initial := c.ids
	if c.voters != nil {
		initial = c.voters
	}
	for _, id := range c.ids {
		c.fss[id] = vfs.NewMem()
		for _, g := range c.groups {
			c.storages[[2]uint64{id, g}] = c.newStorage(id, g, initial)
			c.sms[[2]uint64{id, g}] = &testSM{}
		}
		c.start(id)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			_ = n.Stop()
		}
		for _, l := range c.logs {
			_ = l.Close()
		}
	})
	return c
}

// newStorage makes group g's storage on node id, of the cluster's kind.
func (c *cluster) newStorage(id, g uint64, voters []uint64) Storage {
	c.t.Helper()
	if c.kind != "log" {
		return NewMemStorage(voters...)
	}
	var fs vfs.FS = c.fss[id]
	if c.wrapFS != nil {
		fs = c.wrapFS(id, fs)
	}
	dir := fmt.Sprintf("data/t-%d", g)
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	cfg := plog.DefaultConfig()
	cfg.Replicated = true
	cfg.SegmentBytes = 4 << 10 // several segments
	l, _, err := plog.Open(fs, dir, cfg, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	tail := 0
	if c.noTail {
		tail = -1
	}
	st, err := OpenLogStorage(LogStorageConfig{Log: l, FS: fs, Voters: voters, UnsafeNoSync: !c.sync, Now: func() int64 { return 1000 }, Logger: quietLogger, TailCacheBytes: tail})
	if err != nil {
		c.t.Fatal(err)
	}
	c.logs[[2]uint64{id, g}] = l
	return st
}

// reopen restarts node id over its logs (log clusters): the node stops,
// its logs close — after a crash of its file system, which loses what was
// not synced, if crash — and reopen, and its state machines start empty
// and are replayed from the logs.
func (c *cluster) reopen(id uint64, crash bool) {
	c.t.Helper()
	_ = c.nodes[id].Stop() // the error that stopped it, if any: restarted all the same
	c.net.Detach(id)
	if crash {
		c.fss[id] = c.fss[id].CrashClone()
	}
	for _, g := range c.groups {
		_ = c.logs[[2]uint64{id, g}].Close()
		c.storages[[2]uint64{id, g}] = c.newStorage(id, g, nil)
		c.sms[[2]uint64{id, g}] = &testSM{}
	}
	c.start(id)
}

// logBytes returns group g's whole log on node id.
func (c *cluster) logBytes(id, g uint64) []byte {
	c.t.Helper()
	l := c.logs[[2]uint64{id, g}]
	b, err := l.Read(l.LogStartOffset(), l.EndOffset(), 1<<30, true, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// converged reports whether group g's logs and phantom files are
// byte-identical and the logs not empty on every node.
func (c *cluster) converged(g uint64) bool {
	a, p := c.logBytes(c.ids[0], g), c.phantomBytes(c.ids[0], g)
	for _, id := range c.ids[1:] {
		if !bytes.Equal(a, c.logBytes(id, g)) || !bytes.Equal(p, c.phantomBytes(id, g)) {
			return false
		}
	}
	return len(a) > 0
}

// data is what a proposal of v carries: v itself, or for LogStorage a
// RecordBatch whose one record has value v (testSM records the value).
func (c *cluster) data(v string) []byte {
	if c.kind == "log" {
		b := records.NewBuilder(nil, records.NoProducer(1000))
		b.Add(1000, nil, []byte(v))
		return b.Build()
	}
	return []byte(v)
}

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// start (re)starts node id on its storages and state machines.
func (c *cluster) start(id uint64) *Node {
	c.t.Helper()
	cfg := Config{ID: id, Transport: c.net.Endpoint(id), Workers: 2, Logger: quietLogger, Now: c.clock.now}
	if c.quiesce {
		cfg.Peers = c.ids
	}
	n, err := NewNode(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, g := range c.groups {
		sm := c.sms[[2]uint64{id, g}]
		if ls, ok := c.storages[[2]uint64{id, g}].(*LogStorage); ok {
			sm.logStart = ls.ApplyLogStart
		}
		applied, _ := sm.snapshot()
		if err := n.AddGroup(GroupConfig{ID: g, Storage: c.storages[[2]uint64{id, g}], StateMachine: sm, Applied: applied}); err != nil {
			c.t.Fatal(err)
		}
	}
	c.nodes[id] = n
	c.net.Attach(id, n)
	return n
}

// settle waits until no node has work in hand (twice in a row, so that a
// message between two nodes is not missed).
func (c *cluster) settle() {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	quiet := 0
	for quiet < 2 {
		if time.Now().After(deadline) {
			c.t.Fatal("cluster did not settle")
		}
		busy := false
		for _, n := range c.nodes {
			if n.Busy() {
				busy = true
			}
		}
		if busy {
			quiet = 0
			time.Sleep(50 * time.Microsecond)
			continue
		}
		quiet++
	}
}

// tick ticks the given nodes (all running ones if none given) once and
// lets the cluster settle.
func (c *cluster) tick(ids ...uint64) {
	c.t.Helper()
	if len(ids) == 0 {
		ids = c.ids
	}
	for _, id := range ids {
		if n := c.nodes[id]; n != nil {
			n.Tick()
		}
	}
	c.settle()
}

// tickUntil ticks ids until cond holds, at most max rounds.
func (c *cluster) tickUntil(what string, max int, cond func() bool, ids ...uint64) {
	c.t.Helper()
	c.settle()
	for i := 0; i < max; i++ {
		if cond() {
			return
		}
		c.tick(ids...)
	}
	if !cond() {
		c.t.Fatalf("%s: not reached after %d ticks", what, max)
	}
}

// waitFor polls cond (no ticks) until it holds or a deadline passes.
func (c *cluster) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			for _, id := range c.ids {
				if n := c.nodes[id]; n != nil {
					for _, g := range c.groups {
						if st, err := n.Status(g); err == nil {
							c.t.Logf("node %d: %+v", id, st)
						}
					}
				}
			}
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func (c *cluster) status(id, g uint64) GroupStatus {
	c.t.Helper()
	st, err := c.nodes[id].Status(g)
	if err != nil {
		c.t.Fatal(err)
	}
	return st
}

// elect makes id the leader of g by campaigning (no ticks needed).
func (c *cluster) elect(id, g uint64) {
	c.t.Helper()
	if err := c.nodes[id].Campaign(g); err != nil {
		c.t.Fatal(err)
	}
	c.waitFor(fmt.Sprintf("node %d to lead group %d", id, g), func() bool { return c.status(id, g).IsLeader })
	// Every voter knows the leader once its empty entry is applied.
	c.waitFor(fmt.Sprintf("leader %d of group %d known everywhere", id, g), func() bool {
		members := c.ids
		if c.voters != nil {
			members = c.voters
		}
		for _, n := range members {
			if c.nodes[n] != nil && c.status(n, g).Leader != id {
				return false
			}
		}
		return true
	})
}

// leader returns the node that leads g among ids, or 0.
func (c *cluster) leader(g uint64, ids ...uint64) uint64 {
	for _, id := range ids {
		if st := c.status(id, g); st.IsLeader {
			return id
		}
	}
	return 0
}

func (c *cluster) propose(id, g uint64, v string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.nodes[id].Propose(ctx, g, c.data(v))
}

func (c *cluster) values(id, g uint64) []string { return c.sms[[2]uint64{id, g}].values() }

// mem returns the MemStorage of group g on node id.
func (c *cluster) mem(id, g uint64) *MemStorage { return c.storages[[2]uint64{id, g}].(*MemStorage) }
