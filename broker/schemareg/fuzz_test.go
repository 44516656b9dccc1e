package schemareg

import (
	"io"
	"log/slog"
	"testing"
)

// FuzzApply feeds arbitrary records to the state machine: it must never
// panic, and the derived indexes must stay consistent with the versions.
func FuzzApply(f *testing.F) {
	seeds := [][2]string{
		{`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`, `{"subject":"s","version":1,"id":1,"schema":"\"int\"","deleted":false}`},
		{`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1,"seq":0,"node":1}`, `{"subject":"s","version":1,"id":2,"schema":"\"long\"","references":[{"name":"x","subject":"s","version":1}]}`},
		{`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`, ``},
		{`{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}`, `{"subject":"s","version":9}`},
		{`{"keytype":"CLEAR_SUBJECT","subject":"","magic":0}`, `{"subject":""}`},
		{`{"keytype":"CONFIG","magic":0}`, `{"compatibilityLevel":"full"}`},
		{`{"keytype":"MODE","subject":"s","magic":0,"seq":1}`, `{"mode":"IMPORT"}`},
		{`{"keytype":"NOOP","magic":0}`, ``},
		{`{"keytype":"NOOP","magic":0,"seq":2,"node":1}`, `{"moldauPermanentDelete":[{"subject":"s","version":1}]}`},
		{`{"keytype":`, `{`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]), s[1] == "")
	}
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		st := newState(slog.New(slog.NewTextHandler(io.Discard, nil)))
		// Apply the record twice among the seeds so that it meets state.
		off := int64(0)
		apply := func(k, v []byte, tomb bool) {
			if tomb {
				v = nil
			} else if v == nil {
				v = []byte{}
			}
			st.apply(Record{Offset: off, Key: k, Value: v})
			off++
		}
		for _, s := range seeds[:4] {
			apply([]byte(s[0]), []byte(s[1]), s[1] == "")
		}
		apply(key, value, tombstone)
		apply(key, value, tombstone)
		if st.applied != off {
			t.Fatalf("applied %d, want %d", st.applied, off)
		}
		for id, e := range st.ids {
			if id > st.maxID {
				t.Fatalf("id %d above max id %d", id, st.maxID)
			}
			if len(e.users) == 0 {
				t.Fatalf("id %d has no users", id)
			}
			for sv := range e.users {
				v := st.subjects[sv.subject][sv.version]
				if v == nil || v.value.ID != id {
					t.Fatalf("id %d lists %v which does not hold it", id, sv)
				}
			}
		}
		for subject, versions := range st.subjects {
			if len(versions) == 0 {
				t.Fatalf("subject %q kept without versions", subject)
			}
			for ver, v := range versions {
				if _, ok := st.ids[v.value.ID].users[subjectVersion{subject, ver}]; !ok {
					t.Fatalf("%s/%d (id %d) missing from the id index", subject, ver, v.value.ID)
				}
			}
		}
		_ = st.subjectNames(true, "")
		_ = st.referencedBy("s", 1, true)
	})
}
