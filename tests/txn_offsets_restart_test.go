package tests

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/tests/harness"
)

// TestTxnOffsetsSurviveKill9: two transactions hold group offsets
// (TxnOffsetCommit) when the broker is killed with SIGKILL. After the
// restart both are still open, their offsets pending (OffsetFetch with
// require_stable: UNSTABLE_OFFSET_COMMIT, without: none); the one that
// commits makes its offset the group's, the one that aborts leaves none.
func TestTxnOffsetsSurviveKill9(t *testing.T) {
	p := harness.Start(t)
	const topic = "txn-offsets-kill9"
	createTopic(t, p.Addr, topic, 1, nil)
	type txnOf struct {
		id, group string
		commit    bool
		pid       int64
		epoch     int16
	}
	txns := []*txnOf{{id: "kill9-commit", group: "kill9-g1", commit: true}, {id: "kill9-abort", group: "kill9-g2"}}
	cl := newClient(t, p.Addr)
	ctx := ctxT(t)
	for _, x := range txns {
		ip := kmsg.NewPtrInitProducerIDRequest()
		ip.TransactionalID, ip.TransactionTimeoutMillis = kmsg.StringPtr(x.id), 120000
		ipr, err := ip.RequestWith(ctx, cl)
		if err != nil || ipr.ErrorCode != 0 {
			t.Fatalf("InitProducerID: %v %v", err, kerr.ErrorForCode(ipr.ErrorCode))
		}
		x.pid, x.epoch = ipr.ProducerID, ipr.ProducerEpoch
		ao := kmsg.NewPtrAddOffsetsToTxnRequest()
		ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = x.id, x.pid, x.epoch, x.group
		if aor, err := ao.RequestWith(ctx, cl); err != nil || aor.ErrorCode != 0 {
			t.Fatalf("AddOffsetsToTxn: %v %v", err, kerr.ErrorForCode(aor.ErrorCode))
		}
		tc := kmsg.NewPtrTxnOffsetCommitRequest()
		tc.TransactionalID, tc.Group, tc.ProducerID, tc.ProducerEpoch, tc.Generation = x.id, x.group, x.pid, x.epoch, -1
		tt := kmsg.NewTxnOffsetCommitRequestTopic()
		tt.Topic, tt.TopicID = topic, metadataTopicID(ctx, t, cl, topic) // v6 names topics by id
		tp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		tp.Partition, tp.Offset = 0, 42
		tt.Partitions = []kmsg.TxnOffsetCommitRequestTopicPartition{tp}
		tc.Topics = []kmsg.TxnOffsetCommitRequestTopic{tt}
		if tcr, err := tc.RequestWith(ctx, cl); err != nil || tcr.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("TxnOffsetCommit: %v %+v", err, tcr)
		}
	}
	p.Kill9()
	p.Restart()

	cl = newClient(t, p.Addr, kgo.RequestRetries(50))
	fetch := func(group string, stable bool) (int64, int16) {
		t.Helper()
		of := kmsg.NewPtrOffsetFetchRequest()
		of.RequireStable = stable
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = group
		gt := kmsg.NewOffsetFetchRequestGroupTopic()
		gt.Topic, gt.Partitions = topic, []int32{0}
		g.Topics = []kmsg.OffsetFetchRequestGroupTopic{gt}
		of.Groups = []kmsg.OffsetFetchRequestGroup{g}
		ofr, err := of.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if c := ofr.Groups[0].ErrorCode; c != 0 {
			t.Fatalf("OffsetFetch %s: %v", group, kerr.ErrorForCode(c))
		}
		p := ofr.Groups[0].Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	for _, x := range txns {
		if off, code := fetch(x.group, false); off != -1 || code != 0 {
			t.Fatalf("%s after the restart: offset %d (%v), want none yet", x.group, off, kerr.ErrorForCode(code))
		}
		if _, code := fetch(x.group, true); code != kerr.UnstableOffsetCommit.Code {
			t.Fatalf("%s after the restart, require_stable: %v, want UNSTABLE_OFFSET_COMMIT", x.group, kerr.ErrorForCode(code))
		}
	}
	for _, x := range txns {
		et := kmsg.NewPtrEndTxnRequest()
		et.TransactionalID, et.ProducerID, et.ProducerEpoch, et.Commit = x.id, x.pid, x.epoch, x.commit
		if etr, err := et.RequestWith(ctx, cl); err != nil || etr.ErrorCode != 0 {
			t.Fatalf("EndTxn %s (commit %v) after the restart: %v %v", x.id, x.commit, err, kerr.ErrorForCode(etr.ErrorCode))
		}
		want := int64(-1)
		if x.commit {
			want = 42
		}
		if off, code := fetch(x.group, true); off != want || code != 0 {
			t.Fatalf("%s after EndTxn (commit %v): offset %d (%v), want %d", x.group, x.commit, off, kerr.ErrorForCode(code), want)
		}
	}
}
