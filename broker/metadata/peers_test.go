package metadata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
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
	if got := r.View().Peers(); len(got) != 1 || got[0] != (PeerInfo{NodeID: 4, PeerAddr: "127.0.0.9:9193"}) {
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

// TestPeerDirectoryID: a node id registered with a directory id is that
// directory's; the same directory may move the address, another (or a
// version 1 record without one) is refused; version 1 records still read.
func TestPeerDirectoryID(t *testing.T) {
	s := New()
	dirA, dirB := UUID{1, 2, 3}, UUID{9, 9, 9}
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
	// A version 1 record (no directory id) as an older binary wrote it.
	v1 := append([]byte{1, byte(TypeRegisterPeer)}, `{"node_id":3,"peer_addr":"127.0.0.3:9193"}`...)
	if res := s.Apply(1, v1); res.Err != nil {
		t.Fatalf("version 1 record: %v", res.Err)
	}
	if b, _ := Encode(RegisterPeer{NodeID: 3, PeerAddr: "127.0.0.3:9193"}); !bytes.Equal(b, v1) {
		t.Fatalf("without a directory id Encode must write version 1's bytes: %q", b)
	}
	// Version 1 with a directory_id field, version 2 without one, or
	// version 2 of another type: corrupt.
	for _, bad := range [][]byte{
		append([]byte{1, byte(TypeRegisterPeer)}, `{"node_id":3,"peer_addr":"127.0.0.3:9193","directory_id":"01020300000000000000000000000000"}`...),
		append([]byte{2, byte(TypeRegisterPeer)}, `{"node_id":3,"peer_addr":"127.0.0.3:9193"}`...),
		append([]byte{2, byte(TypeUnregisterPeer)}, `{"node_id":3}`...),
	} {
		if _, err := Decode(bad); !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("Decode(%q): %v, want ErrCorruptRecord", bad, err)
		}
	}
	// A peer registered without a directory id adopts the first one.
	if res := apply(2, RegisterPeer{NodeID: 3, PeerAddr: "127.0.0.3:9193", DirectoryID: dirA}); res.Err != nil {
		t.Fatal(res.Err)
	}
	// Same id, same directory, another host: the node moved.
	if res := apply(3, RegisterPeer{NodeID: 3, PeerAddr: "127.0.0.30:9193", DirectoryID: dirA}); res.Err != nil {
		t.Fatal(res.Err)
	}
	// Same id, another directory: refused, the address stays.
	if res := apply(4, RegisterPeer{NodeID: 3, PeerAddr: "127.0.0.99:9193", DirectoryID: dirB}); !errors.Is(res.Err, ErrPeerIDInUse) {
		t.Fatalf("other directory: %v, want ErrPeerIDInUse", res.Err)
	}
	if res := apply(5, RegisterPeer{NodeID: 3, PeerAddr: "127.0.0.99:9193"}); !errors.Is(res.Err, ErrPeerIDInUse) {
		t.Fatalf("no directory id over a recorded one: %v, want ErrPeerIDInUse", res.Err)
	}
	v := s.View()
	if a, _ := v.Peer(3); a != "127.0.0.30:9193" {
		t.Fatalf("peer 3 at %q", a)
	}
	if d, _ := v.PeerDirectoryID(3); d != dirA {
		t.Fatalf("peer 3 directory %s", d)
	}
	// Unregistered, the id is free for another directory.
	if res := apply(6, UnregisterPeer{NodeID: 3}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := apply(7, RegisterPeer{NodeID: 3, PeerAddr: "127.0.0.99:9193", DirectoryID: dirB}); res.Err != nil {
		t.Fatal(res.Err)
	}
	// The snapshot keeps the directory id (version 3) and restores it.
	snap := s.Snapshot()
	if snap[0] != snapshotVersionPeerDirs {
		t.Fatalf("snapshot version %d", snap[0])
	}
	r := New()
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if d, _ := r.View().PeerDirectoryID(3); d != dirB {
		t.Fatalf("restored directory %s", d)
	}
	// The same body under version 2 is refused (an older reader's rules).
	old := append([]byte{}, snap...)
	old[0] = SnapshotVersion
	old = resealSnapshot(old)
	if err := New().Restore(old); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("directory id in a version 2 snapshot: %v", err)
	}
}

// resealSnapshot recomputes a snapshot's CRC after an edit.
func resealSnapshot(b []byte) []byte {
	n := len(b) - 4
	return binary.BigEndian.AppendUint32(b[:n:n], crc32.Checksum(b[:n], castagnoli))
}
