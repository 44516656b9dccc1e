package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/moldau/moldau/embed"
)

// The cluster verbs against a single-node broker: usage errors exit 2;
// describe shows the one-voter quorum; add-node fails with the broker's
// answer (kraft.version 0: the quorum cannot change); remove-node of a node with replicas fails
// saying why (this broker cannot reassign).
func TestClusterCommandsSingleNode(t *testing.T) {
	b, err := embed.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	run := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := runCLI("cluster", args, strings.NewReader(""), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, _, errOut := run("add-node", "--bootstrap-server", b.Addr()); code != 2 || !strings.Contains(errOut, "add-node needs --node-id ID") {
		t.Fatalf("add-node without --node-id: exit %d, %q", code, errOut)
	}
	// A single node answers DescribeQuorum as a one-voter KRaft quorum.
	if code, out, errOut := run("describe", "--bootstrap", b.Addr(), "--timeout", "5s"); code != 0 || !strings.Contains(out, "voter, leader") {
		t.Fatalf("describe on a single node: exit %d, %q %q", code, out, errOut)
	} else {
		t.Logf("describe:\n%s", out)
	}
	if code, _, errOut := run("add-node", "--node-id", "2", "--bootstrap", b.Addr(), "--timeout", "5s"); code != 1 || !strings.Contains(errOut, "add voter 2") {
		t.Fatalf("add-node on a single node: exit %d, %q", code, errOut)
	}
	var out, errOut bytes.Buffer
	if code := runCLI("topic", []string{"create", "--bootstrap", b.Addr(), "held"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("topic create: %s", errOut.String())
	}
	// Node 0 holds "held"; there is no other broker to move it to.
	if code, _, errOut := run("remove-node", "--node-id", "0", "--bootstrap", b.Addr(), "--timeout", "5s"); code != 1 || !strings.Contains(errOut, "held-0 has a replica on node 0") {
		t.Fatalf("remove-node of the only broker: exit %d, %q", code, errOut)
	}
}
