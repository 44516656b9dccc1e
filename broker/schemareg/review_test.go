package schemareg

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
)

// hookLog runs hook (once, if set) before an Append of a tombstone.
type hookLog struct {
	Log
	hook func()
}

func (l *hookLog) Append(ctx context.Context, key, value []byte) (int64, error) {
	if f := l.hook; f != nil && value == nil {
		l.hook = nil
		f()
	}
	return l.Log.Append(ctx, key, value)
}

// A register that writes a fence, tombstones and then its SCHEMA record
// must not apply the SCHEMA record when another instance wrote between
// the fence and it: the SCHEMA record was planned without that write.
// Here b takes version 3 between a's fence and a's tombstone; a must not
// then overwrite version 3 (both would have answered "version 3").
func TestWriteInterleavedAfterUncheckedTombstone(t *testing.T) {
	l := newMemLog()
	b := newRegistry(t, l, withNode(2))
	hl := &hookLog{Log: l}
	a := newRegistry(t, hl, withNode(1))
	mustCall(t, b.Handler(), "PUT", "/config", `{"compatibility":"NONE"}`, 200)
	mustCall(t, b.Handler(), "POST", "/subjects/s/versions", registerBody(recV1), 200)
	mustCall(t, b.Handler(), "POST", "/subjects/s/versions", registerBody(recV2), 200)
	mustCall(t, b.Handler(), "DELETE", "/subjects/s/versions/1", "", 200)
	var bOut string
	hl.hook = func() {
		bOut = mustCall(t, b.Handler(), "POST", "/subjects/s/versions", registerBody(recV3), 200)
	}
	aOut := mustCall(t, a.Handler(), "POST", "/subjects/s/versions", registerBody(recV1), 200)
	if bOut == "" {
		t.Fatal("hook did not run")
	}
	idA, idB := idOf(aOut), idOf(bOut)
	for name, h := range map[string]*Registry{"a": a, "b": b} {
		var versions []int
		_ = json.Unmarshal([]byte(mustCall(t, h.Handler(), "GET", "/subjects/s/versions", "", 200)), &versions)
		seen := map[int]bool{}
		for _, v := range versions {
			got := mustCall(t, h.Handler(), "GET", "/subjects/s/versions/"+strconv.Itoa(v), "", 200)
			seen[idOf(got)] = true
		}
		if !seen[idA] || !seen[idB] {
			t.Fatalf("%s: versions %v hold ids %v; want both a's id %d and b's id %d (a=%s b=%s)", name, versions, seen, idA, idB, aOut, bOut)
		}
	}
}
