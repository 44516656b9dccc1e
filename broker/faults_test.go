package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestErrorResponseMirrorsRequest(t *testing.T) {
	code := kerr.NotLeaderForPartition.Code

	pr := kmsg.NewPtrProduceRequest()
	pr.Version = 9
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "a"
	for _, p := range []int32{0, 3} {
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Partition = p
		pt.Partitions = append(pt.Partitions, pp)
	}
	pr.Topics = append(pr.Topics, pt)
	resp := errorResponse(pr, code).(*kmsg.ProduceResponse)
	if resp.Version != 9 || len(resp.Topics) != 1 || resp.Topics[0].Topic != "a" || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("produce response shape: %+v", resp)
	}
	for i, p := range resp.Topics[0].Partitions {
		if p.Partition != pt.Partitions[i].Partition || p.ErrorCode != code {
			t.Fatalf("partition %d: %+v", i, p)
		}
		if p.LogStartOffset != -1 { // kmsg's default, not zero
			t.Fatalf("partition defaults not applied: %+v", p)
		}
	}

	fr := kmsg.NewPtrFetchRequest()
	fr.Version = 12
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "b"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition = 7
	ft.Partitions = append(ft.Partitions, fp)
	fr.Topics = append(fr.Topics, ft)
	fresp := errorResponse(fr, code).(*kmsg.FetchResponse)
	got := fresp.Topics[0].Partitions[0]
	if fresp.Topics[0].Topic != "b" || got.Partition != 7 || got.ErrorCode != code || got.RecordBatches == nil {
		t.Fatalf("fetch partition: %+v", got)
	}
	// The response must encode and decode at the request's version.
	enc := fresp.AppendTo(nil)
	dec := kmsg.NewPtrFetchResponse()
	dec.Version = 12
	if err := dec.ReadFrom(enc); err != nil || dec.Topics[0].Partitions[0].ErrorCode != code {
		t.Fatalf("round trip: %v %+v", err, dec)
	}

	jr := kmsg.NewPtrJoinGroupRequest()
	jr.Version = 5
	jr.Group = "g"
	jresp := errorResponse(jr, kerr.CoordinatorNotAvailable.Code).(*kmsg.JoinGroupResponse)
	if jresp.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("join group: %+v", jresp)
	}
}

func TestFaultSetCounts(t *testing.T) {
	b := &Broker{}
	b.InjectFault(Fault{Key: 0, Count: 2, ErrorCode: 6})
	b.InjectFault(Fault{Key: AnyAPI, CloseConn: true})
	if f := b.faults.take(3); f == nil || !f.CloseConn {
		t.Fatalf("any-API fault not applied to key 3: %+v", f)
	}
	for i := 0; i < 2; i++ {
		if f := b.faults.take(0); f == nil || f.ErrorCode != 6 {
			t.Fatalf("produce fault %d: %+v", i, f)
		}
	}
	if f := b.faults.take(0); f != nil {
		t.Fatalf("fault outlived its count: %+v", f)
	}
	if n := b.faults.armed.Load(); n != 0 {
		t.Fatalf("armed = %d", n)
	}
	b.InjectFault(Fault{Key: 1})
	b.ClearFaults()
	if f := b.faults.take(1); f != nil || b.faults.armed.Load() != 0 {
		t.Fatal("ClearFaults left a fault armed")
	}
}
