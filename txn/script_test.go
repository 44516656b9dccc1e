package txn

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moldau/moldau/internal/scripttest"
)

// memStateLog is an in-memory StateLog.
type memStateLog struct {
	mu    sync.Mutex
	parts map[int32][][2][]byte
	fail  bool
}

var errInjected = errors.New("injected failure")

func (l *memStateLog) Append(p int32, key, value []byte, sync bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return errInjected
	}
	var v []byte
	if value != nil {
		v = append([]byte(nil), value...)
	}
	l.parts[p] = append(l.parts[p], [2][]byte{append([]byte(nil), key...), v})
	return nil
}

func (l *memStateLog) Replay(p int32, fn func(key, value []byte) error) error {
	l.mu.Lock()
	recs := append([][2][]byte(nil), l.parts[p]...)
	l.mu.Unlock()
	for _, r := range recs {
		if err := fn(r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

// memMarkers records the markers written.
type memMarkers struct {
	mu      sync.Mutex
	written []string
	fail    bool
}

func (m *memMarkers) WriteMarkers(_ int32, pid int64, epoch int16, commit bool, parts []TopicPartition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errInjected
	}
	kind := "abort"
	if commit {
		kind = "commit"
	}
	m.written = append(m.written, fmt.Sprintf("marker %s pid=%d epoch=%d %v", kind, pid, epoch, parts))
	return nil
}

func (m *memMarkers) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.written
	m.written = nil
	return out
}

type scriptEnv struct {
	now     time.Time
	log     *memStateLog
	markers *memMarkers
	nextPid int64
	c       *Coordinator
}

func newScriptEnv() *scriptEnv {
	e := &scriptEnv{now: time.Unix(1_700_000_000, 0), log: &memStateLog{parts: map[int32][][2][]byte{}},
		markers: &memMarkers{}, nextPid: 1000}
	e.c = e.newCoordinator()
	return e
}

func (e *scriptEnv) newCoordinator() *Coordinator {
	return NewCoordinator(Config{Partitions: 50, MaxTimeout: 15 * time.Minute, IDExpiration: time.Hour, Now: func() time.Time { return e.now },
		NewProducerID: func() (int64, error) { e.nextPid++; return e.nextPid - 1, nil }},
		e.log, e.markers, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return "error=" + strings.TrimPrefix(err.Error(), "txn: ")
}

func parseParts(t *testing.T, s string) []TopicPartition {
	var out []TopicPartition
	for _, p := range strings.Split(s, ",") {
		if p == "" {
			continue
		}
		i := strings.LastIndexByte(p, '-')
		n, err := strconv.Atoi(p[i+1:])
		if err != nil {
			t.Fatalf("bad partition %q", p)
		}
		out = append(out, TopicPartition{p[:i], int32(n)})
	}
	return out
}

func (e *scriptEnv) run(t *testing.T, c scripttest.Cmd) string {
	args, num, dur := c.Args, c.Int, c.Dur
	id := args["id"]
	var out []string
	switch c.Name {
	case "init":
		got, err := e.c.InitProducerID(id, dur("timeout", time.Minute),
			ProducerIDAndEpoch{ProducerID: num("pid", -1), Epoch: int16(num("epoch", -1))})
		if err != nil {
			out = append(out, fmt.Sprintf("init %s: %s", id, errString(err)))
		} else {
			out = append(out, fmt.Sprintf("init %s: pid=%d epoch=%d", id, got.ProducerID, got.Epoch))
		}
	case "add":
		err := e.c.AddPartitions(id, num("pid", -1), int16(num("epoch", -1)), parseParts(t, args["parts"]))
		out = append(out, fmt.Sprintf("add %s: %s", id, errString(err)))
	case "verify":
		parts := parseParts(t, args["part"])
		err := e.c.Verify(id, num("pid", -1), int16(num("epoch", -1)), parts[0])
		out = append(out, fmt.Sprintf("verify %s %v: %s", id, parts[0], errString(err)))
	case "end":
		tv2 := args["tv2"] == "true"
		got, err := e.c.EndTxn(id, num("pid", -1), int16(num("epoch", -1)), args["commit"] == "true", tv2)
		if tv2 && err == nil {
			out = append(out, fmt.Sprintf("end %s: ok pid=%d epoch=%d", id, got.ProducerID, got.Epoch))
		} else {
			out = append(out, fmt.Sprintf("end %s: %s", id, errString(err)))
		}
	case "advance":
		e.now = e.now.Add(dur("by", 0))
	case "tick":
		e.c.Tick()
	case "describe":
		tx, ok := e.c.Describe(id)
		if !ok {
			out = append(out, fmt.Sprintf("%s: unknown", id))
			break
		}
		started := "-"
		if !tx.Started.IsZero() {
			started = "+" + tx.Started.Sub(time.Unix(1_700_000_000, 0)).String()
		}
		out = append(out, fmt.Sprintf("%s: state=%s pid=%d epoch=%d timeout=%v started=%s parts=%v",
			id, tx.State, tx.ProducerID, tx.Epoch, tx.Timeout, started, tx.Partitions))
	case "list":
		for _, tx := range e.c.List() {
			out = append(out, fmt.Sprintf("%s: %s pid=%d", tx.ID, tx.State, tx.ProducerID))
		}
	case "restart":
		e.c = e.newCoordinator()
		for p := int32(0); p < 50; p++ {
			if err := e.c.Load(p); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, fmt.Sprintf("restarted: %d transactions", len(e.c.List())))
	case "fail-log":
		e.log.mu.Lock()
		e.log.fail = args["on"] == "true"
		e.log.mu.Unlock()
	case "fail-markers":
		e.markers.mu.Lock()
		e.markers.fail = args["on"] == "true"
		e.markers.mu.Unlock()
	default:
		t.Fatalf("%s: unknown command %q", c.Pos, c.Name)
	}
	return strings.Join(append(e.markers.take(), out...), "\n")
}

// TestScripts runs testdata/*.txt (internal/scripttest); -rewrite
// regenerates the expected output.
func TestScripts(t *testing.T) {
	scripttest.Run(t, "testdata/*.txt", func(t *testing.T) func(scripttest.Cmd) string {
		e := newScriptEnv()
		return func(c scripttest.Cmd) string { return e.run(t, c) }
	})
}
