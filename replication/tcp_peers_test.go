package replication

import (
	"errors"
	"testing"
	"time"
)

// A joining node (DialLower) dials a lower id that has no address for it;
// the lower id accepts it only with AcceptPeer, then answers over that
// connection; learning the address later (SetPeer) keeps it working, and
// RemovePeer forgets it.
func TestTCPJoinerDialsLower(t *testing.T) {
	newT := func(cfg TCPConfig) *TCPTransport {
		t.Helper()
		cfg.ListenAddr, cfg.Logger = "127.0.0.1:0", quietLogger
		tr, err := NewTCPTransport(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr
	}
	strict := newT(TCPConfig{ID: 1})
	open := newT(TCPConfig{ID: 2, AcceptPeer: func(id uint64) bool { return id == 5 }})
	joiner := newT(TCPConfig{ID: 5, DialLower: true})
	got := map[uint64]chan uint64{1: make(chan uint64, 8), 2: make(chan uint64, 8), 5: make(chan uint64, 8)}
	for id, tr := range map[uint64]*TCPTransport{1: strict, 2: open, 5: joiner} {
		ch := got[id]
		tr.Start(ReceiverFunc(func(from uint64, _ []Envelope) { ch <- from }))
	}
	joiner.SetPeer(1, strict.Addr().String())
	joiner.SetPeer(2, open.Addr().String())

	// Node 1 knows nothing of node 5 and accepts only its peers.
	if err := joiner.Send(1, sampleBatch()); err == nil {
		select {
		case from := <-got[1]:
			t.Fatalf("node 1 received from %d", from)
		case <-time.After(200 * time.Millisecond):
		}
	}
	// Node 2 accepts node 5 and answers over the same connection.
	deadline := time.Now().Add(5 * time.Second)
	for joiner.Send(2, sampleBatch()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("joiner never connected to node 2")
		}
		time.Sleep(time.Millisecond)
	}
	if from := <-got[2]; from != 5 {
		t.Fatalf("node 2 received from %d", from)
	}
	for open.Send(5, sampleBatch()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("node 2 cannot answer the joiner")
		}
		time.Sleep(time.Millisecond)
	}
	if from := <-got[5]; from != 2 {
		t.Fatalf("joiner received from %d", from)
	}
	// Learning the joiner's address changes nothing for the pair.
	open.SetPeer(5, joiner.Addr().String())
	if err := open.Send(5, sampleBatch()); err != nil {
		t.Fatal(err)
	}
	if from := <-got[5]; from != 2 {
		t.Fatalf("joiner received from %d", from)
	}
	if p := open.Peers(); p[5] != joiner.Addr().String() {
		t.Fatalf("peers %v", p)
	}
	// Forgotten: the connection closes and no address is left to dial.
	open.RemovePeer(5)
	if _, ok := open.Peers()[5]; ok {
		t.Fatal("peer 5 still known")
	}
	for {
		err := open.Send(5, sampleBatch())
		if errors.Is(err, ErrUnreachable) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("send to a removed peer: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}
