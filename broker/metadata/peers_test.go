package metadata

import (
	"errors"
	"testing"
)

func TestPeerRecords(t *testing.T) {
	s := New()
	apply := func(i uint64, r Record) Result {
		t.Helper()
		b, err := Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := Decode(b)
		if err != nil || dec != r {
			t.Fatalf("round trip of %#v: %#v, %v", r, dec, err)
		}
		return s.Apply(i, b)
	}
	if res := apply(1, RegisterPeer{NodeID: 4, PeerAddr: "127.0.0.4:9193"}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := apply(2, RegisterPeer{NodeID: 5, PeerAddr: "nohost"}); !errors.Is(res.Err, ErrInvalidPeer) {
		t.Fatalf("bad address: %v", res.Err)
	}
	if res := apply(3, RegisterPeer{NodeID: 4, PeerAddr: "127.0.0.9:9193"}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if a, ok := s.View().Peer(4); !ok || a != "127.0.0.9:9193" {
		t.Fatalf("peer 4: %q %v", a, ok)
	}
	snap := s.Snapshot()
	r := New()
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if got := r.View().Peers(); len(got) != 1 || got[0] != (PeerInfo{4, "127.0.0.9:9193"}) {
		t.Fatalf("restored peers %v", got)
	}
	if res := apply(4, UnregisterPeer{NodeID: 4}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := apply(5, UnregisterPeer{NodeID: 4}); !errors.Is(res.Err, ErrUnknownPeer) {
		t.Fatalf("unregistering twice: %v", res.Err)
	}
	if len(s.View().Peers()) != 0 {
		t.Fatal("peer left behind")
	}
	// No peers: the snapshot has no peers field (the bytes of before).
	if string(New().Snapshot()) != string(emptySnapshotWithoutPeers(t)) {
		t.Fatal("empty snapshot changed")
	}
}

func emptySnapshotWithoutPeers(t *testing.T) []byte {
	t.Helper()
	s := New().Snapshot()
	if len(s) == 0 || containsPeers(s) {
		t.Fatalf("snapshot %q names peers", s)
	}
	return s
}

func containsPeers(b []byte) bool {
	for i := 0; i+7 <= len(b); i++ {
		if string(b[i:i+7]) == `"peers"` {
			return true
		}
	}
	return false
}
