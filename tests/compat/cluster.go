package main

// Cluster mode (-cluster, issue #14): the matrix against a three-node Moldau
// beside a three-broker Apache Kafka, all on one machine. Node i of either
// cluster listens on 127.0.0.i with the same ports on every address, as
// `moldau dev-cluster` and Kafka's own docker examples lay them out.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testenv"
)

// clusterNodes is the size of both clusters in -cluster mode.
const clusterNodes = 3

// nodeHost is node id's loopback address (ids from 1).
func nodeHost(id int) string { return "127.0.0." + strconv.Itoa(id) }

// freePort returns a TCP port free on every node's address, reserved for
// this process (testenv.FreePorts: below the ephemeral range, locked
// against other test processes).
func freePort(nodes int) (int, error) {
	var hosts []string
	for id := 1; id <= nodes; id++ {
		hosts = append(hosts, nodeHost(id))
	}
	ports, err := testenv.FreePorts(1, hosts...)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// startMoldauCluster starts `nodes` Moldau processes forming one cluster
// with the flags of issue #14 (--node-id, --addr, --peer-addr, --peers),
// replication factor 3 and min.insync.replicas 2 by default, and returns
// once Metadata from the first node lists every broker. The returned
// brokerProc's addr is the bootstrap list of all nodes.
func startMoldauCluster(ctx context.Context, o options, nodes int) (*brokerProc, error) {
	bin := o.moldauBin
	if bin == "" {
		bin = filepath.Join(o.bin, "moldau")
		if err := goBuild(o, bin, "./cmd/moldau", false); err != nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp("", "compat-moldau-cluster-")
	if err != nil {
		return nil, err
	}
	kport, err := freePort(nodes)
	if err != nil {
		return nil, err
	}
	pport, err := freePort(nodes)
	if err != nil {
		return nil, err
	}
	var peers, addrs []string
	for id := 1; id <= nodes; id++ {
		peers = append(peers, fmt.Sprintf("%d@%s:%d", id, nodeHost(id), pport))
		addrs = append(addrs, fmt.Sprintf("%s:%d", nodeHost(id), kport))
	}
	cl := &brokerProc{name: "moldau", addr: strings.Join(addrs, ","), tmp: tmp, nodes: make([]*brokerProc, nodes)}
	// Start every node at once: a node may wait for a quorum before it
	// listens.
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		id := i + 1
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(bin, "--node-id", strconv.Itoa(id), "--addr", addrs[i],
				"--peer-addr", fmt.Sprintf("%s:%d", nodeHost(id), pport), "--peers", strings.Join(peers, ","),
				"--data-dir", filepath.Join(tmp, "node-"+strconv.Itoa(id)), "--admin-addr", "",
				"--schema-registry-addr", "", "--console-addr", "", "--http-proxy-addr", "",
				"--set", "default.replication.factor=3", "--set", "min.insync.replicas=2",
				"--set", "transaction.max.timeout.ms=900000")
			cl.nodes[i], errs[i] = startProc(fmt.Sprintf("moldau node %d", id), cmd,
				filepath.Join(o.logs, fmt.Sprintf("moldau-%d.log", id)), time.Minute)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		cl.stop()
		return nil, err
	}
	if err := waitBrokers(ctx, cl.addr, nodes, 2*time.Minute); err != nil {
		cl.stop()
		return nil, fmt.Errorf("moldau cluster: %w (logs: %s/moldau-N.log)", err, o.logs)
	}
	return cl, nil
}

// startKafkaCluster runs kafka-ref.sh with KAFKA_REF_NODES: three combined
// broker+controller KRaft processes on 127.0.0.1..3. The script prints the
// bootstrap list once Metadata lists every broker; waitBrokers checks again.
func startKafkaCluster(ctx context.Context, o options, nodes int) (*brokerProc, error) {
	cmd := exec.Command("bash", filepath.Join(o.dir, "kafka-ref.sh"))
	cmd.Env = append(os.Environ(), "KAFKA_REF_NODES="+strconv.Itoa(nodes),
		"KAFKA_REF_LOG="+filepath.Join(o.logs, "kafka-broker.log"))
	b, err := startProc("kafka", cmd, filepath.Join(o.logs, "kafka-ref.log"), 5*time.Minute)
	if err != nil {
		return nil, err
	}
	if err := waitBrokers(ctx, b.addr, nodes, 2*time.Minute); err != nil {
		b.stop()
		return nil, fmt.Errorf("kafka cluster: %w", err)
	}
	return b, nil
}

// waitBrokers polls Metadata through the bootstrap list until it lists n
// brokers, each answering ApiVersions on its advertised address.
func waitBrokers(ctx context.Context, bootstrap string, n int, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.ClientID("compat-runner"))
	if err != nil {
		return err
	}
	defer cl.Close()
	last := errors.New("no answer yet")
	for {
		if err := brokersUp(ctx, cl, n); err == nil {
			return nil
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("metadata did not list %d brokers within %v: %w", n, wait, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func brokersUp(ctx context.Context, cl *kgo.Client, n int) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(rctx, cl)
	if err != nil {
		return err
	}
	if len(resp.Brokers) != n {
		return fmt.Errorf("metadata lists %d brokers", len(resp.Brokers))
	}
	for _, b := range resp.Brokers {
		av := kmsg.NewPtrApiVersionsRequest()
		if _, err := cl.Broker(int(b.NodeID)).Request(rctx, av); err != nil {
			return fmt.Errorf("broker %d (%s:%d): %w", b.NodeID, b.Host, b.Port, err)
		}
	}
	return nil
}
