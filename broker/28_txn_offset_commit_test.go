package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnOffsetCommit's refusals, as Kafka 4.x answers them (see
// txnOffsetCommitErrorCode), through the handlers at each version.

// initTxn runs InitProducerId for txnID and returns the producer id and
// epoch.
func initTxn(t *testing.T, b *Broker, txnID string) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(txnID), 60000
	resp := do[*kmsg.InitProducerIDResponse](t, b, 4, req)
	if resp.ErrorCode != 0 {
		t.Fatalf("InitProducerId %s: %v", txnID, kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.ProducerID, resp.ProducerEpoch
}

func addOffsetsToTxn(t *testing.T, b *Broker, txnID string, pid int64, epoch int16, group string) {
	t.Helper()
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = txnID, pid, epoch, group
	if resp := do[*kmsg.AddOffsetsToTxnResponse](t, b, 3, req); resp.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// txnOffsetCommit commits offset 5 of partitions parts of topic at version
// and returns each partition's error code.
func txnOffsetCommit(t *testing.T, b *Broker, version int16, txnID, group string, pid int64, epoch int16, topic string, parts ...int32) []int16 {
	t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = txnID, group, pid, epoch, -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	for _, p := range parts {
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, 5
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.TxnOffsetCommitResponse](t, b, version, req)
	var codes []int16
	for _, p := range resp.Topics[0].Partitions {
		codes = append(codes, p.ErrorCode)
	}
	return codes
}

func TestTxnOffsetCommitErrors(t *testing.T) {
	b := newAdminBroker(t)
	mustCreateTopic(t, b, "in", 2, nil)
	initTxn(t, b, "known")
	pid, epoch := initTxn(t, b, "known") // epoch 1, so that 0 is stale
	if epoch < 1 {
		t.Fatalf("epoch %d after a second InitProducerId", epoch)
	}
	otherPid, _ := initTxn(t, b, "other")
	none, abortable := int16(0), kerr.TransactionAbortable.Code
	cases := []struct {
		name     string
		versions []int16
		txnID    string
		group    string
		pid      int64
		epoch    int16
		topic    string
		want     func(version int16) int16
	}{
		{name: "unknown transactional id (pid 999, epoch 999)", versions: []int16{0, 1, 2, 3, 4, 5}, txnID: "nobody", group: "g", pid: 999, epoch: 999, topic: "in",
			want: func(int16) int16 { return kerr.InvalidProducerIDMapping.Code }},
		{name: "another producer's id", versions: []int16{0, 2, 3, 4, 5}, txnID: "known", group: "g", pid: otherPid, epoch: epoch, topic: "in",
			want: func(int16) int16 { return kerr.InvalidProducerIDMapping.Code }},
		{name: "stale epoch", versions: []int16{0, 2, 3, 4, 5}, txnID: "known", group: "g", pid: pid, epoch: epoch - 1, topic: "in",
			want: func(int16) int16 { return kerr.InvalidProducerEpoch.Code }},
		{name: "epoch from the future", versions: []int16{0, 2, 3, 4, 5}, txnID: "known", group: "g", pid: pid, epoch: epoch + 1, topic: "in",
			want: func(int16) int16 { return kerr.InvalidProducerEpoch.Code }},
		{name: "group partition not in the transaction", versions: []int16{0, 3, 4}, txnID: "known", group: "g", pid: pid, epoch: epoch, topic: "in",
			want: func(v int16) int16 {
				if v >= 4 {
					return abortable
				}
				return kerr.InvalidTxnState.Code
			}},
		{name: "unknown topic", versions: []int16{0, 3, 4, 5}, txnID: "nobody", group: "g", pid: 999, epoch: 999, topic: "missing",
			want: func(int16) int16 { return kerr.UnknownTopicOrPartition.Code }},
		{name: "empty group id", versions: []int16{0, 3, 5}, txnID: "known", group: "", pid: pid, epoch: epoch, topic: "in",
			want: func(int16) int16 { return kerr.InvalidGroupID.Code }},
	}
	for _, c := range cases {
		for _, v := range c.versions {
			codes := txnOffsetCommit(t, b, v, c.txnID, c.group, c.pid, c.epoch, c.topic, 0, 1)
			for i, code := range codes {
				if want := c.want(v); code != want {
					t.Errorf("%s, v%d, partition %d: %v; want %v", c.name, v, i, kerr.ErrorForCode(code), kerr.ErrorForCode(want))
				}
			}
		}
	}
	// An unknown partition of a known topic is refused alone.
	addOffsetsToTxn(t, b, "known", pid, epoch, "g")
	codes := txnOffsetCommit(t, b, 3, "known", "g", pid, epoch, "in", 0, 7)
	if codes[0] != none || codes[1] != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("known and unknown partition: %v, %v", kerr.ErrorForCode(codes[0]), kerr.ErrorForCode(codes[1]))
	}
}
