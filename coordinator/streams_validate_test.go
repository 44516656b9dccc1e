package coordinator

import (
	"errors"
	"testing"
	"time"
)

// TestStreamsHeartbeatBadCopartitionIndex: a copartition group naming a
// topic by an index outside its subtopology's lists (negative or too
// large) is a malformed topology: INVALID_REQUEST, never a panic under the
// group lock.
func TestStreamsHeartbeatBadCopartitionIndex(t *testing.T) {
	e := newScriptEnv(t)
	e.topics = []TopicMeta{{ID: [16]byte{1}, Name: "in", Partitions: 2}}
	pid := "p1"
	for _, cg := range []StreamsCopartitionGroup{
		{SourceTopics: []int16{-1}},
		{SourceTopics: []int16{1}},
		{RepartitionSourceTopics: []int16{-3}},
		{RepartitionSourceTopics: []int16{0}},
	} {
		res := e.c.StreamsHeartbeat(StreamsHeartbeatRequest{
			Group: "bad-topology", MemberID: "m1", RebalanceTimeout: time.Minute, ProcessID: &pid,
			Topology: &StreamsTopology{Epoch: 1, Subtopologies: []StreamsSubtopology{{
				ID: "0", SourceTopics: []string{"in"}, CopartitionGroups: []StreamsCopartitionGroup{cg},
			}}},
		})
		if !errors.Is(res.Err, ErrInvalidRequest) {
			t.Errorf("copartition group %+v: %v, want ErrInvalidRequest", cg, res.Err)
		}
	}
}
