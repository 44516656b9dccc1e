package broker

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/fuzzseed"
	"github.com/moldau/moldau/protocol"
)

// newFuzzBroker is an in-memory broker with a plain topic "t" (the name the
// fuzz seeds use) and a compacted topic "c". The caller closes it.
func newFuzzBroker(tb testing.TB) *Broker {
	tb.Helper()
	cfg := config.Default()
	cfg.Memory = true
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		tb.Fatal(err)
	}
	compact := "compact"
	for name, configs := range map[string]map[string]*string{"t": nil, "c": {"cleanup.policy": &compact}} {
		s, err := b.checkTopicSpec(name, 2, -1, nil, configs)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := b.createTopic(s); err != nil {
			tb.Fatal(err)
		}
	}
	return b
}

// Harness limits: a request may legitimately make the broker wait (a fetch
// long poll, a join waiting for a rebalance) or work in proportion to what
// it asks for (CreateTopics with 100,000 partitions); the harness cuts
// waits at fuzzWait and skips admin requests that ask for more than
// fuzzMaxPartitions in all, so iterations stay fast. Neither is a limit of the
// broker's.
const (
	fuzzWait          = 20 * time.Millisecond
	fuzzHandleLimit   = 10 * time.Second // Handle must return by then (generous: CI machines are shared)
	fuzzWaitGrace     = 10 * time.Second // a Wait must return this soon after its context ends
	fuzzMaxPartitions = 256
)

// tooBigForHarness reports requests the harness skips (see above).
func tooBigForHarness(req kmsg.Request) bool {
	total := 0
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		for _, t := range r.Topics {
			total += max(int(t.NumPartitions), len(t.ReplicaAssignment), 1)
		}
	case *kmsg.CreatePartitionsRequest:
		for _, t := range r.Topics {
			total += max(int(t.Count), 1)
		}
	}
	return total > fuzzMaxPartitions
}

// handleOnce serves req as the connection's reader and writer would:
// Handle, then Wait (with a context that ends after fuzzWait), then encode
// the response and release what it pins. It fails t if Handle or Wait
// hangs, and returns the response.
func handleOnce(t *testing.T, b *Broker, conn *protocol.ConnInfo, key, version int16, body kmsg.Request) kmsg.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fuzzWait)
	defer cancel()
	req := &protocol.Request{Key: key, Version: version, CorrelationID: 1, ClientID: "fuzz", Body: body, Parsed: true, Conn: conn}
	type result struct {
		resp    kmsg.Response
		handled time.Time
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		reply := b.Handle(ctx, req)
		handled := time.Now()
		resp := reply.Resp
		if reply.Wait != nil {
			resp = reply.Wait(ctx)
			if reply.Resp != nil && reply.Resp != resp {
				release(reply.Resp)
			}
		}
		if resp != nil {
			if fr, ok := resp.(*protocol.FileResponse); ok {
				_ = fr.Response.AppendTo(nil)
			} else {
				_ = resp.AppendTo(nil)
			}
			release(resp)
		}
		done <- result{resp, handled}
	}()
	select {
	case r := <-done:
		if d := r.handled.Sub(start); d > fuzzHandleLimit {
			t.Fatalf("key %d v%d: Handle took %v", key, version, d)
		}
		if r.resp != nil && r.resp.GetVersion() != version {
			t.Fatalf("key %d v%d: response at version %d", key, version, r.resp.GetVersion())
		}
		return r.resp
	case <-time.After(fuzzWait + fuzzHandleLimit + fuzzWaitGrace):
		t.Fatalf("key %d v%d: no response %v after the request (Handle or Wait hangs)", key, version, fuzzWait+fuzzHandleLimit+fuzzWaitGrace)
		return nil
	}
}

func release(resp kmsg.Response) {
	if fr, ok := resp.(*protocol.FileResponse); ok && fr.Release != nil {
		fr.Release()
		fr.Release = nil
	}
}

// fuzzConn is the connection a fuzzed request arrives on, picked by the
// input: 0 a PLAINTEXT connection (User:ANONYMOUS, as Serve sets it), 1 a
// SASL_PLAINTEXT connection that has not authenticated (no session), 2 one
// authenticated as User:alice with SCRAM-SHA-512.
func fuzzConn(pick uint8) *protocol.ConnInfo {
	c := &protocol.ConnInfo{Listener: "PLAINTEXT", Security: protocol.Plaintext}
	switch pick % 3 {
	case 0:
		c.SetSession(&protocol.Session{Principal: protocol.AnonymousPrincipal})
	case 1:
		c.Listener, c.Security = "SASL_PLAINTEXT", protocol.SASLPlaintext
	case 2:
		c.Listener, c.Security = "SASL_PLAINTEXT", protocol.SASLPlaintext
		c.SetSession(&protocol.Session{Principal: "User:alice", Mechanism: "SCRAM-SHA-512"})
	}
	return c
}

// fuzzBrokerIterations is how many inputs one broker serves before the
// harness replaces it with a fresh one, so that what inputs create (topics,
// groups, producer ids) does not pile up over a long run.
const fuzzBrokerIterations = 20000

// FuzzHandle drives the broker's Handle path with decoded requests: the
// input is an API key, a version and a body; bodies that kmsg decodes at a
// version the broker serves reach the handler, on a connection the input
// picks (fuzzConn), so handlers see hostile but parseable input (negative counts and ids, huge timeouts, unknown topics,
// garbage record batches). Handling must not panic or hang, and the response
// must encode. Seeded with a request of every key at every version the
// broker serves.
func FuzzHandle(f *testing.F) {
	b := newFuzzBroker(f)
	f.Cleanup(func() { _ = b.Close(context.Background()) })
	for _, s := range fuzzseed.All() {
		if b.Supported(s.Key, s.Version) {
			frame := append(binary.BigEndian.AppendUint32(nil, uint32(s.Key)<<16|uint32(uint16(s.Version))), s.Encoded...)
			for conn := range uint8(3) {
				f.Add(conn, frame)
			}
		}
	}
	served := 0
	f.Fuzz(func(t *testing.T, conn uint8, data []byte) {
		if len(data) < 4 || len(data) > 64<<10 {
			return
		}
		key, version := int16(binary.BigEndian.Uint16(data)), int16(binary.BigEndian.Uint16(data[2:]))
		if !b.Supported(key, version) {
			return
		}
		body := kmsg.RequestForKey(key)
		body.SetVersion(version)
		if body.ReadFrom(data[4:]) != nil || tooBigForHarness(body) {
			return
		}
		if served++; served%fuzzBrokerIterations == 0 {
			_ = b.Close(context.Background())
			b = newFuzzBroker(t)
		}
		handleOnce(t, b, fuzzConn(conn), key, version, body)
	})
}
