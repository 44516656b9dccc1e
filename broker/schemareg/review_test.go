package schemareg

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
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

// ghostLog fails the first Append of a SCHEMA record as a timed-out
// produce does, but keeps it in flight: it lands just before the next
// Append (the leader committed it after all).
type ghostLog struct {
	*memLog
	mu                 sync.Mutex
	armed              bool
	ghostKey, ghostVal []byte
}

func (l *ghostLog) Append(ctx context.Context, key, value []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ghostKey != nil {
		if _, err := l.memLog.Append(ctx, l.ghostKey, l.ghostVal); err != nil {
			return -1, err
		}
		l.ghostKey, l.ghostVal = nil, nil
	}
	if l.armed && value != nil && strings.Contains(string(key), `"SCHEMA"`) {
		l.armed = false
		l.ghostKey, l.ghostVal = bytes.Clone(key), bytes.Clone(value)
		return -1, fmt.Errorf("%w: produce to leader timed out", ErrLogUnavailable)
	}
	return l.memLog.Append(ctx, key, value)
}

// A register whose Append failed but landed later must not be retried
// (by the registry, or by the Log) with the same key bytes (same seq and node): compaction keeps the last
// record of a key, the retry's ignored copy, and drops the applied one,
// so after compaction a restarted instance lost the schema.
func TestRetryAfterUncertainAppendSurvivesCompaction(t *testing.T) {
	l := &ghostLog{memLog: newMemLog(), armed: true}
	a := newRegistry(t, l, withNode(1))
	if got := idOf(mustCall(t, a.Handler(), "POST", "/subjects/s/versions", registerBody(recV1), 200)); got != 1 {
		t.Fatalf("register: id %d", got)
	}
	if l.armed || l.ghostKey != nil {
		t.Fatal("the ghost append did not happen")
	}
	l.memLog.compact()
	b := newRegistry(t, l.memLog, withNode(2))
	if got := mustCall(t, b.Handler(), "GET", "/subjects/s/versions/1", "", 200); !strings.Contains(got, `"id":1,`) {
		t.Fatalf("after compaction: %s", got)
	}
}
