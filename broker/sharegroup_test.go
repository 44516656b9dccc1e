package broker

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/acl"
	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/share"
)

// memPersister is an in-memory share.Persister (the real one is the share
// coordinator's).
type memPersister struct {
	mu    sync.Mutex
	state map[share.Key]share.State
}

func newMemPersister() *memPersister { return &memPersister{state: map[share.Key]share.State{}} }

func (p *memPersister) Initialize(_ context.Context, k share.Key, stateEpoch int32, start int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.state[k]; ok && old.StateEpoch > stateEpoch {
		return share.ErrFencedStateEpoch
	}
	p.state[k] = share.State{StateEpoch: stateEpoch, LeaderEpoch: -1, StartOffset: start}
	return nil
}

func (p *memPersister) Read(ctx context.Context, k share.Key, _ int32) (share.State, error) {
	return p.ReadSummary(ctx, k)
}

func (p *memPersister) Write(_ context.Context, k share.Key, stateEpoch, leaderEpoch int32, start int64, _ []share.StateBatch) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.state[k]
	if !ok {
		return share.ErrUninitialized
	}
	if start >= 0 {
		s.StartOffset = start
	}
	s.LeaderEpoch = leaderEpoch
	p.state[k] = s
	return nil
}

func (p *memPersister) Delete(_ context.Context, k share.Key) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.state, k)
	return nil
}

func (p *memPersister) ReadSummary(_ context.Context, k share.Key) (share.State, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.state[k]
	if !ok {
		return share.State{}, share.ErrUninitialized
	}
	return share.State{StateEpoch: s.StateEpoch, LeaderEpoch: s.LeaderEpoch, StartOffset: s.StartOffset}, nil
}

func shareHeartbeat(t *testing.T, b *Broker, group, member string, epoch int32, topics []string) *kmsg.ShareGroupHeartbeatResponse {
	t.Helper()
	req := kmsg.NewPtrShareGroupHeartbeatRequest()
	req.GroupID, req.MemberID, req.MemberEpoch, req.SubscribedTopicNames = group, member, epoch, topics
	return do[*kmsg.ShareGroupHeartbeatResponse](t, b, 1, req)
}

func assignedCount(r *kmsg.ShareGroupHeartbeatResponse) int {
	if r.Assignment == nil {
		return -1
	}
	n := 0
	for _, tp := range r.Assignment.TopicPartitions {
		n += len(tp.Partitions)
	}
	return n
}

// TestShareGroupAPIs drives a share group through its APIs: heartbeat
// (the partitions are assigned once the coordinator initialized their
// share state), describe, the other group APIs on its id, the offsets
// admin APIs, and deletion.
func TestShareGroupAPIs(t *testing.T) {
	t.Run("memory persister", func(t *testing.T) {
		b := newAdminBroker(t)
		b.sharePersister = newMemPersister()
		testShareGroupAPIs(t, b)
	})
	t.Run("share coordinator", func(t *testing.T) {
		testShareGroupAPIs(t, newAdminBroker(t)) // the broker's own Persister (__share_group_state)
	})
}

func testShareGroupAPIs(t *testing.T, b *Broker) {
	pers := b.persister()
	get := func(k share.Key) (share.State, bool) {
		s, err := pers.ReadSummary(context.Background(), k)
		return s, err == nil
	}
	tp := mustCreateTopic(t, b, "q", 2, nil)

	// Validation, as Kafka's.
	wantCode(t, "empty member id", shareHeartbeat(t, b, "sg", "", 0, []string{"q"}).ErrorCode, kerr.InvalidRequest)
	wantCode(t, "no topics", shareHeartbeat(t, b, "sg", "m1", 0, nil).ErrorCode, kerr.InvalidRequest)
	wantCode(t, "unknown group", shareHeartbeat(t, b, "sg", "m1", 3, nil).ErrorCode, kerr.GroupIDNotFound)

	r := shareHeartbeat(t, b, "sg", "m1", 0, []string{"q"})
	wantCode(t, "join", r.ErrorCode, nil)
	if r.MemberID == nil || *r.MemberID != "m1" || r.MemberEpoch != 2 || r.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("join: member %v epoch %d interval %d", r.MemberID, r.MemberEpoch, r.HeartbeatIntervalMillis)
	}
	// Initialization runs after the answer; poll until the partitions come.
	epoch := r.MemberEpoch
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = shareHeartbeat(t, b, "sg", "m1", epoch, nil)
		wantCode(t, "heartbeat", r.ErrorCode, nil)
		epoch = r.MemberEpoch
		if assignedCount(r) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions not assigned: %+v", r)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for p := int32(0); p < 2; p++ {
		s, ok := get(share.Key{Group: "sg", TopicID: tp.id, Partition: p})
		if !ok || s.StartOffset != -1 || s.StateEpoch != 2 {
			t.Errorf("partition %d state %+v %v, want start -1 at state epoch 2", p, s, ok)
		}
	}
	wantCode(t, "fenced", shareHeartbeat(t, b, "sg", "m1", epoch+5, nil).ErrorCode, kerr.FencedMemberEpoch)
	wantCode(t, "unknown member", shareHeartbeat(t, b, "sg", "m9", epoch, nil).ErrorCode, kerr.UnknownMemberID)

	// Describe.
	dreq := kmsg.NewPtrShareGroupDescribeRequest()
	dreq.GroupIDs, dreq.IncludeAuthorizedOperations = []string{"sg", "nope"}, true
	dr := do[*kmsg.ShareGroupDescribeResponse](t, b, 1, dreq)
	if len(dr.Groups) != 2 {
		t.Fatalf("describe: %d groups", len(dr.Groups))
	}
	g := dr.Groups[0]
	wantCode(t, "describe", g.ErrorCode, nil)
	if g.GroupState != "Stable" || g.Assignor != "simple" || g.GroupEpoch != epoch || len(g.Members) != 1 ||
		g.Members[0].MemberID != "m1" || len(g.Members[0].Assignment.TopicPartitions) != 1 ||
		g.Members[0].Assignment.TopicPartitions[0].Topic != "q" || g.AuthorizedOperations != allGroupOps {
		t.Errorf("describe: %+v", g)
	}
	wantCode(t, "describe unknown", dr.Groups[1].ErrorCode, kerr.GroupIDNotFound)

	// The other group APIs on a share group's id.
	lreq := kmsg.NewPtrListGroupsRequest()
	lreq.TypesFilter = []string{"share"}
	lr := do[*kmsg.ListGroupsResponse](t, b, 5, lreq)
	if len(lr.Groups) != 1 || lr.Groups[0].Group != "sg" || lr.Groups[0].GroupType != "share" ||
		lr.Groups[0].ProtocolType != "share" || lr.Groups[0].GroupState != "Stable" {
		t.Errorf("list groups: %+v", lr.Groups)
	}
	dgreq := kmsg.NewPtrDescribeGroupsRequest()
	dgreq.Groups = []string{"sg"}
	dg := do[*kmsg.DescribeGroupsResponse](t, b, 6, dgreq)
	wantCode(t, "DescribeGroups", dg.Groups[0].ErrorCode, kerr.GroupIDNotFound)
	creq := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	creq.Group, creq.MemberID, creq.RebalanceTimeoutMillis, creq.SubscribedTopicNames = "sg", "c1", 1000, []string{"q"}
	wantCode(t, "ConsumerGroupHeartbeat", do[*kmsg.ConsumerGroupHeartbeatResponse](t, b, 1, creq).ErrorCode, kerr.GroupIDNotFound)
	jreq := kmsg.NewPtrJoinGroupRequest()
	jreq.Group, jreq.ProtocolType, jreq.SessionTimeoutMillis, jreq.RebalanceTimeoutMillis = "sg", "consumer", 10000, 10000
	jreq.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{}}}
	wantCode(t, "JoinGroup", do[*kmsg.JoinGroupResponse](t, b, 9, jreq).ErrorCode, kerr.InconsistentGroupProtocol)
	delreq := kmsg.NewPtrDeleteGroupsRequest()
	delreq.Groups = []string{"sg"}
	wantCode(t, "DeleteGroups non-empty", do[*kmsg.DeleteGroupsResponse](t, b, 2, delreq).Groups[0].ErrorCode, kerr.NonEmptyGroup)

	// AlterShareGroupOffsets: only for an empty group.
	alter := func() *kmsg.AlterShareGroupOffsetsResponse {
		req := kmsg.NewPtrAlterShareGroupOffsetsRequest()
		req.GroupID = "sg"
		at := kmsg.NewAlterShareGroupOffsetsRequestTopic()
		at.Topic = "q"
		for p, off := range []int64{3, 7, 1} { // partition 2 does not exist
			ap := kmsg.NewAlterShareGroupOffsetsRequestTopicPartition()
			ap.Partition, ap.StartOffset = int32(p), off
			at.Partitions = append(at.Partitions, ap)
		}
		req.Topics = append(req.Topics, at)
		return do[*kmsg.AlterShareGroupOffsetsResponse](t, b, 0, req)
	}
	wantCode(t, "alter non-empty", alter().ErrorCode, kerr.NonEmptyGroup)
	r = shareHeartbeat(t, b, "sg", "m1", -1, nil)
	wantCode(t, "leave", r.ErrorCode, nil)
	if r.MemberEpoch != -1 {
		t.Errorf("leave: epoch %d", r.MemberEpoch)
	}
	ar := alter()
	wantCode(t, "alter", ar.ErrorCode, nil)
	if len(ar.Topics) != 1 || len(ar.Topics[0].Partitions) != 3 || ar.Topics[0].TopicID != tp.id {
		t.Fatalf("alter: %+v", ar.Topics)
	}
	wantCode(t, "alter p0", ar.Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "alter p2", ar.Topics[0].Partitions[2].ErrorCode, kerr.UnknownTopicOrPartition)
	if s, _ := get(share.Key{Group: "sg", TopicID: tp.id, Partition: 1}); s.StartOffset != 7 {
		t.Errorf("after alter: partition 1 at %d, want 7", s.StartOffset)
	}

	// DescribeShareGroupOffsets, v0 and v1 (lag).
	appendRecords(t, tp.partition(1), 2, 10)
	describeOffsets := func(version int16, topics []kmsg.DescribeShareGroupOffsetsRequestGroupTopic) kmsg.DescribeShareGroupOffsetsResponseGroup {
		req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
		rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
		rg.GroupID, rg.Topics = "sg", topics
		req.Groups = append(req.Groups, rg)
		resp := do[*kmsg.DescribeShareGroupOffsetsResponse](t, b, version, req)
		return resp.Groups[0]
	}
	for _, v := range []int16{0, 1} {
		og := describeOffsets(v, []kmsg.DescribeShareGroupOffsetsRequestGroupTopic{{Topic: "q", Partitions: []int32{0, 1}}, {Topic: "missing", Partitions: []int32{0}}})
		wantCode(t, "describe offsets", og.ErrorCode, nil)
		if len(og.Topics) != 2 || len(og.Topics[0].Partitions) != 2 {
			t.Fatalf("describe offsets v%d: %+v", v, og)
		}
		p1 := og.Topics[0].Partitions[1]
		if p1.StartOffset != 7 {
			t.Errorf("describe offsets v%d: partition 1 start %d, want 7", v, p1.StartOffset)
		}
		if want := tp.partition(1).highWatermark() - 7; v >= 1 && p1.Lag != want {
			t.Errorf("describe offsets v1: lag %d, want %d", p1.Lag, want)
		}
		if og.Topics[1].Partitions[0].StartOffset != -1 || og.Topics[1].TopicID != ([16]byte{}) {
			t.Errorf("describe offsets of a missing topic: %+v", og.Topics[1])
		}
	}
	if og := describeOffsets(1, nil); len(og.Topics) != 1 || len(og.Topics[0].Partitions) != 2 {
		t.Errorf("describe all offsets: %+v", og)
	}

	// DeleteShareGroupOffsets.
	delOffsets := func(topics ...string) *kmsg.DeleteShareGroupOffsetsResponse {
		req := kmsg.NewPtrDeleteShareGroupOffsetsRequest()
		req.GroupID = "sg"
		for _, n := range topics {
			dt := kmsg.NewDeleteShareGroupOffsetsRequestTopic()
			dt.Topic = n
			req.Topics = append(req.Topics, dt)
		}
		return do[*kmsg.DeleteShareGroupOffsetsResponse](t, b, 0, req)
	}
	dor := delOffsets("q", "missing")
	wantCode(t, "delete offsets", dor.ErrorCode, nil)
	if len(dor.Topics) != 2 {
		t.Fatalf("delete offsets: %+v", dor.Topics)
	}
	wantCode(t, "delete offsets q", dor.Topics[0].ErrorCode, nil)
	wantCode(t, "delete offsets missing", dor.Topics[1].ErrorCode, kerr.UnknownTopicOrPartition)
	if _, ok := get(share.Key{Group: "sg", TopicID: tp.id, Partition: 0}); ok {
		t.Errorf("state of partition 0 still there after DeleteShareGroupOffsets")
	}
	wantCode(t, "delete offsets again", delOffsets("q").Topics[0].ErrorCode, kerr.UnknownTopicOrPartition)

	// DeleteGroups on the empty group.
	wantCode(t, "DeleteGroups", do[*kmsg.DeleteGroupsResponse](t, b, 2, delreq).Groups[0].ErrorCode, nil)
	wantCode(t, "describe deleted", do[*kmsg.ShareGroupDescribeResponse](t, b, 1, dreq).Groups[0].ErrorCode, kerr.GroupIDNotFound)
}

// TestShareGroupSurvivesRestart: a share group's members, epochs,
// assignments and initialized partitions are in __consumer_offsets before
// the heartbeat is answered, and come back after a restart.
func TestShareGroupSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b := diskBroker(t, dir)
	b.sharePersister = newMemPersister()
	mustCreateTopic(t, b, "q", 3, nil)
	r := shareHeartbeat(t, b, "sg", "m1", 0, []string{"q"})
	wantCode(t, "join", r.ErrorCode, nil)
	epoch := r.MemberEpoch
	for deadline := time.Now().Add(10 * time.Second); assignedCount(r) != 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("partitions not assigned: %+v", r)
		}
		r = shareHeartbeat(t, b, "sg", "m1", epoch, nil)
		wantCode(t, "heartbeat", r.ErrorCode, nil)
		epoch = r.MemberEpoch
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	b = diskBroker(t, dir) // no share coordinator: nothing needs initializing
	dreq := kmsg.NewPtrShareGroupDescribeRequest()
	dreq.GroupIDs = []string{"sg"}
	g := do[*kmsg.ShareGroupDescribeResponse](t, b, 1, dreq).Groups[0]
	wantCode(t, "describe after restart", g.ErrorCode, nil)
	if g.GroupEpoch != epoch || len(g.Members) != 1 || g.Members[0].MemberEpoch != epoch ||
		len(g.Members[0].Assignment.TopicPartitions) != 1 || len(g.Members[0].Assignment.TopicPartitions[0].Partitions) != 3 {
		t.Fatalf("after the restart: %+v", g)
	}
	r = shareHeartbeat(t, b, "sg", "m1", epoch, nil)
	wantCode(t, "heartbeat after restart", r.ErrorCode, nil)
	if r.MemberEpoch != epoch || r.Assignment != nil {
		t.Fatalf("heartbeat after restart: epoch %d assignment %+v", r.MemberEpoch, r.Assignment)
	}
}

// TestShareGroupACLs: the share group APIs are authorized as Kafka's
// KafkaApis does: READ on the group and DESCRIBE on the subscribed topics
// for ShareGroupHeartbeat, DESCRIBE on the group for ShareGroupDescribe and
// DescribeShareGroupOffsets (DESCRIBE on its topics), READ on the group for
// AlterShareGroupOffsets, DELETE for DeleteShareGroupOffsets.
func TestShareGroupACLs(t *testing.T) {
	_, addr := newACLBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := newPrincipalClient(t, addr, "admin")
	ct := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "st", 1, -1
	ct.Topics = append(ct.Topics, rt)
	if resp, err := ct.RequestWith(ctx, admin); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create topic: %v %+v", err, resp)
	}
	const group = "sg-acl"
	groupG := func(op acl.Operation) grant { return groupGrant(op, group) }
	topicG := func(op acl.Operation) grant { return topicGrant(op, "st") }
	heartbeat := func() kmsg.Request {
		r := kmsg.NewPtrShareGroupHeartbeatRequest()
		r.GroupID, r.MemberID, r.SubscribedTopicNames = group, randomMemberID(), []string{"st"}
		return r
	}
	heartbeatCode := func(resp kmsg.Response) int16 { return resp.(*kmsg.ShareGroupHeartbeatResponse).ErrorCode }
	describeOffsets := func() kmsg.Request {
		r := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
		g := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
		g.GroupID = group
		g.Topics = []kmsg.DescribeShareGroupOffsetsRequestGroupTopic{{Topic: "st", Partitions: []int32{0}}}
		r.Groups = append(r.Groups, g)
		return r
	}
	describeOffsetsCode := func(resp kmsg.Response) int16 {
		g := resp.(*kmsg.DescribeShareGroupOffsetsResponse).Groups[0]
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return p.ErrorCode
				}
			}
		}
		return g.ErrorCode
	}
	cases := []struct {
		name   string
		pair   grant
		base   []grant
		req    func() kmsg.Request
		code   func(kmsg.Response) int16
		denied int16
	}{
		{"heartbeat group", groupG(acl.OpRead), []grant{topicG(acl.OpDescribe)}, heartbeat, heartbeatCode, kerr.GroupAuthorizationFailed.Code},
		{"heartbeat topic", topicG(acl.OpDescribe), []grant{groupG(acl.OpRead)}, heartbeat, heartbeatCode, kerr.TopicAuthorizationFailed.Code},
		{"describe", groupG(acl.OpDescribe), nil, func() kmsg.Request {
			r := kmsg.NewPtrShareGroupDescribeRequest()
			r.GroupIDs = []string{group}
			return r
		}, func(resp kmsg.Response) int16 { return resp.(*kmsg.ShareGroupDescribeResponse).Groups[0].ErrorCode }, kerr.GroupAuthorizationFailed.Code},
		{"describe offsets group", groupG(acl.OpDescribe), []grant{topicG(acl.OpDescribe)}, describeOffsets, describeOffsetsCode, kerr.GroupAuthorizationFailed.Code},
		{"describe offsets topic", topicG(acl.OpDescribe), []grant{groupG(acl.OpDescribe)}, describeOffsets, describeOffsetsCode, kerr.TopicAuthorizationFailed.Code},
		{"alter offsets", groupG(acl.OpRead), []grant{topicG(acl.OpRead)}, func() kmsg.Request {
			r := kmsg.NewPtrAlterShareGroupOffsetsRequest()
			r.GroupID = group
			return r
		}, func(resp kmsg.Response) int16 { return resp.(*kmsg.AlterShareGroupOffsetsResponse).ErrorCode }, kerr.GroupAuthorizationFailed.Code},
		{"delete offsets", groupG(acl.OpDelete), []grant{topicG(acl.OpRead)}, func() kmsg.Request {
			r := kmsg.NewPtrDeleteShareGroupOffsetsRequest()
			r.GroupID = group
			return r
		}, func(resp kmsg.Response) int16 { return resp.(*kmsg.DeleteShareGroupOffsetsResponse).ErrorCode }, kerr.GroupAuthorizationFailed.Code},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, no := "ok"+strconv.Itoa(i), "no"+strconv.Itoa(i)
			var creations []kmsg.CreateACLsRequestCreation
			for _, g := range c.base {
				creations = append(creations, g.binding("User:"+ok), g.binding("User:"+no))
			}
			creations = append(creations, c.pair.binding("User:"+ok))
			createACLs(t, admin, creations...)
			send := func(user string) int16 {
				cl := newPrincipalClient(t, addr, user)
				resp, err := cl.SeedBrokers()[0].Request(ctx, c.req())
				if err != nil {
					t.Fatalf("%s: %v", user, err)
				}
				return c.code(resp)
			}
			if got := send(no); got != c.denied {
				t.Errorf("without the grant: %v, want %v", kerr.ErrorForCode(got), kerr.ErrorForCode(c.denied))
			}
			if got := send(ok); isAuthError(got) {
				t.Errorf("with the grant: %v", kerr.ErrorForCode(got))
			}
		})
	}
}

// TestShareGroupFranzGo: franz-go's share consumer (kgo.ShareGroup) joins
// and leaves a share group over TCP: ShareGroupHeartbeat as the client
// speaks it, the SimpleAssignor over two members, and the leave on Close.
func TestShareGroupFranzGo(t *testing.T) {
	cfg, err := config.Load([]string{"--memory", "--admin-addr", "", "--set", "listeners=PLAINTEXT://127.0.0.1:0"},
		func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	b.sharePersister = newMemPersister() // before Start: no request reads it yet
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	mustCreateTopic(t, b, "kq", 3, nil)
	addr := b.ListenerAddr("PLAINTEXT")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	consumer := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ShareGroup("kg"), kgo.ConsumeTopics("kq"))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for ctx.Err() == nil {
				pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
				cl.PollFetches(pctx)
				pcancel()
				if cl.Context().Err() != nil {
					return
				}
			}
		}()
		return cl
	}
	c1, c2 := consumer(), consumer()
	defer c1.Close()

	describe := func() kmsg.ShareGroupDescribeResponseGroup {
		req := kmsg.NewPtrShareGroupDescribeRequest()
		req.GroupIDs = []string{"kg"}
		return do[*kmsg.ShareGroupDescribeResponse](t, b, 1, req).Groups[0]
	}
	// waitFor polls ShareGroupDescribe until every one of n members holds
	// its share of the 3 partitions, together all of them.
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(40 * time.Second)
		for {
			g := describe()
			held := map[int32]bool{}
			ok := g.ErrorCode == 0 && len(g.Members) == n && g.GroupState == "Stable"
			for _, m := range g.Members {
				if m.MemberEpoch != g.AssignmentEpoch || len(m.Assignment.TopicPartitions) != 1 {
					ok = false
					continue
				}
				for _, p := range m.Assignment.TopicPartitions[0].Partitions {
					held[p] = true
				}
			}
			if ok && len(held) == 3 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %d members holding 3 partitions: %+v", n, g)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(2)
	c2.Close() // leaves the group (epoch -1)
	waitFor(1)
}
