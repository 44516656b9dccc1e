package jepsen

// The history: every operation of every workload and every fault, in the
// order they happened, as Jepsen records it. A completion (ok, fail, info)
// carries everything the checker needs, including the time its invocation
// started (Start), so the checker reads completions only; the invocations
// are in the history for a human reading history.jsonl.
//
// Locking: History.mu guards ops and fault; Add may be called from any
// goroutine.

import (
	"bufio"
	"encoding/json"
	"os"
	"sync"
	"time"
)

// OpType is Jepsen's operation type.
type OpType string

// Operation types.
const (
	OpInvoke OpType = "invoke" // an operation starts
	OpOK     OpType = "ok"     // it definitely happened
	OpFail   OpType = "fail"   // it definitely did not happen (for a transaction: aborted)
	OpInfo   OpType = "info"   // unknown (a timeout): it may or may not have happened
)

// Operation functions (Op.F).
const (
	FnSend      = "send"      // queue/groups producer: one record; ok carries its offset
	FnPoll      = "poll"      // assign-mode reader: one poll's records
	FnDrain     = "drain"     // the final read of one partition from its start
	FnTxn       = "txn"       // transactional producer: one transaction's records
	FnCopy      = "copy"      // exactly-once copier: one transaction; Records read from Topic, written to To
	FnGroupPoll = "gpoll"     // group member: one poll's records, stamped with member and generation
	FnCommit    = "commit"    // group member: a synchronous offset commit
	FnCommitted = "committed" // the group's committed offsets observed through OffsetFetch
	FnMember    = "member"    // group membership events (join, leave, kill, assigned, revoked); informational
	FnFault     = "fault"     // a fault injected (ok) or not (fail)
	FnHeal      = "heal"      // the nemesis healed (ok) or failed to (fail)
)

// Rec is one record as read or written.
type Rec struct {
	Partition int32  `json:"p"`
	Offset    int64  `json:"o"` // -1 when unknown (a write not acknowledged)
	Value     string `json:"v"`
}

// Op is one line of the history.
type Op struct {
	Time       time.Time       `json:"time"`
	Start      time.Time       `json:"start,omitzero"` // a completion's invocation time
	Process    string          `json:"process"`
	Type       OpType          `json:"type"`
	F          string          `json:"f"`
	Topic      string          `json:"topic,omitempty"`
	To         string          `json:"to,omitempty"` // FnCopy: the destination topic
	Partition  int32           `json:"partition"`    // -1 when the op is not about one partition
	Offset     int64           `json:"offset"`       // -1 when unknown
	Value      string          `json:"value,omitempty"`
	Records    []Rec           `json:"records,omitempty"`
	Txn        string          `json:"txn,omitempty"` // a transaction's unique name
	Group      string          `json:"group,omitempty"`
	Member     string          `json:"member,omitempty"`
	Generation int32           `json:"generation,omitempty"` // classic generation or KIP-848 member epoch
	Offsets    map[int32]int64 `json:"offsets,omitempty"`    // FnCommit, FnCommitted: partition -> offset
	Fault      string          `json:"fault,omitempty"`      // the fault in force when the op was recorded
	Detail     string          `json:"detail,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// History collects ops from every goroutine of a run.
type History struct {
	mu    sync.Mutex
	ops   []Op
	fault string // the fault in force, stamped on every op
}

// Add records op, stamping Time (when zero) and the fault in force.
func (h *History) Add(op Op) {
	if op.Time.IsZero() {
		op.Time = time.Now()
	}
	h.mu.Lock()
	op.Fault = h.fault
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// SetFault names the fault in force ("" when healed).
func (h *History) SetFault(f string) {
	h.mu.Lock()
	h.fault = f
	h.mu.Unlock()
}

// Ops returns a copy of the history so far.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}

// WriteJSONL writes ops to path, one JSON object a line.
func WriteJSONL(path string, ops []Op) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i := range ops {
		if err := enc.Encode(&ops[i]); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadJSONL reads a history written by WriteJSONL (to check it again:
// Check(ops)).
func ReadJSONL(path string) ([]Op, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ops []Op
	dec := json.NewDecoder(bufio.NewReader(f))
	for dec.More() {
		var op Op
		if err := dec.Decode(&op); err != nil {
			return ops, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}
