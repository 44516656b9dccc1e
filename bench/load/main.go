// Command load is Moldau's load tool: one franz-go (kgo) binary that drives any
// Kafka-protocol broker and prints one JSON line per run. It sends traffic only
// to the broker address given.
//
// Modes:
//   - produce: produce -warmup-mib, flush, then measure -mib; with -rate the
//     producer is open-loop (record i is due at start+i/rate and its latency
//     counts from that due time, so a stalled broker cannot hide queueing:
//     no coordinated omission); with -e2e a consumer reads the topic meanwhile
//     and records end-to-end latency from the send-time header.
//   - consume: read -records records of -topic from the start (catch-up).
//
// Every client option is set explicitly from a flag so runs are comparable.
// Record values come from a seeded JSON-like generator: a pool of distinct
// documents of the requested size with realistic compression ratios.
//
//	go run ./bench/load -brokers 127.0.0.1:9092 -partitions 16 -size 1024 -mib 512 -acks 1
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type options struct {
	Brokers         string  `json:"-"`
	Mode            string  `json:"mode"`
	Topic           string  `json:"topic"`
	Create          bool    `json:"create"`
	Partitions      int     `json:"partitions"`
	Size            int     `json:"record_bytes"`
	MiB             float64 `json:"mib"`
	Records         int64   `json:"records_wanted,omitempty"`
	WarmupMiB       float64 `json:"warmup_mib"`
	Acks            string  `json:"acks"`
	Idempotent      bool    `json:"idempotent"`
	Linger          string  `json:"linger"`
	BatchBytes      int     `json:"batch_max_bytes"`
	MaxBuffered     int     `json:"max_buffered_records"`
	MaxInflight     int     `json:"max_inflight_per_broker"`
	Codec           string  `json:"codec"`
	Rate            float64 `json:"rate_records_per_s"`
	E2E             bool    `json:"e2e"`
	FetchMaxBytes   int     `json:"fetch_max_bytes"`
	FetchPartBytes  int     `json:"fetch_max_partition_bytes"`
	FetchMaxWait    string  `json:"fetch_max_wait"`
	Seed            uint64  `json:"seed"`
	DistinctRecords int     `json:"distinct_values"`
	Target          string  `json:"target,omitempty"`
	Workload        string  `json:"workload,omitempty"`
	Producers       int     `json:"producers"`
}

type result struct {
	options
	GitSHA        string            `json:"git_sha"`
	Client        string            `json:"client"`
	GOMAXPROCS    int               `json:"gomaxprocs"`
	Kernel        string            `json:"kernel"`
	Start         time.Time         `json:"start"`
	Count         int64             `json:"records"`
	Bytes         int64             `json:"bytes"`
	Seconds       float64           `json:"seconds"`
	MiBPerSec     float64           `json:"mib_per_s"`
	RecordsPerSec float64           `json:"records_per_s"`
	Failed        int64             `json:"failed"`
	FirstError    string            `json:"first_error,omitempty"`
	AckLatency    map[string]uint64 `json:"ack_latency_us,omitempty"`
	E2ELatency    map[string]uint64 `json:"e2e_latency_us,omitempty"`
	// SendLag (open loop only): how late each record was handed to the
	// client against its due time, µs. It is part of the ack and e2e
	// latencies (they count from the due time): the load tool's own
	// scheduling delay (timer resolution, a busy machine) and the client's
	// backpressure (Produce blocks while -max-buffered records wait).
	SendLag      map[string]uint64 `json:"send_lag_us,omitempty"`
	ClientCPUSec float64           `json:"client_cpu_s"`
}

func main() {
	var o options
	var linger, fetchWait time.Duration
	flag.StringVar(&o.Brokers, "brokers", "127.0.0.1:9092", "seed broker")
	flag.StringVar(&o.Mode, "mode", "produce", "produce or consume")
	flag.StringVar(&o.Topic, "topic", fmt.Sprintf("load-%d", time.Now().UnixNano()), "topic")
	flag.BoolVar(&o.Create, "create", true, "create the topic (produce mode)")
	flag.IntVar(&o.Partitions, "partitions", 16, "partitions when creating")
	flag.IntVar(&o.Size, "size", 1024, "record value size in bytes")
	flag.Float64Var(&o.MiB, "mib", 256, "MiB of values to produce (measured) or consume")
	flag.Int64Var(&o.Records, "records", 0, "records to consume (consume mode; default: -mib/-size)")
	flag.Float64Var(&o.WarmupMiB, "warmup-mib", 32, "MiB produced and flushed before measuring")
	flag.StringVar(&o.Acks, "acks", "1", "0, 1 or all")
	flag.BoolVar(&o.Idempotent, "idempotent", false, "idempotent producer (requires -acks all)")
	flag.DurationVar(&linger, "linger", 0, "producer linger")
	flag.IntVar(&o.BatchBytes, "batch-bytes", 1<<20, "ProducerBatchMaxBytes")
	flag.IntVar(&o.MaxBuffered, "max-buffered", 1<<16, "MaxBufferedRecords")
	flag.IntVar(&o.MaxInflight, "max-inflight", 5, "MaxProduceRequestsInflightPerBroker (non-idempotent; idempotent is capped at 5)")
	flag.StringVar(&o.Codec, "codec", "none", "none, gzip, snappy, lz4, zstd")
	flag.Float64Var(&o.Rate, "rate", 0, "open-loop rate in records/s (0: as fast as possible, closed loop)")
	flag.BoolVar(&o.E2E, "e2e", false, "consume concurrently and record end-to-end latency")
	flag.IntVar(&o.FetchMaxBytes, "fetch-max-bytes", 64<<20, "FetchMaxBytes")
	flag.IntVar(&o.FetchPartBytes, "fetch-max-partition-bytes", 8<<20, "FetchMaxPartitionBytes")
	flag.DurationVar(&fetchWait, "fetch-max-wait", 500*time.Millisecond, "FetchMaxWait")
	flag.Uint64Var(&o.Seed, "seed", 1, "record generator seed")
	flag.IntVar(&o.DistinctRecords, "distinct", 4096, "distinct record values in the pool")
	flag.StringVar(&o.Target, "target", "", "label: target broker (copied to the output)")
	flag.StringVar(&o.Workload, "workload", "", "label: workload (copied to the output)")
	flag.IntVar(&o.Producers, "producers", 1, "producer clients (each its own connection), sharing -mib and -rate")
	flag.Parse()
	o.Linger, o.FetchMaxWait = linger.String(), fetchWait.String()
	res, err := run(o, linger, fetchWait)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
}

func clientOpts(o options, linger, fetchWait time.Duration) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.Brokers),
		kgo.DefaultProduceTopic(o.Topic),
		kgo.ProducerBatchMaxBytes(int32(o.BatchBytes)),
		kgo.MaxBufferedRecords(o.MaxBuffered),
		kgo.ProducerLinger(linger),
		kgo.FetchMaxBytes(int32(o.FetchMaxBytes)),
		kgo.FetchMaxPartitionBytes(int32(o.FetchPartBytes)),
		kgo.FetchMaxWait(fetchWait),
		kgo.ProduceRequestTimeout(30 * time.Second),
	}
	switch o.Acks {
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	default:
		return nil, fmt.Errorf("bad -acks %q", o.Acks)
	}
	if o.Idempotent {
		if o.Acks != "all" {
			return nil, errors.New("-idempotent needs -acks all")
		}
	} else {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(o.MaxInflight))
	}
	codecs := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}
	c, ok := codecs[o.Codec]
	if !ok {
		return nil, fmt.Errorf("bad -codec %q", o.Codec)
	}
	return append(opts, kgo.ProducerBatchCompression(c)), nil
}

func run(o options, linger, fetchWait time.Duration) (*result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	res := &result{options: o, GitSHA: gitSHA(), Client: clientVersion(), GOMAXPROCS: runtime.GOMAXPROCS(0), Kernel: kernel()}
	opts, err := clientOpts(o, linger, fetchWait)
	if err != nil {
		return nil, err
	}
	cpu0 := cpuSeconds()
	switch o.Mode {
	case "produce":
		err = produce(ctx, o, opts, res)
	case "consume":
		err = consume(ctx, o, opts, res)
	default:
		err = fmt.Errorf("bad -mode %q", o.Mode)
	}
	res.ClientCPUSec = cpuSeconds() - cpu0
	if res.Seconds > 0 {
		res.MiBPerSec = float64(res.Bytes) / (1 << 20) / res.Seconds
		res.RecordsPerSec = float64(res.Count) / res.Seconds
	}
	return res, err
}

func produce(ctx context.Context, o options, opts []kgo.Opt, res *result) error {
	if o.Producers < 1 {
		return errors.New("-producers must be at least 1")
	}
	clients := make([]*kgo.Client, o.Producers)
	for i := range clients {
		c, err := kgo.NewClient(opts...)
		if err != nil {
			return err
		}
		defer c.Close()
		clients[i] = c
	}
	cl := clients[0]
	var err error
	if o.Create {
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, int32(o.Partitions), 1, nil, o.Topic); err != nil {
			return fmt.Errorf("create topic: %w", err)
		}
	}
	values := generate(o.Seed, o.Size, o.DistinctRecords)
	var (
		failed   atomic.Int64
		errOnce  sync.Once
		firstErr atomic.Value
		ackMu    sync.Mutex
		ack      histogram
		lagMu    sync.Mutex
		lag      histogram
	)
	send := func(cl *kgo.Client, i int64, due time.Time, measure bool) {
		var hdr [8]byte
		binary.BigEndian.PutUint64(hdr[:], uint64(due.UnixNano()))
		r := &kgo.Record{Value: values[i%int64(len(values))], Headers: []kgo.RecordHeader{{Key: "t", Value: hdr[:]}}}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				errOnce.Do(func() { firstErr.Store(err.Error()) })
				return
			}
			if measure {
				d := time.Since(due)
				ackMu.Lock()
				ack.record(d)
				ackMu.Unlock()
			}
		})
	}
	warm := int64(o.WarmupMiB * (1 << 20) / float64(o.Size))
	for i := range warm {
		send(cl, i, time.Now(), false)
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	var e2e *e2eConsumer
	if o.E2E {
		if e2e, err = startE2E(ctx, opts, o.Topic); err != nil {
			return err
		}
	}
	n := int64(o.MiB * (1 << 20) / float64(o.Size))
	start := time.Now()
	res.Start = start
	// Producer k sends records k, k+P, k+2P, ... on its own schedule.
	var wg sync.WaitGroup
	flushErrs := make([]error, len(clients))
	for k, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(k); i < n; i += int64(len(clients)) {
				due := time.Now()
				if o.Rate > 0 {
					due = start.Add(time.Duration(float64(i) / o.Rate * 1e9))
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
					late := time.Since(due)
					lagMu.Lock()
					lag.record(late)
					lagMu.Unlock()
				}
				send(c, warm+i, due, true)
			}
			flushErrs[k] = c.Flush(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(flushErrs...); err != nil {
		return err
	}
	res.Seconds = time.Since(start).Seconds()
	res.Failed = failed.Load()
	if s, ok := firstErr.Load().(string); ok {
		res.FirstError = s
	}
	res.Count = n - res.Failed
	res.Bytes = res.Count * int64(o.Size)
	res.AckLatency = ack.summary()
	res.SendLag = lag.summary()
	if e2e != nil {
		res.E2ELatency = e2e.wait(ctx, warm+n-res.Failed)
	}
	return nil
}

type e2eConsumer struct {
	cl   *kgo.Client
	mu   sync.Mutex
	h    histogram
	seen atomic.Int64
	done chan struct{}
}

func startE2E(ctx context.Context, opts []kgo.Opt, topic string) (*e2eConsumer, error) {
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))...)
	if err != nil {
		return nil, err
	}
	e := &e2eConsumer{cl: cl, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() {
				return
			}
			now := time.Now().UnixNano()
			e.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				for _, h := range r.Headers {
					if h.Key == "t" && len(h.Value) == 8 {
						e.h.record(time.Duration(now - int64(binary.BigEndian.Uint64(h.Value))))
					}
				}
			})
			e.mu.Unlock()
			e.seen.Add(int64(fs.NumRecords()))
		}
	}()
	return e, nil
}

// wait gives the consumer up to 30 s to catch up, then closes it.
func (e *e2eConsumer) wait(ctx context.Context, _ int64) map[string]uint64 {
	deadline := time.Now().Add(30 * time.Second)
	last, lastChange := e.seen.Load(), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		if s := e.seen.Load(); s != last {
			last, lastChange = s, time.Now()
		} else if time.Since(lastChange) > time.Second {
			break
		}
	}
	e.cl.Close()
	<-e.done
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.h.summary()
}

func consume(ctx context.Context, o options, opts []kgo.Opt, res *result) error {
	want := o.Records
	if want == 0 {
		want = int64(o.MiB * (1 << 20) / float64(o.Size))
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(o.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	start := time.Now()
	res.Start = start
	var got, bytes int64
	for got < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) { bytes += int64(len(r.Value)) })
		got += int64(fs.NumRecords())
	}
	res.Seconds = time.Since(start).Seconds()
	res.Count, res.Bytes = got, bytes
	return nil
}

// generate returns n distinct JSON-like documents of exactly size bytes:
// field names repeat (as in real event streams), values are drawn from
// skewed vocabularies and random numbers, so codecs see realistic redundancy.
func generate(seed uint64, size, n int) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	events := []string{"page_view", "click", "add_to_cart", "purchase", "login", "logout", "search", "scroll"}
	countries := []string{"DE", "CZ", "US", "FR", "GB", "PL", "AT", "NL", "SE", "JP", "BR", "IN"}
	words := strings.Fields("the quick brown fox jumps over lazy dog river moldau prague vltava stream broker record batch offset partition topic leader replica commit fetch produce window shoe shirt coffee table lamp phone cable book")
	out := make([][]byte, n)
	for i := range out {
		var b []byte
		b = append(b, `{"id":"`...)
		b = strconv.AppendUint(b, rng.Uint64(), 16)
		b = append(b, `","ts":`...)
		b = strconv.AppendInt(b, 1_760_000_000_000+rng.Int64N(10_000_000), 10)
		b = append(b, `,"user":"u`...)
		b = strconv.AppendInt(b, int64(rng.ExpFloat64()*5000), 10)
		b = append(b, `","event":"`...)
		b = append(b, events[int(rng.ExpFloat64()*2)%len(events)]...)
		b = append(b, `","country":"`...)
		b = append(b, countries[int(rng.ExpFloat64()*3)%len(countries)]...)
		b = append(b, `","price":`...)
		b = strconv.AppendFloat(b, math.Round(rng.Float64()*20000)/100, 'f', 2, 64)
		b = append(b, `,"text":"`...)
		for len(b) < size-2 {
			b = append(b, words[int(rng.ExpFloat64()*8)%len(words)]...)
			b = append(b, ' ')
		}
		b = append(b[:max(0, size-2)], `"}`...)
		out[i] = b[:size]
	}
	return out
}

// histogram is a log-bucketed latency histogram in microseconds with 1/32
// relative precision (HDR-style: a power-of-two range split into 32 linear
// sub-buckets), covering 1 µs to about an hour.
type histogram struct {
	counts [64 * 32]uint64
	total  uint64
	max    uint64
}

func (h *histogram) record(d time.Duration) {
	us := uint64(max(d.Microseconds(), 1))
	h.counts[bucket(us)]++
	h.total++
	h.max = max(h.max, us)
}

func bucket(us uint64) int {
	if us < 32 {
		return int(us)
	}
	e := bits.Len64(us) - 6 // us >> e is in [32, 63]
	return (e+1)*32 + int(us>>e) - 32
}

// upper is the largest value in bucket i.
func upper(i int) uint64 {
	if i < 32 {
		return uint64(i)
	}
	e := i/32 - 1
	return (uint64(i%32+32)+1)<<e - 1
}

func (h *histogram) quantile(q float64) uint64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	var c uint64
	for i, n := range h.counts {
		c += n
		if c >= rank {
			return min(upper(i), h.max)
		}
	}
	return h.max
}

func (h *histogram) summary() map[string]uint64 {
	if h.total == 0 {
		return nil
	}
	return map[string]uint64{"p50": h.quantile(0.5), "p99": h.quantile(0.99), "p999": h.quantile(0.999), "max": h.max, "count": h.total}
}

func gitSHA() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	sha := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		sha += "-dirty"
	}
	return sha
}

func clientVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/twmb/franz-go" {
				return "franz-go " + d.Version
			}
		}
	}
	return "franz-go unknown"
}

func kernel() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return "unknown"
	}
	var b []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
