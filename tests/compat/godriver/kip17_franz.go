package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/tests/compat/otlp"
)

// franz-go expresses every #17 scenario but Kafka Streams: its share
// consumer (kgo.ShareGroup), kadm for share-group admin and log dirs, and
// kmsg for client telemetry (kgo has no KIP-714 metrics push).
func (f *franz) kip17NA(scenario string) string { return "" }

// alterConfigs sets kvs on one config resource (IncrementalAlterConfigs SET).
func alterConfigs(ctx context.Context, cl *kgo.Client, typ kmsg.ConfigResourceType, name string, kvs map[string]string, op kmsg.IncrementalAlterConfigOp) error {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = typ, name
	for k, v := range kvs {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = k, op, kmsg.StringPtr(v)
		res.Configs = append(res.Configs, c)
	}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return fmt.Errorf("IncrementalAlterConfigs %s: %w", name, err)
		}
	}
	return nil
}

// ShareGroup: as Java's Share.java. 20 records on two partitions, two
// kgo share consumers; every record is accepted once, the first delivery of
// k0 is released and must come back with delivery count 2; kadm describes
// the group (two members), its offsets (nothing left), then alters the
// start offset of the empty group, deletes its offsets and the group.
func (f *franz) ShareGroup(ctx context.Context, e *env) error {
	const n = 20
	t := e.topic()
	g := "sg-" + t
	if err := e.createTopic(ctx, t, 2, nil); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	if err := alterConfigs(ctx, f.cl, kmsg.ConfigResourceTypeGroupConfig, g, map[string]string{"share.auto.offset.reset": "earliest"}, kmsg.IncrementalAlterConfigOpSet); err != nil {
		return err
	}
	recs := values("v", n)
	for i := range recs {
		recs[i].Partition = int32(i % 2)
	}
	if err := f.Produce(ctx, t, recs, produceOpts{Codec: "none", Acks: -1}); err != nil {
		return fmt.Errorf("produce: %w", err)
	}

	var (
		mu       sync.Mutex
		accepted = map[string]int{}
		released bool
		k0Count  = int32(-1)
		firstErr error
	)
	setErr := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	var members []*kgo.Client
	for m := range 2 {
		cl, err := f.newClient(kgo.ShareGroup(g), kgo.ConsumeTopics(t), kgo.ClientID("compat-franz-go-share-"+strconv.Itoa(m)))
		if err != nil {
			return err
		}
		members = append(members, cl)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for mctx.Err() == nil {
				fs := cl.PollRecords(mctx, 100)
				fs.EachError(func(t string, p int32, err error) {
					if !errors.Is(err, context.Canceled) {
						setErr(fmt.Errorf("poll %s/%d: %w", t, p, err))
					}
				})
				got := 0
				fs.EachRecord(func(r *kgo.Record) {
					got++
					k := string(r.Key)
					mu.Lock()
					defer mu.Unlock()
					if k == "k0" && r.DeliveryCount() == 1 && !released {
						released = true
						r.Ack(kgo.AckRelease)
						return
					}
					if k == "k0" {
						k0Count = r.DeliveryCount()
					}
					r.Ack(kgo.AckAccept)
					accepted[k]++
				})
				if got > 0 {
					if err := cl.FlushAcks(mctx); err != nil && mctx.Err() == nil {
						setErr(fmt.Errorf("FlushAcks: %w", err))
					}
				}
			}
		}()
	}
	closeMembers := func() {
		stop()
		wg.Wait()
		for _, cl := range members {
			cl.Close()
		}
		members = nil
	}
	defer func() {
		if members != nil {
			closeMembers()
		}
	}()
	if err := poll(ctx, func() error {
		d, err := f.adm.DescribeShareGroups(ctx, g)
		if err != nil {
			return err
		}
		if dg := d[g]; dg.Err != nil || len(dg.Members) != 2 {
			return fmt.Errorf("DescribeShareGroups: %d members (err %v), want 2", len(dg.Members), dg.Err)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := poll(ctx, func() error {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil {
			return firstErr
		}
		if len(accepted) != n || k0Count < 0 {
			return fmt.Errorf("accepted %d of %d records", len(accepted), n)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := poll(ctx, func() error {
		d, err := f.adm.DescribeShareGroupOffsets(ctx, g)
		if err != nil {
			return err
		}
		for p := int32(0); p < 2; p++ {
			o, ok := d[g].Offsets.Lookup(t, p)
			// Kafka 4.4 may keep the start offset behind (its state advances
			// in batches) but reports lag 0 (KIP-1226).
			if !ok || o.Err != nil || (o.Lag != 0 && !(o.Lag < 0 && o.StartOffset == n/2)) {
				return fmt.Errorf("DescribeShareGroupOffsets %s/%d: %+v, want lag 0 (or start offset %d)", t, p, o, n/2)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	closeMembers()
	mu.Lock()
	for k, c := range accepted {
		if c != 1 {
			mu.Unlock()
			return fmt.Errorf("record %s accepted %d times", k, c)
		}
	}
	mu.Unlock()
	if k0Count != 2 {
		return fmt.Errorf("released record k0 accepted with delivery count %d, want 2", k0Count)
	}
	if err := poll(ctx, func() error {
		d, err := f.adm.DescribeShareGroups(ctx, g)
		if err != nil {
			return err
		}
		if len(d[g].Members) != 0 {
			return fmt.Errorf("share group has %d members after both closed", len(d[g].Members))
		}
		return nil
	}); err != nil {
		return err
	}
	ar, err := f.adm.AlterShareGroupOffsets(ctx, g, kadm.Offsets{t: {0: {Topic: t, Partition: 0, At: 3}}})
	if err == nil {
		err = ar.Error()
	}
	if err != nil {
		return fmt.Errorf("AlterShareGroupOffsets: %w", err)
	}
	d, err := f.adm.DescribeShareGroupOffsets(ctx, g)
	if err != nil {
		return err
	}
	if o, _ := d[g].Offsets.Lookup(t, 0); o.StartOffset != 3 {
		return fmt.Errorf("start offset after AlterShareGroupOffsets to 3: %+v", o)
	}
	dr, err := f.adm.DeleteShareGroupOffsets(ctx, g, t)
	if err == nil {
		err = dr.Error()
	}
	if err != nil {
		return fmt.Errorf("DeleteShareGroupOffsets: %w", err)
	}
	gr, err := f.adm.DeleteGroups(ctx, g)
	if err == nil {
		err = gr.Error()
	}
	if err != nil {
		return fmt.Errorf("DeleteGroups: %w", err)
	}
	return nil
}

// LogDirSizes: kadm's DescribeAllLogDirs.
func (f *franz) LogDirSizes(ctx context.Context, topic string) (map[int32]int64, error) {
	all, err := f.adm.DescribeAllLogDirs(ctx, nil) // every topic: a set with no partitions would ask for none
	if err != nil {
		return nil, err
	}
	sizes := map[int32]int64{}
	for _, dirs := range all {
		if err := dirs.Error(); err != nil {
			return nil, err
		}
		dirs.EachPartition(func(p kadm.DescribedLogDirPartition) {
			if p.Topic != topic {
				return
			}
			if s, ok := sizes[p.Partition]; !ok || p.Size < s {
				sizes[p.Partition] = p.Size
			}
		})
	}
	return sizes, nil
}

// ClientTelemetry through kmsg (kgo pushes no metrics itself): a
// client-metrics subscription matching this client's id (interval 500 ms),
// visible in ListConfigResources; GetTelemetrySubscriptions (retried with a
// fresh client instance until the subscription has propagated) returns it;
// PushTelemetry of a one-gauge OTLP payload succeeds; a terminating push
// succeeds too.
func (f *franz) ClientTelemetry(ctx context.Context, e *env) error {
	cid := fmt.Sprintf("compat-telemetry-%d", time.Now().UnixNano())
	sub := "sub-" + cid
	const prefix = "org.apache.kafka.producer."
	if err := alterConfigs(ctx, f.cl, kmsg.ConfigResourceTypeClientMetrics, sub, map[string]string{
		"metrics": prefix, "interval.ms": "500", "match": "client_id=" + cid,
	}, kmsg.IncrementalAlterConfigOpSet); err != nil {
		return err
	}
	defer func() {
		_ = alterConfigs(context.Background(), f.cl, kmsg.ConfigResourceTypeClientMetrics, sub,
			map[string]string{"metrics": "", "interval.ms": "", "match": ""}, kmsg.IncrementalAlterConfigOpDelete)
	}()
	if err := poll(ctx, func() error {
		l, err := f.adm.ListConfigResources(ctx, kadm.ConfigResourceClientMetrics)
		if err != nil {
			return err
		}
		for _, r := range l.Resources {
			if r.Name == sub {
				return nil
			}
		}
		return fmt.Errorf("ListConfigResources(CLIENT_METRICS) does not list %s", sub)
	}); err != nil {
		return err
	}
	cl, err := f.newClient(kgo.ClientID(cid))
	if err != nil {
		return err
	}
	defer cl.Close()
	var got *kmsg.GetTelemetrySubscriptionsResponse
	if err := poll(ctx, func() error {
		resp, err := kmsg.NewPtrGetTelemetrySubscriptionsRequest().RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return fmt.Errorf("GetTelemetrySubscriptions: %w", err)
		}
		if resp.PushIntervalMillis != 500 || !strings.Contains(strings.Join(resp.RequestedMetrics, ","), prefix) {
			return fmt.Errorf("GetTelemetrySubscriptions: interval %d ms, metrics %v: not the subscription %s", resp.PushIntervalMillis, resp.RequestedMetrics, sub)
		}
		got = resp
		return nil
	}); err != nil {
		return err
	}
	if got.ClientInstanceID == [16]byte{} {
		return errors.New("GetTelemetrySubscriptions: zero client instance id")
	}
	for _, terminating := range []bool{false, true} {
		req := kmsg.NewPtrPushTelemetryRequest()
		req.ClientInstanceID, req.SubscriptionID, req.Terminating = got.ClientInstanceID, got.SubscriptionID, terminating
		req.Metrics = otlp.Gauge(prefix+"record.queue.time.avg", 1.5, time.Now())
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return fmt.Errorf("PushTelemetry (terminating %v): %w", terminating, err)
		}
	}
	return nil
}

// Features: finalized features from ApiVersions (v3+), UpdateFeatures
// through kadm (validate only), DescribeQuorum through kmsg.
func (f *franz) Features(ctx context.Context, _ *env) error {
	av, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, f.cl)
	if err != nil {
		return err
	}
	fin := map[string]int16{}
	for _, ff := range av.FinalizedFeatures {
		fin[ff.Name] = ff.MaxVersionLevel
	}
	for name, want := range wantFinalized {
		if got, ok := fin[name]; !ok || got < want {
			return fmt.Errorf("ApiVersions finalized %s = %d (present %v), want >= %d (finalized: %v)", name, got, ok, want, fin)
		}
	}
	if av.FinalizedFeaturesEpoch < 0 {
		return fmt.Errorf("ApiVersions finalized features epoch %d", av.FinalizedFeaturesEpoch)
	}
	up, err := f.adm.UpdateFeatures(ctx, true, kadm.FeatureUpdate{Feature: "group.version", MaxVersionLevel: fin["group.version"], UpgradeType: 1})
	if err == nil {
		err = up.Error()
	}
	if err != nil {
		return fmt.Errorf("UpdateFeatures (validate only) group.version=%d: %w", fin["group.version"], err)
	}
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	q, err := req.RequestWith(ctx, f.cl)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(q.ErrorCode); err != nil {
		return fmt.Errorf("DescribeQuorum: %w", err)
	}
	if len(q.Topics) != 1 || len(q.Topics[0].Partitions) != 1 {
		return fmt.Errorf("DescribeQuorum: %d topics in the answer", len(q.Topics))
	}
	p := q.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return fmt.Errorf("DescribeQuorum partition: %w", err)
	}
	for _, v := range p.CurrentVoters {
		if v.ReplicaID == p.LeaderID && p.LeaderID >= 0 {
			return nil
		}
	}
	return fmt.Errorf("DescribeQuorum: leader %d is not among the voters %+v", p.LeaderID, p.CurrentVoters)
}
