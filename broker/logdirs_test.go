package broker

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
)

// Handler-level tests of DescribeLogDirs (35), AlterReplicaLogDirs (34)
// and DescribeQuorum (55) on a single node.

func newDiskBroker(t *testing.T) (*Broker, string) {
	t.Helper()
	dir := t.TempDir()
	return newAdminBroker(t, func(c *config.Config) { c.Memory, c.DataDir = false, dir }), dir
}

func TestDescribeLogDirsSingleNode(t *testing.T) {
	b, dir := newDiskBroker(t)
	if _, _, ok := b.versionRange(35); !ok {
		t.Fatal("DescribeLogDirs not served on a single node")
	}
	a := mustCreateTopic(t, b, "a", 2, nil)
	mustCreateTopic(t, b, "b", 1, nil)
	appendRecords(t, a.partition(1), 3, 10)
	want := a.partition(1).size()
	if want <= 0 {
		t.Fatalf("partition size %d after appends", want)
	}
	for v := int16(0); v <= 5; v++ {
		resp := do[*kmsg.DescribeLogDirsResponse](t, b, v, kmsg.NewPtrDescribeLogDirsRequest())
		if len(resp.Dirs) != 1 {
			t.Fatalf("v%d: %d dirs", v, len(resp.Dirs))
		}
		d := resp.Dirs[0]
		if d.ErrorCode != 0 || d.Dir != dir || d.IsCordoned {
			t.Fatalf("v%d: dir %+v, want %s", v, d, dir)
		}
		if v >= 4 && (d.TotalBytes <= 0 || d.UsableBytes < 0 || d.UsableBytes > d.TotalBytes) {
			t.Fatalf("v%d: total %d usable %d", v, d.TotalBytes, d.UsableBytes)
		}
		got := map[string]map[int32]int64{}
		for _, tt := range d.Topics {
			got[tt.Topic] = map[int32]int64{}
			for _, p := range tt.Partitions {
				if p.OffsetLag != 0 || p.IsFuture {
					t.Fatalf("v%d: %s-%d lag %d future %v", v, tt.Topic, p.Partition, p.OffsetLag, p.IsFuture)
				}
				got[tt.Topic][p.Partition] = p.Size
			}
		}
		if len(got["a"]) != 2 || len(got["b"]) != 1 || got["a"][1] != want || got["a"][0] != 0 {
			t.Fatalf("v%d: sizes %v, want a-1 %d", v, got, want)
		}
	}
	// A filter: known partitions only; unknown topics and partitions are left out.
	req := kmsg.NewPtrDescribeLogDirsRequest()
	req.Topics = []kmsg.DescribeLogDirsRequestTopic{{Topic: "a", Partitions: []int32{1, 7}}, {Topic: "nope", Partitions: []int32{0}}}
	resp := do[*kmsg.DescribeLogDirsResponse](t, b, 4, req)
	if ts := resp.Dirs[0].Topics; len(ts) != 1 || ts[0].Topic != "a" || len(ts[0].Partitions) != 1 || ts[0].Partitions[0].Partition != 1 {
		t.Fatalf("filtered: %+v", ts)
	}
	// A data directory that is gone is an offline directory.
	if err := os.Rename(dir, dir+".gone"); err != nil {
		t.Fatal(err)
	}
	defer os.Rename(dir+".gone", dir)
	resp = do[*kmsg.DescribeLogDirsResponse](t, b, 4, kmsg.NewPtrDescribeLogDirsRequest())
	wantCode(t, "offline dir", resp.Dirs[0].ErrorCode, kerr.KafkaStorageError)
}

func TestDescribeLogDirsMemory(t *testing.T) {
	b := newAdminBroker(t)
	p := mustCreateTopic(t, b, "m", 1, nil).partition(0)
	appendRecords(t, p, 2, 5)
	resp := do[*kmsg.DescribeLogDirsResponse](t, b, 4, kmsg.NewPtrDescribeLogDirsRequest())
	d := resp.Dirs[0]
	if d.ErrorCode != 0 || d.Dir != "/moldau" || d.TotalBytes != -1 || d.UsableBytes != -1 {
		t.Fatalf("memory dir %+v", d)
	}
	if len(d.Topics) != 1 || d.Topics[0].Partitions[0].Size != p.size() || p.size() == 0 {
		t.Fatalf("memory topics %+v, size %d", d.Topics, p.size())
	}
}

func alterDirReq(dir string, topic string, parts ...int32) *kmsg.AlterReplicaLogDirsRequest {
	req := kmsg.NewPtrAlterReplicaLogDirsRequest()
	d := kmsg.NewAlterReplicaLogDirsRequestDir()
	d.Dir = dir
	d.Topics = []kmsg.AlterReplicaLogDirsRequestDirTopic{{Topic: topic, Partitions: parts}}
	req.Dirs = append(req.Dirs, d)
	return req
}

func TestAlterReplicaLogDirs(t *testing.T) {
	b, dir := newDiskBroker(t)
	mustCreateTopic(t, b, "a", 2, nil)
	for _, tc := range []struct {
		name, dir, topic string
		part             int32
		want             *kerr.Error
	}{
		{"same dir", dir, "a", 1, nil},
		{"same dir, trailing slash", dir + "/", "a", 0, nil},
		{"other dir", filepath.Join(dir, "other"), "a", 0, kerr.LogDirNotFound},
		{"relative dir", "data", "a", 0, kerr.LogDirNotFound},
		{"unknown topic", dir, "nope", 0, kerr.UnknownTopicOrPartition},
		{"unknown partition", dir, "a", 9, kerr.UnknownTopicOrPartition},
		{"unknown topic, other dir", "/elsewhere", "nope", 0, kerr.LogDirNotFound},
	} {
		for v := int16(1); v <= 2; v++ {
			resp := do[*kmsg.AlterReplicaLogDirsResponse](t, b, v, alterDirReq(tc.dir, tc.topic, tc.part))
			if len(resp.Topics) != 1 || resp.Topics[0].Topic != tc.topic || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("%s v%d: %+v", tc.name, v, resp.Topics)
			}
			wantCode(t, tc.name, resp.Topics[0].Partitions[0].ErrorCode, tc.want)
		}
	}
	// Two dirs naming the same partition: the last one counts.
	req := alterDirReq("/elsewhere", "a", 0, 1)
	d := kmsg.NewAlterReplicaLogDirsRequestDir()
	d.Dir = dir
	d.Topics = []kmsg.AlterReplicaLogDirsRequestDirTopic{{Topic: "a", Partitions: []int32{1}}}
	req.Dirs = append(req.Dirs, d)
	resp := do[*kmsg.AlterReplicaLogDirsResponse](t, b, 2, req)
	ps := resp.Topics[0].Partitions
	if len(resp.Topics) != 1 || len(ps) != 2 || ps[0].ErrorCode != kerr.LogDirNotFound.Code || ps[1].ErrorCode != 0 {
		t.Fatalf("last dir wins: %+v", resp.Topics)
	}
}

func TestDescribeQuorumSingleNode(t *testing.T) {
	b := newAdminBroker(t)
	if _, _, ok := b.versionRange(55); !ok {
		t.Fatal("DescribeQuorum not served on a single node")
	}
	for v := int16(0); v <= 2; v++ {
		req := kmsg.NewPtrDescribeQuorumRequest()
		rt := kmsg.NewDescribeQuorumRequestTopic()
		rt.Topic = "__cluster_metadata"
		rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}, {Partition: 1}}
		req.Topics = append(req.Topics, rt)
		resp := do[*kmsg.DescribeQuorumResponse](t, b, v, req)
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
			t.Fatalf("v%d: %+v", v, resp)
		}
		p := resp.Topics[0].Partitions[0]
		self := b.cfg.NodeID
		if p.ErrorCode != 0 || p.LeaderID != self || p.LeaderEpoch < 1 || len(p.CurrentVoters) != 1 ||
			p.CurrentVoters[0].ReplicaID != self || len(p.Observers) != 0 {
			t.Fatalf("v%d: partition %+v", v, p)
		}
		if v >= 1 && p.CurrentVoters[0].LastCaughtUpTimestamp <= 0 {
			t.Fatalf("v%d: voter %+v", v, p.CurrentVoters[0])
		}
		wantCode(t, "partition 1", resp.Topics[0].Partitions[1].ErrorCode, kerr.UnknownTopicOrPartition)
		if v >= 2 && (len(resp.Nodes) != 1 || resp.Nodes[0].NodeID != self) {
			t.Fatalf("v%d: nodes %+v", v, resp.Nodes)
		}
	}
}

// TestLogDirsFeaturesACLs: DescribeLogDirs and DescribeQuorum need CLUSTER
// DESCRIBE; AlterReplicaLogDirs, UpdateFeatures and UnregisterController
// CLUSTER ALTER. Without them Kafka's CLUSTER_AUTHORIZATION_FAILED, in each
// response's shape; the super user gets through.
func TestLogDirsFeaturesACLs(t *testing.T) {
	_, addr := newACLBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cAuth := kerr.ClusterAuthorizationFailed.Code
	for _, tc := range []struct {
		name string
		req  func() kmsg.Request
		code func(kmsg.Response) int16
	}{
		{"DescribeLogDirs", func() kmsg.Request { return kmsg.NewPtrDescribeLogDirsRequest() },
			func(r kmsg.Response) int16 { return r.(*kmsg.DescribeLogDirsResponse).ErrorCode }},
		{"DescribeQuorum", func() kmsg.Request {
			r := kmsg.NewPtrDescribeQuorumRequest()
			r.Topics = []kmsg.DescribeQuorumRequestTopic{{Topic: "__cluster_metadata", Partitions: []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}}}}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.DescribeQuorumResponse).ErrorCode }},
		{"AlterReplicaLogDirs", func() kmsg.Request { return alterDirReq("/moldau", "t", 0) },
			func(r kmsg.Response) int16 {
				ar := r.(*kmsg.AlterReplicaLogDirsResponse)
				if len(ar.Topics) != 1 || len(ar.Topics[0].Partitions) != 1 {
					return missing
				}
				return ar.Topics[0].Partitions[0].ErrorCode
			}},
		{"UpdateFeatures", func() kmsg.Request {
			r := kmsg.NewPtrUpdateFeaturesRequest()
			r.ValidateOnly = true
			r.FeatureUpdates = append(r.FeatureUpdates, fu("group.version", 1, 1))
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.UpdateFeaturesResponse).ErrorCode }},
		{"UnregisterController", func() kmsg.Request { return kmsg.NewPtrUnregisterControllerRequest() },
			func(r kmsg.Response) int16 { return r.(*kmsg.UnregisterControllerResponse).ErrorCode }},
	} {
		for _, user := range []string{"stranger", "admin"} {
			resp, err := newPrincipalClient(t, addr, user).SeedBrokers()[0].Request(ctx, tc.req())
			if err != nil {
				t.Fatalf("%s as %s: %v", tc.name, user, err)
			}
			got := tc.code(resp)
			if denied := got == cAuth; denied != (user == "stranger") || got == missing {
				t.Errorf("%s as %s: %v", tc.name, user, kerr.ErrorForCode(got))
			}
		}
	}
}
