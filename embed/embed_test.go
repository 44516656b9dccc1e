package embed_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/moldau/moldau/embed"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartUseResetClose(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	b, err := embed.Start(ctx, embed.WithProperty("num.partitions", "3"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %v", time.Since(start))
	defer func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close() // it would auto-create "t" again on its next metadata refresh
	admCl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := topics["t"]; !ok || len(d.Partitions) != 3 {
		t.Fatalf("auto-created topic: %+v", topics)
	}
	if err := b.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	// A fresh client: kadm serves ListTopics from a short-lived cache.
	fresh, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	topics, err = kadm.NewClient(fresh).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(topics) != 0 {
		t.Fatalf("topics after Reset: %v", topics.Names())
	}
}

func TestUnknownPropertyFails(t *testing.T) {
	t.Parallel()
	if _, err := embed.Start(context.Background(), embed.WithProperty("no.such.key", "1")); err == nil {
		t.Fatal("Start accepted an unknown property")
	}
}

func TestDataDirSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	for round := range 2 {
		b, err := embed.Start(ctx, embed.WithDataDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		adm := kadm.NewClient(cl)
		if round == 0 {
			if _, err := adm.CreateTopic(ctx, 1, 1, nil, "kept"); err != nil {
				t.Fatal(err)
			}
		} else if topics, err := adm.ListTopics(ctx); err != nil || !topics.Has("kept") {
			t.Fatalf("topic lost across restart: %v %v", topics.Names(), err)
		}
		cl.Close()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResetDeletesGroups(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embed.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "g"); err != nil {
		t.Fatal(err)
	}
	offsets := kadm.Offsets{}
	offsets.AddOffset("g", 0, 0, -1)
	if _, err := adm.CommitOffsets(ctx, "reset-me", offsets); err != nil {
		t.Fatal(err)
	}
	if err := b.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 0 {
		t.Fatalf("groups after Reset: %v", groups.Groups())
	}
}
