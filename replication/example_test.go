package replication

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// printSM is a StateMachine that prints what it applies.
type printSM struct{ node uint64 }

func (s printSM) Apply(entries []*raftpb.Entry) error {
	for _, e := range entries {
		if len(e.Data) > 0 && s.node == 1 {
			fmt.Printf("applied %q at index %d\n", e.Data, e.GetIndex())
		}
	}
	return nil
}

func (printSM) Restore(*raftpb.Snapshot) error { return nil }

// Three nodes in one process, one group: node 1 campaigns, then proposes.
func Example() {
	net := NewLocalNetwork()
	var nodes []*Node
	for id := uint64(1); id <= 3; id++ {
		n, err := NewNode(Config{ID: id, Transport: net.Endpoint(id), Logger: quietLogger})
		if err != nil {
			panic(err)
		}
		defer n.Stop()
		if err := n.AddGroup(GroupConfig{ID: 1, Storage: NewMemStorage(1, 2, 3), StateMachine: printSM{id}}); err != nil {
			panic(err)
		}
		net.Attach(id, n)
		nodes = append(nodes, n)
	}
	if err := nodes[0].Campaign(1); err != nil {
		panic(err)
	}
	for st, _ := nodes[0].Status(1); !st.IsLeader; st, _ = nodes[0].Status(1) {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nodes[0].Propose(ctx, 1, []byte("hello")); err != nil {
		panic(err)
	}
	// Output: applied "hello" at index 2
}
