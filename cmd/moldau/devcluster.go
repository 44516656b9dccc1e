package main

// `moldau dev-cluster`: a local cluster of N broker processes for
// developers who want to watch their client survive a failover.
//
// Node i (ids 1..N, as Kafka users number brokers) is a child process of
// this binary (os.Executable) listening for Kafka on 127.0.0.i:KAFKA-PORT,
// inter-broker on 127.0.0.i:PEER-PORT and admin on 127.0.0.i:ADMIN-PORT,
// with its data in DIR/node-i. Linux routes all of 127.0.0.0/8 to the
// loopback, so the nodes share ports and differ by address, and firewall
// rules between two addresses can cut one node off.
//
// The children run in one process group of their own (not the terminal's),
// so a Ctrl-C reaches only the dev-cluster, which forwards it once to every
// node: each shuts down cleanly, and a second Ctrl-C, forwarded again, makes
// them stop at once (the broker's own rule). On Linux the children also get
// SIGTERM if the dev-cluster dies (Pdeathsig), so none outlives it.
//
// A node that dies while the cluster runs (kill -9 PID, to watch a
// failover) is reported and the others keep running; SIGHUP to the
// dev-cluster restarts every stopped node with its data.
//
// Concurrency: run's loop owns every devNode field; the goroutines that
// wait for a child or poll it with ApiVersions only send events to it.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
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
)

// devClusterOptions are dev-cluster's flags.
type devClusterOptions struct {
	nodes                          int
	dataDir                        string
	kafkaPort, peerPort, adminPort int
	registryPort                   int
	consolePort, httpProxyPort     int
	wait                           time.Duration
	stopTimeout                    time.Duration
}

func (c *cli) devClusterFlags() (*flag.FlagSet, *devClusterOptions) {
	o := &devClusterOptions{}
	fs := flag.NewFlagSet("moldau dev-cluster", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.IntVar(&o.nodes, "nodes", 3, "start `N` nodes, with node ids 1..N on 127.0.0.1..127.0.0.N")
	fs.StringVar(&o.dataDir, "data-dir", "", "keep node i's data in `DIR`/node-i, kept on exit; default: a temporary directory, removed on exit")
	fs.IntVar(&o.kafkaPort, "kafka-port", 9092, "Kafka `PORT` of every node (on its own address)")
	fs.IntVar(&o.peerPort, "peer-port", 9093, "inter-broker `PORT` of every node")
	fs.IntVar(&o.adminPort, "admin-port", 9644, "admin/metrics HTTP `PORT` of every node; 0 disables it")
	fs.IntVar(&o.registryPort, "schema-registry-port", 8081, "schema registry HTTP `PORT` of every node (on its own address); 0 disables it")
	fs.IntVar(&o.consolePort, "console-port", 8080, "web console HTTP `PORT` of every node (on its own address); 0 disables it")
	fs.IntVar(&o.httpProxyPort, "http-proxy-port", 8082, "HTTP proxy (Confluent REST Proxy API) `PORT` of every node (on its own address); 0 disables it")
	fs.DurationVar(&o.wait, "wait", 60*time.Second, "give up when the nodes do not all answer ApiVersions within this `DURATION`")
	fs.DurationVar(&o.stopTimeout, "stop-timeout", 45*time.Second, "kill nodes that have not stopped this `DURATION` after Ctrl-C/SIGTERM")
	return fs, o
}

// devNode is one child broker. run's loop owns every field.
type devNode struct {
	id                 int
	host               string
	kafka, peer, admin string // HOST:PORT; admin "" when disabled
	registry           string // HOST:PORT of the schema registry; "" when disabled
	console, httpProxy string // HOST:PORT of the web console and the HTTP proxy; "" when disabled
	dataDir            string
	args               []string // the child's command line after the binary
	cmd                *exec.Cmd
	gen                int // starts so far; events carry the gen they are about
	running, ready     bool
	stopReady          context.CancelFunc // ends the ApiVersions poll of this start
}

// devEvent is what the helper goroutines tell run's loop.
type devEvent struct {
	node  *devNode
	gen   int
	ready bool  // the node answered ApiVersions
	err   error // exited: cmd.Wait's error (nil: exit status 0)
}

// devCluster is `moldau dev-cluster`.
func (c *cli) devCluster(args []string) error {
	fs, o := c.devClusterFlags()
	if err := parse(fs, args); err != nil {
		return err
	}
	extra := fs.Args()
	if len(extra) > 0 && (len(args) <= len(extra) || args[len(args)-len(extra)-1] != "--") {
		return usagef("unexpected argument %q (broker flags for every node go after --)", extra[0])
	}
	if o.nodes < 1 || o.nodes > 254 {
		return usagef("--nodes %d: want 1 to 254 (node i listens on 127.0.0.i)", o.nodes)
	}
	for _, p := range []struct {
		name string
		port int
		zero bool
	}{{"kafka-port", o.kafkaPort, false}, {"peer-port", o.peerPort, false}, {"admin-port", o.adminPort, true},
		{"schema-registry-port", o.registryPort, true}, {"console-port", o.consolePort, true}, {"http-proxy-port", o.httpProxyPort, true}} {
		if p.port < 0 || p.port > 65535 || (p.port == 0 && !p.zero) {
			return usagef("--%s %d: want a port from 1 to 65535", p.name, p.port)
		}
	}
	if o.kafkaPort == o.peerPort || o.kafkaPort == o.adminPort || o.peerPort == o.adminPort {
		return usagef("--kafka-port, --peer-port and --admin-port must differ")
	}
	if o.registryPort != 0 && (o.registryPort == o.kafkaPort || o.registryPort == o.peerPort || o.registryPort == o.adminPort) {
		return usagef("--schema-registry-port must differ from --kafka-port, --peer-port and --admin-port")
	}
	for _, p := range []struct {
		name string
		port int
	}{{"console-port", o.consolePort}, {"http-proxy-port", o.httpProxyPort}} {
		if p.port != 0 && slices.Contains([]int{o.kafkaPort, o.peerPort, o.adminPort, o.registryPort}, p.port) {
			return usagef("--%s must differ from --kafka-port, --peer-port, --admin-port and --schema-registry-port", p.name)
		}
	}
	if o.consolePort != 0 && o.consolePort == o.httpProxyPort {
		return usagef("--console-port and --http-proxy-port must differ")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this binary to start the nodes: %w", err)
	}
	root, tempRoot := o.dataDir, false
	if root == "" {
		if root, err = os.MkdirTemp("", "moldau-dev-cluster-"); err != nil {
			return err
		}
		tempRoot = true
	}
	if root, err = filepath.Abs(root); err != nil {
		return err
	}
	nodes := devNodes(o, root, extra)
	for _, n := range nodes {
		if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
			return err
		}
	}
	d := &devClusterRun{cli: c, o: o, exe: exe, root: root, tempRoot: tempRoot, nodes: nodes,
		events: make(chan devEvent, 4*len(nodes)), out: &sync.Mutex{}}
	err = d.run()
	if tempRoot {
		if rmErr := os.RemoveAll(root); rmErr != nil && err == nil {
			err = rmErr
		}
	}
	return err
}

// devNodes lays out the nodes: ids 1..N, node i on 127.0.0.i.
func devNodes(o *devClusterOptions, root string, extra []string) []*devNode {
	nodes := make([]*devNode, o.nodes)
	var peers []string
	for i := range nodes {
		id := i + 1
		host := "127.0.0." + strconv.Itoa(id)
		n := &devNode{id: id, host: host, dataDir: filepath.Join(root, "node-"+strconv.Itoa(id)),
			kafka: hostPort(host, o.kafkaPort), peer: hostPort(host, o.peerPort)}
		if o.adminPort != 0 {
			n.admin = hostPort(host, o.adminPort)
		}
		if o.registryPort != 0 {
			n.registry = hostPort(host, o.registryPort)
		}
		if o.consolePort != 0 {
			n.console = hostPort(host, o.consolePort)
		}
		if o.httpProxyPort != 0 {
			n.httpProxy = hostPort(host, o.httpProxyPort)
		}
		nodes[i] = n
		peers = append(peers, strconv.Itoa(id)+"@"+n.peer)
	}
	for _, n := range nodes {
		n.args = append([]string{"--node-id", strconv.Itoa(n.id), "--addr", n.kafka, "--peer-addr", n.peer,
			"--peers", strings.Join(peers, ","), "--data-dir", n.dataDir, "--admin-addr=" + n.admin,
			"--schema-registry-addr=" + n.registry, "--console-addr=" + n.console, "--http-proxy-addr=" + n.httpProxy,
			"--advertise-addr="}, extra...)
	}
	return nodes
}

func hostPort(host string, port int) string { return host + ":" + strconv.Itoa(port) }

// devClusterRun is one dev-cluster run.
type devClusterRun struct {
	*cli
	o        *devClusterOptions
	exe      string
	root     string
	tempRoot bool
	nodes    []*devNode
	events   chan devEvent
	out      *sync.Mutex // serialises lines on stdout and stderr
	pgid     int         // the children's process group; 0 before the first start
	waiting  sync.WaitGroup
}

// say prints one line of the dev-cluster's own on stdout.
func (d *devClusterRun) say(format string, args ...any) {
	d.out.Lock()
	defer d.out.Unlock()
	fmt.Fprintf(d.stdout, format+"\n", args...)
}

// warn prints one line of the dev-cluster's own on stderr.
func (d *devClusterRun) warn(format string, args ...any) {
	d.out.Lock()
	defer d.out.Unlock()
	fmt.Fprintf(d.stderr, "dev-cluster: "+format+"\n", args...)
}

func (d *devClusterRun) run() error {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)

	started := time.Now()
	var startErr error
	for _, n := range d.nodes {
		if startErr = d.start(n); startErr != nil {
			break
		}
	}
	deadline := time.NewTimer(d.o.wait)
	defer deadline.Stop()
	var stopTimer <-chan time.Time
	allReady, stopping := false, startErr != nil
	var failure error
	if startErr != nil {
		failure = startErr
		d.stopAll(syscall.SIGTERM)
		stopTimer = time.After(d.o.stopTimeout)
	}
	for {
		if stopping && d.runningCount() == 0 {
			d.waiting.Wait()
			return failure
		}
		select {
		case s := <-sig:
			switch {
			case s == syscall.SIGHUP && !stopping && allReady:
				d.restartStopped()
			case s == syscall.SIGHUP:
				d.warn("SIGHUP ignored while the nodes start or stop")
			case stopping:
				d.warn("%s again: the nodes stop at once", s)
				d.stopAll(s)
			default:
				stopping = true
				d.say("dev-cluster: %s: stopping every node (again to stop them at once)", s)
				d.stopAll(s)
				stopTimer = time.After(d.o.stopTimeout)
			}
		case ev := <-d.events:
			n := ev.node
			if ev.gen != n.gen {
				continue // about an earlier start
			}
			if ev.ready {
				n.ready = true
				if allReady {
					d.say("dev-cluster: node %d is back: kafka %s, pid %d", n.id, n.kafka, n.cmd.Process.Pid)
				} else if !stopping && d.readyCount() == len(d.nodes) {
					allReady = true
					deadline.Stop()
					d.banner(time.Since(started))
				}
				continue
			}
			n.running, n.ready = false, false
			n.stopReady()
			switch {
			case stopping:
				if ev.err != nil && failure == nil {
					failure = fmt.Errorf("node %d (pid %d) %v", n.id, n.cmd.Process.Pid, ev.err)
				}
			case !allReady:
				failure = fmt.Errorf("node %d (pid %d) exited before it answered ApiVersions: %v%s", n.id, n.cmd.Process.Pid, exitText(ev.err), d.addrHint(n))
				d.warn("node %d failed to start; stopping the others", n.id)
				stopping = true
				d.stopAll(syscall.SIGTERM)
				stopTimer = time.After(d.o.stopTimeout)
			default:
				d.warn("node %d (pid %d) exited: %s; %s keep running. kill -HUP %d restarts it (every stopped node, with its data)",
					n.id, n.cmd.Process.Pid, exitText(ev.err), d.runningList(), os.Getpid())
			}
		case <-deadline.C:
			if allReady || stopping {
				continue
			}
			var late []string
			for _, n := range d.nodes {
				if !n.ready {
					late = append(late, fmt.Sprintf("node %d (%s)", n.id, n.kafka))
				}
			}
			failure = fmt.Errorf("%s did not answer ApiVersions within %v (--wait)", strings.Join(late, ", "), d.o.wait)
			d.warn("not every node answered ApiVersions within %v (--wait); stopping every node", d.o.wait)
			stopping = true
			d.stopAll(syscall.SIGTERM)
			stopTimer = time.After(d.o.stopTimeout)
		case <-stopTimer:
			d.warn("%s still running %v after the stop signal: killing them", d.runningList(), d.o.stopTimeout)
			if failure == nil {
				failure = fmt.Errorf("%s did not stop within %v (--stop-timeout)", d.runningList(), d.o.stopTimeout)
			}
			d.stopAll(syscall.SIGKILL)
			stopTimer = nil
		}
	}
}

// start starts n's process and the goroutines that wait for it and poll
// it with ApiVersions.
func (d *devClusterRun) start(n *devNode) error {
	cmd := exec.Command(d.exe, n.args...)
	cmd.Env = os.Environ()
	stdout := &linePrefixer{w: d.stdout, prefix: fmt.Sprintf("[node %d] ", n.id), mu: d.out}
	stderr := &linePrefixer{w: d.stderr, prefix: fmt.Sprintf("[node %d] ", n.id), mu: d.out}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 5 * time.Second // output pipes held open by someone else
	cmd.SysProcAttr = childProcAttr(d.pgid)
	err := cmd.Start()
	if err != nil && d.pgid != 0 {
		// The group ended with its last member: start a new one.
		cmd = exec.Command(d.exe, n.args...)
		cmd.Env, cmd.Stdout, cmd.Stderr, cmd.WaitDelay = os.Environ(), stdout, stderr, 5*time.Second
		cmd.SysProcAttr = childProcAttr(0)
		err = cmd.Start()
		d.pgid = 0
	}
	if err != nil {
		return fmt.Errorf("starting node %d: %w", n.id, err)
	}
	if d.pgid == 0 {
		d.pgid = cmd.Process.Pid
	}
	n.cmd, n.running, n.ready = cmd, true, false
	n.gen++
	gen := n.gen
	ctx, cancel := context.WithCancel(context.Background())
	n.stopReady = cancel
	d.waiting.Add(2)
	go func() {
		defer d.waiting.Done()
		err := cmd.Wait()
		stdout.flush()
		stderr.flush()
		cancel()
		d.events <- devEvent{node: n, gen: gen, err: err}
	}()
	go func() {
		defer d.waiting.Done()
		if waitAPIVersions(ctx, n.kafka) == nil {
			select {
			case d.events <- devEvent{node: n, gen: gen, ready: true}:
			case <-ctx.Done():
			}
		}
	}()
	return nil
}

// stopAll sends s to every running node.
func (d *devClusterRun) stopAll(s os.Signal) {
	for _, n := range d.nodes {
		if n.running {
			_ = n.cmd.Process.Signal(s)
		}
	}
}

// restartStopped starts every node that is not running.
func (d *devClusterRun) restartStopped() {
	var restarted []string
	for _, n := range d.nodes {
		if n.running {
			continue
		}
		if err := d.start(n); err != nil {
			d.warn("%v", err)
			continue
		}
		restarted = append(restarted, fmt.Sprintf("node %d (pid %d)", n.id, n.cmd.Process.Pid))
	}
	if len(restarted) == 0 {
		d.say("dev-cluster: SIGHUP: every node is running")
		return
	}
	d.say("dev-cluster: SIGHUP: restarting %s", strings.Join(restarted, ", "))
}

func (d *devClusterRun) runningCount() int {
	k := 0
	for _, n := range d.nodes {
		if n.running {
			k++
		}
	}
	return k
}

func (d *devClusterRun) readyCount() int {
	k := 0
	for _, n := range d.nodes {
		if n.ready {
			k++
		}
	}
	return k
}

// runningList is "nodes 1, 3" or "no node".
func (d *devClusterRun) runningList() string {
	var ids []string
	for _, n := range d.nodes {
		if n.running {
			ids = append(ids, strconv.Itoa(n.id))
		}
	}
	switch len(ids) {
	case 0:
		return "no node"
	case 1:
		return "node " + ids[0]
	}
	return "nodes " + strings.Join(ids, ", ")
}

// banner prints the bootstrap list and the nodes once every one answers.
func (d *devClusterRun) banner(took time.Duration) {
	var bootstrap []string
	for _, n := range d.nodes {
		bootstrap = append(bootstrap, n.kafka)
	}
	where := d.root + " (kept)"
	if d.tempRoot {
		where = d.root + " (removed on exit)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "dev-cluster: %d nodes ready in %v, node ids 1..%d, data in %s\n", len(d.nodes), took.Round(time.Millisecond), len(d.nodes), where)
	fmt.Fprintf(&b, "bootstrap: %s\n", strings.Join(bootstrap, ","))
	for _, n := range d.nodes {
		admin := n.admin
		if admin == "" {
			admin = "off"
		}
		fmt.Fprintf(&b, "node %d  kafka %s  peer %s  admin %s  pid %d\n", n.id, n.kafka, n.peer, admin, n.cmd.Process.Pid)
	}
	var consoles, proxies []string
	for _, n := range d.nodes {
		if n.console != "" {
			consoles = append(consoles, "http://"+n.console)
		}
		if n.httpProxy != "" {
			proxies = append(proxies, "http://"+n.httpProxy)
		}
	}
	if len(consoles) > 0 {
		fmt.Fprintf(&b, "web console: %s\n", strings.Join(consoles, " "))
	}
	if len(proxies) > 0 {
		fmt.Fprintf(&b, "http proxy: %s\n", strings.Join(proxies, " "))
	}
	fmt.Fprintf(&b, "Ctrl-C (or kill -TERM %d) stops every node; after a node dies (kill -9 PID), kill -HUP %d restarts it.", os.Getpid(), os.Getpid())
	d.say("%s", b.String())
}

// addrHint explains a node that could not start on 127.0.0.N where that
// is not routed to the loopback by default.
func (d *devClusterRun) addrHint(n *devNode) string {
	if n.host == "127.0.0.1" || runtime.GOOS == "linux" {
		return ""
	}
	return fmt.Sprintf(" (on %s, 127.0.0.2 and up need a loopback alias first: sudo ifconfig lo0 alias %s up)", runtime.GOOS, n.host)
}

// exitText is "exit status 1", "signal: killed" or "exit status 0".
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	return err.Error()
}

// waitAPIVersions polls addr with ApiVersions until it answers without an
// error or ctx ends; the pause between polls grows from 20 ms to 250 ms.
func waitAPIVersions(ctx context.Context, addr string) error {
	pause := 20 * time.Millisecond
	for {
		err := apiVersions(ctx, addr)
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// apiVersions sends one ApiVersions request to addr.
func apiVersions(ctx context.Context, addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("moldau-dev-cluster"), kgo.DialTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	seeds := cl.SeedBrokers()
	if len(seeds) != 1 {
		return fmt.Errorf("%d seed brokers for %s", len(seeds), addr)
	}
	// To this very node: the client's own choice could be another broker
	// once it has learnt of them.
	req := kmsg.NewPtrApiVersionsRequest()
	// v3+ needs a valid software name and version (INVALID_REQUEST else).
	req.ClientSoftwareName, req.ClientSoftwareVersion = "moldau-dev-cluster", "1"
	r, err := seeds[0].Request(ctx, req)
	if err != nil {
		return err
	}
	if resp := r.(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		return fmt.Errorf("ApiVersions error code %d", resp.ErrorCode)
	}
	return nil
}

// linePrefixer writes each complete line written to it to w with prefix,
// holding mu for the line so lines of several nodes never interleave.
type linePrefixer struct {
	w      io.Writer
	prefix string
	mu     *sync.Mutex

	bufMu sync.Mutex // guards buf: Write and flush may run on different goroutines
	buf   []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.bufMu.Lock()
	defer l.bufMu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i+1])
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

// flush writes a last line that had no newline.
func (l *linePrefixer) flush() {
	l.bufMu.Lock()
	defer l.bufMu.Unlock()
	if len(l.buf) > 0 {
		l.emit(append(l.buf, '\n'))
		l.buf = nil
	}
}

func (l *linePrefixer) emit(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, l.prefix)
	_, _ = l.w.Write(line)
}
