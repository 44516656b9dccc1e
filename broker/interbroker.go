package broker

// Inter-broker requests (cluster mode): what one broker asks another over
// the other's Kafka listener, as Kafka's brokers do. Transactions need it
// because the three parties of a transaction are usually three different
// nodes: the transaction coordinator (the leader of the transactional id's
// __transaction_state partition), the group coordinator (the leader of the
// group's __consumer_offsets partition) and each data partition's leader.
//
//   - Partition leader -> transaction coordinator: a transactional batch is
//     checked (KIP-890 part 1: AddPartitionsToTxn v4+ with VerifyOnly) or,
//     for transactions v2 (Produce v12+), its partition added to the
//     transaction (AddPartitionsToTxn v5), before it is appended. The same
//     from the group coordinator for a TxnOffsetCommit.
//   - Transaction coordinator -> partition leaders and group coordinators:
//     the COMMIT/ABORT markers, with WriteTxnMarkers sent to each
//     partition's leader, grouped by leader, retried after re-reading the
//     cluster view until written (Kafka's TransactionMarkerChannelManager),
//     carrying the coordinator epoch (writeMarkersCluster).
//
// The client is franz-go's kgo: one kgo.Client per broker, seeded from the
// cluster view, created on first use, closed when the broker stops. Its
// connections bind to this node's advertised address when that is an IP
// literal, so that cutting a node off by address cuts these too. A single
// node (b.raft nil) has none (b.inter nil) and none of this is on its path.
//
// The verification guard (txnGuards). A remote verification is an RTT long
// and cannot run under the partition's append lock (the marker that ends
// the transaction needs that lock, and its writer, the coordinator, may be
// waiting for this node). So it runs before the append, and what it proved
// is recorded per (partition, producer id) together with a generation that
// every marker written to the partition for that producer increments
// before it takes the append lock. Under the append lock, the batch is
// accepted only if the record is still valid: no marker came in between
// (else the batch would land after the end of its transaction, a hanging
// transaction), the producer epoch and the partition's leader epoch are
// unchanged. Later batches of the same transaction on the partition pass
// on the record without asking again, as Kafka skips the verification of a
// producer with a transaction ongoing on the partition. A TxnOffsetCommit's
// offsets, appended to the group's __consumer_offsets partition, pass the
// same check (28_txn_offset_commit.go), asking every time.
//
// Locking: interBroker.mu guards the client and closed, loadMu loadedAt
// (a leaf); txnGuards.mu guards
// its map and is a leaf (taken under a partition's appendMu by the check,
// never held across anything else).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/txn"
)

// interBrokerTimeout bounds one inter-broker request.
const interBrokerTimeout = 10 * time.Second

// markerRetryTimeout bounds how long WriteMarkers retries partitions whose
// leader is unknown or moving; then it fails and the coordinator's Tick
// retries the completion.
const markerRetryTimeout = 20 * time.Second

var (
	// errInterBrokerClosed: the broker is stopping.
	errInterBrokerClosed = errors.New("broker: inter-broker client closed")
	// errUnknownNode: the cluster view has no endpoint for the node.
	errUnknownNode = errors.New("broker: no endpoint known for node")
	// errTxnCoordinatorUnavailable: the transaction coordinator could not
	// be found or asked, or answered that it is not (yet) the
	// coordinator; retriable (NOT_ENOUGH_REPLICAS on a produce, as
	// Kafka's AddPartitionsToTxnManager answers; COORDINATOR_NOT_AVAILABLE
	// elsewhere).
	errTxnCoordinatorUnavailable = errors.New("broker: transaction coordinator unavailable")
	// errNotCoordinator: this node does not lead the __transaction_state
	// partition of the transactional id (NOT_COORDINATOR).
	errNotCoordinator = errors.New("broker: not the coordinator")
)

// interBroker is this node's client to the other brokers (see the file
// comment).
type interBroker struct {
	b      *Broker
	guards txnGuards

	mu     sync.Mutex
	cl     *kgo.Client
	closed bool

	// loadedAt: per __transaction_state partition, the leader epoch at
	// which the coordinator last loaded it (txnStateLog.Replay).
	loadMu   sync.Mutex
	loadedAt map[int32]int32
}

func newInterBroker(b *Broker) *interBroker {
	return &interBroker{b: b, guards: txnGuards{m: map[guardKey]*txnGuard{}}, loadedAt: map[int32]int32{}}
}

// client returns the kgo client, creating it on first use.
func (ib *interBroker) client() (*kgo.Client, error) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if ib.closed {
		return nil, errInterBrokerClosed
	}
	if ib.cl != nil {
		return ib.cl, nil
	}
	var seeds []string
	for _, n := range ib.b.cluster.brokers() {
		if n.host != "" && n.port > 0 {
			seeds = append(seeds, net.JoinHostPort(n.host, strconv.Itoa(int(n.port))))
		}
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("%w: no broker endpoint known yet", errUnknownNode)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if self := ib.b.cluster.selfNode(); self.host != "" {
		if ip := net.ParseIP(self.host); ip != nil && !ip.IsUnspecified() {
			dialer.LocalAddr = &net.TCPAddr{IP: ip}
		}
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("moldau-broker-"+strconv.Itoa(int(ib.b.cfg.NodeID))),
		kgo.Dialer(dialer.DialContext),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RequestRetries(0),
	)
	if err != nil {
		return nil, fmt.Errorf("broker: inter-broker client: %w", err)
	}
	ib.cl = cl
	return cl, nil
}

// close closes the client (at the broker's stop); later requests fail.
func (ib *interBroker) close() {
	ib.mu.Lock()
	cl := ib.cl
	ib.cl, ib.closed = nil, true
	ib.mu.Unlock()
	if cl != nil {
		cl.Close()
	}
}

// request sends req to node and returns its response (not checked for
// error codes). It blocks up to interBrokerTimeout.
func (ib *interBroker) request(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error) {
	if _, ok := ib.b.cluster.broker(node); !ok {
		return nil, fmt.Errorf("%w %d", errUnknownNode, node)
	}
	cl, err := ib.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, interBrokerTimeout)
	defer cancel()
	return cl.Broker(int(node)).Request(ctx, req)
}

// leaderOf is the leader of partition part of topic name: its node and
// whether it is this one.
func (b *Broker) leaderOf(name string, part int32) (node int32, local bool, err error) {
	t := b.topics.get(name)
	if t == nil {
		return -1, false, fmt.Errorf("%w: %s unknown", errTxnCoordinatorUnavailable, name)
	}
	p := t.partition(part)
	if p == nil {
		return -1, false, fmt.Errorf("%w: %s-%d unknown", errTxnCoordinatorUnavailable, name, part)
	}
	l := p.lead.Load()
	if l.leader < 0 {
		return -1, false, fmt.Errorf("%w: %s-%d has no leader", errTxnCoordinatorUnavailable, name, part)
	}
	return l.leader, l.local, nil
}

// txnCoordinatorOf is the transaction coordinator of id: the leader of
// its __transaction_state partition (this node on a single node). When
// that is this node but the coordinator has not loaded the partition at
// the current leader epoch yet, err wraps txn.ErrLoadInProgress.
func (b *Broker) txnCoordinatorOf(id string) (node int32, local bool, err error) {
	if b.raft == nil {
		return b.cfg.NodeID, true, nil
	}
	part := txn.PartitionFor(id, b.txns.Partitions())
	node, local, err = b.leaderOf(txnStateTopic, part)
	if err == nil && local && !b.inter.loaded(part) {
		err = fmt.Errorf("%w: %w", errTxnCoordinatorUnavailable, txn.ErrLoadInProgress)
	}
	return node, local, err
}

// notTxnCoordinator refuses, in cluster mode, a transactional request for
// an id whose coordinator is another node (NOT_COORDINATOR: the client
// looks the coordinator up again), so that the state this node may still
// hold from an earlier leadership is never answered from, or that this
// node has not loaded yet (COORDINATOR_LOAD_IN_PROGRESS).
func (b *Broker) notTxnCoordinator(id string) error {
	if b.raft == nil {
		return nil
	}
	_, local, err := b.txnCoordinatorOf(id)
	switch {
	case errors.Is(err, txn.ErrLoadInProgress):
		return err
	case err != nil || !local, !b.confirmTxnCoordinator(id):
		return errNotCoordinator
	}
	return nil
}

// markLoaded records that the coordinator loaded __transaction_state
// partition p as its leader at leader epoch epoch.
func (ib *interBroker) markLoaded(p, epoch int32) {
	ib.loadMu.Lock()
	defer ib.loadMu.Unlock()
	ib.loadedAt[p] = epoch
}

// loaded reports whether the coordinator loaded __transaction_state
// partition p at its current leader epoch (this node leads it).
func (ib *interBroker) loaded(p int32) bool {
	t := ib.b.topics.get(txnStateTopic)
	if t == nil || t.partition(p) == nil {
		return false
	}
	epoch := t.partition(p).lead.Load().epoch
	ib.loadMu.Lock()
	defer ib.loadMu.Unlock()
	at, ok := ib.loadedAt[p]
	return ok && at == epoch
}

// addPartitionsRemote asks node, the coordinator of transactional id, to
// add tp to the producer's transaction (AddPartitionsToTxn v5, transactions
// v2) or, verifyOnly, to verify that tp is in it (v4+, KIP-890 part 1).
// The answer is mapped back to the coordinator's errors (txn.Err*);
// anything that says the coordinator is elsewhere, loading or unreachable
// is errTxnCoordinatorUnavailable.
func (ib *interBroker) addPartitionsRemote(node int32, id string, pid int64, epoch int16, tp txn.TopicPartition, verifyOnly bool) error {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	tr := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, tr.VerifyOnly = id, pid, epoch, verifyOnly
	rt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	rt.Topic, rt.Partitions = tp.Topic, []int32{tp.Partition}
	tr.Topics = append(tr.Topics, rt)
	req.Transactions = append(req.Transactions, tr)
	kresp, err := ib.request(context.Background(), node, req)
	if err != nil {
		return fmt.Errorf("%w: node %d: %v", errTxnCoordinatorUnavailable, node, err)
	}
	resp := kresp.(*kmsg.AddPartitionsToTxnResponse)
	if resp.Version < 4 {
		return fmt.Errorf("%w: node %d answered AddPartitionsToTxn v%d", errTxnCoordinatorUnavailable, node, resp.Version)
	}
	if resp.ErrorCode != 0 {
		return txnErrorFromCode(resp.ErrorCode)
	}
	for _, rtx := range resp.Transactions {
		if rtx.TransactionalID != id {
			continue
		}
		for _, rt := range rtx.Topics {
			for _, rp := range rt.Partitions {
				if rt.Topic == tp.Topic && rp.Partition == tp.Partition {
					return txnErrorFromCode(rp.ErrorCode)
				}
			}
		}
	}
	return fmt.Errorf("%w: node %d did not answer for %s", errTxnCoordinatorUnavailable, node, tp)
}

// txnErrorFromCode maps a transaction coordinator's answer to its error
// (the inverse of txnErrorCode).
func txnErrorFromCode(code int16) error {
	switch code {
	case 0:
		return nil
	case kerr.InvalidProducerIDMapping.Code:
		return txn.ErrInvalidProducerIDMapping
	case kerr.ProducerFenced.Code, kerr.InvalidProducerEpoch.Code:
		return txn.ErrProducerFenced
	case kerr.ConcurrentTransactions.Code:
		return txn.ErrConcurrentTransactions
	case kerr.InvalidTxnState.Code, kerr.TransactionAbortable.Code:
		return txn.ErrInvalidTxnState
	case kerr.InvalidTransactionTimeout.Code:
		return txn.ErrInvalidTransactionTimeout
	}
	// NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
	// COORDINATOR_LOAD_IN_PROGRESS, UNKNOWN_TOPIC_OR_PARTITION (a topic
	// the coordinator has not learned of yet), and anything unexpected.
	return fmt.Errorf("%w: %v", errTxnCoordinatorUnavailable, kerr.ErrorForCode(code))
}

// verifyForProduce is the partition leader's check of a transactional
// batch whose coordinator is node (or could not be found: locErr): unless
// a valid verification of the producer on p is recorded, the coordinator
// adds p to the transaction (add: transactions v2) or verifies it is in it,
// and the result is recorded for txnVerifier's check under the append
// lock. A coordinator that cannot be reached is NOT_ENOUGH_REPLICAS
// (retriable), as in Kafka.
func (ib *interBroker) verifyForProduce(id string, node int32, locErr error, pid int64, epoch int16, p *partition, add bool) error {
	if ib.guards.valid(p, pid, epoch) == nil {
		return nil
	}
	if locErr != nil {
		return fmt.Errorf("%w: %w", errNotEnoughReplicas, locErr)
	}
	gen := ib.guards.begin(p, pid)
	err := ib.addPartitionsRemote(node, id, pid, epoch, txn.TopicPartition{Topic: p.topic.name, Partition: p.index}, !add)
	switch {
	case err == nil:
		ib.guards.verified(p, pid, epoch, gen)
		return nil
	case errors.Is(err, errTxnCoordinatorUnavailable):
		return fmt.Errorf("%w: %w", errNotEnoughReplicas, err)
	}
	return verifyTransactional(func() error { return err })
}

// txnGuards records remote verifications (see the file comment).
type txnGuards struct {
	mu sync.Mutex
	m  map[guardKey]*txnGuard
}

type guardKey struct {
	p   *partition
	pid int64
}

type txnGuard struct {
	gen         uint64 // markers written to p for pid
	verified    bool   // a verification of epoch at leaderEpoch holds
	epoch       int16
	leaderEpoch int32
	used        time.Time
}

func (g *txnGuards) entryLocked(p *partition, pid int64) *txnGuard {
	k := guardKey{p, pid}
	e := g.m[k]
	if e == nil {
		e = &txnGuard{}
		g.m[k] = e
	}
	e.used = time.Now()
	return e
}

// begin returns the generation a verification starting now must still
// see when it completes.
func (g *txnGuards) begin(p *partition, pid int64) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.entryLocked(p, pid).gen
}

// verified records a successful verification begun at gen, unless a
// marker came in between.
func (g *txnGuards) verified(p *partition, pid int64, epoch int16, gen uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entryLocked(p, pid)
	if e.gen != gen {
		return
	}
	e.verified, e.epoch, e.leaderEpoch = true, epoch, p.lead.Load().epoch
}

// valid reports whether a verification of pid at epoch on p holds
// (txn.ErrInvalidTxnState if not: none was made, a marker ended the
// transaction since, or the epoch or the leadership changed).
func (g *txnGuards) valid(p *partition, pid int64, epoch int16) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.m[guardKey{p, pid}]
	if e == nil || !e.verified || e.epoch != epoch || e.leaderEpoch != p.lead.Load().epoch {
		return txn.ErrInvalidTxnState
	}
	e.used = time.Now()
	return nil
}

// markerWriting is called before a marker of pid is written to p: the
// transaction ends there, and a verification in flight or recorded no
// longer holds.
func (g *txnGuards) markerWriting(p *partition, pid int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entryLocked(p, pid)
	e.gen++
	e.verified = false
}

// prune forgets records unused for longer than age.
func (g *txnGuards) prune(now time.Time, age time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, e := range g.m {
		if now.Sub(e.used) > age {
			delete(g.m, k)
		}
	}
}

// loadedEpoch is the coordinator epoch of __transaction_state partition p:
// the leader epoch at which this node loaded it, if it still leads it at
// that epoch.
func (ib *interBroker) loadedEpoch(p int32) (int32, bool) {
	t := ib.b.topics.get(txnStateTopic)
	if t == nil || t.partition(p) == nil {
		return 0, false
	}
	l := t.partition(p).lead.Load()
	ib.loadMu.Lock()
	defer ib.loadMu.Unlock()
	at, ok := ib.loadedAt[p]
	return at, ok && l.local && at == l.epoch
}

// writeMarkersCluster is markerWriter.WriteMarkers in cluster mode: each
// partition's marker is written by its leader, this node's partitions
// here (writeLocalMarkers), the others' with WriteTxnMarkers to each
// leader in parallel, grouped by leader; a partition without a leader, or
// whose leader moved, is retried after re-reading the cluster view, for up
// to markerRetryTimeout. Every marker carries the coordinator epoch: the
// leader epoch at which this node loaded the transaction's
// __transaction_state partition, read once at the start; once this node
// no longer leads that partition at that epoch, it stops (the new
// coordinator completes the transaction, and the partitions would refuse
// the old epoch's markers after the new one's: TRANSACTION_COORDINATOR_FENCED).
// On a __consumer_offsets partition, the marker completes the group
// coordinator's pending offsets of the producer there.
func (m *markerWriter) writeMarkersCluster(statePartition int32, pid int64, epoch int16, commit bool, parts []txn.TopicPartition) error {
	b := m.b
	coordinatorEpoch, ok := b.inter.loadedEpoch(statePartition)
	if !ok {
		return fmt.Errorf("%w: %s-%d not loaded here", txn.ErrNotCoordinator, txnStateTopic, statePartition)
	}
	deadline := time.Now().Add(markerRetryTimeout)
	backoff := 20 * time.Millisecond
	pending := parts
	for {
		if at, ok := b.inter.loadedEpoch(statePartition); !ok || at != coordinatorEpoch {
			return fmt.Errorf("%w: %s-%d moved since coordinator epoch %d", txn.ErrNotCoordinator, txnStateTopic, statePartition, coordinatorEpoch)
		}
		var local, retry []txn.TopicPartition
		remote := map[int32][]txn.TopicPartition{}
		for _, tp := range pending {
			t := b.topics.get(tp.Topic)
			if t == nil || t.partition(tp.Partition) == nil {
				continue // deleted: nothing to end
			}
			l := t.partition(tp.Partition).lead.Load()
			switch {
			case l.local:
				local = append(local, tp)
			case l.leader < 0:
				retry = append(retry, tp)
			default:
				remote[l.leader] = append(remote[l.leader], tp)
			}
		}
		var (
			mu   sync.Mutex
			errs []error
			wg   sync.WaitGroup
		)
		for node, tps := range remote {
			wg.Add(1)
			go func() {
				defer wg.Done()
				again, err := b.inter.writeMarkersTo(node, coordinatorEpoch, pid, epoch, commit, tps)
				mu.Lock()
				retry = append(retry, again...)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}()
		}
		if len(local) > 0 {
			again, err := m.writeLocalMarkers(coordinatorEpoch, pid, epoch, commit, local)
			mu.Lock()
			retry = append(retry, again...)
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
		}
		wg.Wait()
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		if len(retry) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: markers of producer %d not written to %v", errTxnCoordinatorUnavailable, pid, retry)
		}
		select {
		case <-b.stop:
			return errClosing
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
		pending = retry
	}
}

// writeMarkersTo sends one producer's markers for parts to node, the
// leader of each, and returns the partitions to retry (the node is not,
// or no longer, their leader, or could not be reached). A marker the
// partition refuses as older than the producer's epoch there, or from an
// older coordinator epoch than the producer's last marker there, is given
// up on, as Kafka's coordinator does (a newer epoch or coordinator has
// ended it).
func (ib *interBroker) writeMarkersTo(node, coordinatorEpoch int32, pid int64, epoch int16, commit bool, parts []txn.TopicPartition) (retry []txn.TopicPartition, err error) {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	mk := kmsg.NewWriteTxnMarkersRequestMarker()
	mk.ProducerID, mk.ProducerEpoch, mk.Committed, mk.CoordinatorEpoch = pid, epoch, commit, coordinatorEpoch
	byTopic := map[string]int{}
	for _, tp := range parts {
		i, ok := byTopic[tp.Topic]
		if !ok {
			i = len(mk.Topics)
			byTopic[tp.Topic] = i
			mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			mt.Topic = tp.Topic
			mk.Topics = append(mk.Topics, mt)
		}
		mk.Topics[i].Partitions = append(mk.Topics[i].Partitions, tp.Partition)
	}
	req.Markers = append(req.Markers, mk)
	kresp, rerr := ib.request(context.Background(), node, req)
	if rerr != nil {
		ib.b.logger.Debug("sending transaction markers failed; retrying", "node", node, "producer_id", pid, "err", rerr)
		return parts, nil
	}
	resp := kresp.(*kmsg.WriteTxnMarkersResponse)
	answered := map[txn.TopicPartition]bool{}
	var errs []error
	for _, rm := range resp.Markers {
		if rm.ProducerID != pid {
			continue
		}
		for _, rt := range rm.Topics {
			for _, rp := range rt.Partitions {
				tp := txn.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
				answered[tp] = true
				switch rp.ErrorCode {
				case 0:
				case kerr.NotLeaderForPartition.Code, kerr.UnknownTopicOrPartition.Code, kerr.NotEnoughReplicas.Code,
					kerr.NotEnoughReplicasAfterAppend.Code, kerr.RequestTimedOut.Code, kerr.KafkaStorageError.Code,
					kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code, kerr.NotCoordinator.Code:
					retry = append(retry, tp)
				case kerr.InvalidProducerEpoch.Code, kerr.TransactionCoordinatorFenced.Code:
					ib.b.logger.Warn("transaction marker refused as stale; not retried", "partition", tp.String(), "producer_id", pid, "epoch", epoch)
				default:
					errs = append(errs, fmt.Errorf("%s on node %d: %w", tp, node, kerr.ErrorForCode(rp.ErrorCode)))
				}
			}
		}
	}
	for _, tp := range parts {
		if !answered[tp] {
			retry = append(retry, tp)
		}
	}
	return retry, errors.Join(errs...)
}
