package jepsen

// The groups workload: one idempotent producer writes to the group topic;
// two groups consume it, one classic (kgo.ConsumerGroup, cooperative-sticky)
// and one KIP-848 (kgo.ServerSideBalancer). Each group's manager keeps 1–3
// members and every 2–4 s makes one join, leave (Close: LeaveGroup or the
// leave heartbeat) or get killed (its dialer refuses and its connections
// are closed, so it cannot leave; the group notices after the session
// timeout). Members poll with BlockRebalanceOnPoll, read their generation
// (member epoch for KIP-848), commit synchronously what they polled, then
// allow the next rebalance. An observer fetches the group's committed
// offsets (OffsetFetch through kadm) every second.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const maxMembers = 3

type groupsWorkload struct {
	r *runner

	mu     sync.Mutex
	acked  map[string]bool
	polled map[string]map[string]bool // group -> values
}

func (w *groupsWorkload) start(prodCtx, consCtx context.Context, prodWG, consWG *sync.WaitGroup) {
	w.acked = map[string]bool{}
	w.polled = map[string]map[string]bool{}
	prodWG.Add(1)
	go func() {
		defer prodWG.Done()
		runSender(prodCtx, w.r, "groups-p1", w.r.groupTopic, func(v string) {
			w.mu.Lock()
			w.acked[v] = true
			w.mu.Unlock()
		})
	}()
	for _, proto := range []string{"classic", "848"} {
		group := w.r.tag + "-" + proto
		w.polled[group] = map[string]bool{}
		consWG.Add(2)
		go func() {
			defer consWG.Done()
			w.manage(consCtx, proto, group)
		}()
		go func() {
			defer consWG.Done()
			w.observe(consCtx, group)
		}()
	}
}

// caughtUp: every group polled every acknowledged value.
func (w *groupsWorkload) caughtUp() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, seen := range w.polled {
		for v := range w.acked {
			if !seen[v] {
				return false
			}
		}
	}
	return true
}

// killableDialer dials through the cluster's dialer until killed; then it
// refuses and every connection it made is closed.
type killableDialer struct {
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	mu     sync.Mutex
	killed bool
	conns  []net.Conn
}

var errKilled = errors.New("jepsen: member killed")

func (k *killableDialer) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	k.mu.Lock()
	if k.killed {
		k.mu.Unlock()
		return nil, errKilled
	}
	k.mu.Unlock()
	c, err := k.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.killed {
		c.Close()
		return nil, errKilled
	}
	k.conns = append(k.conns, c)
	return c, nil
}

func (k *killableDialer) kill() {
	k.mu.Lock()
	k.killed = true
	conns := k.conns
	k.conns = nil
	k.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// member is one running group member.
type member struct {
	name   string
	cancel context.CancelFunc
	dialer *killableDialer
	done   chan struct{}
}

// manage keeps the group's members changing until ctx ends, then closes
// every member.
func (w *groupsWorkload) manage(ctx context.Context, proto, group string) {
	r := w.r
	var members []*member
	var closers sync.WaitGroup
	n := 0
	join := func() {
		n++
		m := &member{name: fmt.Sprintf("groups-%s-m%d", proto, n), dialer: &killableDialer{dial: r.cfg.Cluster.Dial}, done: make(chan struct{})}
		mctx, cancel := context.WithCancel(ctx)
		m.cancel = cancel
		members = append(members, m)
		r.h.Add(Op{Process: m.name, Type: OpOK, F: FnMember, Group: group, Detail: "join", Partition: -1, Offset: -1})
		go func() {
			defer close(m.done)
			w.runMember(mctx, proto, group, m)
		}()
	}
	remove := func(kill bool) {
		i := r.intn(len(members))
		m := members[i]
		members = append(members[:i], members[i+1:]...)
		what := "leave"
		if kill {
			what = "kill"
			m.dialer.kill()
		}
		r.h.Add(Op{Process: m.name, Type: OpOK, F: FnMember, Group: group, Detail: what, Partition: -1, Offset: -1})
		m.cancel()
		closers.Add(1)
		go func() {
			defer closers.Done()
			<-m.done
		}()
	}
	join()
	join()
	for sleep(ctx, r.between(2*time.Second, 4*time.Second)) {
		switch a := r.intn(10); {
		case len(members) < maxMembers && (a < 4 || len(members) <= 1):
			join()
		case a < 7:
			remove(false)
		default:
			remove(true)
		}
	}
	for _, m := range members {
		m.cancel()
		<-m.done
	}
	closers.Wait()
}

// runMember polls, records, commits until ctx ends, then closes the client
// (a killed member's Close cannot reach the cluster).
func (w *groupsWorkload) runMember(ctx context.Context, proto, group string, m *member) {
	r := w.r
	var cl *kgo.Client
	event := func(what string) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, c *kgo.Client, parts map[string][]int32) {
			id, gen := c.GroupMetadata()
			r.h.Add(Op{Process: m.name, Type: OpOK, F: FnMember, Group: group, Member: id, Generation: gen,
				Detail: fmt.Sprintf("%s %v", what, parts[r.groupTopic]), Partition: -1, Offset: -1})
		}
	}
	opts := []kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(r.groupTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(sessionTime), kgo.HeartbeatInterval(500 * time.Millisecond),
		kgo.BlockRebalanceOnPoll(), kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.OnPartitionsAssigned(event("assigned")),
		kgo.OnPartitionsRevoked(event("revoked")),
		kgo.OnPartitionsLost(event("lost")),
	}
	if proto == "848" {
		opts = append(opts, kgo.ServerSideBalancer())
	}
	cl, err := kgo.NewClient(r.clientOpts(m.dialer.Dial, opts...)...)
	if err != nil {
		r.logf("%s: %v", m.name, err)
		return
	}
	defer r.closeWithin(m.name, 30*time.Second, cl.Close)
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		start := time.Now()
		fs := cl.PollRecords(pctx, 200)
		cancel()
		recs := fs.Records()
		if len(recs) == 0 || ctx.Err() != nil {
			cl.AllowRebalance()
			continue
		}
		id, gen := cl.GroupMetadata()
		var out []Rec
		offsets := map[int32]int64{}
		for _, rec := range recs {
			out = append(out, Rec{rec.Partition, rec.Offset, string(rec.Value)})
			offsets[rec.Partition] = max(offsets[rec.Partition], rec.Offset+1)
		}
		r.h.Add(Op{Start: start, Process: m.name, Type: OpOK, F: FnGroupPoll, Group: group, Member: id, Generation: gen, Topic: r.groupTopic, Records: out, Partition: -1, Offset: -1})
		w.mu.Lock()
		for _, rec := range out {
			w.polled[group][rec.Value] = true
		}
		w.mu.Unlock()
		cstart := time.Now()
		r.h.Add(Op{Time: cstart, Process: m.name, Type: OpInvoke, F: FnCommit, Group: group, Member: id, Generation: gen, Offsets: offsets, Partition: -1, Offset: -1})
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := cl.CommitRecords(cctx, recs...)
		ccancel()
		op := Op{Start: cstart, Process: m.name, Type: OpOK, F: FnCommit, Group: group, Member: id, Generation: gen, Offsets: offsets, Partition: -1, Offset: -1}
		if err != nil {
			op.Type, op.Error = OpInfo, err.Error()
		}
		r.h.Add(op)
		cl.AllowRebalance()
	}
}

// observe records the group's committed offsets every second.
func (w *groupsWorkload) observe(ctx context.Context, group string) {
	r := w.r
	adm, cl, err := r.admin()
	if err != nil {
		r.logf("observe %s: %v", group, err)
		return
	}
	defer cl.Close()
	for n := 0; sleep(ctx, time.Second); n++ {
		if n%5 == 0 {
			// The group's type as the broker lists it ("classic" or
			// "consumer"): proof that the KIP-848 group runs KIP-848.
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if gs, err := adm.ListGroups(lctx); err == nil {
				if g, ok := gs[group]; ok {
					r.h.Add(Op{Process: "groups-offsets", Type: OpOK, F: FnMember, Group: group, Detail: "type " + g.GroupType, Partition: -1, Offset: -1})
				}
			}
			cancel()
		}
		start := time.Now()
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := adm.FetchOffsetsForTopics(octx, group, r.groupTopic)
		cancel()
		if err != nil {
			continue
		}
		offs := map[int32]int64{}
		for p, o := range resp[r.groupTopic] {
			if o.Err == nil && o.At >= 0 {
				offs[p] = o.At
			}
		}
		if len(offs) > 0 {
			r.h.Add(Op{Start: start, Process: "groups-offsets", Type: OpOK, F: FnCommitted, Group: group, Offsets: offs, Partition: -1, Offset: -1})
		}
	}
}
