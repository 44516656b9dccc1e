package jepsen

// Network partitions with nftables. Every campaign owns one table,
// "inet jepsen_<pid>_<n>", with one chain on the output hook (on loopback
// every packet passes it once, before it is looped back to the input side);
// a cut is a pair of drop rules. Every rule names the campaign's own ports,
// so other tests on 127.0.0.1-3 with other ports, and other campaigns, are
// never touched. Heal flushes the chain; Close deletes the table; a new
// table first deletes the tables left by campaigns whose process is gone
// (a test binary killed by its timeout), so nothing outlives its owner for
// longer than until the next campaign starts.
//
// What a cut between nodes a and b means, for both targets: the packets a
// sends to b's listening ports, and those b sends to a's, are dropped. Every
// connection between two nodes is opened by one of them to the other's
// listener, so both directions of every such connection stall (the
// initiator's data and acknowledgements never arrive) and new ones cannot
// be made; connections to other ports and from other processes pass.
//
//   - Moldau binds each node's outgoing peer and inter-broker connections
//     to the node's own address, so "the packets a sends" are those with
//     ip saddr = a's address: `ip saddr A ip daddr B tcp dport {ports} drop`.
//   - Kafka cannot choose the source address of its connections (all leave
//     from 127.0.0.1), so each Kafka JVM runs under its own uid and "the
//     packets a sends" are those of a's sockets: `meta skuid UA ip daddr B
//     tcp dport {ports} drop`.
//
// Cutting a node off from clients (FaultIsolate) is by address for both:
// clients bind to ClientIP, so `ip saddr ClientIP ip daddr N tcp dport
// {kafka port} drop` and the replies' reverse.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// ErrNFT is returned when an nft command fails.
var ErrNFT = errors.New("jepsen: nft")

var nftSeq atomic.Int64

// nftTable is one campaign's table.
type nftTable struct {
	name  string
	mu    sync.Mutex // serialises nft commands and guards rules
	rules int
}

const nftChain = "out"

// runNFT feeds script to `nft -f -`.
func runNFT(ctx context.Context, script string) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %v: %s (script:\n%s)", ErrNFT, err, strings.TrimSpace(out.String()), script)
	}
	return nil
}

var staleTable = regexp.MustCompile(`table inet (jepsen_(\d+)_\d+)`)

// removeStaleTables deletes the tables of campaigns whose process is gone.
func removeStaleTables(ctx context.Context) {
	out, err := exec.CommandContext(ctx, "nft", "list", "tables").Output()
	if err != nil {
		return
	}
	for _, m := range staleTable.FindAllStringSubmatch(string(out), -1) {
		pid, _ := strconv.Atoi(m[2])
		if pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue // alive
		}
		_ = runNFT(ctx, fmt.Sprintf("delete table inet %s\n", m[1]))
	}
}

// newNFTTable creates the campaign's empty table.
func newNFTTable(ctx context.Context) (*nftTable, error) {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, fmt.Errorf("%w: nft is not installed (Debian package nftables): %v", ErrNFT, err)
	}
	removeStaleTables(ctx)
	t := &nftTable{name: fmt.Sprintf("jepsen_%d_%d", os.Getpid(), nftSeq.Add(1))}
	script := fmt.Sprintf("table inet %[1]s {\n\tchain %[2]s {\n\t\ttype filter hook output priority 0; policy accept;\n\t}\n}\n", t.name, nftChain)
	if err := runNFT(ctx, script); err != nil {
		return nil, err
	}
	return t, nil
}

// portSet is an nft set expression of ports: "{ 1, 2 }".
func portSet(ports []int) string {
	var s []string
	for _, p := range ports {
		s = append(s, strconv.Itoa(p))
	}
	return "{ " + strings.Join(s, ", ") + " }"
}

// add appends rules (bodies after "add rule inet T out") in one
// transaction.
func (t *nftTable) add(ctx context.Context, rules ...string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&b, "add rule inet %s %s %s\n", t.name, nftChain, r)
	}
	if err := runNFT(ctx, b.String()); err != nil {
		return err
	}
	t.rules += len(rules)
	return nil
}

// flush removes every rule.
func (t *nftTable) flush(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := runNFT(ctx, fmt.Sprintf("flush chain inet %s %s\n", t.name, nftChain)); err != nil {
		return err
	}
	t.rules = 0
	return nil
}

// list is the table as nft prints it.
func (t *nftTable) list(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "nft", "list", "table", "inet", t.name).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %v: %s", ErrNFT, err, out)
	}
	return string(out), nil
}

// Close deletes the table.
func (t *nftTable) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return runNFT(context.Background(), fmt.Sprintf("delete table inet %s\n", t.name))
}

// addrCutRules cut a and b apart by source address (Moldau): each side's
// packets to the other's ports.
func addrCutRules(a, b *procNode) []string {
	return []string{
		fmt.Sprintf("ip saddr %s ip daddr %s tcp dport %s drop", a.ip, b.ip, portSet(b.ports)),
		fmt.Sprintf("ip saddr %s ip daddr %s tcp dport %s drop", b.ip, a.ip, portSet(a.ports)),
	}
}

// uidCutRules cut a and b apart by socket owner (Kafka).
func uidCutRules(a, b *procNode) []string {
	return []string{
		fmt.Sprintf("meta skuid %d ip daddr %s tcp dport %s drop", a.uid, b.ip, portSet(b.ports)),
		fmt.Sprintf("meta skuid %d ip daddr %s tcp dport %s drop", b.uid, a.ip, portSet(a.ports)),
	}
}

// clientCutRules cut n's Kafka listener off from ClientIP, both ways.
func clientCutRules(n *procNode) []string {
	kp := strconv.Itoa(n.ports[0])
	return []string{
		fmt.Sprintf("ip saddr %s ip daddr %s tcp dport %s drop", ClientIP, n.ip, kp),
		fmt.Sprintf("ip saddr %s ip daddr %s tcp sport %s drop", n.ip, ClientIP, kp),
	}
}
