package metadata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// FuzzDecodeRecord: Decode never panics; what decodes re-encodes to bytes
// that decode and encode to themselves; applying it never panics.
func FuzzDecodeRecord(f *testing.F) {
	for _, rec := range randomLog(f, 3, 60) {
		f.Add(rec)
	}
	f.Add([]byte{1, 4, '{', '}'})
	f.Add([]byte{1, 9, 'n', 'u', 'l', 'l'})
	f.Add(append([]byte{1, byte(TypePutEntities)}, `{"id":"0e000000000000000000000000000001","kind":"acl","puts":[{"key":"a","value":"AQI="}],"deletes":["b"]}`...))
	f.Add(append([]byte{1, byte(TypePutEntities)}, `{"id":"0e000000000000000000000000000001","kind":"scram","puts":[{"key":"","value":null}]}`...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("error %v does not wrap ErrCorruptRecord", err)
			}
		} else {
			enc, err := Encode(r)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := Decode(enc)
			if err != nil {
				t.Fatalf("re-encoded %q does not decode: %v", enc, err)
			}
			enc2, err := Encode(r2)
			if err != nil || !bytes.Equal(enc, enc2) {
				t.Fatalf("encoding not stable: %q vs %q (%v)", enc, enc2, err)
			}
		}
		s := New()
		for i, rec := range randomLog(t, 5, 20) {
			s.Apply(uint64(i+1), rec)
		}
		// A rejected record moves only the applied index: the same as
		// an empty entry at that index.
		same := New()
		if err := same.Restore(s.Snapshot()); err != nil {
			t.Fatal(err)
		}
		same.Apply(100, nil)
		if res := s.Apply(100, b); res.Err != nil && !bytes.Equal(s.Snapshot(), same.Snapshot()) {
			t.Fatalf("a rejected record changed the state: %v", res.Err)
		}
	})
}

// FuzzRestoreSnapshot: Restore never panics; a snapshot it accepts gives
// a state whose own snapshot restores to the same bytes, and on which
// applying records never panics. Each input is tried as it is and, so
// that mutations get past the CRC to the body's validation, as a body
// framed with a version byte and a correct CRC.
func FuzzRestoreSnapshot(f *testing.F) {
	s := New()
	for i, rec := range randomLog(f, 4, 25) {
		s.Apply(uint64(i+1), rec)
	}
	if s.View().Entities().Len() == 0 {
		f.Fatal("seed state without entities")
	}
	for _, snap := range [][]byte{s.Snapshot(), New().Snapshot()} {
		f.Add(snap)
		f.Add(snap[1 : len(snap)-4])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		frame := func(version byte) []byte {
			framed := append([]byte{version}, b...)
			return binary.BigEndian.AppendUint32(framed, crc32.Checksum(framed, castagnoli))
		}
		for _, in := range [][]byte{b, frame(SnapshotVersion), frame(snapshotVersionEntities)} {
			st := New()
			if err := st.Restore(in); err != nil {
				if !errors.Is(err, ErrCorruptSnapshot) {
					t.Fatalf("error %v does not wrap ErrCorruptSnapshot", err)
				}
				continue
			}
			snap := st.Snapshot()
			again := New()
			if err := again.Restore(snap); err != nil {
				t.Fatalf("own snapshot refused: %v", err)
			}
			if !bytes.Equal(again.Snapshot(), snap) {
				t.Fatal("snapshot not stable")
			}
			for i, rec := range randomLog(t, 6, 30) {
				st.Apply(st.View().Applied()+uint64(i)+1, rec)
			}
		}
	})
}
