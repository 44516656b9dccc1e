package jepsen

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/moldau/moldau/broker/config"
)

// TestCampaignDiskFaults runs the campaign (queue and transactions
// workloads) against the in-process cluster with the disk faults only: a
// node's fsync fails, or a write to its segment is torn, one every 8-12 s,
// each healed by a crash and a restart on what the disk kept. No anomaly
// is expected, and every broker hit stops serving on its own.
func TestCampaignDiskFaults(t *testing.T) {
	d, lo, hi := 75*time.Second, 8*time.Second, 12*time.Second
	if testing.Short() {
		d, lo, hi = 30*time.Second, 6*time.Second, 8*time.Second
	}
	c := newInProcess(t, InProcessOptions{Seed: 2, Configure: func(cfg *config.Config) {
		cfg.GroupConsumerSessionTimeoutMs = 6000
		cfg.GroupConsumerHeartbeatIntervalMs = 500
	}})
	ctx, cancel := context.WithTimeout(context.Background(), d+5*time.Minute)
	defer cancel()
	out := t.TempDir()
	if dir := os.Getenv("JEPSEN_OUT"); dir != "" {
		out = dir
	}
	res, err := Run(ctx, Config{
		Cluster:     c,
		Nemesis:     c,
		Faults:      []FaultKind{FaultDiskFsync, FaultDiskTornWrite},
		Duration:    d,
		IntervalMin: lo,
		IntervalMax: hi,
		Workloads:   []string{WorkloadQueue, WorkloadTransactions},
		OutDir:      out,
		Seed:        2,
		Logf:        t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	t.Logf("summary:\n%s", res.Summary)
	t.Logf("disk faults: %d fsync errors, %d torn writes; brokers stopped serving on their own %d times (slowest %v); %d restarts, torn tails truncated %d, slowest heal %v",
		st.FsyncErrors, st.TornWrites, st.SelfStops, st.MaxSelfStop.Round(time.Millisecond), st.Restarts, st.TailTruncation, st.MaxHealTime.Round(time.Millisecond))
	for _, a := range res.Anomalies {
		t.Errorf("%s: %s", a.Kind, a.Detail)
	}
	if st.FsyncErrors == 0 || st.TornWrites == 0 {
		t.Errorf("a disk fault kind never fired: %+v", st)
	}
	if st.SelfStops != st.FsyncErrors+st.TornWrites {
		t.Errorf("%d disk faults, but brokers stopped serving on their own only %d times", st.FsyncErrors+st.TornWrites, st.SelfStops)
	}
}
