package jepsen

// Process clusters: three nodes as child processes on 127.0.0.1-3 (Moldau
// here, Apache Kafka in kafka.go), the same port numbers on every address,
// each node's output appended to DIR/nodeN.log. The nemesis (nemesis.go)
// kills, pauses and restarts these processes and cuts them apart with
// nftables (nft.go).
//
// Ports: chosen free on 127.0.0.1-6 (nodes 4-6 are those a membership
// fault adds) and reserved for this process (testenv.FreePorts), so that other tests running at
// the same time on 127.0.0.1-3 with other ports are not disturbed and the
// campaign's network rules (which match only these ports) touch nothing
// else.
//
// Locking: procCluster.mu guards members and removed; procNode.mu guards a
// node's cmd, done and state. Neither is held across a network call or a
// wait for a process.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testenv"
)

// ErrNodeStart is returned when a node process does not come up.
var ErrNodeStart = errors.New("jepsen: node did not start")

// ProcOptions configures a process cluster.
type ProcOptions struct {
	// Dir holds each node's data directory and log; empty: a new
	// temporary directory, removed by Close.
	Dir string
	// Binary is the moldau binary; empty: built once from this module
	// (go build ./cmd/moldau).
	Binary string
	// KafkaLibs is the directory of Apache Kafka 4.4's jars; empty:
	// $MOLDAU_KAFKA_LIBS, else tests/compat/.cache/kafka-4.4.0/libs of
	// this module (tests/compat/setup.sh downloads it).
	KafkaLibs string
	// KafkaHeap is the Kafka JVMs' -Xmx (default 512m).
	KafkaHeap string
	// ExtraArgs are appended to every moldau node's flags.
	ExtraArgs []string
	// StartTimeout bounds a cluster start and a Heal's wait (default 3 min).
	StartTimeout time.Duration
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
}

func (o *ProcOptions) defaults() {
	if o.StartTimeout == 0 {
		o.StartTimeout = 3 * time.Minute
	}
	if o.KafkaHeap == "" {
		o.KafkaHeap = "512m"
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// nodeState is what the nemesis did to a node.
type nodeState int

const (
	nodeRunning nodeState = iota
	nodeKilled            // SIGKILLed (or exited); Heal restarts it
	nodePaused            // SIGSTOPped; Heal sends SIGCONT
	nodeStopped           // removed from the cluster and stopped for good
)

// procNode is one node process.
type procNode struct {
	id      int32
	ip      string
	ports   []int // the node's listening ports; ports[0] is the Kafka listener
	argv    []string
	env     []string
	uid     uint32 // non-zero: the process runs as this uid (Kafka, cut by meta skuid)
	dir     string
	logPath string

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{} // closed when the current run's process has exited
	state nodeState
}

func (n *procNode) addr() string { return net.JoinHostPort(n.ip, strconv.Itoa(n.ports[0])) }

// start runs the node's process (its log appended) without waiting for it
// to listen.
func (n *procNode) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	fmt.Fprintf(logf, "=== run at %s: %s\n", time.Now().UTC().Format(time.RFC3339Nano), strings.Join(n.argv, " "))
	cmd := exec.Command(n.argv[0], n.argv[1:]...)
	cmd.Dir = n.dir
	cmd.Env = append(os.Environ(), n.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: the node dies with the campaign's process (a test binary
	// killed by its timeout leaves no cluster behind).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if n.uid != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: n.uid, Gid: n.uid}
	}
	// Pdeathsig is tied to the thread that forks: keep it alive.
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("%w: node %d: %v", ErrNodeStart, n.id, err)
	}
	done := make(chan struct{})
	logPath := n.logPath
	go func() {
		err := cmd.Wait()
		if f, ferr := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
			fmt.Fprintf(f, "=== exit at %s: %v\n", time.Now().UTC().Format(time.RFC3339Nano), cmd.ProcessState)
			f.Close()
		}
		_ = err
		close(done)
	}()
	n.cmd, n.done, n.state = cmd, done, nodeRunning
	return nil
}

// pid is the running process's pid, 0 when none.
func (n *procNode) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.exited() {
		return 0
	}
	return n.cmd.Process.Pid
}

// exited reports whether the current run has ended; n.mu held.
func (n *procNode) exited() bool {
	if n.done == nil {
		return true
	}
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

func (n *procNode) getState() nodeState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

func (n *procNode) setState(s nodeState) {
	n.mu.Lock()
	n.state = s
	n.mu.Unlock()
}

// running reports whether the process is alive (paused counts).
func (n *procNode) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.exited()
}

// signal sends sig to the node's process (the JVM or moldau itself).
func (n *procNode) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.exited() {
		return fmt.Errorf("jepsen: node %d is not running", n.id)
	}
	return n.cmd.Process.Signal(sig)
}

// kill9 SIGKILLs the process and waits for it to be gone.
func (n *procNode) kill9(ctx context.Context) error {
	if err := n.signal(syscall.SIGKILL); err != nil {
		return err
	}
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// procState is the process's state letter from /proc/PID/stat ("T" when
// stopped), "" when unknown.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// stop SIGKILLs the node if it runs (a SIGSTOPped one too) and marks it
// stopped for good.
func (n *procNode) stop() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.state = nodeStopped
	n.mu.Unlock()
	if cmd != nil && done != nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// logTail is the last n bytes of the node's log.
func (n *procNode) logTail(size int) string {
	b, err := os.ReadFile(n.logPath)
	if err != nil {
		return err.Error()
	}
	return string(b[max(0, len(b)-size):])
}

// procCluster is what the Moldau and the Kafka process clusters share.
type procCluster struct {
	name     string
	opts     ProcOptions
	dir      string
	ownDir   bool
	ports    []int // the same on every node: ports[0] Kafka, ports[1] peer/controller
	cutByUID bool  // Kafka: nodes are told apart by socket uid, not address
	nft      *nftTable
	dialer   net.Dialer

	mu      sync.Mutex
	members []*procNode
	removed []*procNode
	nextID  int32
	closed  bool
}

func newProcCluster(name string, opts ProcOptions, nports int) (*procCluster, error) {
	opts.defaults()
	c := &procCluster{name: name, opts: opts, dir: opts.Dir, nextID: 4}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "jepsen-"+name+"-")
		if err != nil {
			return nil, err
		}
		c.dir, c.ownDir = d, true
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	// The cluster's directory may be reached by nodes running under other
	// uids (Kafka).
	_ = os.Chmod(c.dir, 0o755)
	ports, err := freePorts(6, nports)
	if err != nil {
		return nil, err
	}
	c.ports = ports
	c.dialer = net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ClientIP)}}
	return c, nil
}

// nodeIP is the loopback address of node id.
func nodeIP(id int32) string { return fmt.Sprintf("127.0.0.%d", id) }

// freePorts finds k port numbers each free on every address 127.0.0.1..n,
// drawn below the kernel's ephemeral range and reserved for this process
// (testenv.FreePorts), so a node restarted after a kill finds its ports
// still free.
func freePorts(n, k int) ([]int, error) {
	var hosts []string
	for i := 1; i <= n; i++ {
		hosts = append(hosts, nodeIP(int32(i)))
	}
	ports, err := testenv.FreePorts(k, hosts...)
	if err != nil {
		return nil, fmt.Errorf("jepsen: %w (binding 127.0.0.2+ needs the whole 127/8 on loopback, as on Linux)", err)
	}
	return ports, nil
}

func (c *procCluster) Name() string { return c.name }

// Seeds are the Kafka addresses of the current members.
func (c *procCluster) Seeds() []string {
	var out []string
	for _, n := range c.currentMembers() {
		out = append(out, n.addr())
	}
	return out
}

// Dial binds the connection to ClientIP.
func (c *procCluster) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return c.dialer.DialContext(ctx, network, addr)
}

func (c *procCluster) currentMembers() []*procNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.members)
}

func (c *procCluster) member(id int32) *procNode {
	for _, n := range c.currentMembers() {
		if n.id == id {
			return n
		}
	}
	return nil
}

// Close stops every node, removes the network rules and, when the
// directory was its own, the directory.
func (c *procCluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	nodes := append(slices.Clone(c.members), c.removed...)
	c.mu.Unlock()
	var errs []error
	if c.nft != nil {
		errs = append(errs, c.nft.Close())
	}
	for _, n := range nodes {
		if n.getState() == nodePaused {
			_ = n.signal(syscall.SIGCONT)
		}
		n.stop()
	}
	if c.ownDir {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}

// client is a kgo client bound to ClientIP, seeded with the members.
func (c *procCluster) client(opts ...kgo.Opt) (*kgo.Client, error) {
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(c.Seeds()...), kgo.Dialer(c.Dial),
		kgo.RetryTimeout(5 * time.Second), kgo.RequestTimeoutOverhead(5 * time.Second),
	}, opts...)
	return kgo.NewClient(opts...)
}

// poll calls cond until it holds or ctx ends; the pause grows to 100 ms.
func poll(ctx context.Context, what string, cond func() bool) error {
	pause := 5 * time.Millisecond
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("jepsen: waiting for %s: %w", what, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
	return nil
}

// brokerIDs asks node n alone for Metadata: the broker ids it lists.
func (c *procCluster) brokerIDs(ctx context.Context, n *procNode) ([]int32, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr()), kgo.Dialer(c.Dial), kgo.RetryTimeout(0), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	m, err := kmsg.NewPtrMetadataRequest().RequestWith(rctx, cl)
	if err != nil {
		return nil, err
	}
	var ids []int32
	for _, b := range m.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	return ids, nil
}

// waitServing waits until every member answers Metadata listing exactly
// the members, failing early when a member's process exits.
func (c *procCluster) waitServing(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	members := c.currentMembers()
	var want []int32
	for _, n := range members {
		want = append(want, n.id)
	}
	slices.Sort(want)
	var last string
	for _, n := range members {
		err := poll(ctx, fmt.Sprintf("node %d's Metadata listing brokers %v", n.id, want), func() bool {
			if !n.running() {
				return true // exited: no use waiting
			}
			ids, err := c.brokerIDs(ctx, n)
			last = fmt.Sprint(ids, err)
			return err == nil && slices.Equal(ids, want)
		})
		if !n.running() {
			return fmt.Errorf("%w: node %d exited (log %s):\n%s", ErrNodeStart, n.id, n.logPath, n.logTail(1500))
		}
		if err != nil {
			return fmt.Errorf("%w (last answer %s; state %d, log %s:\n%s)", err, last, n.getState(), n.logPath, n.logTail(1500))
		}
	}
	return nil
}

// leaderOf is the leader of a partition of topic chosen by pick among
// those with a leader, and the partition.
func (c *procCluster) leaderOf(ctx context.Context, topic string, pick func(int) int) (int32, int32, error) {
	cl, err := c.client()
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := req.RequestWith(rctx, cl)
	if err != nil {
		return 0, 0, err
	}
	type pl struct{ part, leader int32 }
	var led []pl
	for _, t := range m.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 && p.Leader >= 0 {
				led = append(led, pl{p.Partition, p.Leader})
			}
		}
	}
	if len(led) == 0 {
		return 0, 0, fmt.Errorf("jepsen: no partition of %s has a leader", topic)
	}
	slices.SortFunc(led, func(a, b pl) int { return int(a.part - b.part) })
	x := led[pick(len(led))]
	return x.part, x.leader, nil
}

// controllerID is the leader of the metadata quorum (DescribeQuorum of
// __cluster_metadata-0): Moldau's metadata Raft leader, Kafka's active
// controller.
func (c *procCluster) controllerID(ctx context.Context) (int32, error) {
	cl, err := c.client()
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(rctx, cl)
	if err != nil {
		return 0, fmt.Errorf("jepsen: describe quorum: %w", err)
	}
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("jepsen: describe quorum: error %d", resp.ErrorCode)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.LeaderID < 0 {
		return 0, fmt.Errorf("jepsen: describe quorum: error %d, leader %d", p.ErrorCode, p.LeaderID)
	}
	return p.LeaderID, nil
}

// startNodes starts the nodes at once (a quorum needs them all) and waits
// until every one serves Metadata listing all.
func (c *procCluster) startNodes(ctx context.Context, nodes []*procNode) error {
	c.mu.Lock()
	c.members = append(c.members, nodes...)
	c.mu.Unlock()
	for _, n := range nodes {
		if err := n.start(); err != nil {
			return err
		}
	}
	return c.waitServing(ctx)
}

// MoldauCluster is three moldau processes (127.0.0.1-3).
type MoldauCluster struct {
	*procCluster
	bin   string
	peers string // --peers of the first three nodes
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// repoRoot is the module root, from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// moldauBinary builds cmd/moldau once per process, into
// $TMPDIR/jepsen-moldau-bin-<pid>-*; the directories of processes that are
// gone are removed first (a test process cannot remove its own at exit).
func moldauBinary() (string, error) {
	buildOnce.Do(func() {
		old, _ := filepath.Glob(filepath.Join(os.TempDir(), "jepsen-moldau-bin-*-*"))
		for _, d := range old {
			f := strings.Split(filepath.Base(d), "-")
			pid, err := strconv.Atoi(f[len(f)-2])
			if err != nil || pid == os.Getpid() {
				continue
			}
			if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
				_ = os.RemoveAll(d)
			}
		}
		dir, err := os.MkdirTemp("", fmt.Sprintf("jepsen-moldau-bin-%d-", os.Getpid()))
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "moldau")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/moldau")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("jepsen: go build ./cmd/moldau: %v\n%s", err, out)
		}
	})
	return buildPath, buildErr
}

// NewMoldauCluster starts three moldau nodes on 127.0.0.1-3 and returns
// once each one's Metadata lists all three.
func NewMoldauCluster(ctx context.Context, opts ProcOptions) (*MoldauCluster, error) {
	pc, err := newProcCluster("moldau", opts, 2)
	if err != nil {
		return nil, err
	}
	bin := pc.opts.Binary
	if bin == "" {
		if bin, err = moldauBinary(); err != nil {
			return nil, err
		}
	}
	c := &MoldauCluster{procCluster: pc, bin: bin}
	var peers []string
	for id := int32(1); id <= 3; id++ {
		peers = append(peers, fmt.Sprintf("%d@%s:%d", id, nodeIP(id), pc.ports[1]))
	}
	c.peers = strings.Join(peers, ",")
	if c.nft, err = newNFTTable(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	var nodes []*procNode
	for id := int32(1); id <= 3; id++ {
		nodes = append(nodes, c.newNode(id, c.peers))
	}
	if err := c.startNodes(ctx, nodes); err != nil {
		_ = c.Close()
		return nil, err
	}
	pc.opts.Logf("moldau cluster up: %v (dir %s)", c.Seeds(), c.dir)
	return c, nil
}

// newNode is node id's process (not started): peers is its --peers (the
// voters; a joiner's names them without itself).
func (c *MoldauCluster) newNode(id int32, peers string) *procNode {
	ip := nodeIP(id)
	dir := filepath.Join(c.dir, fmt.Sprintf("node%d", id))
	_ = os.MkdirAll(dir, 0o755)
	n := &procNode{id: id, ip: ip, ports: c.ports, dir: dir, logPath: filepath.Join(c.dir, fmt.Sprintf("node%d.log", id))}
	n.argv = append([]string{c.bin,
		"--node-id", strconv.Itoa(int(id)),
		"--addr", net.JoinHostPort(ip, strconv.Itoa(c.ports[0])),
		"--peer-addr", net.JoinHostPort(ip, strconv.Itoa(c.ports[1])),
		"--peers", peers,
		"--data-dir", filepath.Join(dir, "data"),
		"--admin-addr", "",
		"--schema-registry-addr", "", "--console-addr", "", "--http-proxy-addr", "",
		// KIP-848 sessions as short as the classic members' (the groups
		// workload kills members: at the 45 s default a killed member
		// holds its partitions for 45 s); Kafka's cluster sets the same.
		"--set", "group.consumer.session.timeout.ms=6000",
		"--set", "group.consumer.heartbeat.interval.ms=500",
	}, c.opts.ExtraArgs...)
	return n
}

// cli runs `moldau ARGS` (the admin CLI) and returns its output.
func (c *MoldauCluster) cli(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("jepsen: moldau %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
