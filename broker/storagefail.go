package broker

// A storage error stops the node (etcd's rule, STYLE.md habit 8): the
// replication node stops itself on a failed write, sync or read of its Raft
// state (replication.Node.fail). Before this file the broker went on
// serving as a zombie: its Metadata named it leader of the partitions it led
// and listed the brokers as they were at the failure, for ever, and
// consumers fetching from it saw nothing new. Now the broker stops serving
// too, as a crashed process would: the Kafka listener and every client
// connection close (clients move to the other brokers), Ready turns false,
// Failed is closed and Err names the storage error. The process should then
// exit and be restarted (cmd/moldau exits with status 1): recovery runs on
// what the disk kept, and the node catches up from the leaders.
//
// Locking: failOnce makes the failure happen once; failErr is written
// before failed is closed and read only after (Err).

import (
	"context"
	"fmt"
	"time"
)

// Failed is closed once the broker has stopped serving because of a storage
// error (cluster mode; never on a single node). Close must still be called.
func (b *Broker) Failed() <-chan struct{} { return b.failed }

// Err returns the error that stopped the broker from serving, once Failed is
// closed; nil before.
func (b *Broker) Err() error {
	select {
	case <-b.failed:
		return b.failErr
	default:
		return nil
	}
}

// watchStorage waits for the replication node to stop on an error (or for
// Close) and then stops serving. It runs in b.bg from Serve, after b.srv is
// set.
func (b *Broker) watchStorage() {
	select {
	case <-b.stop:
		return
	case <-b.raft.node.Done():
	}
	err := b.raft.node.Err()
	if err == nil { // stopped by Close
		return
	}
	b.failOnce.Do(func() {
		b.failErr = fmt.Errorf("broker: stopped serving on a storage error: %w", err)
		b.logger.Error("broker stopping: the replication node stopped on a storage error; restart the process to recover", "err", err)
		b.ready.Store(false)
		// Close the listener and every connection (Close shuts the
		// server down again: that is harmless). Requests in flight
		// finish with the node's ErrStopped (NOT_LEADER_OR_FOLLOWER).
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.srv.Shutdown(ctx)
		close(b.failed)
	})
}
