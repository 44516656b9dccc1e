package main

// moldau cluster info|describe|add-node|remove-node: the cluster's brokers
// and controller quorum, and growing and shrinking it (issue #14,
// broker/raft_members.go).
//
//   - add-node --node-id N: AddRaftVoter for N, a node already running as a
//     joiner (started with --peers naming the current voters but not
//     itself, and --peer-addr); it answers once N is a voter.
//   - remove-node --node-id N: moves every partition replica off N
//     (AlterPartitionReassignments: each replica on N is replaced by the
//     live broker holding the fewest replicas among those not in the
//     partition), waits until ListPartitionReassignments and the metadata
//     show them moved, then RemoveRaftVoter (if N is a voter) and
//     UnregisterBroker. A cluster that cannot reassign (the request not
//     supported) fails with a message saying to move the replicas first.
//   - describe: the quorum (leader, voters, observers with their log end
//     offsets) and the brokers.
//
// Each step prints what it did.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// admin is an admin client and the client under it (for the requests
// kadm has no helper for).
type admin struct {
	*kadm.Client
	cl *kgo.Client
}

type clusterOptions struct {
	nodeID int
}

func (c *cli) clusterFlags(name string) (*flag.FlagSet, *clusterOptions) {
	o := &clusterOptions{nodeID: -1}
	fs := c.flags(name)
	fs.StringVar(&c.bootstrap, "bootstrap-server", defaultBootstrap(), "the same as --bootstrap (the name Kafka's tools use), `HOST:PORT,...`")
	fs.IntVar(&o.nodeID, "node-id", -1, "add-node, remove-node: the node's `ID`")
	return fs, o
}

func (c *cli) cluster(args []string) error {
	verb, rest, err := sub(lookupCommand("cluster"), args)
	if err != nil {
		return err
	}
	fs, o := c.clusterFlags("cluster " + verb)
	if err := parse(fs, rest); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := c.ctx()
	defer cancel()
	adm := &admin{kadm.NewClient(cl), cl}
	switch verb {
	case "info":
		return c.clusterInfo(ctx, adm)
	case "describe":
		return c.clusterDescribe(ctx, adm)
	case "add-node", "remove-node":
		if o.nodeID < 0 {
			return usagef("%s needs --node-id ID", verb)
		}
		if verb == "add-node" {
			return c.addNode(ctx, adm, int32(o.nodeID))
		}
		return c.removeNode(ctx, adm, int32(o.nodeID))
	}
	return fmt.Errorf("unknown cluster command %q", verb)
}

func (c *cli) clusterInfo(ctx context.Context, adm *admin) error {
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, b := range meta.Brokers {
		role := ""
		if b.NodeID == meta.Controller {
			role = "controller"
		}
		rows = append(rows, []string{meta.Cluster, strconv.Itoa(int(b.NodeID)), fmt.Sprintf("%s:%d", b.Host, b.Port), role})
	}
	return c.table([]string{"CLUSTER", "NODE", "ADDRESS", "ROLE"}, rows)
}

// quorum is DescribeQuorum's answer for the metadata partition.
type quorum struct {
	leader    int32
	epoch     int32
	voters    []kmsg.DescribeQuorumResponseTopicPartitionReplicaState
	observers []kmsg.DescribeQuorumResponseTopicPartitionReplicaState
}

func (q quorum) isVoter(id int32) bool {
	return slices.ContainsFunc(q.voters, func(v kmsg.DescribeQuorumResponseTopicPartitionReplicaState) bool { return v.ReplicaID == id })
}

func (q quorum) voterIDs() string {
	var ids []string
	for _, v := range q.voters {
		ids = append(ids, strconv.Itoa(int(v.ReplicaID)))
	}
	return strings.Join(ids, ", ")
}

func describeQuorum(ctx context.Context, cl *kgo.Client) (quorum, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		if unsupported(err) {
			return quorum{}, fmt.Errorf("describe quorum: the broker has no controller quorum to describe (a single node, started without --peers?): %w", err)
		}
		return quorum{}, fmt.Errorf("describe quorum: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return quorum{}, fmt.Errorf("describe quorum: %w", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return quorum{}, errors.New("describe quorum: no answer for __cluster_metadata-0")
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return quorum{}, fmt.Errorf("describe quorum: %w", err)
	}
	return quorum{leader: p.LeaderID, epoch: p.LeaderEpoch, voters: p.CurrentVoters, observers: p.Observers}, nil
}

func (c *cli) clusterDescribe(ctx context.Context, adm *admin) error {
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	q, err := describeQuorum(ctx, adm.cl)
	if err != nil {
		return err
	}
	addr := map[int32]string{}
	for _, b := range meta.Brokers {
		addr[b.NodeID] = fmt.Sprintf("%s:%d", b.Host, b.Port)
	}
	seen := map[int32]bool{}
	var rows [][]string
	row := func(id int32, role string, leo int64) {
		seen[id] = true
		if id == q.leader {
			role += ", leader"
		}
		end := ""
		if leo >= 0 {
			end = strconv.FormatInt(leo, 10)
		}
		broker, a := "no", addr[id]
		if a != "" {
			broker = "yes"
		}
		rows = append(rows, []string{meta.Cluster, strconv.Itoa(int(id)), role, a, broker, end})
	}
	for _, v := range q.voters {
		row(v.ReplicaID, "voter", v.LogEndOffset)
	}
	for _, o := range q.observers {
		row(o.ReplicaID, "observer", o.LogEndOffset)
	}
	for _, b := range meta.Brokers {
		if !seen[b.NodeID] {
			row(b.NodeID, "broker", -1)
		}
	}
	return c.table([]string{"CLUSTER", "NODE", "ROLE", "ADDRESS", "BROKER", "LOG END"}, rows)
}

// memberError is a membership response's error, with its message.
func memberError(code int16, msg *string) error {
	err := kerr.ErrorForCode(code)
	if err == nil {
		return nil
	}
	if msg != nil && *msg != "" {
		return fmt.Errorf("%w: %s", err, *msg)
	}
	return err
}

func (c *cli) addNode(ctx context.Context, adm *admin, id int32) error {
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	req := kmsg.NewPtrAddRaftVoterRequest()
	req.ClusterID = &meta.Cluster
	req.VoterID = id
	req.AckWhenCommitted = true
	req.TimeoutMillis = int32(c.timeout / time.Millisecond)
	if dl, ok := ctx.Deadline(); ok {
		req.TimeoutMillis = int32(max(time.Until(dl)-time.Second, time.Second) / time.Millisecond)
	}
	resp, err := req.RequestWith(ctx, adm.cl)
	if err != nil {
		if unsupported(err) {
			return fmt.Errorf("add voter %d: the broker cannot change its controller quorum (a single node, started without --peers?): %w", id, err)
		}
		return fmt.Errorf("add voter %d: %w", id, err)
	}
	if err := memberError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return fmt.Errorf("add voter %d: %w", id, err)
	}
	q, err := describeQuorum(ctx, adm.cl)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "node %d is a voter of the controller quorum (voters: %s)\n", id, q.voterIDs())
	return nil
}

// unsupported reports whether err says the broker does not serve the
// request (not advertised or refused as unsupported).
func unsupported(err error) bool {
	return errors.Is(err, kerr.UnsupportedVersion) || strings.Contains(err.Error(), "too old")
}

func (c *cli) removeNode(ctx context.Context, adm *admin, id int32) error {
	meta, err := adm.Metadata(ctx)
	if err != nil {
		return err
	}
	if err := c.moveReplicasOff(ctx, adm, meta, id); err != nil {
		return err
	}
	q, err := describeQuorum(ctx, adm.cl)
	if err != nil {
		return err
	}
	if q.isVoter(id) {
		req := kmsg.NewPtrRemoveRaftVoterRequest()
		req.ClusterID = &meta.Cluster
		req.VoterID = id
		resp, err := req.RequestWith(ctx, adm.cl)
		if err == nil {
			err = memberError(resp.ErrorCode, resp.ErrorMessage)
		}
		if err != nil {
			return fmt.Errorf("remove voter %d: %w", id, err)
		}
		fmt.Fprintf(c.stdout, "node %d removed from the voters of the controller quorum\n", id)
	} else {
		fmt.Fprintf(c.stdout, "node %d is not a voter of the controller quorum (voters: %s)\n", id, q.voterIDs())
	}
	ureq := kmsg.NewPtrUnregisterBrokerRequest()
	ureq.BrokerID = id
	// The voter removal is answered once the broker that served it applied
	// it; the broker that gets UnregisterBroker may apply it a moment later
	// and refuse with "is a voter" until then: ask again for a while.
	var uresp *kmsg.UnregisterBrokerResponse
	for retry := time.Now().Add(10 * time.Second); ; {
		uresp, err = ureq.RequestWith(ctx, adm.cl)
		if err == nil {
			err = memberError(uresp.ErrorCode, uresp.ErrorMessage)
		}
		if err == nil || uresp == nil || uresp.ErrorCode != kerr.InvalidRequest.Code || uresp.ErrorMessage == nil ||
			!strings.Contains(*uresp.ErrorMessage, "voter") || time.Now().After(retry) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("unregister broker %d: %w", id, err)
	}
	fmt.Fprintf(c.stdout, "broker %d unregistered; it can be stopped\n", id)
	return nil
}

// moveReplicasOff reassigns every partition with a replica on id to
// another broker and waits until the moves are done.
func (c *cli) moveReplicasOff(ctx context.Context, adm *admin, meta kadm.Metadata, id int32) error {
	load := map[int32]int{}
	for _, b := range meta.Brokers {
		if b.NodeID != id {
			load[b.NodeID] = 0
		}
	}
	type move struct {
		topic    string
		part     int32
		replicas []int32
	}
	var moves []move
	for _, t := range meta.Topics.Sorted() {
		for _, p := range t.Partitions.Sorted() {
			for _, r := range p.Replicas {
				if _, ok := load[r]; ok {
					load[r]++
				}
			}
		}
	}
	for _, t := range meta.Topics.Sorted() {
		for _, p := range t.Partitions.Sorted() {
			i := slices.Index(p.Replicas, id)
			if i < 0 {
				continue
			}
			var cands []int32
			for b := range load {
				if !slices.Contains(p.Replicas, b) {
					cands = append(cands, b)
				}
			}
			if len(cands) == 0 {
				return fmt.Errorf("%s-%d has a replica on node %d and every other broker already holds one: add a broker or lower its replication factor first", t.Topic, p.Partition, id)
			}
			sort.Slice(cands, func(a, b int) bool {
				return load[cands[a]] < load[cands[b]] || load[cands[a]] == load[cands[b]] && cands[a] < cands[b]
			})
			next := slices.Clone(p.Replicas)
			next[i] = cands[0]
			load[cands[0]]++
			moves = append(moves, move{t.Topic, p.Partition, next})
		}
	}
	if len(moves) == 0 {
		fmt.Fprintf(c.stdout, "node %d holds no partition replica\n", id)
		return nil
	}
	req := kadm.AlterPartitionAssignmentsReq{}
	for _, m := range moves {
		req.Assign(m.topic, m.part, m.replicas)
	}
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err == nil {
		for _, r := range resp.Sorted() {
			if r.Err != nil {
				err = fmt.Errorf("%s-%d: %w %s", r.Topic, r.Partition, r.Err, r.ErrMessage)
				break
			}
		}
	}
	if err != nil {
		if unsupported(err) {
			return fmt.Errorf("node %d holds %d partition replicas and this cluster cannot move them (AlterPartitionReassignments is not supported: %v): reassign them first, then run remove-node again", id, len(moves), err)
		}
		return fmt.Errorf("reassign the replicas of node %d: %w", id, err)
	}
	for _, m := range moves {
		fmt.Fprintf(c.stdout, "reassigning %s-%d to replicas %v\n", m.topic, m.part, m.replicas)
	}
	topics := kadm.TopicsSet{}
	for _, m := range moves {
		topics.Add(m.topic, m.part)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		ongoing, lerr := adm.ListPartitionReassignments(ctx, topics)
		left := 0
		if lerr == nil {
			left = len(ongoing.Sorted())
			if left == 0 {
				meta, merr := adm.Metadata(ctx, topicNames(moves, func(m move) string { return m.topic })...)
				if merr == nil {
					for _, t := range meta.Topics {
						for _, p := range t.Partitions {
							if slices.Contains(p.Replicas, id) {
								left++
							}
						}
					}
				} else {
					left = -1
				}
			}
		}
		if left == 0 {
			fmt.Fprintf(c.stdout, "moved %d partition replicas off node %d\n", len(moves), id)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the replicas of node %d to move (%d left): %w", id, left, ctx.Err())
		case <-tick.C:
		}
	}
}

// topicNames is the distinct names name gives of xs.
func topicNames[T any](xs []T, name func(T) string) []string {
	var out []string
	for _, x := range xs {
		if n := name(x); !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
