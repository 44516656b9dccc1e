package broker

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/replication"
)

// TestScramBootstrapKeepsStoredCredential: --add-scram writes a user only
// when absent, so a restart with another password (or after
// AlterUserScramCredentials) keeps the stored credential, which survives
// the restart on disk.
func TestScramBootstrapKeepsStoredCredential(t *testing.T) {
	dir := t.TempDir()
	start := func(pw string) *Broker {
		cfg, err := config.Load([]string{"--data-dir", dir, "--addr", "127.0.0.1:0", "--admin-addr", "", "--console-addr", "", "--http-proxy-addr", "",
			"--add-scram", "SCRAM-SHA-512=[name=alice,password=" + pw + "]"}, func(string) string { return "" }, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := start("first-pw")
	if resp, _ := login(t, b, saslConn(), scram.Auth{User: "alice", Pass: "first-pw"}.AsSha512Mechanism(), 1); resp.ErrorCode != 0 {
		t.Fatalf("first start: %+v", resp)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b = start("second-pw")
	defer b.Close(context.Background())
	if resp, _ := login(t, b, saslConn(), scram.Auth{User: "alice", Pass: "first-pw"}.AsSha512Mechanism(), 1); resp.ErrorCode != 0 {
		t.Errorf("the stored credential after a restart: %+v", resp)
	}
	if resp, _ := login(t, b, saslConn(), scram.Auth{User: "alice", Pass: "second-pw"}.AsSha512Mechanism(), 1); resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Errorf("the restart's --add-scram replaced the stored credential: %+v", resp)
	}
}

// TestClusterScramBootstrap: in a cluster every node bootstraps its
// --add-scram users through the metadata log once it has a controller;
// every broker then logs the user in.
func TestClusterScramBootstrap(t *testing.T) {
	user, err := config.ParseAddScram("SCRAM-SHA-256=[name=alice,password=alice-secret]")
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCluster{t: t, nw: replication.NewLocalNetwork()}
	var peers []config.Peer
	for i := 1; i <= 3; i++ {
		peers = append(peers, config.Peer{NodeID: int32(i), Addr: fmt.Sprintf("local:%d", i)})
	}
	for i := 1; i <= 3; i++ {
		cfg := config.Default()
		cfg.DataDir, cfg.NodeID, cfg.Peers, cfg.Addr = t.TempDir(), int32(i), peers, "127.0.0.1:0"
		cfg.Security.SASL.ScramUsers = []config.ScramUser{user}
		tc.cfgs = append(tc.cfgs, cfg)
		tc.brokers = append(tc.brokers, nil)
		tc.start(i - 1)
	}
	t.Cleanup(func() {
		for _, b := range tc.brokers {
			_ = b.Close(context.Background())
		}
	})
	tc.waitFor("every broker has alice", func() bool {
		for _, b := range tc.brokers {
			if _, ok := b.entities.Get(entityScram, "SCRAM-SHA-256/alice"); !ok {
				return false
			}
		}
		return true
	})
	for i, b := range tc.brokers {
		if resp, _ := login(t, b, saslConn(), scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism(), 2); resp.ErrorCode != 0 {
			t.Errorf("node %d: %+v", i+1, resp)
		}
	}
}
