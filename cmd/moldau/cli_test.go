package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/moldau/moldau/embed"
)

// TestCLIAgainstEmbeddedBroker drives the admin subcommands end to end.
func TestCLIAgainstEmbeddedBroker(t *testing.T) {
	b, err := embed.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// run executes "moldau NAME [VERB] --bootstrap ADDR ARGS...".
	run := func(stdin string, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		name, rest := args[0], args[1:]
		if name == "topic" || name == "cluster" || name == "group" {
			rest = append([]string{rest[0], "--bootstrap", b.Addr()}, rest[1:]...)
		} else {
			rest = append([]string{"--bootstrap", b.Addr()}, rest...)
		}
		if code := runCLI(name, rest, strings.NewReader(stdin), &out, &errOut); code != 0 {
			t.Fatalf("moldau %v: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	run("", "topic", "create", "--partitions", "2", "--config", "retention.ms=60000", "clitest")
	run("k1:v1\nk2:v2\n", "produce", "--topic", "clitest", "--key-sep", ":")
	got := run("", "consume", "--topic", "clitest", "--count", "2", "--format", "%k=%v\n")
	if !strings.Contains(got, "k1=v1\n") || !strings.Contains(got, "k2=v2\n") {
		t.Fatalf("consume printed %q", got)
	}
	if desc := run("", "topic", "describe", "clitest"); !strings.Contains(desc, "retention.ms") || !strings.Contains(desc, "60000") {
		t.Fatalf("describe printed %q", desc)
	}
	if list := run("", "topic", "list", "--json"); !strings.Contains(list, `"topic": "clitest"`) {
		t.Fatalf("list printed %q", list)
	}
	if info := run("", "cluster", "info"); !strings.Contains(info, b.Addr()) {
		t.Fatalf("cluster info printed %q", info)
	}
	run("", "topic", "add-partitions", "--partitions", "3", "clitest")
	if desc := run("", "topic", "describe", "--json", "clitest"); strings.Count(desc, `"partition":`) != 3 {
		t.Fatalf("after add-partitions describe printed %q", desc)
	}
	// A group consumer commits what it printed; the next one resumes there.
	run("a\nb\nc\n", "produce", "--topic", "clitest", "--partition", "2", "--compression", "zstd")
	if got := run("", "consume", "--topic", "clitest", "--group", "g", "--count", "4", "--format", "%v\n"); strings.Count(got, "\n") != 4 {
		t.Fatalf("group consume printed %q", got)
	}
	if got := run("", "consume", "--topic", "clitest", "--group", "g", "--count", "1", "--format", "%v\n"); strings.Count(got, "\n") != 1 {
		t.Fatalf("second group consume printed %q", got)
	}
	desc := run("", "group", "describe", "--json", "g")
	if !strings.Contains(desc, `"lag": "0"`) && !strings.Contains(desc, `"lag":"0"`) {
		t.Fatalf("group describe after consuming everything printed %q", desc)
	}
	run("", "group", "delete", "g")
	run("", "topic", "delete", "clitest")
}
