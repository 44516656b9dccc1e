// Command godriver runs the compatibility scenarios through one Go Kafka
// client and prints one JSON line per scenario:
//
//	{"client":"franz-go","scenario":"produce_lz4","result":"pass","reason":""}
//
// Usage: godriver -client franz-go|sarama|kafka-go|confluent-kafka-go -bootstrap HOST:PORT[,HOST:PORT...] [-scenarios a,b,c | a,b,c]
//
// Each client implements the small client interface below; the scenarios
// themselves (scenario.go) are written once over it. An operation a client
// cannot express returns an naError, which the scenario reports as na.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moldau/moldau/tests/compat/scenarios"
)

// rec is one record as the scenarios see it.
type rec struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []header
	Timestamp time.Time
}

type header struct {
	Key   string
	Value []byte
}

type produceOpts struct {
	Codec      string // none, gzip, snappy, lz4, zstd
	Acks       int    // 0, 1, -1
	Idempotent bool
}

type partitionInfo struct {
	ID     int32
	Leader int32
}

type groupOpts struct {
	Group      string
	Topic      string
	N          int    // records to read before committing
	CommitAt   int64  // offset to commit on partition 0 (the next to read)
	InstanceID string // static membership
	KIP848     bool   // group.protocol=consumer
}

// client is what a scenario needs from a Kafka client library.
type client interface {
	Close()
	CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error
	// Metadata returns the number of brokers and topic's partitions.
	Metadata(ctx context.Context, topic string) (brokers int, parts []partitionInfo, err error)
	ListTopics(ctx context.Context) ([]string, error)
	CreatePartitions(ctx context.Context, topic string, total int) error
	DeleteTopic(ctx context.Context, topic string) error
	DescribeConfig(ctx context.Context, topic, key string) (string, error)
	AlterConfig(ctx context.Context, topic, key, value string) error
	Produce(ctx context.Context, topic string, recs []rec, o produceOpts) error
	// Consume reads n records from one partition starting at start (an
	// offset, or startEarliest / startLatest). With startLatest, positioned
	// is called once the consumer has resolved the end offset and before
	// it waits for new records.
	Consume(ctx context.Context, topic string, partition int32, start int64, n int, positioned func() error) ([]rec, error)
	OffsetForTime(ctx context.Context, topic string, partition int32, millis int64) (int64, error)
	// GroupConsume joins o.Group, reads o.N records of o.Topic, commits
	// o.CommitAt for partition 0 and leaves.
	GroupConsume(ctx context.Context, o groupOpts) ([]rec, error)
	// TwoMembers: two members of group split topic's partitions, then the
	// second leaves and the first must own them all.
	TwoMembers(ctx context.Context, group, topic string, partitions int) error
	// Transactions produces batches commit/abort/commit with a
	// transactional producer and reads them with read_committed.
	TransactionalProduce(ctx context.Context, topic, txnID string, recs []rec, commit bool) error
	ReadCommitted(ctx context.Context, topic string, n int) ([]rec, error)
}

const (
	startEarliest int64 = -2
	startLatest   int64 = -1
)

type naError struct{ reason string }

func (e naError) Error() string { return e.reason }

func na(format string, args ...any) error { return naError{fmt.Sprintf(format, args...)} }

type result struct {
	Client   string `json:"client"`
	Scenario string `json:"scenario"`
	Result   string `json:"result"`
	Reason   string `json:"reason"`
}

func main() {
	clientName := flag.String("client", "franz-go", "franz-go, sarama, kafka-go or confluent-kafka-go")
	bootstrap := flag.String("bootstrap", "127.0.0.1:9092", "bootstrap addresses, comma-separated")
	only := flag.String("scenarios", "", "comma-separated scenario names (default: all)")
	timeout := flag.Duration("timeout", 60*time.Second, "per-scenario timeout")
	flag.Parse()

	names := scenarios.Names
	if *only == "" && flag.NArg() > 0 {
		*only = flag.Arg(0) // the runner's driver contract: BOOTSTRAP SCENARIOS
	}
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	newClient, ok := clients[*clientName]
	enc := json.NewEncoder(os.Stdout)
	for _, name := range names {
		r := result{Client: *clientName, Scenario: name}
		switch {
		case !ok:
			r.Result, r.Reason = "na", "client not built into this driver: "+unavailable[*clientName]
		default:
			r.Result, r.Reason = run(newClient, *bootstrap, name, *timeout)
		}
		_ = enc.Encode(r)
	}
}

// seeds splits the driver's BOOTSTRAP argument, a comma-separated list
// (one address for a single broker, every broker's for a cluster).
func seeds(bootstrap string) []string { return strings.Split(bootstrap, ",") }

// replicationFactor is the replication factor of the topics the scenarios
// create: $COMPAT_RF, 1 unless the runner targets a cluster (-cluster: 3).
func replicationFactor() int16 {
	rf, err := strconv.Atoi(os.Getenv("COMPAT_RF"))
	if err != nil || rf < 1 {
		return 1
	}
	return int16(rf)
}

// expectedBrokers is the broker count Metadata must list: $COMPAT_BROKERS
// (the runner sets 1, or 3 with -cluster), 0 when unset (then at least one).
func expectedBrokers() int {
	n, _ := strconv.Atoi(os.Getenv("COMPAT_BROKERS"))
	return n
}

// unavailable says why a client is missing from this build (filled by
// build-tagged files).
var unavailable = map[string]string{}

var clients = map[string]func(bootstrap string) (client, error){}

func run(newClient func(string) (client, error), bootstrap, name string, timeout time.Duration) (res, reason string) {
	fn, ok := scenarioFuncs[name]
	if !ok {
		return "fail", "unknown scenario"
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("panic: %v", p)
			}
		}()
		cl, err := newClient(bootstrap)
		if err != nil {
			done <- fmt.Errorf("new client: %w", err)
			return
		}
		defer cl.Close()
		done <- fn(ctx, &env{cl: cl, bootstrap: bootstrap, newClient: newClient, scenario: name})
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout + 15*time.Second):
		err = fmt.Errorf("scenario hung past its %v timeout", timeout)
	}
	var nae naError
	switch {
	case err == nil:
		return "pass", ""
	case errors.As(err, &nae):
		return "na", nae.reason
	default:
		msg := err.Error()
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return "fail", msg
	}
}
