package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/share"
)

// shareTestClock is a clock tests move by hand (WithClock).
type shareTestClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *shareTestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *shareTestClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newShareBroker opens a broker on dir with pers as its share persister.
func newShareBroker(t *testing.T, dir string, pers share.Persister, clock *shareTestClock) *Broker {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dir
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithRegisterer(prometheus.NewRegistry()), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	if pers == nil {
		pers = b.newSharePersister() // the share coordinator's, as the group coordinator's share wiring uses it too
	} else {
		pers = coordinatorInit{pers}
	}
	b.sharePersister = pers
	return b
}

// coordinatorInit stands in for the group coordinator of tests that send
// ShareFetch without ShareGroupHeartbeat: a share-partition without state
// is initialized as the coordinator does (state epoch 0, start offset -1:
// the leader applies share.auto.offset.reset) when the leader first reads
// it. The leader itself never initializes state.
type coordinatorInit struct{ share.Persister }

func (c coordinatorInit) Read(ctx context.Context, k share.Key, leaderEpoch int32) (share.State, error) {
	st, err := c.Persister.Read(ctx, k, leaderEpoch)
	if errors.Is(err, share.ErrUninitialized) {
		if err := c.Persister.Initialize(ctx, k, 0, -1); err != nil {
			return share.State{}, err
		}
		return c.Persister.Read(ctx, k, leaderEpoch)
	}
	return st, err
}

type shareClient struct {
	t      *testing.T
	b      *Broker
	group  string
	member string
	epoch  int32
	topic  [16]byte
}

func (c *shareClient) fetch(maxRecords int32, acks ...kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch) *kmsg.ShareFetchResponse {
	c.t.Helper()
	req := kmsg.NewPtrShareFetchRequest()
	req.GroupID, req.MemberID = kmsg.StringPtr(c.group), kmsg.StringPtr(c.member)
	req.ShareSessionEpoch = c.epoch
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.MaxRecords, req.BatchSize = 0, 1, 1<<20, maxRecords, maxRecords
	rt := kmsg.NewShareFetchRequestTopic()
	rt.TopicID = c.topic
	rp := kmsg.NewShareFetchRequestTopicPartition()
	rp.AcknowledgementBatches = acks
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.ShareFetchResponse](c.t, c.b, 2, req)
	if resp.ErrorCode == 0 {
		c.epoch = nextShareEpoch(max(c.epoch, 0))
	}
	return resp
}

func (c *shareClient) ack(epoch int32, acks ...kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch) *kmsg.ShareAcknowledgeResponse {
	c.t.Helper()
	req := kmsg.NewPtrShareAcknowledgeRequest()
	req.GroupID, req.MemberID = kmsg.StringPtr(c.group), kmsg.StringPtr(c.member)
	req.ShareSessionEpoch = epoch
	rt := kmsg.NewShareAcknowledgeRequestTopic()
	rt.TopicID = c.topic
	rp := kmsg.NewShareAcknowledgeRequestTopicPartition()
	rp.AcknowledgementBatches = acks
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.ShareAcknowledgeResponse](c.t, c.b, 2, req)
	if resp.ErrorCode == 0 && epoch > 0 {
		c.epoch = nextShareEpoch(epoch)
	}
	return resp
}

func fetchAck(first, last int64, types ...int8) kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch {
	a := kmsg.NewShareFetchRequestTopicPartitionAcknowledgementBatch()
	a.FirstOffset, a.LastOffset, a.AcknowledgeTypes = first, last, types
	return a
}

func shareAck(first, last int64, types ...int8) kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch {
	a := kmsg.NewShareAcknowledgeRequestTopicPartitionAcknowledgementBatch()
	a.FirstOffset, a.LastOffset, a.AcknowledgeTypes = first, last, types
	return a
}

// acquired returns the one partition's acquired ranges as
// "first-last/count", checking the records sent cover them.
func acquired(t *testing.T, resp *kmsg.ShareFetchResponse) []share.Acquired {
	t.Helper()
	if resp.ErrorCode != 0 {
		t.Fatalf("share fetch: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	var out []share.Acquired
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rp.ErrorCode != 0 || rp.AcknowledgeErrorCode != 0 {
				t.Fatalf("partition %d: %v / ack %v", rp.Partition, kerr.ErrorForCode(rp.ErrorCode), kerr.ErrorForCode(rp.AcknowledgeErrorCode))
			}
			// Every acquired offset lies in a sent batch.
			type rng struct{ first, last int64 }
			var sent []rng
			for buf := rp.Records; len(buf) >= 61; {
				n := int(binary.BigEndian.Uint32(buf[8:])) + 12
				base := int64(binary.BigEndian.Uint64(buf))
				sent = append(sent, rng{base, base + int64(int32(binary.BigEndian.Uint32(buf[23:])))})
				buf = buf[n:]
			}
			for _, a := range rp.AcquiredRecords {
				for off := a.FirstOffset; off <= a.LastOffset; off++ {
					found := false
					for _, s := range sent {
						found = found || (s.first <= off && off <= s.last)
					}
					if !found {
						t.Fatalf("acquired offset %d not in the records sent %v", off, sent)
					}
				}
				out = append(out, share.Acquired{First: a.FirstOffset, Last: a.LastOffset, DeliveryCount: a.DeliveryCount})
			}
		}
	}
	return out
}

func wantAcquired(t *testing.T, what string, got []share.Acquired, want ...share.Acquired) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: acquired %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: acquired %v, want %v", what, got, want)
		}
	}
}

func sharePartState(t *testing.T, b *Broker, group string, id [16]byte) string {
	t.Helper()
	sp := b.shareMgr().existing(share.Key{Group: group, TopicID: id, Partition: 0})
	if sp == nil {
		return "<none>"
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.sp == nil {
		return "<unloaded>"
	}
	return sp.sp.String()
}

// TestShareFetchMembersAndAcks: two members share one partition; sessions
// and their epoch errors; ACCEPT, RELEASE (redelivered with a higher
// delivery count), REJECT; a wrong member's ack is INVALID_RECORD_STATE;
// closing a session releases its records; every record is delivered and
// the SPSO reaches the end.
func TestShareFetchMembersAndAcks(t *testing.T) {
	clock := &shareTestClock{now: time.Now()}
	b := newShareBroker(t, t.TempDir(), share.NewMemPersister(), clock)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "q", 1, nil)
	const group = "g"
	// share.auto.offset.reset=latest: records before the first fetch are
	// not delivered.
	appendRecords(t, tp.partition(0), 2, 5) // 0-9
	a := &shareClient{t: t, b: b, group: group, member: "a", topic: tp.id}
	bb := &shareClient{t: t, b: b, group: group, member: "b", topic: tp.id}
	wantAcquired(t, "a initial", acquired(t, a.fetch(30)))
	appendRecords(t, tp.partition(0), 10, 10) // 10-109

	// Session errors.
	c := &shareClient{t: t, b: b, group: group, member: "c", topic: tp.id, epoch: 3}
	wantCode(t, "unknown session", c.fetch(10).ErrorCode, kerr.ShareSessionNotFound)
	a.epoch = 7
	wantCode(t, "wrong epoch", a.fetch(10).ErrorCode, kerr.InvalidShareSessionEpoch)
	a.epoch = 1
	c.epoch = 0
	wantCode(t, "acks on epoch 0", c.fetch(10, fetchAck(0, 0, 1)).ErrorCode, kerr.InvalidRequest)
	wantCode(t, "ShareAcknowledge epoch 0", a.ack(0, shareAck(0, 0, 1)).ErrorCode, kerr.InvalidShareSessionEpoch)

	wantAcquired(t, "a", acquired(t, a.fetch(30)), share.Acquired{First: 10, Last: 39, DeliveryCount: 1})
	wantAcquired(t, "b", acquired(t, bb.fetch(30)), share.Acquired{First: 40, Last: 69, DeliveryCount: 1})

	// b acknowledges a's records: rejected as a whole.
	resp := bb.ack(bb.epoch, shareAck(10, 12, 1))
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRecordState.Code {
		t.Fatalf("foreign ack: %+v", resp)
	}
	// a accepts 10-29, releases 30-34, rejects 35-39 while fetching.
	types := make([]int8, 30)
	for i := range types {
		types[i] = map[bool]int8{true: 1, false: map[bool]int8{true: 2, false: 3}[i < 25]}[i < 20]
	}
	wantAcquired(t, "a again", acquired(t, a.fetch(10, fetchAck(10, 39, types...))),
		share.Acquired{First: 30, Last: 34, DeliveryCount: 2}, share.Acquired{First: 70, Last: 79, DeliveryCount: 1}) // whole batches: 15 > MaxRecords
	// b accepts everything it holds via ShareAcknowledge.
	if r := bb.ack(bb.epoch, shareAck(40, 69, 1)); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("b ack: %+v", r)
	}
	// a closes its session: 30-34 and 70-79 are released for b.
	if r := a.ack(-1); r.ErrorCode != 0 {
		t.Fatalf("close: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	a.epoch = 1
	wantCode(t, "closed session", a.fetch(10).ErrorCode, kerr.ShareSessionNotFound)
	wantAcquired(t, "b after a left", acquired(t, bb.fetch(1000)),
		share.Acquired{First: 30, Last: 34, DeliveryCount: 3}, share.Acquired{First: 70, Last: 79, DeliveryCount: 2},
		share.Acquired{First: 80, Last: 109, DeliveryCount: 1})
	acquired(t, bb.fetch(10, fetchAck(30, 34, 1), fetchAck(70, 109, 1)))
	if got, want := sharePartState(t, b, group, tp.id), "spso=110 speo=110"; got != want {
		t.Fatalf("state %q, want %q", got, want)
	}
}

// TestShareFetchLockTimeout: records not acknowledged within the lock
// duration are delivered again with a rising delivery count; at
// share.delivery.count.limit they are archived (a poison record) and the
// SPSO moves past them.
func TestShareFetchLockTimeout(t *testing.T) {
	clock := &shareTestClock{now: time.Now()}
	pers := share.NewMemPersister()
	b := newShareBroker(t, t.TempDir(), pers, clock)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "q", 1, nil)
	settings := b.groupSettings("g")
	m := &shareClient{t: t, b: b, group: "g", member: "m", topic: tp.id}
	acquired(t, m.fetch(10))
	appendRecords(t, tp.partition(0), 1, 3) // 0-2
	limit := int16(settings.ShareDeliveryCountLimit)
	for n := int16(1); n <= limit; n++ {
		got := acquired(t, m.fetch(10))
		if n == 1 {
			// 0 is accepted at once; 1-2 time out again and again.
			wantAcquired(t, "first", got, share.Acquired{First: 0, Last: 2, DeliveryCount: 1})
			acquired(t, m.fetch(10, fetchAck(0, 0, 1)))
		} else {
			wantAcquired(t, "redelivery", got, share.Acquired{First: 1, Last: 2, DeliveryCount: n})
		}
		clock.Advance(settings.ShareRecordLockDuration + time.Millisecond)
	}
	wantAcquired(t, "after the limit", acquired(t, m.fetch(10)))
	if got, want := sharePartState(t, b, "g", tp.id), "spso=3 speo=3"; got != want {
		t.Fatalf("state %q, want %q", got, want)
	}
	st, err := pers.Read(context.Background(), share.Key{Group: "g", TopicID: tp.id}, -1)
	if err != nil || st.StartOffset != 3 {
		t.Fatalf("persisted %+v, %v: want start offset 3", st, err)
	}
}

// TestShareFetchRestart: a new broker on the same data dir and persister
// goes on from the persisted state: accepted records are not delivered
// again, unacknowledged ones are, with their delivery counts.
func TestShareFetchRestart(t *testing.T) {
	t.Run("memory persister", func(t *testing.T) { testShareFetchRestart(t, share.NewMemPersister()) })
	// The share coordinator's persister: __share_group_state on the
	// data dir.
	t.Run("share coordinator", func(t *testing.T) { testShareFetchRestart(t, nil) })
}

func testShareFetchRestart(t *testing.T, pers share.Persister) {
	clock := &shareTestClock{now: time.Now()}
	dir := t.TempDir()
	b := newShareBroker(t, dir, pers, clock)
	tp := mustCreateTopic(t, b, "q", 1, nil)
	id := tp.id
	if pers == nil { // the group coordinator's initialization
		if err := b.persister().Initialize(context.Background(), share.Key{Group: "g", TopicID: id}, 0, -1); err != nil {
			t.Fatal(err)
		}
	}
	m := &shareClient{t: t, b: b, group: "g", member: "m", topic: id}
	acquired(t, m.fetch(10))
	appendRecords(t, tp.partition(0), 4, 5) // 0-19
	wantAcquired(t, "before", acquired(t, m.fetch(10)), share.Acquired{First: 0, Last: 9, DeliveryCount: 1})
	// Accept 0-4, reject 5, release 6: 7-9 stay acquired (not persisted
	// as such: a new leader makes them available, and acquiring them
	// again counts a delivery).
	acquired(t, m.fetch(0, fetchAck(0, 6, 1, 1, 1, 1, 1, 3, 2)))
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	b2 := newShareBroker(t, dir, pers, clock)
	t.Cleanup(func() { _ = b2.Close(context.Background()) })
	m2 := &shareClient{t: t, b: b2, group: "g", member: "m2", topic: id}
	wantAcquired(t, "after", acquired(t, m2.fetch(100)),
		share.Acquired{First: 6, Last: 9, DeliveryCount: 2}, share.Acquired{First: 10, Last: 19, DeliveryCount: 1})
}

// serveShare serves b on a loopback listener and returns a raw client
// of its seed connection.
func serveShare(t *testing.T, b *Broker) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(ln); err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String()
}

func rawShareFetch(ctx context.Context, t *testing.T, cl *kgo.Client, group, member string, epoch int32, id [16]byte, maxWait int32) *kmsg.ShareFetchResponse {
	t.Helper()
	req := kmsg.NewPtrShareFetchRequest()
	req.GroupID, req.MemberID = kmsg.StringPtr(group), kmsg.StringPtr(member)
	req.ShareSessionEpoch, req.MaxWaitMillis, req.MinBytes, req.MaxRecords = epoch, maxWait, 1, 100
	rt := kmsg.NewShareFetchRequestTopic()
	rt.TopicID = id
	rt.Partitions = append(rt.Partitions, kmsg.NewShareFetchRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestShareFetchConnectionDrop: a member whose connection drops loses its
// acquired records at once (no wait for the lock), and a long poll wakes
// when records arrive.
func TestShareFetchConnectionDrop(t *testing.T) {
	clock := &shareTestClock{now: time.Now()}
	b := newShareBroker(t, t.TempDir(), share.NewMemPersister(), clock)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "q", 1, nil)
	addr := serveShare(t, b)
	ctx := context.Background()
	newClient := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	c1, c2 := newClient(), newClient()
	defer c2.Close()
	acquired(t, rawShareFetch(ctx, t, c1, "g", "m1", 0, tp.id, 0))

	// m2 long-polls with nothing to acquire; an append wakes it.
	done := make(chan *kmsg.ShareFetchResponse, 1)
	go func() { done <- rawShareFetch(ctx, t, c2, "g", "m2", 0, tp.id, 30_000) }()
	// Wait until m2's session exists (its poll is parked), then append.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.shareMgr().mu.Lock()
		n := len(b.shareMgr().sessions)
		b.shareMgr().mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("m2's session never opened")
		}
		time.Sleep(5 * time.Millisecond)
	}
	appendRecords(t, tp.partition(0), 1, 5) // 0-4
	tp.partition(0).notify()                // as a produce does
	select {
	case resp := <-done:
		wantAcquired(t, "woken", acquired(t, resp), share.Acquired{First: 0, Last: 4, DeliveryCount: 1})
	case <-time.After(20 * time.Second):
		t.Fatal("the long poll did not wake on the append")
	}
	// m2's records go back when its connection drops.
	c2.Close()
	deadline = time.Now().Add(10 * time.Second)
	for epoch := int32(1); ; epoch++ {
		got := acquired(t, rawShareFetch(ctx, t, c1, "g", "m1", epoch, tp.id, 0))
		if len(got) > 0 {
			wantAcquired(t, "after the drop", got, share.Acquired{First: 0, Last: 4, DeliveryCount: 2})
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("records never released after the connection dropped")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c1.Close()
}

// TestShareFetchReadCommitted: under read_committed an aborted
// transaction's records and the control records are archived, never
// acquired; under read_uncommitted only the control records are.
func TestShareFetchReadCommitted(t *testing.T) {
	clock := &shareTestClock{now: time.Now()}
	b := newShareBroker(t, t.TempDir(), share.NewMemPersister(), clock)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "tx", 1, nil)
	p := tp.partition(0)
	addr := serveShare(t, b)
	ctx := context.Background()
	// Load both share-partitions at offset 0 (latest, before any record).
	for _, g := range []string{"rc", "ru"} {
		sp, err := b.lockSharePart(ctx, share.Key{Group: g, TopicID: tp.id}, p, b.cluster.leadershipOf(p).epoch, false)
		if err != nil {
			t.Fatal(err)
		}
		sp.mu.Unlock()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("share-tx"), kgo.DefaultProduceTopic("tx"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(commit bool, n int) {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := cl.ProduceSync(ctx, kgo.StringRecord("v")).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	produce(false, 1) // 0 aborted, 1 marker
	produce(true, 1)  // 2 committed, 3 marker
	for deadline := time.Now().Add(10 * time.Second); p.lastStableOffset() < 4; {
		if time.Now().After(deadline) {
			t.Fatal("LSO never reached 4")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, c := range []struct {
		group         string
		readCommitted bool
		want          string
	}{
		{"rc", true, "spso=2 speo=4 [2-2 acquired n=1 m until=%d] [3-3 archived n=0]"},
		{"ru", false, "spso=0 speo=4 [0-0 acquired n=1 m until=%d] [1-1 archived n=0] [2-2 acquired n=1 m until=%d] [3-3 archived n=0]"},
	} {
		sp, err := b.lockSharePart(ctx, share.Key{Group: c.group, TopicID: tp.id}, p, b.cluster.leadershipOf(p).epoch, false)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = b.shareReadLocked(sp, p, "m", 100, false, 1<<20, c.readCommitted)
		got := sp.sp.String()
		sp.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		until := clock.Now().Add(b.groupSettings(c.group).ShareRecordLockDuration).UnixMilli()
		if want := strings.ReplaceAll(c.want, "%d", fmt.Sprint(until)); got != want {
			t.Errorf("%s: state %q, want %q", c.group, got, want)
		}
	}
}

// TestClusterShareFetchLeaderMove: only the data partition's leader serves
// ShareFetch (others answer NOT_LEADER_OR_FOLLOWER with the leader and its
// endpoint); when leadership moves, the new leader goes on from the
// persisted state.
func TestClusterShareFetchLeaderMove(t *testing.T) {
	tc := newTestCluster(t, 3) // share state in __share_group_state (the share coordinator)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.DefaultProduceTopic("sq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tc.createKnownTopic(ctx, adm, "sq", 1)
	leader := -1
	tc.waitFor("a leader", func() bool { leader = tc.leaderOf("sq", 0); return leader >= 0 })
	id := tc.brokers[leader].topics.get("sq").id
	fetchFrom := func(c *kgo.Client, node int, member string, epoch int32, acks ...kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch) *kmsg.ShareFetchResponse {
		req := kmsg.NewPtrShareFetchRequest()
		req.GroupID, req.MemberID = kmsg.StringPtr("g"), kmsg.StringPtr(member)
		req.ShareSessionEpoch, req.MaxRecords, req.MinBytes = epoch, 100, 1
		rt := kmsg.NewShareFetchRequestTopic()
		rt.TopicID = id
		rp := kmsg.NewShareFetchRequestTopicPartition()
		rp.AcknowledgementBatches = acks
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, c.Broker(node+1))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	follower := (leader + 1) % 3
	tc.waitFor("the follower knows the leader", func() bool {
		return tc.brokers[follower].topics.get("sq").partition(0).lead.Load().leader == int32(leader+1)
	})
	resp := fetchFrom(cl, follower, "m", 0)
	rp := resp.Topics[0].Partitions[0]
	if rp.ErrorCode != kerr.NotLeaderForPartition.Code || rp.CurrentLeader.LeaderID != int32(leader+1) ||
		len(resp.NodeEndpoints) != 1 || resp.NodeEndpoints[0].NodeID != int32(leader+1) {
		t.Fatalf("follower answered %+v (endpoints %+v), want NOT_LEADER_OR_FOLLOWER naming node %d", rp, resp.NodeEndpoints, leader+1)
	}
	// The group coordinator's initialization (a heartbeat would do it):
	// start offset -1, so the leader starts at the end.
	if err := tc.brokers[leader].persister().Initialize(ctx, share.Key{Group: "g", TopicID: id}, 0, -1); err != nil {
		t.Fatal(err)
	}
	acquired(t, fetchFrom(cl, leader, "m", 0))
	produceN(t, cl, "sq", 0, 10)
	wantAcquired(t, "leader", acquired(t, fetchFrom(cl, leader, "m", 1)), share.Acquired{First: 0, Last: 9, DeliveryCount: 1})
	acquired(t, fetchFrom(cl, leader, "m", 2, fetchAck(0, 4, 1)))

	tc.nw.Isolate(raftID(int32(leader + 1)))
	next := -1
	tc.waitFor("a new leader", func() bool {
		for i, b := range tc.brokers {
			if i == leader {
				continue
			}
			if p := b.topics.get("sq").partition(0); p.lead.Load().local {
				next = i
				return true
			}
		}
		return false
	})
	var others []string
	for i, s := range tc.seeds() {
		if i != leader {
			others = append(others, s)
		}
	}
	cl2, err := kgo.NewClient(kgo.SeedBrokers(others...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	if err := cl2.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var got []share.Acquired
	tc.waitFor("records from the new leader", func() bool {
		resp := fetchFrom(cl2, next, "m2", 0)
		if c := resp.Topics[0].Partitions[0].ErrorCode; c != 0 {
			return false
		}
		got = acquired(t, resp)
		return len(got) > 0
	})
	wantAcquired(t, "new leader", got, share.Acquired{First: 5, Last: 9, DeliveryCount: 2})
	tc.nw.Heal()
}

// TestShareFetchStateReinitialized: state re-initialized behind the
// leader's back (AlterShareGroupOffsets: a newer state epoch) or deleted
// (DeleteShareGroupOffsets) is picked up by the next session to open.
func TestShareFetchStateReinitialized(t *testing.T) {
	clock := &shareTestClock{now: time.Now()}
	pers := share.NewMemPersister()
	b := newShareBroker(t, t.TempDir(), pers, clock)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "q", 1, nil)
	appendRecords(t, tp.partition(0), 4, 5) // 0-19, before the share-partition: latest skips them
	m := &shareClient{t: t, b: b, group: "g", member: "m", topic: tp.id}
	wantAcquired(t, "latest", acquired(t, m.fetch(100)))
	m.ack(-1)
	k := share.Key{Group: "g", TopicID: tp.id}
	if err := pers.Initialize(context.Background(), k, 1, 15); err != nil {
		t.Fatal(err)
	}
	m2 := &shareClient{t: t, b: b, group: "g", member: "m2", topic: tp.id}
	wantAcquired(t, "altered", acquired(t, m2.fetch(100)), share.Acquired{First: 15, Last: 19, DeliveryCount: 1})
	m2.ack(-1)
	if err := pers.Delete(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	appendRecords(t, tp.partition(0), 1, 5) // 20-24
	m3 := &shareClient{t: t, b: b, group: "g", member: "m3", topic: tp.id}
	wantAcquired(t, "deleted: latest again", acquired(t, m3.fetch(100)))
	if got, want := sharePartState(t, b, "g", tp.id), "spso=25 speo=25"; got != want {
		t.Fatalf("state %q, want %q", got, want)
	}
}

// TestShareFetchRenew: a RENEW acknowledgement (v2 IsRenewAck) extends the
// acquisition lock; RENEW outside a renew-ack request is INVALID_REQUEST.
func TestShareFetchRenew(t *testing.T) {
	clock := &shareTestClock{now: time.Now()}
	b := newShareBroker(t, t.TempDir(), share.NewMemPersister(), clock)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "q", 1, nil)
	lock := b.groupSettings("g").ShareRecordLockDuration
	m := &shareClient{t: t, b: b, group: "g", member: "m", topic: tp.id}
	o := &shareClient{t: t, b: b, group: "g", member: "o", topic: tp.id}
	acquired(t, m.fetch(10))
	acquired(t, o.fetch(10))
	appendRecords(t, tp.partition(0), 1, 3) // 0-2
	wantAcquired(t, "m", acquired(t, m.fetch(10)), share.Acquired{First: 0, Last: 2, DeliveryCount: 1})
	if r := m.ack(m.epoch, shareAck(0, 2, 4)); r.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("renew without IsRenewAck: %+v", r)
	}
	clock.Advance(lock * 2 / 3)
	req := kmsg.NewPtrShareAcknowledgeRequest()
	req.GroupID, req.MemberID, req.ShareSessionEpoch, req.IsRenewAck = kmsg.StringPtr("g"), kmsg.StringPtr("m"), m.epoch, true
	rt := kmsg.NewShareAcknowledgeRequestTopic()
	rt.TopicID = tp.id
	rp := kmsg.NewShareAcknowledgeRequestTopicPartition()
	rp.AcknowledgementBatches = append(rp.AcknowledgementBatches, shareAck(0, 2, 4))
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	if r := do[*kmsg.ShareAcknowledgeResponse](t, b, 2, req); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 || r.AcquisitionLockTimeoutMillis != int32(lock.Milliseconds()) {
		t.Fatalf("renew: %+v", r)
	}
	m.epoch++
	clock.Advance(lock * 2 / 3) // past the first lock, within the renewed one
	wantAcquired(t, "still locked", acquired(t, o.fetch(10)))
	clock.Advance(lock / 2)
	wantAcquired(t, "renewed lock expired", acquired(t, o.fetch(10)), share.Acquired{First: 0, Last: 2, DeliveryCount: 2})
}

// newShareConsumer is a franz-go share consumer of topic in group.
func newShareConsumer(t *testing.T, addr, group, topic string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ShareGroup(group), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// waitSharePartsLoaded polls until the group's share-partitions of id are
// loaded (a member fetched them: with share.auto.offset.reset latest,
// records produced from then on are delivered).
func waitSharePartsLoaded(t *testing.T, b *Broker, group string, id [16]byte, parts int32) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := int32(0)
		for p := range parts {
			if sp := b.shareMgr().existing(share.Key{Group: group, TopicID: id, Partition: p}); sp != nil {
				sp.mu.Lock()
				if sp.sp != nil {
					n++
				}
				sp.mu.Unlock()
			}
		}
		if n == parts {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("share-partitions of %s never loaded (%d of %d)", group, n, parts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func produceKeys(t *testing.T, ctx context.Context, prod *kgo.Client, topic string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// pollUntil polls cl, handing every record to handle, until done reports
// true or the deadline passes.
func pollUntil(t *testing.T, ctx context.Context, cl *kgo.Client, what string, handle func(*kgo.Record), done func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out polling for %s", what)
		}
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		for _, r := range fs.Records() {
			handle(r)
		}
	}
}

// TestShareConsumerKgo drives the share data plane with franz-go's share
// consumer (kgo.ShareGroup) over TCP: two members share N records and
// every record is delivered; released records come back with delivery
// count 2 and rejected ones never; a record held past the acquisition lock
// is delivered again with a higher delivery count; a record released at
// every delivery is archived at the delivery count limit; and after a
// broker restart (the share coordinator's state on the data dir) nothing
// acknowledged is delivered again while new records are.
func TestShareConsumerKgo(t *testing.T) {
	clock := &shareTestClock{now: time.Now()}
	dir := t.TempDir()
	b := newShareBroker(t, dir, nil, clock)
	addr := serveShare(t, b)
	tp := mustCreateTopic(t, b, "sq", 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	// Two members; records produced once both polled (latest reset).
	ca, cb := newShareConsumer(t, addr, "sg", "sq"), newShareConsumer(t, addr, "sg", "sq")
	var (
		mu       sync.Mutex
		accepted = map[string]int{}
		counts   = map[string][]int32{}
		by       = map[string]map[string]bool{}
	)
	handle := func(member string) func(*kgo.Record) {
		return func(r *kgo.Record) {
			k := string(r.Key)
			n, _ := strconv.Atoi(k)
			mu.Lock()
			defer mu.Unlock()
			counts[k] = append(counts[k], r.DeliveryCount())
			if by[member] == nil {
				by[member] = map[string]bool{}
			}
			by[member][k] = true
			switch {
			case n%10 == 5:
				r.Ack(kgo.AckReject)
			case n%10 == 0 && r.DeliveryCount() == 1:
				r.Ack(kgo.AckRelease)
			default:
				r.Ack(kgo.AckAccept)
				accepted[k]++
			}
		}
	}
	const n = 300
	want := n - n/10 // all but the rejected keys
	allAccepted := func() bool { mu.Lock(); defer mu.Unlock(); return len(accepted) >= want }
	var wg sync.WaitGroup
	for name, cl := range map[string]*kgo.Client{"a": ca, "b": cb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pollUntil(t, ctx, cl, "every record", handle(name), allAccepted)
		}()
	}
	waitSharePartsLoaded(t, b, "sg", tp.id, 3)
	var keys []string
	for i := range n {
		keys = append(keys, strconv.Itoa(i))
	}
	produceKeys(t, ctx, prod, "sq", keys...)
	wg.Wait()
	// Flush the last acks before checking (they ride on the next fetch or
	// a ShareAcknowledge).
	for _, cl := range []*kgo.Client{ca, cb} {
		if err := cl.FlushAcks(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	for i := range n {
		k := strconv.Itoa(i)
		c := counts[k]
		switch {
		case i%10 == 5:
			if len(c) != 1 || accepted[k] != 0 {
				t.Errorf("rejected key %s delivered %v, accepted %d times", k, c, accepted[k])
			}
		case i%10 == 0:
			if len(c) != 2 || c[0] != 1 || c[1] != 2 || accepted[k] != 1 {
				t.Errorf("released key %s delivered with counts %v (want [1 2]), accepted %d times", k, c, accepted[k])
			}
		default:
			if len(c) != 1 || c[0] != 1 || accepted[k] != 1 {
				t.Errorf("key %s delivered %v, accepted %d times", k, c, accepted[k])
			}
		}
	}
	t.Logf("member a got %d keys, member b %d", len(by["a"]), len(by["b"]))
	if len(by["a"]) == 0 || len(by["b"]) == 0 {
		t.Errorf("records not shared: a %d, b %d", len(by["a"]), len(by["b"]))
	}
	mu.Unlock()
	cb.Close()

	// A record held past the lock: the next poll's automatic accept is
	// refused (the lock expired) and the record comes again, count 2.
	// Another released at every delivery is archived at the limit.
	limit := b.groupSettings("sg").ShareDeliveryCountLimit
	produceKeys(t, ctx, prod, "sq", "hold", "poison")
	var hold, poison []int32
	pollUntil(t, ctx, ca, "the held record", func(r *kgo.Record) {
		switch string(r.Key) {
		case "hold":
			hold = append(hold, r.DeliveryCount())
		case "poison":
			poison = append(poison, r.DeliveryCount())
			r.Ack(kgo.AckRelease)
		}
	}, func() bool { return len(hold) > 0 })
	clock.Advance(b.groupSettings("sg").ShareRecordLockDuration + time.Second)
	pollUntil(t, ctx, ca, "the held record again and the poison record archived", func(r *kgo.Record) {
		switch string(r.Key) {
		case "hold":
			hold = append(hold, r.DeliveryCount())
			r.Ack(kgo.AckAccept)
		case "poison":
			poison = append(poison, r.DeliveryCount())
			r.Ack(kgo.AckRelease)
		}
	}, func() bool { return len(hold) >= 2 && len(poison) >= int(limit) })
	if err := ca.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	if len(hold) != 2 || hold[0] != 1 || hold[1] != 2 {
		t.Errorf("held record delivered with counts %v, want [1 2]", hold)
	}
	for i, c := range poison {
		if c != int32(i+1) {
			t.Errorf("poison record delivered with counts %v, want 1..%d", poison, limit)
		}
	}
	ca.Close()

	// Restart: a new member gets only what was never acknowledged.
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	prod.Close()
	b2 := newShareBroker(t, dir, nil, clock)
	t.Cleanup(func() { _ = b2.Close(context.Background()) })
	addr2 := serveShare(t, b2)
	prod2, err := kgo.NewClient(kgo.SeedBrokers(addr2))
	if err != nil {
		t.Fatal(err)
	}
	defer prod2.Close()
	cc := newShareConsumer(t, addr2, "sg", "sq")
	defer cc.Close()
	got := map[string]int32{}
	var gotMu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		pollUntil(t, ctx, cc, "the records after the restart", func(r *kgo.Record) {
			gotMu.Lock()
			got[string(r.Key)] = r.DeliveryCount()
			gotMu.Unlock()
			r.Ack(kgo.AckAccept)
		}, func() bool { gotMu.Lock(); defer gotMu.Unlock(); return len(got) >= 3 })
	}()
	waitSharePartsLoaded(t, b2, "sg", tp.id, 3)
	produceKeys(t, ctx, prod2, "sq", "after-1", "after-2", "after-3")
	<-done
	gotMu.Lock()
	defer gotMu.Unlock()
	if len(got) != 3 || got["after-1"] != 1 || got["after-2"] != 1 || got["after-3"] != 1 {
		t.Errorf("after the restart got %v, want only after-1..3 at delivery count 1", got)
	}
}

// failingPersister fails every Write while fail is set.
type failingPersister struct {
	share.Persister
	fail atomic.Bool
}

func (f *failingPersister) Write(ctx context.Context, k share.Key, stateEpoch, leaderEpoch int32, startOffset int64, batches []share.StateBatch) error {
	if f.fail.Load() {
		return fmt.Errorf("%w: injected", share.ErrCoordinatorNotAvailable)
	}
	return f.Persister.Write(ctx, k, stateEpoch, leaderEpoch, startOffset, batches)
}

// TestShareFetchWriteFailureRollsBack: a failed state write undoes only the
// failing request's change; other members keep their locks (the state
// used to be dropped, and a reload handed every acquired record out again).
func TestShareFetchWriteFailureRollsBack(t *testing.T) {
	clock := &shareTestClock{now: time.Now()}
	pers := &failingPersister{Persister: share.NewMemPersister()}
	b := newShareBroker(t, t.TempDir(), pers, clock)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "q", 1, nil)
	a := &shareClient{t: t, b: b, group: "g", member: "a", topic: tp.id}
	bb := &shareClient{t: t, b: b, group: "g", member: "b", topic: tp.id}
	acquired(t, a.fetch(10))
	acquired(t, bb.fetch(10))
	appendRecords(t, tp.partition(0), 4, 5) // 0-19
	wantAcquired(t, "a", acquired(t, a.fetch(10)), share.Acquired{First: 0, Last: 9, DeliveryCount: 1})
	wantAcquired(t, "b", acquired(t, bb.fetch(10)), share.Acquired{First: 10, Last: 19, DeliveryCount: 1})
	before := sharePartState(t, b, "g", tp.id)

	pers.fail.Store(true)
	r := a.ack(a.epoch, shareAck(0, 9, 1))
	if r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode == 0 {
		t.Fatalf("ack with failing writes answered OK: %+v", r)
	}
	if got := sharePartState(t, b, "g", tp.id); got != before {
		t.Fatalf("state after failed write\n got %s\nwant %s", got, before)
	}
	pers.fail.Store(false)
	// b's records were not handed out again; a can retry its ack.
	c := &shareClient{t: t, b: b, group: "g", member: "c", topic: tp.id}
	wantAcquired(t, "c", acquired(t, c.fetch(10)))
	if r := a.ack(a.epoch, shareAck(0, 9, 1)); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("retried ack: %+v", r)
	}
}

// TestShareFetchOverlappingAcks: overlapping batches for one partition,
// also when the request names the partition twice, are INVALID_REQUEST
// and change nothing (offset 5 once became available again).
func TestShareFetchOverlappingAcks(t *testing.T) {
	clock := &shareTestClock{now: time.Now()}
	b := newShareBroker(t, t.TempDir(), share.NewMemPersister(), clock)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "q", 1, nil)
	a := &shareClient{t: t, b: b, group: "g", member: "a", topic: tp.id}
	acquired(t, a.fetch(10))
	appendRecords(t, tp.partition(0), 2, 5) // 0-9
	wantAcquired(t, "a", acquired(t, a.fetch(10)), share.Acquired{First: 0, Last: 9, DeliveryCount: 1})
	before := sharePartState(t, b, "g", tp.id)
	r := a.ack(a.epoch, shareAck(0, 9, 1), shareAck(5, 5, 2))
	if r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("overlapping acks: %+v", r)
	}
	// The same partition named twice in one ShareFetch.
	req := kmsg.NewPtrShareFetchRequest()
	req.GroupID, req.MemberID = kmsg.StringPtr("g"), kmsg.StringPtr("a")
	req.ShareSessionEpoch, req.MaxBytes, req.MaxRecords, req.BatchSize = a.epoch, 1<<20, 10, 10
	rt := kmsg.NewShareFetchRequestTopic()
	rt.TopicID = tp.id
	for _, ab := range []kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{fetchAck(0, 9, 1), fetchAck(5, 5, 2)} {
		rp := kmsg.NewShareFetchRequestTopicPartition()
		rp.AcknowledgementBatches = append(rp.AcknowledgementBatches, ab)
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.ShareFetchResponse](t, b, 2, req)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].AcknowledgeErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("partition named twice: %+v", resp)
	}
	if got := sharePartState(t, b, "g", tp.id); got != before {
		t.Fatalf("state changed\n got %s\nwant %s", got, before)
	}
}

// TestShareSessionReplaced: an epoch-0 fetch replacing a member's session
// releases what the old session held; a stale close (a dropped
// connection's, collected before the new session opened) leaves the new
// session alone.
func TestShareSessionReplaced(t *testing.T) {
	clock := &shareTestClock{now: time.Now()}
	b := newShareBroker(t, t.TempDir(), share.NewMemPersister(), clock)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "q", 1, nil)
	a := &shareClient{t: t, b: b, group: "g", member: "a", topic: tp.id}
	acquired(t, a.fetch(10))
	appendRecords(t, tp.partition(0), 2, 5) // 0-9
	wantAcquired(t, "a", acquired(t, a.fetch(10)), share.Acquired{First: 0, Last: 9, DeliveryCount: 1})
	m := b.shareMgr()
	key := shareSessionKey{"g", "a"}
	m.mu.Lock()
	old := m.sessions[key]
	m.mu.Unlock()

	a.epoch = 0
	wantAcquired(t, "a's new session", acquired(t, a.fetch(10)), share.Acquired{First: 0, Last: 9, DeliveryCount: 2})
	b.closeShareSession(context.Background(), key, old)
	m.mu.Lock()
	cur := m.sessions[key]
	m.mu.Unlock()
	if cur == nil || cur == old {
		t.Fatalf("stale close removed the new session (now %p, old %p)", cur, old)
	}
	if got := sharePartState(t, b, "g", tp.id); !strings.Contains(got, "[0-9 acquired n=2 a ") {
		t.Fatalf("stale close released the new session's records: %s", got)
	}
}

// TestShareTimerStaleCallback: a lock-expiry callback whose timer was
// replaced after it fired must not clear the current timer's handle (it
// then could never be stopped, and two timers ran).
func TestShareTimerStaleCallback(t *testing.T) {
	clock := &shareTestClock{now: time.Now()}
	b := newShareBroker(t, t.TempDir(), share.NewMemPersister(), clock)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "q", 1, nil)
	a := &shareClient{t: t, b: b, group: "g", member: "a", topic: tp.id}
	acquired(t, a.fetch(10))
	appendRecords(t, tp.partition(0), 2, 5) // 0-9
	wantAcquired(t, "a", acquired(t, a.fetch(10)), share.Acquired{First: 0, Last: 9, DeliveryCount: 1})
	sp := b.shareMgr().existing(share.Key{Group: "g", TopicID: tp.id, Partition: 0})
	sp.mu.Lock()
	cur, gen := sp.timer, sp.timerGen
	sp.mu.Unlock()
	if cur == nil {
		t.Fatal("no lock timer armed")
	}
	b.expireSharePart(sp, gen-1) // a stale callback
	sp.mu.Lock()
	after := sp.timer
	sp.mu.Unlock()
	if after != cur {
		t.Fatalf("stale callback changed the timer handle: %p -> %p", cur, after)
	}
}

// TestShareFetchUninitialized: the leader never initializes share state
// itself (the group coordinator's later Initialize, at a newer state
// epoch, overwrote it and forgot acknowledgements answered OK): an
// uninitialized share-partition answers UNKNOWN_TOPIC_OR_PARTITION and
// nothing is written, until the coordinator has initialized it.
func TestShareFetchUninitialized(t *testing.T) {
	clock := &shareTestClock{now: time.Now()}
	mem := share.NewMemPersister()
	b := newShareBroker(t, t.TempDir(), mem, clock)
	b.sharePersister = mem // no stand-in coordinator
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "q", 1, nil)
	appendRecords(t, tp.partition(0), 2, 5) // 0-9
	a := &shareClient{t: t, b: b, group: "g", member: "a", topic: tp.id}
	resp := a.fetch(10)
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("uninitialized: %+v", resp)
	}
	k := share.Key{Group: "g", TopicID: tp.id}
	if _, err := mem.ReadSummary(context.Background(), k); !errors.Is(err, share.ErrUninitialized) {
		t.Fatalf("the leader wrote state: %v", err)
	}
	// The coordinator initializes (group epoch 3, start offset -1:
	// share.auto.offset.reset=latest).
	if err := mem.Initialize(context.Background(), k, 3, -1); err != nil {
		t.Fatal(err)
	}
	wantAcquired(t, "initialized", acquired(t, a.fetch(10)))
	appendRecords(t, tp.partition(0), 1, 5) // 10-14
	wantAcquired(t, "new records", acquired(t, a.fetch(10)), share.Acquired{First: 10, Last: 14, DeliveryCount: 1})
}
