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
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// membershipTimeout bounds one remove-node (replica moves included).
const membershipTimeout = 3 * time.Minute

func (c *MoldauCluster) membershipChange(ctx context.Context, rng *rand.Rand) (Fault, func(context.Context) error, error) {
	old := c.currentMembers()
	id, err := c.reserveID()
	if err != nil {
		return Fault{}, nil, err
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
	return Fault{
		Nodes:  []int32{id, victim.id},
		Detail: fmt.Sprintf("node %d added on %s as a voter; node %d being removed (replicas moved off, left the quorum, unregistered)", id, n.ip, victim.id),
	}, c.finishRemoval(victim, done), nil
}

// reserveID is the next unused node id, whose address has the campaign's
// ports free.
func (c *procCluster) reserveID() (int32, error) {
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.mu.Unlock()
	for _, p := range c.ports {
		l, err := net.Listen("tcp", net.JoinHostPort(nodeIP(id), strconv.Itoa(p)))
		if err != nil {
			return 0, fmt.Errorf("jepsen: membership: port %d on %s is taken: %w", p, nodeIP(id), err)
		}
		_ = l.Close()
	}
	return id, nil
}

// finishRemoval waits for the removal's outcome on done, then takes the
// victim out of the members and stops it.
func (c *procCluster) finishRemoval(victim *procNode, done <-chan error) func(context.Context) error {
	return func(ctx context.Context) error {
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
}

// The membership fault on Kafka, the closest equivalent of Moldau's through
// Kafka's own APIs: the cluster's controller quorum is dynamic (KIP-853,
// formatted with --initial-controllers), so a fresh combined
// broker+controller node N (127.0.0.N, its own uid, formatted with
// --no-initial-controllers) starts as an observer and registers as a
// broker; AddRaftVoter (to the controllers) makes it a voter; then, while
// the workloads write, AlterPartitionReassignments moves every replica of
// a random old member to it, RemoveRaftVoter takes the old member out of
// the quorum, the old member is stopped (SIGTERM: a controlled shutdown)
// and UnregisterBroker removes its registration.

func (c *KafkaCluster) supportsMembership() bool { return true }

func (c *KafkaCluster) membershipChange(ctx context.Context, rng *rand.Rand) (Fault, func(context.Context) error, error) {
	old := c.currentMembers()
	id, err := c.reserveID()
	if err != nil {
		return Fault{}, nil, err
	}
	n, format, err := c.newNode(ctx, id, c.controllers(ids(old)...), "--no-initial-controllers")
	if err == nil {
		err = format()
	}
	if err != nil {
		return Fault{}, nil, err
	}
	if err := c.startNodes(ctx, []*procNode{n}); err != nil {
		return Fault{}, nil, fmt.Errorf("jepsen: membership: node %d did not join: %w", id, err)
	}
	meta, err := os.ReadFile(filepath.Join(n.dir, "data", "meta.properties"))
	if err != nil {
		return Fault{}, nil, err
	}
	var dirID string
	for _, line := range strings.Split(string(meta), "\n") {
		if v, ok := strings.CutPrefix(line, "directory.id="); ok {
			dirID = strings.TrimSpace(v)
		}
	}
	dir, err := base64.RawURLEncoding.DecodeString(dirID)
	if err != nil || len(dir) != 16 {
		return Fault{}, nil, fmt.Errorf("jepsen: membership: node %d's directory.id %q: %v", id, dirID, err)
	}
	c.mu.Lock()
	c.dirIDs[id] = dirID
	c.mu.Unlock()
	add := kmsg.NewPtrAddRaftVoterRequest()
	add.ClusterID = &c.clusterID
	add.TimeoutMillis = 30000
	add.VoterID = id
	add.VoterDirectoryID = [16]byte(dir)
	add.AckWhenCommitted = true
	l := kmsg.NewAddRaftVoterRequestListener()
	l.Name, l.Host, l.Port = "CONTROLLER", n.ip, uint16(c.ports[1])
	add.Listeners = append(add.Listeners, l)
	actx, cancel := context.WithTimeout(ctx, membershipTimeout)
	defer cancel()
	if err := c.controllerRequest(actx, ids(old), add, kerr.DuplicateVoter); err != nil {
		return Fault{}, nil, fmt.Errorf("jepsen: membership: add voter %d: %w", id, err)
	}
	victim := old[rng.IntN(len(old))]
	done := make(chan error, 1)
	go func() {
		rctx, cancel := context.WithTimeout(context.Background(), membershipTimeout)
		defer cancel()
		done <- c.removeMember(rctx, victim, n)
	}()
	return Fault{
		Nodes: []int32{id, victim.id},
		Detail: fmt.Sprintf("node %d added on %s as a controller voter and broker; node %d being removed (replicas moved to node %d, RemoveRaftVoter, stopped, UnregisterBroker)",
			id, n.ip, victim.id, id),
	}, c.finishRemoval(victim, done), nil
}

// controllerRequest sends req to the controllers of nodes until one
// answers without error (or with ok); NOT_LEADER and retriable errors try
// the next.
func (c *KafkaCluster) controllerRequest(ctx context.Context, nodes []int32, req kmsg.Request, ok *kerr.Error) error {
	var last error
	for {
		for _, id := range nodes {
			cl, err := kgo.NewClient(kgo.SeedBrokers(fmt.Sprintf("%s:%d", nodeIP(id), c.ports[1])), kgo.Dialer(c.Dial), kgo.RetryTimeout(0))
			if err != nil {
				return err
			}
			resp, err := cl.SeedBrokers()[0].Request(ctx, req)
			cl.Close()
			if err == nil {
				var code int16
				var msg *string
				switch r := resp.(type) {
				case *kmsg.AddRaftVoterResponse:
					code, msg = r.ErrorCode, r.ErrorMessage
				case *kmsg.RemoveRaftVoterResponse:
					code, msg = r.ErrorCode, r.ErrorMessage
				}
				err = kerr.ErrorForCode(code)
				if err == nil || errors.Is(err, ok) {
					return nil
				}
				if msg != nil {
					err = fmt.Errorf("%w: %s", err, *msg)
				}
				if !kerr.IsRetriable(err) {
					return err
				}
			}
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// removeMember moves every replica of victim to the new node n, takes
// victim out of the quorum, stops it and unregisters it.
func (c *KafkaCluster) removeMember(ctx context.Context, victim, n *procNode) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	meta, err := adm.Metadata(ctx)
	if err != nil {
		return err
	}
	req := kadm.AlterPartitionAssignmentsReq{}
	topics := kadm.TopicsSet{}
	moves := 0
	for _, t := range meta.Topics.Sorted() {
		for _, p := range t.Partitions.Sorted() {
			if i := slices.Index(p.Replicas, victim.id); i >= 0 {
				next := slices.Clone(p.Replicas)
				next[i] = n.id
				req.Assign(t.Topic, p.Partition, next)
				topics.Add(t.Topic, p.Partition)
				moves++
			}
		}
	}
	if moves > 0 {
		resp, err := adm.AlterPartitionAssignments(ctx, req)
		if err != nil {
			return fmt.Errorf("reassign off node %d: %w", victim.id, err)
		}
		for _, r := range resp.Sorted() {
			if r.Err != nil {
				return fmt.Errorf("reassign %s-%d off node %d: %w %s", r.Topic, r.Partition, victim.id, r.Err, r.ErrMessage)
			}
		}
		err = poll(ctx, fmt.Sprintf("%d replicas moved off node %d", moves, victim.id), func() bool {
			ongoing, err := adm.ListPartitionReassignments(ctx, topics)
			if err != nil || len(ongoing.Sorted()) > 0 {
				return false
			}
			m, err := adm.Metadata(ctx, topics.Topics()...)
			if err != nil {
				return false
			}
			for _, t := range m.Topics {
				for _, p := range t.Partitions {
					if slices.Contains(p.Replicas, victim.id) {
						return false
					}
				}
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	c.mu.Lock()
	dir, _ := base64.RawURLEncoding.DecodeString(c.dirIDs[victim.id])
	c.mu.Unlock()
	rm := kmsg.NewPtrRemoveRaftVoterRequest()
	rm.ClusterID = &c.clusterID
	rm.VoterID = victim.id
	rm.VoterDirectoryID = [16]byte(dir)
	var rest []int32
	for _, m := range c.currentMembers() {
		if m != victim {
			rest = append(rest, m.id)
		}
	}
	if err := c.controllerRequest(ctx, append(rest, victim.id), rm, kerr.VoterNotFound); err != nil {
		return fmt.Errorf("remove voter %d: %w", victim.id, err)
	}
	// A controlled shutdown, then its registration goes.
	_ = victim.signal(syscall.SIGTERM)
	victim.mu.Lock()
	exited := victim.done
	victim.mu.Unlock()
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		_ = victim.kill9(ctx)
	}
	victim.setState(nodeStopped)
	var last error
	err = poll(ctx, fmt.Sprintf("broker %d unregistered", victim.id), func() bool {
		u := kmsg.NewPtrUnregisterBrokerRequest()
		u.BrokerID = victim.id
		resp, err := u.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		last = err
		return err == nil || errors.Is(err, kerr.BrokerIDNotRegistered)
	})
	if err != nil {
		return fmt.Errorf("%w (last: %v)", err, last)
	}
	return nil
}
