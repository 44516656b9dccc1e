package metadata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
)

func putRec(t *testing.T, id UUID, kind string, puts []Entity, dels ...string) []byte {
	t.Helper()
	b, err := Encode(PutEntities{ID: id, Kind: kind, Puts: puts, Deletes: dels})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEntitiesCopyOnWrite: an unrelated record shares the entity set; an
// entity change shares the kinds it does not touch and leaves older views
// as they were.
func TestEntitiesCopyOnWrite(t *testing.T) {
	s := New()
	s.Apply(1, putRec(t, UUID{1}, "acl", []Entity{{Key: "a", Value: []byte("1")}}))
	s.Apply(2, putRec(t, UUID{2}, "scram", []Entity{{Key: "u", Value: []byte("c")}}))
	v1 := s.View()
	reg, _ := Encode(RegisterBroker{NodeID: 1, Incarnation: UUID{1}, Listeners: []Listener{{Name: "PLAINTEXT", Host: "h", Port: 1, SecurityProtocol: "PLAINTEXT"}}})
	if res := s.Apply(3, reg); res.Err != nil {
		t.Fatal(res.Err)
	}
	v2 := s.View()
	if v1.Entities() != v2.Entities() || v2.EntitiesChanged() != 2 {
		t.Fatalf("an unrelated record copied the entities (%p, %p) or moved the change index (%d)", v1.Entities(), v2.Entities(), v2.EntitiesChanged())
	}
	s.Apply(4, putRec(t, UUID{3}, "acl", []Entity{{Key: "b", Value: []byte("2")}}, "a"))
	v3 := s.View()
	if v3.Entities().kinds["scram"] != v1.Entities().kinds["scram"] {
		t.Fatal("an acl change copied the scram kind")
	}
	if got := v1.Entities().List("acl"); len(got) != 1 || got[0].Key != "a" {
		t.Fatalf("older view changed: %v", got)
	}
	if got := v3.Entities().List("acl"); len(got) != 1 || got[0].Key != "b" || v3.EntitiesChanged() != 4 {
		t.Fatalf("acl = %v, changed %d", got, v3.EntitiesChanged())
	}
}

// TestEntitiesSnapshotVersions: a state without entities keeps the
// version 2 bytes; with entities the snapshot is version 4, and a body
// with entities under version 2 or 3 is refused.
func TestEntitiesSnapshotVersions(t *testing.T) {
	s := New()
	if v := s.Snapshot()[0]; v != SnapshotVersion {
		t.Fatalf("empty state: version %d", v)
	}
	s.Apply(1, putRec(t, UUID{1}, "quota", []Entity{{Key: "user=a", Value: []byte{0, 1, 2}}, {Key: "user=b", Value: nil}}))
	snap := s.Snapshot()
	if snap[0] != snapshotVersionEntities {
		t.Fatalf("version %d, want %d", snap[0], snapshotVersionEntities)
	}
	r := New()
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if got, ok := r.View().Entities().Get("quota", "user=a"); !ok || !bytes.Equal(got, []byte{0, 1, 2}) {
		t.Fatalf("restored quota = %v %v", got, ok)
	}
	if got, ok := r.View().Entities().Get("quota", "user=b"); !ok || got == nil || len(got) != 0 {
		t.Fatalf("an empty value restored as %#v %v", got, ok)
	}
	if !bytes.Equal(r.Snapshot(), snap) {
		t.Fatal("restored snapshot differs")
	}
	for _, old := range []byte{1, SnapshotVersion, snapshotVersionPeerDirs} {
		framed := append([]byte{old}, snap[1:len(snap)-4]...)
		framed = binary.BigEndian.AppendUint32(framed, crc32.Checksum(framed, castagnoli))
		if err := New().Restore(framed); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("entities under version %d: %v", old, err)
		}
	}
	// Out of order or duplicate keys, an unknown kind name: refused.
	for _, body := range []string{
		`{"applied":1,"next_group_id":1,"brokers":[],"topics":[],"entities":[{"kind":"acl","entities":[{"key":"b","value":""},{"key":"a","value":""}]}]}`,
		`{"applied":1,"next_group_id":1,"brokers":[],"topics":[],"entities":[{"kind":"acl","entities":[{"key":"a","value":""},{"key":"a","value":""}]}]}`,
		`{"applied":1,"next_group_id":1,"brokers":[],"topics":[],"entities":[{"kind":"A","entities":[{"key":"a","value":""}]}]}`,
		`{"applied":1,"next_group_id":1,"brokers":[],"topics":[],"entities":[{"kind":"acl","entities":[]}]}`,
		`{"applied":1,"next_group_id":1,"brokers":[],"topics":[],"entity_changes":["00000000000000000000000000000000"]}`,
	} {
		framed := append([]byte{snapshotVersionEntities}, body...)
		framed = binary.BigEndian.AppendUint32(framed, crc32.Checksum(framed, castagnoli))
		if err := New().Restore(framed); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("%s: %v", body, err)
		}
	}
}

// TestEntitiesRecentBounded: the state remembers the last
// RecentEntityChanges change ids, oldest dropped first.
func TestEntitiesRecentBounded(t *testing.T) {
	s := New()
	id := func(i int) UUID { return UUID{0: 1, 14: byte(i >> 8), 15: byte(i)} }
	n := RecentEntityChanges + 10
	for i := range n {
		if res := s.Apply(uint64(i+1), putRec(t, id(i), "acl", []Entity{{Key: fmt.Sprint(i % 7)}})); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	v := s.View()
	if v.EntityChangeApplied(id(9)) || !v.EntityChangeApplied(id(10)) || !v.EntityChangeApplied(id(n-1)) {
		t.Fatal("recent change ids not the last RecentEntityChanges")
	}
	if len(v.entities.recent) != RecentEntityChanges {
		t.Fatalf("%d recent ids", len(v.entities.recent))
	}
	if res := s.Apply(uint64(n+1), putRec(t, id(n-1), "acl", []Entity{{Key: "x"}})); !errors.Is(res.Err, ErrDuplicateEntities) {
		t.Fatalf("duplicate: %v", res.Err)
	}
	r := New()
	if err := r.Restore(s.Snapshot()); err != nil || !bytes.Equal(r.Snapshot(), s.Snapshot()) {
		t.Fatalf("restore: %v", err)
	}
}

// TestEntityLimits: the proposer-side check refuses what Apply refuses.
func TestEntityLimits(t *testing.T) {
	big := make([]byte, MaxEntityValueBytes+1)
	longKey := string(make([]byte, MaxEntityKeyBytes+1))
	for _, c := range []struct {
		kind string
		puts []Entity
		dels []string
	}{
		{"", []Entity{{Key: "a"}}, nil},
		{"acl", nil, nil},
		{"acl", []Entity{{Key: "a", Value: big}}, nil},
		{"acl", []Entity{{Key: longKey}}, nil},
		{"acl", nil, []string{longKey}},
	} {
		if err := ValidateEntityChange(c.kind, c.puts, c.dels); !errors.Is(err, ErrInvalidEntities) {
			t.Fatalf("%q: %v", c.kind, err)
		}
		s := New()
		if res := s.Apply(1, putRec(t, UUID{1}, c.kind, c.puts, c.dels...)); !errors.Is(res.Err, ErrInvalidEntities) {
			t.Fatalf("apply %q: %v", c.kind, res.Err)
		}
	}
}
