package jepsen

// The process nemesis: kill -9, SIGSTOP/SIGCONT, nftables partitions and
// membership changes against a process cluster (MoldauCluster,
// KafkaCluster). Every fault addresses the current members (a membership
// fault replaces one), by their current addresses.
//
// Locking: ProcNemesis.mu serialises Inject and Heal (a fault is injected,
// then healed, then the next one).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"time"
)

// ErrUnsupportedFault is returned by Inject for a kind the nemesis does not
// serve.
var ErrUnsupportedFault = errors.New("jepsen: fault kind not supported by this nemesis")

// procTarget is what a process cluster gives the nemesis.
type procTarget interface {
	Cluster
	base() *procCluster
	// cutRules are the nft rules that cut a and b apart.
	cutRules(a, b *procNode) []string
	// membershipChange adds a node and starts removing an old one; finish
	// waits for the removal and stops the removed node.
	membershipChange(ctx context.Context, rng *rand.Rand) (f Fault, finish func(context.Context) error, err error)
	// supportsMembership says whether membershipChange can work.
	supportsMembership() bool
}

func (c *procCluster) base() *procCluster { return c }

func (c *MoldauCluster) cutRules(a, b *procNode) []string { return addrCutRules(a, b) }
func (c *MoldauCluster) supportsMembership() bool         { return true }

// ProcNemesis injects faults into a process cluster.
type ProcNemesis struct {
	t    procTarget
	c    *procCluster
	logf func(string, ...any)

	mu       chan struct{} // a one-slot lock that a context can give up on
	rng      *rand.Rand
	rulesIn  bool
	finishes []func(context.Context) error
}

// NewProcNemesis is the nemesis of a cluster made by NewMoldauCluster or
// NewKafkaCluster; seed makes its choices (victims, halves) reproducible.
func NewProcNemesis(c Cluster, seed int64) (*ProcNemesis, error) {
	t, ok := c.(procTarget)
	if !ok {
		return nil, fmt.Errorf("jepsen: %s is not a process cluster", c.Name())
	}
	return &ProcNemesis{
		t: t, c: t.base(), logf: t.base().opts.Logf,
		mu:  make(chan struct{}, 1),
		rng: rand.New(rand.NewPCG(uint64(seed), 0x6a657073656e)),
	}, nil
}

// Kinds are every process fault, membership only where the target can do
// it (not Kafka: kafka.go says why).
func (m *ProcNemesis) Kinds() []FaultKind {
	k := []FaultKind{FaultKillLeader, FaultKillController, FaultKillRandom, FaultPause,
		FaultPartitionHalves, FaultPartitionBridge, FaultIsolate}
	if m.t.supportsMembership() {
		k = append(k, FaultMembership)
	}
	return k
}

func (m *ProcNemesis) lock(ctx context.Context) error {
	select {
	case m.mu <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *ProcNemesis) unlock() { <-m.mu }

// live are the members that run and are not paused, in id order.
func (m *ProcNemesis) live() []*procNode {
	var out []*procNode
	for _, n := range m.c.currentMembers() {
		if n.getState() == nodeRunning && n.running() {
			out = append(out, n)
		}
	}
	return out
}

func ids(nodes []*procNode) []int32 {
	var out []int32
	for _, n := range nodes {
		out = append(out, n.id)
	}
	return out
}

func idList(nodes []*procNode) string {
	var s []string
	for _, n := range nodes {
		s = append(s, fmt.Sprint(n.id))
	}
	return strings.Join(s, ",")
}

// Inject applies one fault of kind.
func (m *ProcNemesis) Inject(ctx context.Context, kind FaultKind, topic string) (Fault, error) {
	if err := m.lock(ctx); err != nil {
		return Fault{}, err
	}
	defer m.unlock()
	if !slices.Contains(m.Kinds(), kind) {
		return Fault{}, fmt.Errorf("%w: %s on %s", ErrUnsupportedFault, kind, m.c.name)
	}
	f := Fault{Kind: kind, At: time.Now()}
	live := m.live()
	if len(live) == 0 {
		return f, errors.New("jepsen: no live node to hit")
	}
	random := live[m.rng.IntN(len(live))]
	switch kind {
	case FaultKillLeader, FaultKillController:
		var id int32
		var err error
		if kind == FaultKillLeader {
			var part int32
			part, id, err = m.c.leaderOf(ctx, topic, m.rng.IntN)
			f.Detail = fmt.Sprintf("leader of %s/%d = node %d", topic, part, id)
		} else {
			id, err = m.c.controllerID(ctx)
			f.Detail = fmt.Sprintf("controller (metadata quorum leader) = node %d", id)
		}
		if err != nil {
			return Fault{}, err
		}
		n := m.c.member(id)
		if n == nil || n.getState() != nodeRunning {
			return Fault{}, fmt.Errorf("jepsen: %s: node %d is not a live member", f.Detail, id)
		}
		if err := m.kill(ctx, n); err != nil {
			return Fault{}, err
		}
		f.Nodes = []int32{id}
		f.Detail = "kill -9 " + f.Detail
	case FaultKillRandom:
		if err := m.kill(ctx, random); err != nil {
			return Fault{}, err
		}
		f.Nodes, f.Detail = []int32{random.id}, fmt.Sprintf("kill -9 node %d", random.id)
	case FaultPause:
		if err := random.signal(syscall.SIGSTOP); err != nil {
			return Fault{}, err
		}
		random.setState(nodePaused)
		// The signal lands asynchronously (a JVM's threads take a moment):
		// the fault is in once the process shows state T.
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := poll(pctx, fmt.Sprintf("node %d stopped (state T)", random.id), func() bool { return procState(random.pid()) == "T" })
		cancel()
		if err != nil {
			return Fault{}, err
		}
		f.Nodes, f.Detail = []int32{random.id}, fmt.Sprintf("SIGSTOP node %d (pid %d)", random.id, random.pid())
	case FaultPartitionHalves, FaultIsolate:
		all := m.c.currentMembers()
		cut := m.partitionVictim(ctx, topic, all)
		var rules []string
		var rest []*procNode
		for _, o := range all {
			if o != cut {
				rest = append(rest, o)
				rules = append(rules, m.t.cutRules(cut, o)...)
			}
		}
		f.Detail = fmt.Sprintf("cut %d | %s", cut.id, idList(rest))
		if kind == FaultIsolate {
			rules = append(rules, clientCutRules(cut)...)
			f.Detail += fmt.Sprintf(" and node %d | clients (%s)", cut.id, ClientIP)
		}
		if err := m.cut(ctx, rules); err != nil {
			return Fault{}, err
		}
		f.Nodes = []int32{cut.id}
	case FaultPartitionBridge:
		all := m.c.currentMembers()
		if len(all) < 3 {
			return Fault{}, fmt.Errorf("jepsen: a bridge needs three members, have %d", len(all))
		}
		a := m.partitionVictim(ctx, topic, all)
		all = slices.DeleteFunc(all, func(n *procNode) bool { return n == a })
		m.rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		bridge, rest := all[0], all[1:]
		var rules []string
		for _, o := range rest {
			rules = append(rules, m.t.cutRules(a, o)...)
		}
		if err := m.cut(ctx, rules); err != nil {
			return Fault{}, err
		}
		f.Nodes = []int32{a.id, bridge.id}
		f.Detail = fmt.Sprintf("cut %d | %s, node %d (bridge) reaches both", a.id, idList(rest), bridge.id)
	case FaultMembership:
		mf, finish, err := m.t.membershipChange(ctx, m.rng)
		if err != nil {
			return Fault{}, err
		}
		m.finishes = append(m.finishes, finish)
		mf.Kind, mf.At = kind, f.At
		f = mf
	}
	m.logf("nemesis: %s: %s", kind, f.Detail)
	return f, nil
}

// partitionVictim is the node a partition cuts off: the leader of a random
// partition of topic, so that the cut moves leadership (a node leading
// nothing would make a weak fault); a random member when no leader is
// known.
func (m *ProcNemesis) partitionVictim(ctx context.Context, topic string, all []*procNode) *procNode {
	if _, id, err := m.c.leaderOf(ctx, topic, m.rng.IntN); err == nil {
		for _, n := range all {
			if n.id == id {
				return n
			}
		}
	}
	return all[m.rng.IntN(len(all))]
}

func (m *ProcNemesis) kill(ctx context.Context, n *procNode) error {
	kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := n.kill9(kctx); err != nil {
		return err
	}
	n.setState(nodeKilled)
	return nil
}

func (m *ProcNemesis) cut(ctx context.Context, rules []string) error {
	if err := m.c.nft.add(ctx, rules...); err != nil {
		return err
	}
	m.rulesIn = true
	return nil
}

// Heal resumes paused nodes, removes the network rules, restarts killed
// (or crashed) nodes on their data directories, finishes membership
// changes, and waits until every member serves Metadata listing all
// members.
func (m *ProcNemesis) Heal(ctx context.Context) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	var errs []error
	for _, n := range m.c.currentMembers() {
		if n.getState() == nodePaused {
			if err := n.signal(syscall.SIGCONT); err != nil {
				errs = append(errs, err)
			}
			n.setState(nodeRunning)
		}
	}
	if m.rulesIn {
		if err := m.c.nft.flush(ctx); err != nil {
			errs = append(errs, err)
		} else {
			m.rulesIn = false
		}
	}
	if err := m.restartDead(); err != nil {
		errs = append(errs, err)
	}
	var pending []func(context.Context) error
	for _, finish := range m.finishes {
		if err := finish(ctx); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				pending = append(pending, finish) // still under way: the next Heal waits again
			}
		}
	}
	m.finishes = pending
	// A node may die while a membership change finishes.
	if err := m.restartDead(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return m.c.waitServing(ctx)
}

// restartDead starts every member whose process is gone: killed by a fault,
// or exited by itself (logged with its log's tail: that is a crash).
func (m *ProcNemesis) restartDead() error {
	var errs []error
	for _, n := range m.c.currentMembers() {
		if n.running() {
			continue
		}
		if n.getState() != nodeKilled {
			m.logf("nemesis: node %d exited without a fault; its log ends:\n%s", n.id, n.logTail(2000))
		}
		if err := n.start(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
