//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/testenv"
)

// clusterMetadataRequired turns on requireClusterMetadata's assertion: that
// every node's Metadata lists all the dev-cluster's nodes as brokers. That
// needs the broker's cluster mode (issue #14), built in parallel with
// dev-cluster; with false (before it landed, a node given --peers served as
// a single node) the helper only logs what each node reports.
const clusterMetadataRequired = true

// requireClusterMetadata requires that each node's Metadata lists every
// node (id and Kafka address) as a broker within 60 s (the nodes elect a
// metadata leader and register through it after they answer ApiVersions);
// see clusterMetadataRequired.
func requireClusterMetadata(t *testing.T, nodes []devTestNode) {
	t.Helper()
	want := map[int32]string{}
	for _, n := range nodes {
		want[int32(n.id)] = n.kafka
	}
	for _, n := range nodes {
		var got map[int32]string
		var err error
		check := func() bool {
			got, err = metadataBrokers(n.kafka)
			return err == nil && fmt.Sprint(got) == fmt.Sprint(want)
		}
		if !clusterMetadataRequired {
			check()
			t.Logf("requireClusterMetadata (not yet required: clusterMetadataRequired = false): node %d lists brokers %v (err %v), want %v", n.id, got, err, want)
			continue
		}
		deadline := time.Now().Add(60 * time.Second)
		for pause := 10 * time.Millisecond; !check(); pause = min(2*pause, 250*time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("node %d: Metadata lists brokers %v (err %v) after 60 s, want %v", n.id, got, err, want)
			}
			time.Sleep(pause)
		}
	}
}

// metadataBrokers asks the node at addr for Metadata and returns the
// brokers it lists, by node id.
func metadataBrokers(addr string) (map[int32]string, error) {
	got := map[int32]string{}
	err := requestNode(addr, func(ctx context.Context, b *kgo.Broker) error {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{} // brokers only
		r, err := b.Request(ctx, req)
		if err != nil {
			return err
		}
		for _, br := range r.(*kmsg.MetadataResponse).Brokers {
			got[br.NodeID] = net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port)))
		}
		return nil
	})
	return got, err
}

// devTestNode is one line "node ID  kafka ADDR  peer ADDR  admin ADDR  pid PID"
// of the dev-cluster's banner.
type devTestNode struct {
	id          int
	kafka, peer string
	pid         int
}

var devNodeLine = regexp.MustCompile(`^node (\d+)  kafka (\S+)  peer (\S+)  admin (\S+)  pid (\d+)$`)

// requestNode runs f against the node at addr (exactly that node, not one
// the client learnt of), with a deadline.
func requestNode(addr string, f func(context.Context, *kgo.Broker) error) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return f(ctx, cl.SeedBrokers()[0])
}

func requireAPIVersions(t *testing.T, n devTestNode) {
	t.Helper()
	err := requestNode(n.kafka, func(ctx context.Context, b *kgo.Broker) error {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = "moldau-test", "1"
		r, err := b.Request(ctx, req)
		if err != nil {
			return err
		}
		if resp := r.(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
			return fmt.Errorf("error code %d, %d API keys", resp.ErrorCode, len(resp.ApiKeys))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("node %d (%s): ApiVersions: %v", n.id, n.kafka, err)
	}
}

// freeLoopbackPorts returns k distinct ports that are free on 127.0.0.1,
// 127.0.0.2 and 127.0.0.3, reserved for this test binary
// (testenv.FreePorts).
func freeLoopbackPorts(t *testing.T, k int) []int {
	t.Helper()
	return testenv.Ports(t, k, "127.0.0.1", "127.0.0.2", "127.0.0.3")
}

// lockedLines collects the lines a process writes.
type lockedLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *lockedLines) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, sc.Text())
		l.mu.Unlock()
	}
}

func (l *lockedLines) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

func (l *lockedLines) String() string { return strings.Join(l.snapshot(), "\n") }

// waitLine waits for a line matching re after the first skip lines and
// returns its submatches and index.
func (l *lockedLines) waitLine(t *testing.T, d time.Duration, re *regexp.Regexp, skip int) ([]string, int) {
	t.Helper()
	var m []string
	at := -1
	testenv.WaitFor(t, d, "a line matching "+re.String(), func() bool {
		lines := l.snapshot()
		for i := skip; i < len(lines); i++ {
			if m = re.FindStringSubmatch(lines[i]); m != nil {
				at = i
				return true
			}
		}
		return false
	})
	return m, at
}

// processGone reports whether no process has id pid any more.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// TestDevCluster builds the binary and runs `moldau dev-cluster --nodes 3`
// on free ports: every node answers ApiVersions and lists the three
// brokers (requireClusterMetadata); a node killed with SIGKILL is reported
// while the others keep serving, and SIGHUP restarts it (it rejoins);
// SIGTERM stops every node, the dev-cluster exits 0, no node is left and
// the temporary data directory is gone.
func TestDevCluster(t *testing.T) {
	if runtime.GOOS != "linux" {
		testenv.Unavailable(t, "dev-cluster's nodes on 127.0.0.2 and 127.0.0.3 need Linux's loopback routing (GOOS %s)", runtime.GOOS)
	}
	testenv.SkipIfShort(t, "builds the binary and starts three brokers")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "moldau")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ports := freeLoopbackPorts(t, 2)
	cmd := exec.Command(bin, "dev-cluster", "--nodes", "3", "--kafka-port", strconv.Itoa(ports[0]), "--peer-port", strconv.Itoa(ports[1]),
		"--admin-port", "0", "--schema-registry-port", "0",
		"--console-port", "0", "--http-proxy-port", "0", "--wait", "90s", "--", "--log-level", "info")
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out, errOut lockedLines
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); errOut.read(stderrPipe) }()
		out.read(stdoutPipe)
		wg.Wait()
	}()
	exited := make(chan error, 1)
	var pids []int // every node process seen
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill() // its nodes get SIGTERM (Pdeathsig)
			<-readDone
			<-exited
		}
		for _, pid := range pids {
			if !processGone(pid) {
				t.Errorf("node process %d outlived the dev-cluster", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if t.Failed() {
			t.Logf("dev-cluster stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		}
	})
	go func() { <-readDone; exited <- cmd.Wait() }()

	m, at := out.waitLine(t, 120*time.Second, regexp.MustCompile(`^bootstrap: (\S+)$`), 0)
	bootstrap := m[1]
	var nodes []devTestNode
	for _, line := range out.snapshot()[at+1 : at+4] {
		m := devNodeLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("banner line %q is not a node line", line)
		}
		id, _ := strconv.Atoi(m[1])
		pid, _ := strconv.Atoi(m[5])
		nodes = append(nodes, devTestNode{id: id, kafka: m[2], peer: m[3], pid: pid})
		pids = append(pids, pid)
	}
	var kafkaAddrs []string
	for i, n := range nodes {
		host := fmt.Sprintf("127.0.0.%d", i+1)
		if n.id != i+1 || n.kafka != net.JoinHostPort(host, strconv.Itoa(ports[0])) || n.peer != net.JoinHostPort(host, strconv.Itoa(ports[1])) {
			t.Errorf("node line %+v: want node %d on %s", n, i+1, host)
		}
		kafkaAddrs = append(kafkaAddrs, n.kafka)
	}
	if want := strings.Join(kafkaAddrs, ","); bootstrap != want {
		t.Errorf("bootstrap %q, want %q", bootstrap, want)
	}
	_, dataLine := out.waitLine(t, time.Second, regexp.MustCompile(`nodes ready in .* data in (\S+) \(removed on exit\)`), 0)
	dataDir := regexp.MustCompile(`data in (\S+) `).FindStringSubmatch(out.snapshot()[dataLine])[1]
	for _, n := range nodes {
		if _, err := os.Stat(filepath.Join(dataDir, "node-"+strconv.Itoa(n.id))); err != nil {
			t.Errorf("node %d data dir: %v", n.id, err)
		}
		requireAPIVersions(t, n)
	}
	// Each child's output is prefixed with its node.
	for _, n := range nodes {
		out.waitLine(t, 10*time.Second, regexp.MustCompile(`^\[node `+strconv.Itoa(n.id)+`\] listening on `+regexp.QuoteMeta(n.kafka)+`$`), 0)
	}
	requireClusterMetadata(t, nodes)

	// kill -9 of node 2: reported, the others keep serving; SIGHUP
	// restarts it.
	if err := syscall.Kill(nodes[1].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, died := errOut.waitLine(t, 30*time.Second, regexp.MustCompile(`^dev-cluster: `+regexp.QuoteMeta(fmt.Sprintf("node 2 (pid %d) exited: signal: killed; nodes 1, 3 keep running. kill -HUP %d restarts it", nodes[1].pid, cmd.Process.Pid))), 0)
	requireAPIVersions(t, nodes[0])
	requireAPIVersions(t, nodes[2])
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	m, _ = out.waitLine(t, 60*time.Second, regexp.MustCompile(`^dev-cluster: node 2 is back: kafka `+regexp.QuoteMeta(nodes[1].kafka)+`, pid (\d+)$`), at)
	newPid, _ := strconv.Atoi(m[1])
	pids = append(pids, newPid)
	if newPid == nodes[1].pid {
		t.Errorf("node 2 restarted with its old pid %d", newPid)
	}
	requireAPIVersions(t, nodes[1])
	requireClusterMetadata(t, nodes) // node 2 rejoined
	if clusterMetadataRequired {
		// Its Metadata may come from the log it replayed: wait for the
		// restarted node's own registration before stopping it (a
		// broker stopped while it registers spins in
		// raftCluster.registerLoop and never exits: reported, not ours
		// to fix here).
		errOut.waitLine(t, 60*time.Second, regexp.MustCompile(`^\[node 2\] .*msg="broker registered"`), died)
	}

	// SIGTERM stops everything.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("dev-cluster exited with %v after SIGTERM", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("dev-cluster still running 60 s after SIGTERM")
	}
	for _, pid := range pids {
		if !processGone(pid) {
			t.Errorf("node process %d is still there after the dev-cluster exited", pid)
		}
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary data dir %s: %v, want it removed", dataDir, err)
	}
}

// TestDevClusterNodeArgs: each node's command line is one the broker
// accepts, naming that node, its addresses and every voter.
func TestDevClusterNodeArgs(t *testing.T) {
	fs, o := (&cli{}).devClusterFlags()
	if err := fs.Parse([]string{"--nodes", "3", "--admin-port", "0"}); err != nil {
		t.Fatal(err)
	}
	nodes := devNodes(o, "/data", []string{"--dev"})
	peers := []config.Peer{{NodeID: 1, Addr: "127.0.0.1:9093"}, {NodeID: 2, Addr: "127.0.0.2:9093"}, {NodeID: 3, Addr: "127.0.0.3:9093"}}
	for i, n := range nodes {
		cfg, err := config.Load(n.args, func(string) string { return "" }, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("node %d: %q: %v", i+1, n.args, err)
		}
		host := fmt.Sprintf("127.0.0.%d", i+1)
		if cfg.NodeID != int32(i+1) || cfg.Addr != host+":9092" || cfg.PeerAddr != host+":9093" || cfg.AdminAddr != "" || cfg.AdvertiseAddr != "" || cfg.SchemaRegistryAddr != host+":8081" ||
			cfg.ConsoleAddr != host+":8080" || cfg.HTTPProxyAddr != host+":8082" ||
			cfg.DataDir != filepath.Join("/data", fmt.Sprintf("node-%d", i+1)) || !slices.Equal(cfg.Peers, peers) || cfg.SyncOnAcksAll {
			t.Errorf("node %d: %q gives %+v", i+1, n.args, cfg)
		}
	}
	// Port 0 turns the console and the HTTP proxy off, whatever the
	// broker's own defaults.
	fs, o = (&cli{}).devClusterFlags()
	if err := fs.Parse([]string{"--nodes", "1", "--console-port", "0", "--http-proxy-port", "18082"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(devNodes(o, "/data", nil)[0].args, func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err != nil || cfg.ConsoleAddr != "" || cfg.HTTPProxyAddr != "127.0.0.1:18082" {
		t.Errorf("--console-port 0 --http-proxy-port 18082: console %q http proxy %q (%v)", cfg.ConsoleAddr, cfg.HTTPProxyAddr, err)
	}
}

// TestDevClusterUsageErrors: a wrong command line exits 2 before starting
// anything.
func TestDevClusterUsageErrors(t *testing.T) {
	for _, line := range []string{"dev-cluster --nodes 0", "dev-cluster --nodes 255", "dev-cluster extra", "dev-cluster --kafka-port 0",
		"dev-cluster --peer-port 70000", "dev-cluster --kafka-port 9093", "dev-cluster --admin-port -1", "dev-cluster --bogus",
		"dev-cluster --schema-registry-port 9092", "dev-cluster --schema-registry-port -1",
		"dev-cluster --console-port 9092", "dev-cluster --console-port 8081", "dev-cluster --http-proxy-port 70000",
		"dev-cluster --console-port 18080 --http-proxy-port 18080", "dev-cluster --http-proxy-port 9644"} {
		code, out, errOut := runInProcess(t, strings.Fields(line)...)
		if code != 2 || out != "" || !strings.Contains(errOut, "moldau help dev-cluster") {
			t.Errorf("moldau %s: exit %d, stdout %q, stderr %q; want exit 2 and a pointer to the help", line, code, out, errOut)
		}
	}
}

// TestLinePrefixer: whole lines, each with the prefix, whatever the writes'
// boundaries; a last line without a newline comes out on flush.
func TestLinePrefixer(t *testing.T) {
	var b bytes.Buffer
	l := &linePrefixer{w: &b, prefix: "[node 2] ", mu: &sync.Mutex{}}
	for _, s := range []string{"list", "ening on x\nsecond\nthi", "rd\n", "", "partial"} {
		if n, err := l.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if want := "[node 2] listening on x\n[node 2] second\n[node 2] third\n"; b.String() != want {
		t.Errorf("before flush: %q, want %q", b.String(), want)
	}
	l.flush()
	if !strings.HasSuffix(b.String(), "[node 2] partial\n") {
		t.Errorf("after flush: %q", b.String())
	}
}
