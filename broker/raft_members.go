package broker

// Growing and shrinking the cluster (issue #14; replication/DESIGN.md §9):
// the metadata group's membership (group 0, the controller quorum), the
// peers' inter-broker addresses, and the requests that change them
// (AddRaftVoter, RemoveRaftVoter, UnregisterBroker).
//
//   - Every node commits its inter-broker address to the metadata log
//     (RegisterPeer, record 14) once it has caught up (a joiner at once),
//     and every node dials
//     the peers the metadata names (followPeers): a restarted node finds a
//     peer that joined after the cluster started from the replayed log, not
//     only from --peers.
//   - A joiner (started with --peers that do not name its own --node-id, and
//     with --peer-addr) opens group 0 with the listed voters as its
//     storage's bootstrap configuration, so it never campaigns, and dials
//     them (replication.TCPConfig.DialLower): its RegisterPeer goes to the
//     leader when one is known, else to the listed voters in turn (a voter
//     that does not lead drops it; the joiner retries every second).
//   - The controller (the metadata leader, memberLoop) adds every registered
//     peer that is not in group 0's configuration as a learner, and removes
//     a learner whose peer was unregistered (UnregisterPeer, record 15).
//     The learner then receives the metadata log like any replica, learns
//     the leader, registers as a broker and can host partitions.
//   - AddRaftVoter promotes a caught-up learner to voter; RemoveRaftVoter
//     demotes a voter to learner (it stays an observer, as a removed voter
//     of Kafka's quorum that keeps running); UnregisterBroker removes a
//     broker that is no voter and hosts no replica, its peer with it, after
//     which the controller takes it out of group 0's configuration. These
//     conf changes are made by the controller (ProposeConfChange runs on
//     the leader); a broker that is not the controller forwards the Kafka
//     request to it (interBroker), once: a request from another broker is
//     never forwarded again (NOT_CONTROLLER).
//   - Every node has a directory id (directory.id in its data directory,
//     made once; loadDirectoryID) and registers it with its address: the
//     metadata then refuses a RegisterPeer that names a registered node
//     id with another directory id (metadata.ErrPeerIDInUse), so a node
//     started by mistake with a taken --node-id cannot move that id's
//     address to itself and cut the real node off. Every node logs such a
//     refusal (noteRejected). The refused node, if it sees the metadata
//     log name its id with another directory id, logs the conflict and
//     registers neither its peer nor its broker again (as a removed
//     node); a joiner that cannot see the log (its id is another node's,
//     so the others send it nothing) logs after joinWarnAfter that it was
//     not admitted, naming the likely conflict, and keeps refusing to
//     serve (Handle waits for ready). The same directory id with another
//     address (the node moved) is accepted.
//   - A node that sees its broker registration vanish (only
//     UnregisterBroker removes one), or its own peer unregistered after it
//     had caught up, is removed: it registers neither again (registerLoop
//     would otherwise register the broker anew before the UnregisterPeer
//     that follows is applied); it keeps running until stopped.
//
// Locking: memberLoop's state (lastPeerProposal, hintIndex, hadPeer,
// the join and conflict warnings) is its own goroutine's; removed,
// idInUse and peerRefusals are atomic; directoryID is set at start. Conf changes serialise on
// membersMu (the controller's memberLoop and the request handlers: Raft
// takes one change at a time).

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/metadata"
	"github.com/moldau/moldau/log/vfs"
	"github.com/moldau/moldau/replication"
)

// Membership errors (mapped to Kafka's codes by memberErrorCode).
var (
	errDuplicateVoter     = errors.New("broker: the node is a voter already")
	errVoterNotFound      = errors.New("broker: the node is not a voter")
	errNotObserver        = errors.New("broker: the node is not an observer of the metadata log")
	errVoterNotCaughtUp   = errors.New("broker: the node did not catch up with the metadata log in time")
	errLastVoter          = errors.New("broker: cannot remove the last voter (the set of voters would be empty)")
	errInconsistentID     = errors.New("broker: cluster id mismatch")
	errBrokerNotFound     = errors.New("broker: broker not registered")
	errBrokerHostsReplica = errors.New("broker: broker hosts partition replicas")
	errBrokerIsVoter      = errors.New("broker: broker is a voter of the metadata quorum")
	errForwarded          = errors.New("broker: not the controller (request forwarded once already)")
	errDirectoryMismatch  = errors.New("broker: the voter's directory id is not the one it registered")
	errDirectoryIDFile    = errors.New("broker: corrupt directory id file")
)

// Directory id file (broker/metadata/FORMAT.md "Peers"): in the data
// directory, version byte, 16 random bytes, CRC-32C (Castagnoli) of both.
const (
	directoryIDFile    = "directory.id"
	directoryIDVersion = byte(1)
	directoryIDSize    = 1 + 16 + 4
)

// joinWarnAfter: a joiner not admitted (its peer not in its view) after
// this long logs an error naming the likely causes.
var joinWarnAfter = 30 * time.Second

var directoryIDCRC = crc32.MakeTable(crc32.Castagnoli)

// loadDirectoryID reads this node's directory id from dir, making (and
// syncing) one on first start. Durable on return.
func loadDirectoryID(fs vfs.FS, dir string) (metadata.UUID, error) {
	var id metadata.UUID
	name := filepath.Join(dir, directoryIDFile)
	f, err := fs.OpenFile(name, os.O_RDONLY, 0)
	if err == nil {
		defer f.Close()
		b := make([]byte, directoryIDSize)
		n, rerr := f.ReadAt(b, 0)
		size, _ := f.Size()
		switch {
		case n != directoryIDSize || size != directoryIDSize:
			return id, fmt.Errorf("%w: %s: %d bytes (%v)", errDirectoryIDFile, name, size, rerr)
		case b[0] != directoryIDVersion:
			return id, fmt.Errorf("%w: %s: version %d", errDirectoryIDFile, name, b[0])
		case crc32.Checksum(b[:17], directoryIDCRC) != binary.BigEndian.Uint32(b[17:]):
			return id, fmt.Errorf("%w: %s: crc mismatch", errDirectoryIDFile, name)
		}
		copy(id[:], b[1:17])
		if id.IsZero() {
			return id, fmt.Errorf("%w: %s: zero id", errDirectoryIDFile, name)
		}
		return id, nil
	}
	if !errors.Is(err, iofs.ErrNotExist) {
		return id, fmt.Errorf("broker: directory id: %w", err)
	}
	for id.IsZero() {
		if _, err := rand.Read(id[:]); err != nil {
			return id, err
		}
	}
	b := append([]byte{directoryIDVersion}, id[:]...)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, directoryIDCRC))
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return id, fmt.Errorf("broker: directory id: %w", err)
	}
	tmp := name + ".tmp"
	_ = fs.Remove(tmp)
	w, err := fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return id, fmt.Errorf("broker: directory id: %w", err)
	}
	_, err = w.Write(b)
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, name)
	}
	if err == nil {
		err = fs.SyncDir(dir)
	}
	if err != nil {
		return id, fmt.Errorf("broker: directory id: %w", err)
	}
	return id, nil
}

// checkVoterDirectoryID refuses an AddRaftVoter whose non-zero directory
// id differs from the one node id registered (a zero one is not checked,
// nor a node registered without one).
func (c *raftCluster) checkVoterDirectoryID(id int32, dir [16]byte) error {
	if dir == ([16]byte{}) {
		return nil
	}
	have, ok := c.view().PeerDirectoryID(id)
	if ok && !have.IsZero() && have != metadata.UUID(dir) {
		return fmt.Errorf("%w: node %d registered directory id %s, the request names %s", errDirectoryMismatch, id, have, metadata.UUID(dir))
	}
	return nil
}

// noteRejected logs a committed RegisterPeer the metadata refused
// because its node id is another node's (every node applies it; the
// refused node usually cannot see it).
func (c *raftCluster) noteRejected(res metadata.Result) {
	if errors.Is(res.Err, metadata.ErrPeerIDInUse) {
		c.peerRefusals.Add(1)
		c.logger.Error("refused a node that registered with a node id in use by another node (check its --node-id and data directory)", "index", res.Index, "err", res.Err)
	}
}

// interBrokerClientPrefix starts the client id of every inter-broker
// request (interBroker.client).
const interBrokerClientPrefix = "moldau-broker-"

// selfPeerAddr is the inter-broker address this node registers: its entry
// of --peers, else (a joiner) --peer-addr.
func (c *raftCluster) selfPeerAddr() string {
	for _, p := range c.b.cfg.Peers {
		if p.NodeID == c.self {
			return p.Addr
		}
	}
	return c.b.cfg.PeerAddr
}

// memberLoop follows the peers named by the metadata, registers this
// node's address and, on the controller, keeps group 0's configuration in
// line with the registered peers (see the file comment).
func (c *raftCluster) memberLoop() {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var lastProposal time.Time
	hint, hadPeer := 0, false
	started, warnedJoin := time.Now(), false
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		v := c.view()
		c.followPeers(v)
		addr, ok := v.Peer(c.self)
		dir, _ := v.PeerDirectoryID(c.self)
		switch {
		case ok && addr == c.selfPeerAddr() && dir == c.directoryID:
			hadPeer = true
		case ok && !dir.IsZero() && dir != c.directoryID:
			// Another data directory holds this node id: either
			// another node uses it (this one was started with a taken
			// --node-id), or this node's data directory was replaced.
			// The metadata refuses this node's RegisterPeer either way.
			if addr == c.selfPeerAddr() {
				// Same address: the peers dial this node anyway
				// (the data directory was replaced); no conflict
				// to act on, but say so once.
				if !hadPeer {
					c.logger.Warn("this node id is registered with another directory id at this node's address: was the data directory replaced?", "node", c.self, "registered_directory_id", dir, "directory_id", c.directoryID)
				}
				hadPeer = true
				break
			}
			c.noteIDInUse(addr, dir)
		case c.removed.Load():
		case !ok && hadPeer && c.ready.Load():
			c.noteRemoved()
		case time.Since(lastProposal) >= time.Second && (c.joining || c.ready.Load()):
			// A voter of --peers registers once caught up (its log may
			// name it already); a joiner cannot catch up before it is
			// known, so it asks at once.
			st, err := c.node.Status(metadataGroup)
			if err != nil || (st.Leader != 0 && v.Applied() < st.Commit) {
				break // replaying the log: it may name this node already
			}
			lastProposal = time.Now()
			if c.joining && !warnedJoin && time.Since(started) >= joinWarnAfter {
				warnedJoin = true
				c.logger.Error("not admitted to the cluster yet: is this --node-id used by another node? (the others then send this node nothing) Else check that the peers are reachable",
					"node", c.self, "directory_id", c.directoryID, "waited", time.Since(started).Round(time.Second))
			}
			data, err := metadata.Encode(metadata.RegisterPeer{NodeID: c.self, PeerAddr: c.selfPeerAddr(), DirectoryID: c.directoryID})
			if err != nil {
				break
			}
			var to uint64
			if others := c.otherConfiguredPeers(); len(others) > 0 {
				to = raftID(others[hint%len(others)])
				hint++
			}
			if err := c.node.ProposeForwardTo(metadataGroup, metadataBatch(data), to); err != nil {
				c.logger.Debug("registering the peer address", "err", err)
			}
		}
		if _, _, leading, err := c.node.Leader(metadataGroup); err == nil && leading {
			c.reconcileMembers(v)
		}
	}
}

// noteRemoved records that this node was unregistered: its broker
// registration vanished (registerLoop) or its peer did (memberLoop). It
// then registers neither again.
func (c *raftCluster) noteRemoved() {
	if !c.removed.Swap(true) {
		c.logger.Error("this node was removed from the cluster (UnregisterBroker): stop it; started again it joins as a new node", "node", c.self)
	}
}

// noteIDInUse records that this node's id is registered by another data
// directory at another address: it registers neither its peer nor its
// broker again (as a removed node) and says why, once.
func (c *raftCluster) noteIDInUse(addr string, dir metadata.UUID) {
	if !c.idInUse.Swap(true) {
		c.removed.Store(true)
		c.logger.Error("this node's --node-id is in use by another node: stop this node and give it an unused --node-id (or remove the other one first: UnregisterBroker)",
			"node", c.self, "other_peer_addr", addr, "other_directory_id", dir, "directory_id", c.directoryID)
	}
}

// otherConfiguredPeers is the node ids of --peers but this one.
func (c *raftCluster) otherConfiguredPeers() []int32 {
	var out []int32
	for _, p := range c.b.cfg.Peers {
		if p.NodeID != c.self {
			out = append(out, p.NodeID)
		}
	}
	return out
}

// followPeers gives the transport every peer's address (the metadata's
// over --peers) and the node its peers for liveness.
func (c *raftCluster) followPeers(v *metadata.View) {
	want := map[uint64]string{}
	for _, p := range c.b.cfg.Peers {
		want[raftID(p.NodeID)] = p.Addr
	}
	for _, p := range v.Peers() {
		want[raftID(p.NodeID)] = p.PeerAddr
	}
	delete(want, raftID(c.self))
	if c.tcp != nil {
		have := c.tcp.Peers()
		for id, addr := range want {
			if have[id] != addr {
				c.tcp.SetPeer(id, addr)
			}
		}
		for id := range have {
			if _, ok := want[id]; !ok {
				c.tcp.RemovePeer(id)
			}
		}
	}
	ids := make([]uint64, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	c.node.SetPeers(ids)
}

// reconcileMembers (on the controller) adds a registered peer missing from
// group 0's configuration as a learner, or removes a learner whose peer
// was unregistered: one change per call.
func (c *raftCluster) reconcileMembers(v *metadata.View) {
	c.membersMu.Lock()
	defer c.membersMu.Unlock()
	voters, learners, err := c.node.Membership(metadataGroup)
	if err != nil {
		return
	}
	var cc *raftpb.ConfChangeV2
	for _, p := range v.Peers() {
		id := raftID(p.NodeID)
		if !slices.Contains(voters, id) && !slices.Contains(learners, id) {
			cc = confChange(raftpb.ConfChangeAddLearnerNode, id)
			c.logger.Info("adding a joining node to the metadata group as a learner", "node", p.NodeID, "peer_addr", p.PeerAddr)
			break
		}
	}
	if cc == nil {
		for _, id := range learners {
			if _, ok := v.Peer(kafkaID(id)); !ok {
				cc = confChange(raftpb.ConfChangeRemoveNode, id)
				c.logger.Info("removing an unregistered learner from the metadata group", "node", kafkaID(id))
				break
			}
		}
	}
	if cc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	if err := c.node.ProposeConfChange(ctx, metadataGroup, cc); err != nil {
		c.logger.Warn("metadata group membership change failed; retrying", "err", err)
	}
}

func confChange(typ raftpb.ConfChangeType, id uint64) *raftpb.ConfChangeV2 {
	return &raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{{Type: typ.Enum(), NodeId: new(id)}}}
}

// quorum is group 0's membership as this node knows it, in Kafka node ids.
func (c *raftCluster) quorum() (voters, observers []int32) {
	vs, ls, err := c.node.Membership(metadataGroup)
	if err != nil {
		for _, p := range c.b.cfg.Peers {
			voters = append(voters, p.NodeID)
		}
		return voters, nil
	}
	for _, id := range vs {
		voters = append(voters, kafkaID(id))
	}
	for _, id := range ls {
		observers = append(observers, kafkaID(id))
	}
	return voters, observers
}

// isController reports whether this node leads group 0.
func (c *raftCluster) isController() bool {
	_, _, leading, err := c.node.Leader(metadataGroup)
	return err == nil && leading
}

// checkClusterID compares a request's cluster id (nil: not checked) with
// the cluster's.
func (c *raftCluster) checkClusterID(id *string) error {
	if id != nil && *id != c.b.clusterID() {
		return fmt.Errorf("%w: the request names %q, this cluster is %q", errInconsistentID, *id, c.b.clusterID())
	}
	return nil
}

// addVoter promotes node id, a learner of group 0, to voter once it has
// caught up (within timeout), and returns once the change is applied on
// this node (the controller). membersMu is taken only for the last check
// and the change, not while the learner catches up (the controller's
// memberLoop needs it meanwhile).
func (c *raftCluster) addVoter(ctx context.Context, id int32, timeout time.Duration) error {
	rid := raftID(id)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// caughtUp reports whether id is a learner whose log reached the
	// commit index; an error when it is not a learner at all.
	caughtUp := func() (bool, error) {
		reps, err := c.node.Replicas(metadataGroup)
		if err != nil {
			return false, fmt.Errorf("%w: %v", errNoController, err)
		}
		i := slices.IndexFunc(reps, func(r replication.ReplicaProgress) bool { return r.ID == rid })
		if i < 0 {
			return false, fmt.Errorf("%w: node %d (it must be running as a joiner: --peers without its own id)", errNotObserver, id)
		}
		if !reps[i].Learner {
			return false, fmt.Errorf("%w: node %d", errDuplicateVoter, id)
		}
		st, err := c.node.Status(metadataGroup)
		return err == nil && reps[i].Match >= st.Commit, nil
	}
	for {
		ok, err := caughtUp()
		if err != nil {
			return err
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: node %d", errVoterNotCaughtUp, id)
		case <-c.stop:
			return errClosing
		case <-time.After(20 * time.Millisecond):
		}
	}
	c.membersMu.Lock()
	defer c.membersMu.Unlock()
	if _, err := caughtUp(); err != nil {
		return err // changed while it caught up (promoted, removed)
	}
	if err := c.node.ProposeConfChange(ctx, metadataGroup, confChange(raftpb.ConfChangeAddNode, rid)); err != nil {
		return fmt.Errorf("%w: promoting node %d: %v", errMetadataTimeout, id, err)
	}
	c.logger.Info("node promoted to voter of the metadata quorum", "node", id)
	return nil
}

// removeVoter demotes voter id to learner. On the controller removing
// itself it hands leadership to another voter first and returns
// errNoController wrapped with the new controller (the caller forwards).
func (c *raftCluster) removeVoter(ctx context.Context, id int32) error {
	c.membersMu.Lock()
	locked := true
	defer func() {
		if locked {
			c.membersMu.Unlock()
		}
	}()
	voters, _, err := c.node.Membership(metadataGroup)
	if err != nil {
		return err
	}
	rid := raftID(id)
	if !slices.Contains(voters, rid) {
		return fmt.Errorf("%w: node %d", errVoterNotFound, id)
	}
	if len(voters) == 1 {
		return fmt.Errorf("%w: node %d", errLastVoter, id)
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	if id == c.self {
		// The hand-over is waited for without membersMu (the new
		// controller does the change; memberLoop needs the lock).
		c.membersMu.Unlock()
		locked = false
		reps, err := c.node.Replicas(metadataGroup)
		if err != nil {
			return fmt.Errorf("%w: %v", errNoController, err)
		}
		var best uint64
		var bestMatch uint64
		for _, r := range reps {
			if r.ID != rid && !r.Learner && r.Match >= bestMatch {
				best, bestMatch = r.ID, r.Match
			}
		}
		_ = c.node.TransferLeadership(metadataGroup, best)
		for c.isController() {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w: handing the controller over before removing it", errMetadataTimeout)
			case <-c.stop:
				return errClosing
			case <-time.After(20 * time.Millisecond):
			}
		}
		return errNoController
	}
	if err := c.node.ProposeConfChange(ctx, metadataGroup, confChange(raftpb.ConfChangeAddLearnerNode, rid)); err != nil {
		return fmt.Errorf("%w: demoting node %d: %v", errMetadataTimeout, id, err)
	}
	c.logger.Info("voter demoted to observer of the metadata quorum", "node", id)
	return nil
}

// unregisterBroker removes broker id: it must be registered, no voter of
// group 0 and the replica of no partition. Its registration and its peer
// are removed through the metadata log; the controller then takes it out
// of group 0 (reconcileMembers).
func (c *raftCluster) unregisterBroker(ctx context.Context, id int32) error {
	v := c.view()
	_, registered := v.Broker(id)
	if _, peer := v.Peer(id); !registered && !peer {
		// Both records gone (a retry after the peer's removal failed
		// finds the registration gone and completes the second step).
		return fmt.Errorf("%w: %d", errBrokerNotFound, id)
	}
	if voters, _ := c.quorum(); slices.Contains(voters, id) {
		return fmt.Errorf("%w: node %d: remove it from the voters first (RemoveRaftVoter)", errBrokerIsVoter, id)
	}
	if held := replicasOn(v, id); len(held) > 0 {
		return fmt.Errorf("%w: node %d holds %s: reassign them first", errBrokerHostsReplica, id, strings.Join(held, ", "))
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	err := c.propose(ctx, func(v *metadata.View) (metadata.Record, error) {
		return metadata.UnregisterBroker{NodeID: id}, nil
	}, func(v *metadata.View) (bool, error) {
		if _, ok := v.Broker(id); !ok {
			return true, nil
		}
		if held := replicasOn(v, id); len(held) > 0 {
			return false, fmt.Errorf("%w: node %d holds %s", errBrokerHostsReplica, id, strings.Join(held, ", "))
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	return c.propose(ctx, func(v *metadata.View) (metadata.Record, error) {
		return metadata.UnregisterPeer{NodeID: id}, nil
	}, func(v *metadata.View) (bool, error) {
		_, ok := v.Peer(id)
		return !ok, nil
	})
}

// replicasOn names the partitions with a replica on node id (at most 5,
// then "...").
func replicasOn(v *metadata.View, id int32) []string {
	var out []string
	for _, t := range v.Topics() {
		for _, p := range t.Partitions {
			if p.Hosts(id) { // a replica, or one being added or removed
				if len(out) == 5 {
					return append(out, "...")
				}
				out = append(out, fmt.Sprintf("%s-%d", t.Name, p.Partition))
			}
		}
	}
	return out
}

// onController runs local on the controller: here if this node leads
// group 0 (local returning errNoController: it handed the leadership over,
// forward), else fwd goes to the controller, unless it came from another
// broker (clientID: errForwarded). A forwarded request's response is
// returned as is (nil error); NOT_CONTROLLER (the controller moved) or a
// failed send is retried with whoever leads then, for up to 10 s.
func (c *raftCluster) onController(ctx context.Context, clientID string, fwd kmsg.Request, local func() error) (kmsg.Response, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c.isController() {
			err := local()
			if !errors.Is(err, errNoController) {
				return nil, err
			}
		}
		if strings.HasPrefix(clientID, interBrokerClientPrefix) {
			return nil, errForwarded
		}
		if ctrl := c.controller(); ctrl >= 0 && ctrl != c.self {
			resp, err := c.b.inter.request(ctx, ctrl, fwd)
			if code, _ := memberAnswer(resp, nil); (err == nil && code != kerr.NotController.Code) || time.Now().After(deadline) {
				return resp, err
			}
			// The controller moved (or the request could not reach
			// it): ask again whoever leads now.
		}
		if time.Now().After(deadline) {
			return nil, errNoController
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %v", errMetadataTimeout, ctx.Err())
		case <-c.stop:
			return nil, errClosing
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// memberErrorCode maps the membership errors to Kafka's codes (KIP-853's
// for the voter requests), others as errorCode does.
func memberErrorCode(err error) int16 {
	switch {
	case errors.Is(err, errDuplicateVoter):
		return kerr.DuplicateVoter.Code
	case errors.Is(err, errVoterNotFound), errors.Is(err, errLastVoter):
		// The last voter: Kafka's VoterSet.removeVoter refuses to leave
		// an empty set, answered as VOTER_NOT_FOUND too.
		return kerr.VoterNotFound.Code
	case errors.Is(err, errNotObserver), errors.Is(err, errVoterNotCaughtUp):
		return kerr.RequestTimedOut.Code
	case errors.Is(err, errBrokerHostsReplica), errors.Is(err, errBrokerIsVoter), errors.Is(err, errDirectoryMismatch):
		return kerr.InvalidRequest.Code
	case errors.Is(err, errInconsistentID):
		return kerr.InconsistentClusterID.Code
	case errors.Is(err, errBrokerNotFound):
		return kerr.BrokerIDNotRegistered.Code
	case errors.Is(err, errForwarded):
		return kerr.NotController.Code
	}
	return errorCode(err)
}

// memberAnswer is the error code and message of a membership request's
// outcome: a forwarded response's, or err's.
func memberAnswer(fresp kmsg.Response, err error) (int16, *string) {
	switch r := fresp.(type) {
	case *kmsg.AddRaftVoterResponse:
		return r.ErrorCode, r.ErrorMessage
	case *kmsg.RemoveRaftVoterResponse:
		return r.ErrorCode, r.ErrorMessage
	case *kmsg.UnregisterBrokerResponse:
		return r.ErrorCode, r.ErrorMessage
	}
	if err == nil {
		return 0, nil
	}
	msg := err.Error()
	return memberErrorCode(err), &msg
}
