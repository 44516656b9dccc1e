// Package broker is Moldau's composition root: it owns the topics and
// partitions, serves every Kafka API (one file per API, NN_name.go) and wires
// the protocol front end to the partition logs.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/acl"
	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/share"
	"github.com/moldau/moldau/broker/tlsconf"
	"github.com/moldau/moldau/coordinator"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/vfs"
	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/replication"
	"github.com/moldau/moldau/txn"
)

// Option adjusts a Broker built by New.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	registerer prometheus.Registerer
	fs         vfs.FS
	now        func() time.Time
	version    string
	// peerNetwork: cluster mode over an in-process network instead of TCP
	// (embed.StartCluster; WithPeerNetwork).
	peerNetwork *replication.LocalNetwork
}

// WithPeerNetwork makes a cluster node (config Peers set) talk to its peers
// over nw, an in-process network whose links a test can cut
// (embed.StartCluster's Isolate and Heal), instead of TCP. The peers'
// addresses are then ignored.
func WithPeerNetwork(nw *replication.LocalNetwork) Option {
	return func(o *options) { o.peerNetwork = nw }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the broker's metrics on r (default: none).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// WithFS makes the broker keep its partition logs on fs (tests use a
// crashable in-memory FS). The metadata store follows cfg.Memory.
func WithFS(fs vfs.FS) Option { return func(o *options) { o.fs = fs } }

// Broker is one Moldau node.
type Broker struct {
	cfg     config.Config
	logger  *slog.Logger
	fs      vfs.FS
	dataDir string
	now     func() time.Time

	meta     metaStore
	cluster  *clusterView // brokers, controller, partition leadership (cluster.go)
	raft     *raftCluster // cluster mode (raft.go); nil on a single node
	topics   *topicRegistry
	pids     *producerIDs
	sessions *fetchSessions
	metrics  *protocol.Metrics
	groups   *coordinator.Coordinator
	txns     *txn.Coordinator
	inter    *interBroker // inter-broker requests (interbroker.go); nil on a single node
	// shareState is the share coordinator: __share_group_state
	// (share_state.go).
	shareState *shareCoordinator
	// entities: SCRAM credentials, ACLs, quotas, delegation tokens
	// (entities.go); durable and replicated with the cluster metadata.
	entities entityStore
	// auth: SASL state shared by connections (sasl_auth.go).
	auth   brokerAuth
	quotas *quotaState // client quotas and connection limits (quotas.go)
	tokens tokenState  // delegation tokens (tokens.go)
	// authz checks every request against the ACLs (authorize.go); nil
	// when no authorizer is configured.
	authz *acl.Authorizer

	caps *versionCaps // advertised max version per key

	// Share groups (KIP-932): sharePersister makes share-partition state
	// durable (nil: the share coordinator's, share_fetch_glue.go); shares holds
	// the share-partitions this node leads and the share sessions,
	// created on first use.
	sharePersister share.Persister
	shares         *shareManager
	sharesOnce     sync.Once

	dyn dynState // dynamic BROKER and GROUP configs (dynconfig.go)

	// schemas is the built-in schema registry (schemareg_wiring.go), nil
	// when --schema-registry-addr is empty; schemaIDs is what produce-side
	// schema validation asks (schemavalidate.go), nil when off.
	schemas   *schemaRegistry
	schemaIDs schemaIDChecker
	// frontEnds are the web console and the REST Proxy API
	// (http_wiring.go), nil when both are off.
	frontEnds *httpFrontEnds

	faults faultSet // test-injected faults (faults.go)

	srv       *protocol.Server
	ln        net.Listener     // the first listener (Addr)
	listeners []*boundListener // every client listener, set by serve
	ready     atomic.Bool

	resetMu    sync.Mutex
	resetHooks []func(context.Context) error

	// flushQueue: partitions whose flush.messages flush is due with nobody
	// waiting to do it (internal topics: appendInternal); the flusher
	// drains it.
	flushQueue chan *partition

	// failed, failErr, failOnce: the broker stopped serving on a storage
	// error (storagefail.go).
	failed   chan struct{}
	failErr  error
	failOnce sync.Once

	closeOnce sync.Once
	closeErr  error
	bg        sync.WaitGroup
	stop      chan struct{}
}

// New opens (or creates) the broker's storage and recovers every partition.
// It does not listen yet: call Start.
func New(cfg config.Config, opts ...Option) (*Broker, error) {
	o := options{logger: slog.Default(), now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	caps, err := newVersionCaps(cfg.KafkaVersion)
	if err != nil {
		return nil, err
	}
	b := &Broker{
		entities:   newMemEntities(),
		quotas:     newQuotaState(cfg),
		caps:       caps,
		cfg:        cfg,
		logger:     o.logger,
		now:        o.now,
		dataDir:    cfg.DataDir,
		sessions:   newFetchSessions(1000),
		cluster:    newClusterView(cfg.NodeID),
		flushQueue: make(chan *partition, 256),
		metrics:    protocol.NewMetrics(o.registerer),
		stop:       make(chan struct{}),
		failed:     make(chan struct{}),
	}
	b.cfg.LogLevelVar = brokerLogLevelVar(cfg)
	b.authz = b.newAuthorizer()
	switch {
	case o.fs != nil:
		b.fs = o.fs
	case cfg.Memory:
		b.fs = vfs.NewMem()
	default:
		b.fs = vfs.OS
	}
	if cfg.Memory {
		b.meta = newMemStore()
		if b.dataDir == "" || o.fs == nil {
			b.dataDir = "/moldau"
		}
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("broker: data dir: %w", err)
		}
		st, err := openBoltStore(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		b.meta = st
	}
	registerBuildInfo(o.registerer, o.version)
	b.pids = &producerIDs{store: b.meta}
	b.topics = newTopicRegistry(newBrokerMetrics(o.registerer, b))
	start := time.Now()
	if len(cfg.Peers) > 0 {
		// Cluster mode: the topics come from the metadata log, as the
		// reconciler applies it (raft.go).
		b.pids.prefix = int64(raftID(cfg.NodeID)) << 40
		rc, err := newRaftCluster(b, o)
		if err != nil {
			b.meta.close()
			return nil, err
		}
		b.raft = rc
		b.entities = raftEntities{rc}
	} else if err := b.loadTopics(); err != nil {
		b.meta.close()
		return nil, err
	} else if b.entities, err = b.meta.entities(); err != nil {
		b.meta.close()
		return nil, err
	}
	b.logger.Info("storage recovered", "topics", b.topics.count(), "elapsed", time.Since(start).Round(time.Microsecond))
	b.refreshDynamicConfig() // dynconfig.go
	if err := b.newCoordinator(o); err != nil {
		b.closeRaft()
		b.closeLogs()
		b.meta.close()
		return nil, err
	}
	if err := b.newTxnCoordinator(o); err != nil {
		b.groups.Close()
		b.closeRaft()
		b.closeLogs()
		b.meta.close()
		return nil, err
	}
	b.shareState = newShareCoordinator(b)
	if err := b.newSchemaRegistry(o); err != nil {
		b.groups.Close()
		b.closeRaft()
		b.closeLogs()
		b.meta.close()
		return nil, err
	}
	b.newHTTPFrontEnds(o) // http_wiring.go
	return b, nil
}

// Start listens on every client listener of the configuration
// (config.ClientListeners: listeners, or --addr as one PLAINTEXT listener)
// and serves in the background. A TLS listener's keystore and truststore
// are read first: an error names the setting at fault.
func (b *Broker) Start() error {
	var bound []*boundListener
	closeAll := func() {
		for _, l := range bound {
			l.ln.Close()
		}
	}
	for _, l := range b.cfg.ClientListeners() {
		bl := &boundListener{cfg: l}
		if l.IsTLS() {
			if l.TLS == nil {
				closeAll()
				return fmt.Errorf("broker: listener %s: %s without TLS settings", l.Name, l.Security)
			}
			ts, err := tlsconf.New(*l.TLS, b.logger)
			if err != nil {
				closeAll()
				return fmt.Errorf("broker: listener %s: %w", l.Name, err)
			}
			bl.tls = ts
		}
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("broker: listen %s on %s: %w", l.Name, l.Addr, err)
		}
		bl.ln = ln
		bound = append(bound, bl)
	}
	if err := b.serve(bound); err != nil {
		closeAll()
		return err
	}
	return nil
}

// Serve serves on ln, as the one PLAINTEXT listener, in the background (ln
// is closed by Close). The configured listeners are not opened.
func (b *Broker) Serve(ln net.Listener) error {
	return b.serve([]*boundListener{{cfg: config.Listener{Name: "PLAINTEXT", Security: "PLAINTEXT", Addr: ln.Addr().String(), Advertised: b.cfg.AdvertiseAddr}, ln: ln}})
}

// boundListener is one client listener being served.
type boundListener struct {
	cfg config.Listener
	ln  net.Listener
	tls *tlsconf.Server // nil without TLS
}

// securityProtocol maps a config protocol name to protocol's.
func securityProtocol(name string) protocol.SecurityProtocol {
	switch name {
	case "SSL":
		return protocol.SSL
	case "SASL_PLAINTEXT":
		return protocol.SASLPlaintext
	case "SASL_SSL":
		return protocol.SASLSSL
	}
	return protocol.Plaintext
}

// advertisedEndpoint is the endpoint clients are given for l: its
// advertised address, else the bound one (an unspecified host becomes the
// host name).
func (b *Broker) advertisedEndpoint(l *boundListener) (endpoint, error) {
	adv := l.cfg.Advertised
	if adv == "" {
		adv = l.ln.Addr().String()
	}
	host, portStr, err := net.SplitHostPort(adv)
	if err != nil {
		return endpoint{}, fmt.Errorf("broker: advertise address %q: %w", adv, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return endpoint{}, fmt.Errorf("broker: advertise address %q: bad port", adv)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil && l.cfg.Advertised == "" {
			host = h
		} else {
			host = "127.0.0.1"
		}
	}
	return endpoint{listener: l.cfg.Name, security: l.cfg.Security, host: host, port: int32(port)}, nil
}

// serve serves the bound listeners in the background.
func (b *Broker) serve(bound []*boundListener) error {
	if len(bound) == 0 {
		return errors.New("broker: no listener")
	}
	var eps []endpoint
	for _, l := range bound {
		ep, err := b.advertisedEndpoint(l)
		if err != nil {
			return err
		}
		eps = append(eps, ep)
	}
	b.ln = bound[0].ln
	b.listeners = bound
	b.cluster.setSelfEndpoints(eps) // advertised
	if b.raft != nil {
		b.raft.start()
	}
	if err := b.startScramBootstrap(); err != nil {
		return err
	}
	// The schema registry (schemareg_wiring.go), before clients are
	// served: produce-side validation reads b.schemaIDs without a lock.
	b.listenSchemaRegistry()
	if err := b.startSchemaRegistry(); err != nil {
		b.logger.Error("the schema registry did not start; serving Kafka without it", "err", err)
	}
	// The web console and the REST Proxy API (http_wiring.go): Kafka
	// clients of the listeners bound above, and of the registry.
	b.startHTTPFrontEnds()
	limits := protocol.DefaultLimits()
	limits.MaxRequestBytes = b.cfg.SocketRequestMaxBytes
	if b.cfg.ConnectionsMaxIdleMs > 0 {
		limits.IdleTimeout = time.Duration(b.cfg.ConnectionsMaxIdleMs) * time.Millisecond
	}
	b.srv = protocol.NewServer(b, limits, b.logger, b.metrics)
	b.startQuotas(b.srv)
	if b.raft != nil {
		b.bg.Add(1)
		go func() {
			defer b.bg.Done()
			b.watchDynamicConfig() // other brokers' dynamic config changes (dynconfig.go)
		}()
	}
	b.bg.Add(4 + len(bound))
	go func() {
		defer b.bg.Done()
		b.txnHousekeeping()
	}()
	go func() {
		defer b.bg.Done()
		b.flusher()
	}()
	go func() {
		defer b.bg.Done()
		b.cleaner()
	}()
	for _, l := range bound {
		lc := protocol.ListenerConfig{Name: l.cfg.Name, Security: securityProtocol(l.cfg.Security)}
		if l.tls != nil {
			lc.TLS, lc.Principal = l.tls.Config(), l.tls.Principal
		}
		go func() {
			defer b.bg.Done()
			if err := b.srv.ServeListener(l.ln, lc); err != nil && !errors.Is(err, protocol.ErrServerClosed) {
				b.logger.Error("serve", "listener", lc.Name, "err", err)
			}
		}()
		b.logger.Info("listening", "listener", l.cfg.Name, "security", l.cfg.Security, "addr", l.ln.Addr().String())
	}
	go func() {
		defer b.bg.Done()
		b.housekeeping()
	}()
	b.startTokenExpiry()
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		b.shareStatePruner()
	}()
	b.ready.Store(true)
	if b.raft != nil {
		b.bg.Add(1)
		go func() {
			defer b.bg.Done()
			b.watchStorage()
		}()
	}
	return nil
}

// Addr is the address the broker listens on (its first listener).
func (b *Broker) Addr() string {
	if b.ln == nil {
		return ""
	}
	return b.ln.Addr().String()
}

// ListenerAddr is the address the listener named name is bound to, ""
// when there is no such listener.
func (b *Broker) ListenerAddr(name string) string {
	for _, l := range b.listeners {
		if l.cfg.Name == name {
			return l.ln.Addr().String()
		}
	}
	return ""
}

// Ready reports whether the broker has recovered and is serving.
func (b *Broker) Ready() bool { return b.ready.Load() }

// Close stops accepting, finishes in-flight requests, and closes every log
// cleanly (so the next start needs no recovery scan).
func (b *Broker) Close(ctx context.Context) error {
	b.closeOnce.Do(func() {
		if b.raft != nil {
			// Hand leadership over first, so that clients move to the
			// other replicas without an error (a rolling restart).
			b.raft.transferLeadership(5 * time.Second)
		}
		b.ready.Store(false)
		close(b.stop)
		b.closeHTTPFrontEnds(ctx)  // first: Kafka clients of this broker and of its registry
		b.closeSchemaRegistry(ctx) // before the logs close: it reads _schemas
		defer b.closeShares()
		// Answer waiting joins and syncs now (COORDINATOR_NOT_AVAILABLE,
		// as a Kafka broker shutting down does) so that connections can
		// drain instead of waiting out a rebalance.
		b.groups.Close()
		if b.srv != nil {
			if err := b.srv.Shutdown(ctx); err != nil {
				b.logger.Warn("shutdown: connections did not finish in time", "err", err)
			}
		}
		b.bg.Wait()
		// The Raft node stops before the logs close: no Ready round
		// writes to a closed log.
		raftErr := b.closeRaft()
		// adminMu: an admin operation still running (connections that
		// did not drain in time, an embedded caller) finishes first, so
		// that no topic it publishes escapes the close below.
		b.topics.adminMu.Lock()
		defer b.topics.adminMu.Unlock()
		// Closing a log writes and fsyncs its index and meta files:
		// the partitions are closed in parallel (openWorkers).
		var (
			errs  []error
			errMu sync.Mutex
			parts []*partition
		)
		for _, t := range b.topics.all() {
			parts = append(parts, t.partitionList()...)
		}
		_ = forEachParallel(len(parts), func(i int) error {
			p := parts[i]
			p.snapshotAtClose()
			if err := p.closeLog(); err != nil && !errors.Is(err, plog.ErrClosed) {
				errMu.Lock()
				errs = append(errs, fmt.Errorf("close %s: %w", p.dirName(), err))
				errMu.Unlock()
			}
			return nil
		})
		errs = append(errs, b.meta.close(), raftErr)
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}

// closeRaft stops cluster mode's node and loops (nil on a single node).
func (b *Broker) closeRaft() error {
	if b.raft == nil {
		return nil
	}
	return b.raft.close()
}

// housekeeping runs the periodic jobs: retention and fetch-session expiry.
func (b *Broker) housekeeping() {
	interval := time.Duration(b.cfg.LogRetentionCheckIntervalMs) * time.Millisecond
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	retention := time.NewTicker(interval)
	defer retention.Stop()
	sessions := time.NewTicker(10 * time.Second)
	defer sessions.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-retention.C:
			b.enforceRetention()
		case now := <-sessions.C:
			b.sessions.expire(now)
		}
	}
}

// flushSoon queues p for the flusher, which fsyncs it: a flush.messages
// flush that no reply waits to do. It never blocks; with the queue full the
// flush waits for the partition's next append.
func (b *Broker) flushSoon(p *partition) {
	if b.cfg.Memory || !p.flushQueued.CompareAndSwap(false, true) {
		return
	}
	select {
	case b.flushQueue <- p:
	default:
		p.flushQueued.Store(false)
	}
}

// flushCheckInterval is how often the flusher looks for partitions whose
// flush.ms is due when log.flush.scheduler.interval.ms is left at Kafka's
// default (never): Moldau then checks every 100 ms so that a topic's
// explicit flush.ms takes effect.
const flushCheckInterval = 100 * time.Millisecond

// flusher applies flush.ms (Kafka's log flusher): every
// log.flush.scheduler.interval.ms it fsyncs each partition whose last sync
// is older than its flush.ms and that has unsynced data. Partitions on the
// default policy (fsync before the acks=all ack) have flush.ms = never and
// cost one atomic load each. It also fsyncs, as soon as they are queued,
// the partitions whose flush.messages flush is due with no reply waiting
// to do it (flushSoon).
func (b *Broker) flusher() {
	if b.cfg.Memory {
		return
	}
	interval := flushCheckInterval
	if ms := b.cfg.LogFlushSchedulerIntervalMs; ms > 0 && ms < int64(time.Hour/time.Millisecond) {
		interval = time.Duration(ms) * time.Millisecond
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case p := <-b.flushQueue:
			p.flushQueued.Store(false)
			if err := p.syncAll(); err != nil && !errors.Is(err, plog.ErrClosed) {
				b.logger.Error("flush.messages flush failed", "partition", p.dirName(), "err", err)
			}
		case now := <-tick.C:
			for _, t := range b.topics.all() {
				for _, p := range t.partitionList() {
					if _, err := p.flushIfDue(now.UnixMilli()); err != nil && !errors.Is(err, plog.ErrClosed) {
						b.logger.Error("scheduled flush failed", "partition", p.dirName(), "err", err)
					}
				}
			}
		}
	}
}

// Cleaner tuning (Kafka: log.cleaner.dedupe.buffer.size, shared by its
// cleaner threads; log.cleaner.backoff.ms).
const (
	cleanerMapBytes = 32 << 20
	cleanerBackoff  = 15 * time.Second
)

// cleaner compacts the partitions of compacted topics, one at a time, with
// one offset map of cleanerMapBytes. It wakes every cleanerBackoff, or
// every log.retention.check.interval.ms if that is shorter.
func (b *Broker) cleaner() {
	if !b.cfg.LogCleanerEnable {
		return
	}
	interval := cleanerBackoff
	if ms := b.cfg.LogRetentionCheckIntervalMs; ms > 0 && time.Duration(ms)*time.Millisecond < interval {
		interval = time.Duration(ms) * time.Millisecond
	}
	var c *plog.Cleaner // allocated on first use: brokers without compacted topics pay nothing
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
		for _, t := range b.topics.all() {
			if !t.settings().Compact {
				continue
			}
			if c == nil {
				c = plog.NewCleaner(cleanerMapBytes)
			}
			for _, p := range t.partitionList() {
				select {
				case <-b.stop:
					return
				default:
				}
				st, err := p.compact(b.now().UnixMilli(), c)
				switch {
				case err != nil && !errors.Is(err, plog.ErrClosed):
					b.logger.Warn("compaction", "partition", p.dirName(), "err", err)
				case st.SegmentsCleaned > 0:
					b.logger.Info("compacted", "partition", p.dirName(), "segments", st.SegmentsCleaned,
						"bytes_before", st.BytesBefore, "bytes_after", st.BytesAfter, "records_removed", st.RecordsRemoved)
				}
			}
		}
	}
}

func (b *Broker) enforceRetention() {
	now := b.now().UnixMilli()
	for _, t := range b.topics.all() {
		for _, p := range t.partitionList() {
			n, err := p.enforceRetention(now)
			if err != nil && !errors.Is(err, plog.ErrClosed) {
				b.logger.Warn("retention", "partition", p.dirName(), "err", err)
			} else if n > 0 {
				b.logger.Info("retention deleted segments", "partition", p.dirName(), "segments", n)
			}
			p.expireProducers(now - b.config().ProducerIDExpirationMs)
		}
	}
}

// loadTopics opens every persisted topic's partition logs, finishing any
// deletion that a crash interrupted. The partitions of all topics are opened
// in parallel (openWorkers goroutines) and the topics published in one
// snapshot at the end; nothing is served yet.
func (b *Broker) loadTopics() error {
	b.topics.adminMu.Lock()
	defer b.topics.adminMu.Unlock()
	recs, err := b.meta.loadTopics()
	if err != nil {
		return err
	}
	live := make(map[string]bool, len(recs))
	for _, rec := range recs {
		if !rec.Deleting {
			live[rec.Name] = true
		}
	}
	type job struct {
		t     *topic
		parts []*partition
		index int32
	}
	var (
		topics []*topic
		jobs   []job
	)
	for _, rec := range recs {
		if rec.Deleting {
			b.logger.Info("finishing interrupted topic deletion", "topic", rec.Name)
			// A topic of the same name created since owns the
			// directories now; only the stale record goes.
			for i := int32(0); i < rec.Partitions && !live[rec.Name]; i++ {
				if err := b.fs.RemoveAll(filepath.Join(b.dataDir, partitionDirName(rec.Name, i))); err != nil {
					return err
				}
			}
			if err := b.meta.deleteTopic(rec.ID); err != nil {
				return err
			}
			continue
		}
		t := newTopic(rec.Name, rec.ID, rec.Configs, *b.config())
		parts := make([]*partition, rec.Partitions)
		t.partitions.Store(&parts)
		topics = append(topics, t)
		for i := range parts {
			jobs = append(jobs, job{t: t, parts: parts, index: int32(i)})
		}
	}
	err = forEachParallel(len(jobs), func(i int) error {
		j := jobs[i]
		p, err := b.openPartition(j.t, j.index)
		j.parts[j.index] = p
		return err
	})
	if err != nil {
		for _, j := range jobs {
			if p := j.parts[j.index]; p != nil {
				p.closeLog()
			}
		}
		return err
	}
	b.topics.publishLocked(topics, nil)
	return nil
}

func partitionDirName(topic string, partition int32) string {
	return topic + "-" + strconv.Itoa(int(partition))
}

// openPartition opens (creating if needed) one partition's log and rebuilds
// its producer state.
func (b *Broker) openPartition(t *topic, index int32) (*partition, error) {
	dir := filepath.Join(b.dataDir, partitionDirName(t.name, index))
	l, rep, err := plog.Open(b.fs, dir, t.logConfig(), b.logger.With("partition", partitionDirName(t.name, index)))
	if err != nil {
		return nil, fmt.Errorf("broker: open %s: %w", dir, err)
	}
	if rep.TruncatedFrom >= 0 {
		b.logger.Warn("recovery dropped a torn tail", "partition", partitionDirName(t.name, index), "from_offset", rep.TruncatedFrom, "bytes", rep.DroppedBytes)
	}
	lead := b.cluster.initialLeadership()
	p := newPartition(t, index, l, lead)
	// As Kafka's leader does on election: its epoch starts at its log end.
	if err := l.AssignEpoch(lead.epoch); err != nil {
		l.Close()
		return nil, fmt.Errorf("broker: open %s: %w", dir, err)
	}
	if err := p.rebuildProducers(); err != nil {
		l.Close()
		return nil, fmt.Errorf("broker: rebuild producer state of %s: %w", dir, err)
	}
	return p, nil
}

// Supported implements protocol.Handler.
func (b *Broker) Supported(key, version int16) bool {
	lo, hi, ok := b.versionRange(key)
	return ok && version >= lo && version <= hi
}

// Handle implements protocol.Handler.
func (b *Broker) Handle(ctx context.Context, req *protocol.Request) protocol.Reply {
	a := apiFor(req.Key)
	if a == nil {
		return protocol.Reply{Close: true}
	}
	if b.raft != nil && !b.raft.ready.Load() && req.Key != 18 {
		// A cluster node serves once it caught up with the metadata log
		// (a restarted node would otherwise answer Metadata with no
		// topics and itself alone); ApiVersions is answered at once
		// (v5's cluster id check waits for the id alone: 18_api_versions.go).
		b.raft.waitReady(ctx, readyWait)
	}
	if b.cfg.LogRequests {
		b.logger.Debug("request", "key", req.Key, "version", req.Version, "client", req.ClientID, "remote", req.Conn.Remote)
	}
	var post func(kmsg.Response)
	if b.authz != nil {
		var deny *protocol.Reply
		if deny, post = b.authorize(req); deny != nil {
			return b.topics.metrics.countWaiting(req.Key, *deny)
		}
	}
	if f := b.faults.take(req.Key); f != nil {
		return b.applyFault(ctx, f, req, func() protocol.Reply { return withPost(a.handle(b, ctx, req), post) })
	}
	return b.topics.metrics.countWaiting(req.Key, withPost(b.handleWithQuotas(ctx, a, req), post))
}

// respond wraps a ready response.
func respond(r kmsg.Response) protocol.Reply { return protocol.Reply{Resp: r} }
