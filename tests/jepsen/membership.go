package jepsen

// The membership fault on Moldau, through the membership API (the moldau
// CLI: cmd/moldau/cluster.go over AddRaftVoter, AlterPartitionReassignments,
// RemoveRaftVoter, UnregisterBroker). With replication factor 3 on three
// nodes a plain removal could move replicas nowhere, so the fault first adds
// a fresh node (next unused id N on 127.0.0.N, a new data directory,
// started as a joiner with --peers naming the current voters), makes it a
// voter (`moldau cluster add-node`), then removes a randomly chosen old
// member (`moldau cluster remove-node`: every replica on it moves to the
// new node, then it leaves the quorum and is unregistered) while the
// workloads keep writing. Inject returns once the new node is a voter and
// the removal has started; Heal waits for the removal to finish and stops
// the removed node's process. Later faults address the new member set.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"
)

// membershipTimeout bounds one remove-node (replica moves included).
const membershipTimeout = 3 * time.Minute

func (c *MoldauCluster) membershipChange(ctx context.Context, rng *rand.Rand) (Fault, func(context.Context) error, error) {
	old := c.currentMembers()
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.mu.Unlock()
	// The new address must have the campaign's ports free.
	for _, p := range c.ports {
		l, err := net.Listen("tcp", net.JoinHostPort(nodeIP(id), strconv.Itoa(p)))
		if err != nil {
			return Fault{}, nil, fmt.Errorf("jepsen: membership: port %d on %s is taken: %w", p, nodeIP(id), err)
		}
		_ = l.Close()
	}
	var voters []string
	for _, n := range old {
		voters = append(voters, fmt.Sprintf("%d@%s:%d", n.id, n.ip, c.ports[1]))
	}
	n := c.newNode(id, strings.Join(voters, ","))
	if err := c.startNodes(ctx, []*procNode{n}); err != nil {
		return Fault{}, nil, fmt.Errorf("jepsen: membership: node %d did not join: %w", id, err)
	}
	actx, cancel := context.WithTimeout(ctx, membershipTimeout)
	defer cancel()
	if _, err := c.cli(actx, "cluster", "add-node", "--node-id", strconv.Itoa(int(id)),
		"--bootstrap", strings.Join(c.Seeds(), ","), "--timeout", "2m"); err != nil {
		return Fault{}, nil, err
	}
	victim := old[rng.IntN(len(old))]
	var bootstrap []string
	for _, m := range c.currentMembers() {
		if m != victim {
			bootstrap = append(bootstrap, m.addr())
		}
	}
	done := make(chan error, 1)
	go func() {
		rctx, cancel := context.WithTimeout(context.Background(), membershipTimeout)
		defer cancel()
		_, err := c.cli(rctx, "cluster", "remove-node", "--node-id", strconv.Itoa(int(victim.id)),
			"--bootstrap", strings.Join(bootstrap, ","), "--timeout", membershipTimeout.String())
		done <- err
	}()
	finish := func(ctx context.Context) error {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("jepsen: membership: removing node %d: %w", victim.id, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
		for i, m := range c.members {
			if m == victim {
				c.members = append(c.members[:i], c.members[i+1:]...)
				break
			}
		}
		c.removed = append(c.removed, victim)
		c.mu.Unlock()
		victim.stop()
		c.opts.Logf("membership: node %d removed and stopped; members %v", victim.id, ids(c.currentMembers()))
		return nil
	}
	return Fault{
		Nodes:  []int32{id, victim.id},
		Detail: fmt.Sprintf("node %d added on %s as a voter; node %d being removed (replicas moved off, left the quorum, unregistered)", id, n.ip, victim.id),
	}, finish, nil
}
