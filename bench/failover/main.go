// Command failover measures leader failover of a three-node Moldau cluster
// on 127.0.0.1-3 (issue 15): it starts the three processes, creates a
// topic (RF 3, min.insync.replicas 2), keeps one acks=all idempotent
// franz-go producer sending one record at a time, and -trials times kills
// (SIGKILL) the partition's leader, reporting the time from the kill until
// the producer's first acknowledgement received after it (necessarily
// from a new leader), then restarts the killed node and waits for the ISR
// to be whole again before the next trial.
//
//	go run ./bench/failover -bin bin/moldau -trials 5
//
// It prints one line per trial and a JSON summary (milliseconds). The
// bench runner's W14 measures the same thing side by side with Kafka; this
// is the quick harness for the broker's failover path.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var (
	bin       = flag.String("bin", "bin/moldau", "the moldau binary")
	trials    = flag.Int("trials", 5, "leader kills")
	partition = flag.Int("partitions", 1, "partitions of the topic (the leader of partition 0 is killed)")
	extra     = flag.String("flags", "", "extra moldau flags")
	keep      = flag.Bool("keep", false, "keep the data directory")
	settle    = flag.Duration("settle", 6*time.Second, "wait before each kill once the ISR is whole, and since the producer's last metadata answer")
	clientLog = flag.Bool("client-log", false, "the producer's debug log on stderr")
)

type node struct {
	id   int
	cmd  *exec.Cmd
	done chan struct{}
	args []string
	log  string
}

func (n *node) start() error {
	f, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	n.cmd = exec.Command(*bin, n.args...)
	n.cmd.Stdout, n.cmd.Stderr = f, f
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		return err
	}
	n.done = make(chan struct{})
	go func(c *exec.Cmd, d chan struct{}) { c.Wait(); close(d) }(n.cmd, n.done)
	return nil
}

func (n *node) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Kill()
		<-n.done
	}
}

func freePort() int {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		for i := 2; i <= 3; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%d", i, p))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return p
		}
	}
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "failover:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "moldau-failover-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	port, peer, admin := freePort(), freePort(), freePort()
	peers := fmt.Sprintf("1@127.0.0.1:%d,2@127.0.0.2:%d,3@127.0.0.3:%d", peer, peer, peer)
	var nodes []*node
	var seeds []string
	for i := 1; i <= 3; i++ {
		ip := fmt.Sprintf("127.0.0.%d", i)
		nd := filepath.Join(dir, strconv.Itoa(i))
		if err := os.MkdirAll(nd, 0o755); err != nil {
			return err
		}
		args := []string{"--node-id", strconv.Itoa(i), "--addr", fmt.Sprintf("%s:%d", ip, port),
			"--peer-addr", fmt.Sprintf("%s:%d", ip, peer), "--peers", peers,
			"--data-dir", filepath.Join(nd, "data"), "--admin-addr", fmt.Sprintf("%s:%d", ip, admin), "--log-level", "warn"}
		if *extra != "" {
			args = append(args, strings.Fields(*extra)...)
		}
		n := &node{id: i, args: args, log: filepath.Join(nd, "log")}
		if err := n.start(); err != nil {
			return err
		}
		defer n.kill()
		nodes = append(nodes, n)
		seeds = append(seeds, fmt.Sprintf("%s:%d", ip, port))
	}
	ctx := context.Background()
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	defer adm.Close()
	ac := kadm.NewClient(adm)
	const topic = "failover"
	if err := poll(60*time.Second, func() error {
		r, err := ac.CreateTopic(ctx, int32(*partition), 3, map[string]*string{"min.insync.replicas": ptr("2")}, topic)
		if err == nil && r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			err = r.Err
		}
		return err
	}); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), logOpt(), kgo.WithHooks(&lastMeta))
	if err != nil {
		return err
	}
	defer cl.Close()

	// The producer: one record at a time, acknowledgement times recorded.
	var mu sync.Mutex
	type ack struct{ sent, at time.Time }
	var acks []ack // in order
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			sent := time.Now()
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := cl.ProduceSync(pctx, &kgo.Record{Value: []byte("x"), Partition: 0}).FirstErr()
			cancel()
			if err == nil {
				mu.Lock()
				acks = append(acks, ack{sent, time.Now()})
				mu.Unlock()
			}
		}
	}()
	// firstAckAfter is the first acknowledgement of a record sent after t
	// (an acknowledgement of one sent before could have left the old
	// leader just before the kill).
	firstAckAfter := func(t time.Time) (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		i, _ := slices.BinarySearchFunc(acks, t, func(a ack, t time.Time) int { return a.sent.Compare(t) })
		if i == len(acks) || !acks[i].sent.After(t) {
			for ; i < len(acks) && !acks[i].sent.After(t); i++ {
			}
			if i == len(acks) {
				return time.Time{}, false
			}
		}
		return acks[i].at, true
	}
	var results []float64
	for trial := 1; trial <= *trials; trial++ {
		// Wait for a whole ISR and a producer that succeeds.
		var leader int32
		if err := poll(60*time.Second, func() error {
			// Every node must name the same leader with a whole ISR (one
			// node's metadata can trail after a restart).
			leader = -1
			for i := range nodes {
				req := kmsg.NewPtrMetadataRequest()
				rt := kmsg.NewMetadataRequestTopic()
				rt.Topic = kmsg.StringPtr(topic)
				req.Topics = append(req.Topics, rt)
				resp, err := req.RequestWith(ctx, adm.Broker(i+1))
				if err != nil {
					return err
				}
				if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) == 0 {
					return errors.New("no partition 0 yet")
				}
				p := resp.Topics[0].Partitions[0]
				if p.Leader < 0 || len(p.ISR) < 3 || (leader >= 0 && p.Leader != leader) {
					return fmt.Errorf("node %d: partition 0 leader %d, ISR %v", i+1, p.Leader, p.ISR)
				}
				leader = p.Leader
			}
			if _, ok := firstAckAfter(time.Now().Add(-200 * time.Millisecond)); !ok {
				return errors.New("no recent acknowledgement")
			}
			return nil
		}); err != nil {
			return err
		}
		// Let every node settle with the producer running, and the
		// producer's last metadata refresh age past franz-go's
		// MetadataMinAge (5 s), as in a client that has run for a while:
		// otherwise the client waits out the rest of it first.
		time.Sleep(*settle)
		for time.Since(lastMeta.at()) < *settle {
			time.Sleep(100 * time.Millisecond)
		}
		victim := nodes[leader-1]
		t0 := time.Now()
		fmt.Printf("trial %d: kill node %d at %s\n", trial, leader, t0.UTC().Format("15:04:05.000"))
		victim.kill()
		var ack time.Time
		if err := poll(30*time.Second, func() error {
			a, ok := firstAckAfter(t0)
			if !ok {
				return errors.New("no acknowledgement since the kill")
			}
			ack = a
			return nil
		}); err != nil {
			return fmt.Errorf("trial %d: %w", trial, err)
		}
		ms := float64(ack.Sub(t0).Microseconds()) / 1000
		results = append(results, ms)
		fmt.Printf("trial %d: killed node %d (leader), first ack after %.0f ms\n", trial, leader, ms)
		if err := victim.start(); err != nil {
			return err
		}
	}
	close(stop)
	wg.Wait()
	s := slices.Clone(results)
	slices.Sort(s)
	out, _ := json.Marshal(map[string]any{"trials_ms": results, "min_ms": s[0], "median_ms": s[len(s)/2], "max_ms": s[len(s)-1]})
	fmt.Println(string(out))
	return nil
}

// metaHook records when the producer last read a Metadata answer.
type metaHook struct {
	mu   sync.Mutex
	last time.Time
}

func (h *metaHook) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 3 && err == nil {
		h.mu.Lock()
		h.last = time.Now()
		h.mu.Unlock()
	}
}

func (h *metaHook) at() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

var lastMeta metaHook

func poll(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

func logOpt() kgo.Opt {
	if !*clientLog {
		return kgo.WithLogger(nil)
	}
	return kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelDebug, func() string { return time.Now().UTC().Format("15:04:05.000 ") }))
}
