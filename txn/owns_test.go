package txn

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

// A coordinator that does not own a transaction's state partition (a
// cluster node that lost its leadership) neither times the transaction
// out nor completes it: its successor does, from the log.
func TestOwnsGuardsTickAndCompletion(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	owned := true
	markers := &memMarkers{}
	pid := int64(1000)
	c := NewCoordinator(Config{
		Partitions: 50, MaxTimeout: time.Minute, Now: func() time.Time { return now },
		NewProducerID: func() (int64, error) { pid++; return pid, nil },
		Owns:          func(int32) bool { return owned },
	}, &memStateLog{parts: map[int32][][2][]byte{}}, markers, slog.New(slog.NewTextHandler(io.Discard, nil)))
	got, err := c.InitProducerID("a", 10*time.Second, ProducerIDAndEpoch{ProducerID: -1, Epoch: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions("a", got.ProducerID, got.Epoch, []TopicPartition{{"t", 0}}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute) // past the timeout
	owned = false
	c.Tick()
	if d, _ := c.Describe("a"); d.State != StateOngoing || len(markers.take()) != 0 {
		t.Fatalf("not owned: Tick acted (state %v)", d.State)
	}
	// EndTxn is decided (prepare record written) but not completed here.
	owned = true
	markers.fail = true
	if _, err := c.EndTxn("a", got.ProducerID, got.Epoch, true, false); err != nil {
		t.Fatal(err)
	}
	markers.fail = false
	owned = false
	c.Tick()
	if d, _ := c.Describe("a"); d.State != StatePrepareCommit || len(markers.take()) != 0 {
		t.Fatalf("not owned: the completion ran (state %v)", d.State)
	}
	if err := c.completeLocked(c.lock("a", false), c.get("a").snapshot()); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("completeLocked: %v, want ErrNotCoordinator", err)
	}
	c.get("a").opMu.Unlock()
	owned = true
	c.Tick()
	if d, _ := c.Describe("a"); d.State != StateCompleteCommit || len(markers.take()) != 1 {
		t.Fatalf("owned again: state %v, want CompleteCommit with one marker write", d.State)
	}
}
