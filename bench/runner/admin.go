package main

// W10: admin operations must not stall the data path (issue #13). Two
// measurements per (target, round), each on a fresh instance:
//
//   - Stall: a franz-go producer sends one record at a time (acks=1, no
//     idempotence, linger 0) to topic A, one partition, while an admin client
//     creates topic B with 2,000 partitions in one CreateTopics. Reported: the
//     CreateTopics round trip, the slowest produce whose round trip overlaps
//     it (and p50/p99 of those), the slowest produce in the same-length
//     window just before (the noise floor), and the time from CreateTopics
//     sent until every partition of B has a leader in Metadata and answers
//     ListOffsets (Kafka answers CreateTopics before its partitions exist),
//     with the slowest produce over that longer window too.
//   - Create-to-ready at 10,000 partitions: two topics of 5,000 partitions,
//     created by two CreateTopics sent at once on two connections (Kafka's
//     controller refuses a request writing more than 10,000 metadata
//     records), timed from the requests until every partition has a leader
//     in Metadata, and until every partition has accepted a produce (one
//     record each, acks=1, franz-go retrying what is not ready yet).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// adminSample is one (target, round) of W10.
type adminSample struct {
	StallPartitions   int
	CreateMs          float64 // CreateTopics round trip (2,000 partitions)
	CreateReadyMs     float64 // CreateTopics sent until every partition answers Metadata and ListOffsets
	Produces          int     // produces to A overlapping the CreateTopics round trip
	SlowestMs         float64 // slowest of those
	P50Ms, P99Ms      float64
	BeforeSlowestMs   float64 // slowest produce in the same-length window before the create
	UntilReadySlowMs  float64 // slowest produce from CreateTopics sent until B is ready
	UntilReadyCount   int     // produces in that window
	BigPartitions     int
	BigLeadersMs      float64 // CreateTopics sent until every partition has a leader in Metadata
	BigProduceReadyMs float64 // ... until every partition accepted a produce
}

const (
	stallPartitions = 2000
	bigTopics       = 2
	bigPerTopic     = 5000
)

// adminTarget reports whether W10 runs against t: Moldau and Kafka only.
func adminTarget(t target) bool {
	return slices.Contains([]string{"moldau", "baseline", "kafka", "kafka-c2"}, t.Name)
}

func runAdmin(t target, round int) (s sample) {
	s = sample{Workload: "W10", Target: t.Name, Round: round + 1, Admin: &adminSample{StallPartitions: stallPartitions, BigPartitions: bigTopics * bigPerTopic}}
	s.Load1Start = loadAvg()
	defer func() { s.Load1End = loadAvg() }()
	if err := adminStall(t, &s); err != nil {
		s.Err = "stall: " + err.Error()
		return s
	}
	if err := adminBigCreate(t, s.Admin); err != nil {
		s.Err = "10,000-partition create: " + err.Error()
	}
	return s
}

// produceTiming is one produce round trip.
type produceTiming struct{ start, end time.Time }

func adminStall(t target, s *sample) error {
	a := s.Admin
	dir, err := os.MkdirTemp("", "moldau-bench-w10-"+t.Name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := scaleStart(t, dir)
	if err != nil {
		return err
	}
	defer p.kill()
	if err := createTopic(p.addr, "w10-a", 1); err != nil {
		return err
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(p.addr), kgo.DefaultProduceTopic("w10-a"), kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer prod.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu      sync.Mutex
		timings []produceTiming
		prodErr error
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		value := make([]byte, 100)
		for ctx.Err() == nil {
			began := time.Now()
			err := prod.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr()
			ended := time.Now()
			mu.Lock()
			if err != nil && ctx.Err() == nil && prodErr == nil {
				prodErr = err
			}
			timings = append(timings, produceTiming{began, ended})
			mu.Unlock()
		}
	}()
	time.Sleep(3 * time.Second) // warm up, and the window before the create

	adm, err := adminClient(p.addr)
	if err != nil {
		return err
	}
	defer adm.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = int32(scaleTimeout.Milliseconds())
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "w10-b", stallPartitions, 1
	req.Topics = append(req.Topics, rt)
	rctx, rcancel := context.WithTimeout(context.Background(), *scaleTimeout)
	defer rcancel()
	// The client's connection and its ApiVersions first, so the timed
	// round trip is the CreateTopics alone.
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(rctx, adm); err != nil {
		return err
	}
	createStart := time.Now()
	resp, err := req.RequestWith(rctx, adm)
	createEnd := time.Now()
	if err != nil {
		return err
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		return fmt.Errorf("create: %s", topicError(resp.Topics))
	}
	if _, err := waitPartitions(p.addr, "w10-b", stallPartitions, time.Now().Add(*scaleTimeout)); err != nil {
		return err
	}
	readyAt := time.Now()
	a.CreateReadyMs = readyAt.Sub(createStart).Seconds() * 1000
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	if prodErr != nil {
		return fmt.Errorf("produce to w10-a: %w", prodErr)
	}
	a.CreateMs = createEnd.Sub(createStart).Seconds() * 1000
	window := createEnd.Sub(createStart)
	var during, before []float64
	for _, tm := range timings {
		ms := tm.end.Sub(tm.start).Seconds() * 1000
		if tm.start.Before(readyAt) && tm.end.After(createStart) {
			a.UntilReadyCount++
			a.UntilReadySlowMs = max(a.UntilReadySlowMs, ms)
		}
		switch {
		case tm.start.Before(createEnd) && tm.end.After(createStart):
			during = append(during, ms)
		case tm.end.Before(createStart) && tm.start.After(createStart.Add(-window)):
			before = append(before, ms)
		}
	}
	if len(during) == 0 {
		return errors.New("no produce overlapped the create")
	}
	sort.Float64s(during)
	a.Produces = len(during)
	a.SlowestMs = during[len(during)-1]
	a.P50Ms = during[len(during)/2]
	a.P99Ms = during[min(len(during)-1, len(during)*99/100)]
	if len(before) > 0 {
		a.BeforeSlowestMs = slices.Max(before)
	}
	return nil
}

func adminBigCreate(t target, a *adminSample) error {
	dir, err := os.MkdirTemp("", "moldau-bench-w10big-"+t.Name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := scaleStart(t, dir)
	if err != nil {
		return err
	}
	defer p.kill() // a clean stop of 10,000 partitions is not measured here
	var clients []*kgo.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), *scaleTimeout)
	defer cancel()
	for range bigTopics {
		c, err := adminClient(p.addr)
		if err != nil {
			return err
		}
		clients = append(clients, c)
		if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, c); err != nil {
			return err
		}
	}
	topic := func(i int) string { return fmt.Sprintf("w10-big-%d", i) }
	began := time.Now()
	errs := make([]error, bigTopics)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := kmsg.NewPtrCreateTopicsRequest()
			req.TimeoutMillis = int32(scaleTimeout.Milliseconds())
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic(i), bigPerTopic, 1
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, c)
			switch {
			case err != nil:
				errs[i] = err
			case len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0:
				errs[i] = fmt.Errorf("create %s: %s", topic(i), topicError(resp.Topics))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Every partition has a leader in Metadata.
	probe, err := kgo.NewClient(kgo.SeedBrokers(p.addr), kgo.RetryTimeout(0), kgo.RequestTimeoutOverhead(time.Minute))
	if err != nil {
		return err
	}
	defer probe.Close()
	for {
		if time.Since(began) > *scaleTimeout {
			return errors.New("partitions without a leader after the timeout")
		}
		mreq := kmsg.NewPtrMetadataRequest()
		for i := range bigTopics {
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr(topic(i))
			mreq.Topics = append(mreq.Topics, mt)
		}
		mresp, err := mreq.RequestWith(ctx, probe)
		if err == nil && allLed(mresp, bigPerTopic) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.BigLeadersMs = time.Since(began).Seconds() * 1000
	// Every partition accepts a produce.
	prod, err := kgo.NewClient(kgo.SeedBrokers(p.addr), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RetryTimeout(*scaleTimeout), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer prod.Close()
	var (
		perr  error
		pmu   sync.Mutex
		pwait sync.WaitGroup
	)
	for i := range bigTopics {
		for part := range bigPerTopic {
			pwait.Add(1)
			prod.Produce(ctx, &kgo.Record{Topic: topic(i), Partition: int32(part), Value: []byte("x")}, func(_ *kgo.Record, err error) {
				if err != nil {
					pmu.Lock()
					perr = cmpErr(perr, err)
					pmu.Unlock()
				}
				pwait.Done()
			})
		}
	}
	pwait.Wait()
	if perr != nil {
		return fmt.Errorf("produce: %w", perr)
	}
	a.BigProduceReadyMs = time.Since(began).Seconds() * 1000
	return nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// allLed reports whether every requested topic is known with n partitions,
// each with a leader.
func allLed(resp *kmsg.MetadataResponse, n int) bool {
	for _, t := range resp.Topics {
		if t.ErrorCode != 0 || len(t.Partitions) != n {
			return false
		}
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 {
				return false
			}
		}
	}
	return len(resp.Topics) > 0
}

// renderAdmin writes W10's table: every round, then the targets of issue 13.
func renderAdmin(p func(string, ...any), samples []sample) {
	ts := targetsOf(samples, "W10")
	if len(ts) == 0 {
		return
	}
	p("## W10: admin operations against the data path\n\n")
	p("%s", provenance(samples, "W10"))
	p("**Stall**: a franz-go producer sends one 100-byte record at a time (acks=1, not idempotent, linger 0) to topic A (1 partition) while another client creates topic B with 2,000 partitions in one CreateTopics. \"During\" counts the produces whose round trip overlaps the CreateTopics round trip; \"before\" is the slowest produce in a window of the same length just before it (the machine's noise floor). \"Ready\" is from CreateTopics sent until every partition of B has a leader in Metadata and answers ListOffsets: Kafka answers CreateTopics once its controller has committed the records and creates the partitions afterwards, so its work happens in that longer window, and \"slowest until ready\" covers it. **10,000 partitions**: two CreateTopics of 5,000 partitions each, sent at once on two connections (Kafka's controller refuses one request writing more than 10,000 metadata records), timed from the requests until every partition has a leader in Metadata, and until every partition has accepted a one-record produce (acks=1; franz-go retries partitions not ready yet). Each step on a fresh instance.\n\n")
	p("| target | round | slowest produce during the create, ms | p99 / p50 during, ms | produces during | slowest before, ms | CreateTopics (2,000) ms | create to ready (2,000) ms | slowest produce until ready, ms (count) | 10,000: all leaders ms | 10,000: all accept a produce ms |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	med := map[string]map[string]float64{}
	for _, t := range ts {
		var slow, create, ready, untilReady, leaders, produced []float64
		for _, s := range samples {
			if s.Workload != "W10" || s.Target != t || s.Admin == nil {
				continue
			}
			a := s.Admin
			if s.Err != "" && a.CreateMs == 0 {
				p("| %s | %d | %s | | | | | | | | |\n", t, s.Round, s.Err)
				continue
			}
			big := func(v float64) string {
				if s.Err != "" {
					return s.Err
				}
				return fmt.Sprintf("%.0f", v)
			}
			p("| %s | %d | %.1f | %.1f / %.1f | %d | %.1f | %.0f | %.0f | %.1f (%d) | %s | %s |\n", t, s.Round, a.SlowestMs, a.P99Ms, a.P50Ms, a.Produces,
				a.BeforeSlowestMs, a.CreateMs, a.CreateReadyMs, a.UntilReadySlowMs, a.UntilReadyCount, big(a.BigLeadersMs), big(a.BigProduceReadyMs))
			slow, create, ready = append(slow, a.SlowestMs), append(create, a.CreateMs), append(ready, a.CreateReadyMs)
			untilReady = append(untilReady, a.UntilReadySlowMs)
			if s.Err == "" {
				leaders, produced = append(leaders, a.BigLeadersMs), append(produced, a.BigProduceReadyMs)
			}
		}
		if len(slow) == 0 {
			continue
		}
		m := map[string]float64{"slow": median(slow), "slowMax": slices.Max(slow), "create": median(create), "ready": median(ready)}
		if len(produced) > 0 {
			m["leaders"], m["produced"], m["producedMax"] = median(leaders), median(produced), slices.Max(produced)
		}
		med[t] = m
		p("| **%s** | median | **%.1f** | | | | **%.0f** | **%.0f** | **%.1f** | **%.0f** | **%.0f** |\n", t, m["slow"], m["create"], m["ready"], median(untilReady), m["leaders"], m["produced"])
	}
	p("\n")
	if m, k := med["moldau"], med["kafka"]; m != nil {
		p("Targets (issue 13): slowest produce to another topic during a 2,000-partition create ≤ 50 ms: Moldau %.1f ms (median; worst round %.1f)", m["slow"], m["slowMax"])
		if k != nil {
			p(", Kafka %.1f ms", k["slow"])
		}
		verdict := "missed"
		if m["slowMax"] <= 50 {
			verdict = "met in every round"
		} else if m["slow"] <= 50 {
			verdict = "met (median; not in every round)"
		}
		p(" — **%s**. ", verdict)
		if k != nil && k["produced"] > 0 && m["produced"] > 0 {
			verdict = "missed"
			if m["produced"] <= k["produced"] {
				verdict = "met"
			}
			p("Creating 10,000 partitions, create to every partition accepting a produce, no slower than Kafka: Moldau %.0f ms, Kafka %.0f ms (medians) — **%s**.", m["produced"], k["produced"], verdict)
		}
		p("\n\n")
	}
}
