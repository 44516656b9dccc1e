package tests

// Growing and shrinking a process cluster with the CLI (issue #14,
// broker/raft_members.go, cmd/moldau/cluster.go): a fourth moldau process
// on 127.0.0.4 joins three, `moldau cluster add-node` makes it a voter,
// writes go on, the joined node and an original one restart and find
// their peers, `moldau cluster remove-node` takes it out again.

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/tests/harness"
)

// argOf is the value following flag in args.
func argOf(t *testing.T, args []string, flag string) string {
	t.Helper()
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("no %s in %v", flag, args)
	}
	return args[i+1]
}

// moldauCLI runs the moldau binary with args and returns its stdout,
// stderr and exit code.
func moldauCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(harness.Binary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("moldau %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return out.String(), errOut.String(), code
}

// brokersListed is how many brokers node id's Metadata lists (-1: no
// answer).
func brokersListed(c *procCluster, cl *kgo.Client, id int) int {
	m, err := kmsg.NewPtrMetadataRequest().RequestWith(ctxT(c.t), cl.Broker(id))
	if err != nil {
		return -1
	}
	return len(m.Brokers)
}

// describeVoters parses `moldau cluster describe --json` into the node ids
// per role.
func describeRoles(t *testing.T, bootstrap string) map[string][]string {
	t.Helper()
	out, _, code := moldauCLI(t, "cluster", "describe", "--bootstrap", bootstrap)
	if code != 0 {
		return nil
	}
	roles := map[string][]string{}
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		role := strings.TrimSuffix(f[2], ",")
		roles[role] = append(roles[role], f[1])
	}
	return roles
}

func TestClusterAddRemoveNodeCLI(t *testing.T) {
	c := startProcCluster(t)
	first := c.nodes[0]
	_, kport, _ := net.SplitHostPort(first.addr)
	_, pport, _ := net.SplitHostPort(argOf(t, first.args, "--peer-addr"))
	bootstrap := strings.Join(c.seeds(), ",")

	cl := c.client(kgo.DefaultProduceTopic("members"))
	c.createReplicatedTopic("members", 3)
	produce := func(from, n int) {
		t.Helper()
		for i := from; i < from+n; i++ {
			if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
		}
	}
	produce(0, 20)

	// Node 4 joins: --peers names the three voters, not itself.
	n4 := &clusterNode{
		t: t, id: 4, addr: net.JoinHostPort("127.0.0.4", kport),
		logPath: filepath.Join(filepath.Dir(first.logPath), "node4.log"),
	}
	n4.args = []string{
		"--node-id", "4",
		"--addr", n4.addr,
		"--peer-addr", net.JoinHostPort("127.0.0.4", pport),
		"--peers", argOf(t, first.args, "--peers"),
		"--data-dir", t.TempDir(),
		"--admin-addr", "",
		"--schema-registry-addr", "", "--console-addr", "", "--http-proxy-addr", "",
		"--set", "replica.lag.time.max.ms=" + strconv.Itoa(clusterLagMs),
	}
	c.nodes = append(c.nodes, n4)
	joinStart := time.Now()
	n4.start()
	all := c.client()
	c.waitFor(60*time.Second, "every node listing four brokers", func() bool {
		for _, n := range c.nodes {
			if brokersListed(c, all, n.id) != 4 {
				all.ForceMetadataRefresh()
				return false
			}
		}
		return true
	})
	t.Logf("node 4 joined (every node lists it) %v after its start", time.Since(joinStart).Round(time.Millisecond))
	if roles := describeRoles(t, bootstrap); !slices.Equal(roles["observer"], []string{"4"}) {
		t.Fatalf("before add-node: roles %v, want node 4 an observer", roles)
	}

	addStart := time.Now()
	out, _, code := moldauCLI(t, "cluster", "add-node", "--node-id", "4", "--bootstrap", bootstrap)
	t.Logf("add-node took %v", time.Since(addStart).Round(time.Millisecond))
	if code != 0 || !strings.Contains(out, "node 4 is a voter of the controller quorum (voters: 1, 2, 3, 4)") {
		t.Fatalf("add-node: exit %d, %q", code, out)
	}
	c.waitFor(30*time.Second, "describe listing four voters", func() bool {
		r := describeRoles(t, n4.addr)
		return slices.Equal(r["voter"], []string{"1", "2", "3", "4"}) && len(r["observer"]) == 0
	})
	produce(20, 20)

	// The joined node restarts with the same flags and finds its peers;
	// so does an original node (node 4's address only in the metadata).
	for _, id := range []int32{4, 1} {
		n := c.node(id)
		n.stop()
		n.start()
		c.waitFor(60*time.Second, fmt.Sprintf("node %d back, listing four brokers", id), func() bool {
			return brokersListed(c, all, int(id)) == 4
		})
	}
	produce(40, 20)

	// A topic with replicas on node 4: remove-node moves them, or, where
	// the cluster cannot reassign, fails saying so.
	c.createReplicatedTopic("wide", 4)
	out, errOut, code := moldauCLI(t, "cluster", "remove-node", "--node-id", "4", "--bootstrap", bootstrap, "--timeout", "2m")
	if code != 0 {
		if !strings.Contains(errOut, "reassign them first") {
			t.Fatalf("remove-node with replicas on node 4: exit %d, %q %q", code, out, errOut)
		}
		if _, err := c.admin().DeleteTopic(ctxT(t), "wide"); err != nil {
			t.Fatal(err)
		}
		// Gone from every node's Metadata (remove-node may ask any).
		c.waitFor(30*time.Second, "wide deleted on every node", func() bool {
			for _, n := range c.nodes {
				m, err := kmsg.NewPtrMetadataRequest().RequestWith(ctxT(t), all.Broker(n.id))
				if err != nil || slices.ContainsFunc(m.Topics, func(tp kmsg.MetadataResponseTopic) bool { return *tp.Topic == "wide" }) {
					return false
				}
			}
			return true
		})
		out, errOut, code = moldauCLI(t, "cluster", "remove-node", "--node-id", "4", "--bootstrap", bootstrap, "--timeout", "2m")
	}
	if code != 0 || !strings.Contains(out, "node 4 removed from the voters") || !strings.Contains(out, "broker 4 unregistered") {
		t.Fatalf("remove-node: exit %d, %q %q", code, out, errOut)
	}
	c.waitFor(30*time.Second, "three voters, no observer, three brokers", func() bool {
		r := describeRoles(t, bootstrap)
		return slices.Equal(r["voter"], []string{"1", "2", "3"}) && len(r["observer"]) == 0 &&
			brokersListed(c, all, 1) == 3 && brokersListed(c, all, 2) == 3
	})
	n4.stop()
	produce(60, 20)
	recs := c.readBack("members", 3)
	if len(recs) != 80 {
		t.Fatalf("read back %d records, want 80", len(recs))
	}
}
