package replication

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/moldau/moldau/log/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

// A read error in the leader's storage (LogStorage.Entries, read while
// catching a follower up) made etcd raft panic, which took the whole
// process down. It stops that node with the storage error instead
// (DESIGN.md §4), and the other nodes carry on: they elect a leader and
// commit.
func TestStorageReadErrorStopsNode(t *testing.T) {
	var failReads atomic.Bool
	// No tail cache: the catch-up read must reach the segment files.
	c := newClusterOpts(t, 3, 1, clusterOpts{kind: "log", sync: true, noTail: true, wrapFS: func(id uint64, fs vfs.FS) vfs.FS {
		if id != 1 {
			return fs
		}
		return vfs.NewErrorFS(fs, func(op vfs.Op, path string) error {
			if op == vfs.OpRead && failReads.Load() && strings.HasSuffix(path, ".log") {
				return vfs.ErrInjected
			}
			return nil
		})
	}})
	c.elect(1, 1)
	c.net.Isolate(3)
	for i := range 5 {
		if err := c.propose(1, 1, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Node 3 is behind by 5 entries, no longer in the leader's unstable
	// log: catching it up reads them from the segment files. Settle
	// first: a proposal returns once applied on the leader, while its
	// appends for node 3 may still wait in the peer sender, which would
	// deliver them after the heal (under load it did, and node 3 caught
	// up without a read).
	c.settle()
	failReads.Store(true)
	c.net.Heal()
	c.tickUntil("node 1 stopped on the read error", 20, func() bool {
		select {
		case <-c.nodes[1].Done():
			return true
		default:
			return false
		}
	}, 1, 2, 3)
	if err := c.nodes[1].Err(); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("node 1 stopped with %v, want the injected read error", err)
	}
	if err := c.propose(1, 1, "after"); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose on the stopped node: %v, want ErrStopped", err)
	}
	c.tickUntil("a new leader among 2 and 3", 100, func() bool {
		return c.leader(1, 2, 3) != 0
	}, 2, 3)
	if err := c.propose(c.leader(1, 2, 3), 1, "later"); err != nil {
		t.Fatal(err)
	}
}

// failingInitStorage fails InitialState, which raft reads while building
// the group's RawNode (and panics over).
type failingInitStorage struct{ *MemStorage }

var errInitRead = errors.New("test: initial state unreadable")

func (failingInitStorage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	return nil, nil, errInitRead
}

func TestAddGroupStorageErrorReturned(t *testing.T) {
	n, err := NewNode(Config{ID: 1, Transport: NewLocalNetwork().Endpoint(1), Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	err = n.AddGroup(GroupConfig{ID: 1, Storage: failingInitStorage{NewMemStorage(1)}, StateMachine: &testSM{}})
	if !errors.Is(err, errInitRead) {
		t.Fatalf("AddGroup over an unreadable storage: %v, want its error", err)
	}
}
