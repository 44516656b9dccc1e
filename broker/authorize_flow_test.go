package broker

// The authorizer under franz-go's ordinary producer and group consumer:
// what a producer and a consumer need (Kafka's usual grants, made with
// kadm) is enough, and a principal without them is refused with Kafka's
// errors; a transactional producer needs WRITE on its transactional id.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
)

func TestACLRealClients(t *testing.T) {
	_, addr := newACLBroker(t, func(c *config.Config) { c.GroupMinSessionTimeoutMs = 500 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := kadm.NewClient(newPrincipalClient(t, addr, "admin"))
	if _, err := adm.CreateTopic(ctx, 2, -1, nil, "flow"); err != nil {
		t.Fatal(err)
	}
	grants := []*kadm.ACLBuilder{
		// The producer: WRITE on the topic (KIP-679: also enough for
		// an idempotent producer's InitProducerId).
		kadm.NewACLs().Allow("User:producer").Topics("flow").Operations(kadm.OpWrite),
		// The transactional producer: WRITE on the topic and its id.
		kadm.NewACLs().Allow("User:txn").Topics("flow").Operations(kadm.OpWrite),
		kadm.NewACLs().Allow("User:txn").TransactionalIDs("flow-tx").Operations(kadm.OpWrite),
		// The consumer: READ on the topic and the group (prefixed).
		kadm.NewACLs().Allow("User:consumer").Topics("flow").Operations(kadm.OpRead),
		kadm.NewACLs().Allow("User:consumer").Groups("flow-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpRead),
		// The consumer may not read from one host: another host only.
		kadm.NewACLs().Deny("User:consumer").DenyHosts("10.9.9.9").Topics("flow").Operations(kadm.OpRead),
	}
	for _, g := range grants {
		res, err := adm.CreateACLs(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	described, err := adm.DescribeACLs(ctx, kadm.NewACLs().Allow().AllowHosts().Deny().DenyHosts().AnyResource().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	n := 0
	for _, d := range described {
		if d.Err != nil {
			t.Fatal(d.Err)
		}
		n += len(d.Described)
	}
	if err != nil || n != len(grants) {
		t.Fatalf("describe: %v, %d bindings, want %d: %+v", err, n, len(grants), described)
	}

	producer := newPrincipalClient(t, addr, "producer", kgo.DefaultProduceTopic("flow"))
	for i := 0; i < 10; i++ {
		if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("producer: %v", err)
		}
	}
	txn := newPrincipalClient(t, addr, "txn", kgo.DefaultProduceTopic("flow"), kgo.TransactionalID("flow-tx"))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(ctx, &kgo.Record{Value: []byte("t")}).FirstErr(); err != nil {
		t.Fatalf("transactional producer: %v", err)
	}
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}

	consumer := newPrincipalClient(t, addr, "consumer", kgo.ConsumeTopics("flow"), kgo.ConsumerGroup("flow-readers"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	got := 0
	for got < 11 {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 11: %v", got, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("consumer %s/%d: %v", topic, p, err) })
		got += fs.NumRecords()
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit offsets: %v", err)
	}

	// Refused: the consumer may not produce, the producer may not join a
	// group, a stranger may not use the transactional id.
	err = newPrincipalClient(t, addr, "consumer", kgo.DefaultProduceTopic("flow"), kgo.DisableIdempotentWrite(),
		kgo.RecordRetries(0)).ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("consumer producing: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	lag, err := kadm.NewClient(newPrincipalClient(t, addr, "producer")).FetchOffsets(ctx, "flow-readers")
	if !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Errorf("producer fetching the group's offsets: %v %v, want GROUP_AUTHORIZATION_FAILED", lag, err)
	}
	stranger := newPrincipalClient(t, addr, "stranger", kgo.DefaultProduceTopic("flow"), kgo.TransactionalID("flow-tx"))
	// kgo initialises the producer id at the first transaction.
	if err = stranger.BeginTransaction(); err == nil {
		err = stranger.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
	}
	if !errors.Is(err, kerr.TransactionalIDAuthorizationFailed) && (err == nil || !strings.Contains(err.Error(), kerr.TransactionalIDAuthorizationFailed.Message)) {
		t.Errorf("stranger with the transactional id: %v, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", err)
	}
	_ = stranger.EndTransaction(ctx, kgo.TryAbort)

	// Revoking the consumer's READ reaches its running fetches: fetch
	// sessions are declined under the authorizer, so every fetch names
	// every partition and each is checked (Kafka re-checks a session's
	// partitions on every fetch).
	if _, err := adm.DeleteACLs(ctx, kadm.NewACLs().Allow("User:consumer").AllowHosts().Topics("flow").Operations(kadm.OpRead)); err != nil {
		t.Fatal(err)
	}
	if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte("after the revoke")}).FirstErr(); err != nil {
		t.Fatalf("producer: %v", err)
	}
	for denied := false; !denied; {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("the consumer was never refused after its READ was revoked: %v", err)
		}
		// Records may still come from a fetch sent before the revoke.
		fs.EachError(func(_ string, _ int32, err error) {
			if errors.Is(err, kerr.TopicAuthorizationFailed) {
				denied = true
			}
		})
	}
	if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte("after the refusal")}).FirstErr(); err != nil {
		t.Fatalf("producer: %v", err)
	}
	for range 3 {
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := consumer.PollFetches(pctx)
		pcancel()
		if fs.NumRecords() > 0 {
			t.Fatalf("the consumer read %d records after it was refused", fs.NumRecords())
		}
	}

	// Removing the producer's grant refuses its next request.
	if _, err := adm.DeleteACLs(ctx, kadm.NewACLs().Allow("User:producer").AllowHosts().Topics("flow").Operations(kadm.OpWrite)); err != nil {
		t.Fatal(err)
	}
	err = newPrincipalClient(t, addr, "producer", kgo.DefaultProduceTopic("flow"), kgo.DisableIdempotentWrite(),
		kgo.RecordRetries(0)).ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("producer after its grant was removed: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

// TestACLAllowEveryoneIfNoACL: allow.everyone.if.no.acl.found opens only
// the resources no ACL names; one ACL on a topic closes it to the others.
func TestACLAllowEveryoneIfNoACL(t *testing.T) {
	_, addr := newACLBroker(t, func(c *config.Config) { c.Security.Authz.AllowIfNoACL = true })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := kadm.NewClient(newPrincipalClient(t, addr, "admin"))
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, "open"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, "closed"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:owner").Topics("closed").Operations(kadm.OpWrite)); err != nil {
		t.Fatal(err)
	}
	produce := func(principal, topic string) error {
		cl := newPrincipalClient(t, addr, principal, kgo.DefaultProduceTopic(topic), kgo.DisableIdempotentWrite(), kgo.RecordRetries(0))
		return cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
	}
	if err := produce("anyone", "open"); err != nil {
		t.Errorf("anyone to a topic without ACLs: %v", err)
	}
	if err := produce("owner", "closed"); err != nil {
		t.Errorf("owner to its topic: %v", err)
	}
	if err := produce("anyone", "closed"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("anyone to a topic with ACLs: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

// TestACLDescribeTopicPartitionsCursorHidesTopics: listing every topic a page
// at a time must not name, in the next-page cursor, a topic the caller cannot
// describe (Kafka pages over the describable topics only).
func TestACLDescribeTopicPartitionsCursorHidesTopics(t *testing.T) {
	_, addr := newACLBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(newPrincipalClient(t, addr, "admin"))
	for _, name := range []string{"a-public", "b-secret", "c-public"} {
		if _, err := adm.CreateTopic(ctx, 1, -1, nil, name); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a-public", "c-public"} {
		if _, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:consumer").Topics(name).Operations(kadm.OpDescribe)); err != nil {
			t.Fatal(err)
		}
	}
	cl := newPrincipalClient(t, addr, "consumer")
	var seen []string
	var cursor *kmsg.DescribeTopicPartitionsRequestCursor
	for page := 0; page < 10; page++ {
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		req.ResponsePartitionLimit = 1
		req.Cursor = cursor
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		for _, tp := range resp.Topics {
			if tp.Topic != nil {
				seen = append(seen, *tp.Topic)
			}
		}
		if resp.NextCursor == nil {
			break
		}
		if resp.NextCursor.Topic == "b-secret" {
			t.Fatalf("the next-page cursor names b-secret, which the caller cannot describe")
		}
		cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
	}
	if !slices.Equal(seen, []string{"a-public", "c-public"}) {
		t.Fatalf("pages listed %v, want [a-public c-public]", seen)
	}
}
