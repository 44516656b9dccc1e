package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moldau/moldau/internal/scripttest"
)

// shareStub is an in-memory ShareStates for scripts: it keeps every
// initialized share-partition and can be told to fail.
type shareStub struct {
	e     *scriptEnv
	mu    sync.Mutex
	state map[string]ShareStateSummary // "group/topic/partition"
	fail  bool
	calls []string
}

var (
	shareStubsMu sync.Mutex
	shareStubs   = map[*scriptEnv]*shareStub{}
)

// shareStubFor returns the script's stub (the same across restarts: it
// stands for the share coordinator, which a group coordinator restart does
// not reset).
func shareStubFor(e *scriptEnv) *shareStub {
	shareStubsMu.Lock()
	defer shareStubsMu.Unlock()
	s := shareStubs[e]
	if s == nil {
		s = &shareStub{e: e, state: map[string]ShareStateSummary{}}
		shareStubs[e] = s
		e.t.Cleanup(func() {
			shareStubsMu.Lock()
			delete(shareStubs, e)
			shareStubsMu.Unlock()
		})
	}
	return s
}

var errStubFail = errors.New("stub: injected share state failure")

func (s *shareStub) key(group string, tid [16]byte, p int32) string {
	name := "?"
	for _, t := range s.e.topics {
		if t.ID == tid {
			name = t.Name
		}
	}
	return fmt.Sprintf("%s/%s/%d", group, name, p)
}

func (s *shareStub) Initialize(_ context.Context, group string, tid [16]byte, p, stateEpoch int32, start int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.key(group, tid, p)
	s.calls = append(s.calls, fmt.Sprintf("init %s epoch=%d start=%d", k, stateEpoch, start))
	if s.fail {
		return errStubFail
	}
	s.state[k] = ShareStateSummary{StartOffset: start, StateEpoch: stateEpoch, LeaderEpoch: -1, DeliveryCompleteCount: -1}
	return nil
}

func (s *shareStub) Delete(_ context.Context, group string, tid [16]byte, p int32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.key(group, tid, p)
	s.calls = append(s.calls, "delete "+k)
	if s.fail {
		return errStubFail
	}
	delete(s.state, k)
	return nil
}

func (s *shareStub) ReadSummary(_ context.Context, group string, tid [16]byte, p int32) (ShareStateSummary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.state[s.key(group, tid, p)]
	if !ok {
		return ShareStateSummary{}, ErrShareStateNotFound
	}
	return st, nil
}

// runShare runs the share group commands:
//
//	sghb member= epoch= [topics=t,u] [rack=]   ShareGroupHeartbeat
//	sgdescribe                                DescribeShareGroup
//	share-calls                               the stub's calls since the last share-calls (sorted)
//	share-fail on=true|false                  the stub fails every call
//	share-set max-size= session= interval= assignment-interval=   group settings
//	alter-share t0=5 u1=7                     AlterShareGroupOffsets
//	delete-share-offsets topics=t,u           DeleteShareGroupOffsets
//	describe-share-offsets topics=t:0,1       DescribeShareGroupOffsets
func (e *scriptEnv) runShare(a scripttest.Cmd) bool {
	group := a.Str("group", "g")
	stub := shareStubFor(e)
	switch a.Name {
	case "sghb":
		req := ShareHeartbeatRequest{Group: group, MemberID: a.Str("member", ""), MemberEpoch: int32(a.Int("epoch", 0)),
			RackID: a.Ptr("rack"), ClientID: "c", ClientHost: "/127.0.0.1"}
		if v, ok := a.Args["topics"]; ok {
			req.SubscribedTopics = strings.Split(v, ",")
			if v == "" {
				req.SubscribedTopics = []string{}
			}
		}
		r := e.c.ShareHeartbeat(req)
		if r.Err != nil {
			e.emit("sghb %s: %s epoch=%d", req.MemberID, errName(r.Err), r.MemberEpoch)
			break
		}
		as := "(unchanged)"
		if r.Assignment != nil {
			as = e.formatAssignment(r.Assignment)
		}
		e.emit("sghb %s: ok epoch=%d interval=%s assignment=%s", r.MemberID, r.MemberEpoch, r.HeartbeatInterval, as)
	case "sgdescribe":
		d, err := e.c.DescribeShareGroup(group)
		if err != nil {
			e.emit("sgdescribe: %s", errName(err))
			break
		}
		e.emit("sgdescribe: state=%s epoch=%d target-epoch=%d assignor=%s", d.State, d.GroupEpoch, d.TargetEpoch, d.Assignor)
		for _, m := range d.Members {
			e.emit("  %s epoch=%d topics=%s assigned=%s", m.MemberID, m.MemberEpoch, strings.Join(m.SubscribedTopics, ","), e.formatAssignment(m.Assignment))
		}
	case "share-calls":
		stub.mu.Lock()
		calls := stub.calls
		stub.calls = nil
		stub.mu.Unlock()
		sort.Strings(calls)
		if len(calls) == 0 {
			e.emit("share-calls: none")
		}
		for _, c := range calls {
			e.emit("share-calls: %s", c)
		}
	case "share-fail":
		stub.mu.Lock()
		stub.fail = a.Str("on", "true") == "true"
		stub.mu.Unlock()
	case "share-set":
		s := e.c.settings(group)
		s.ShareMaxSize = int32(a.Int("max-size", int64(s.ShareMaxSize)))
		s.ShareSessionTimeout = a.Dur("session", s.ShareSessionTimeout)
		s.ShareHeartbeatInterval = a.Dur("interval", s.ShareHeartbeatInterval)
		s.ShareAssignmentInterval = a.Dur("assignment-interval", s.ShareAssignmentInterval)
		f := func(string) GroupSettings { return s }
		e.cfg.Settings = f
		e.c.cfg.Settings = f
	case "alter-share":
		offs := map[string]map[int32]int64{}
		var keys []string
		for k := range a.Args {
			if k != "group" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p, _ := strconv.Atoi(k[1:])
			n, _ := strconv.ParseInt(a.Args[k], 10, 64)
			name := k[:1]
			if offs[name] == nil {
				offs[name] = map[int32]int64{}
			}
			offs[name][int32(p)] = n
		}
		res, err := e.c.AlterShareGroupOffsets(group, offs)
		if err != nil {
			e.emit("alter-share: %s", errName(err))
			break
		}
		e.emitShareResults("alter-share", res)
	case "delete-share-offsets":
		res, err := e.c.DeleteShareGroupOffsets(group, strings.Split(a.Str("topics", "t"), ","))
		if err != nil {
			e.emit("delete-share-offsets: %s", errName(err))
			break
		}
		e.emitShareResults("delete-share-offsets", res)
	case "describe-share-offsets":
		var req []ShareOffsetsTopic
		if v, ok := a.Args["topics"]; ok {
			for _, part := range strings.Split(v, ";") {
				name, ps, _ := strings.Cut(part, ":")
				t := ShareOffsetsTopic{Topic: name}
				for _, p := range strings.Split(ps, ",") {
					n, _ := strconv.Atoi(p)
					t.Partitions = append(t.Partitions, int32(n))
				}
				req = append(req, t)
			}
		}
		out, err := e.c.DescribeShareGroupOffsets(group, req)
		if err != nil {
			e.emit("describe-share-offsets: %s", errName(err))
			break
		}
		for _, o := range out {
			e.emit("describe-share-offsets %s%d: start=%d epoch=%d %s", o.Topic, o.Partition, o.StartOffset, o.LeaderEpoch, errName(o.Err))
		}
	default:
		return false
	}
	// Initializations run in the background: wait for them, so that the
	// output is deterministic.
	e.c.WaitIdle()
	_ = time.Second
	return true
}

func (e *scriptEnv) emitShareResults(cmd string, res []ShareOffsetsResult) {
	for _, r := range res {
		p := ""
		if r.Partition >= 0 {
			p = strconv.Itoa(int(r.Partition))
		}
		e.emit("%s %s%s: %s", cmd, r.Topic, p, errName(r.Err))
	}
}
