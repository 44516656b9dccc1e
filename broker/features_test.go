package broker

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
)

// Finalized features: ApiVersions' features, UpdateFeatures (57) and the
// ApiVersions v5 checks. The refusal messages are a real Kafka 4.4
// broker's (probed with the same requests).

func apiVersions(t *testing.T, b *Broker, v int16, mut ...func(*kmsg.ApiVersionsRequest)) *kmsg.ApiVersionsResponse {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
	for _, m := range mut {
		m(req)
	}
	return do[*kmsg.ApiVersionsResponse](t, b, v, req)
}

func finalized(resp *kmsg.ApiVersionsResponse) map[string]int16 {
	m := map[string]int16{}
	for _, f := range resp.FinalizedFeatures {
		if f.MinVersionLevel != f.MaxVersionLevel {
			panic("range")
		}
		m[f.Name] = f.MaxVersionLevel
	}
	return m
}

func supported(resp *kmsg.ApiVersionsResponse) map[string][2]int16 {
	m := map[string][2]int16{}
	for _, f := range resp.SupportedFeatures {
		m[f.Name] = [2]int16{f.MinVersion, f.MaxVersion}
	}
	return m
}

func updateFeatures(t *testing.T, b *Broker, v int16, validate bool, ups ...kmsg.UpdateFeaturesRequestFeatureUpdate) *kmsg.UpdateFeaturesResponse {
	t.Helper()
	req := kmsg.NewPtrUpdateFeaturesRequest()
	req.ValidateOnly = validate
	req.FeatureUpdates = ups
	return do[*kmsg.UpdateFeaturesResponse](t, b, v, req)
}

func fu(name string, level int16, typ int8) kmsg.UpdateFeaturesRequestFeatureUpdate {
	u := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
	u.Feature, u.MaxVersionLevel, u.UpgradeType, u.AllowDowngrade = name, level, typ, typ != 1
	return u
}

func TestApiVersionsFeatures(t *testing.T) {
	b := newAdminBroker(t)
	resp := apiVersions(t, b, 4)
	sup, fin := supported(resp), finalized(resp)
	for name, want := range map[string][2]int16{
		"group.version": {0, 1}, "kraft.version": {0, 1}, "metadata.version": {7, 33},
		"transaction.version": {0, 2}, "eligible.leader.replicas.version": {0, 1},
	} {
		if sup[name] != want {
			t.Errorf("supported %s = %v, want %v", name, sup[name], want)
		}
	}
	for name, want := range map[string]int16{"group.version": 1, "transaction.version": 2, "eligible.leader.replicas.version": 1, "metadata.version": 33} {
		if fin[name] != want {
			t.Errorf("finalized %s = %d, want %d", name, fin[name], want)
		}
	}
	if _, ok := fin["kraft.version"]; ok {
		t.Error("kraft.version finalized on a single node (Kafka leaves level 0 out)")
	}
	// share.version and streams.version follow their APIs.
	for name, key := range map[string]int16{"share.version": 76, "streams.version": 88} {
		_, _, served := b.versionRange(key)
		if _, listed := sup[name]; listed != served || (fin[name] > 0) != served {
			t.Errorf("%s: supported %v finalized %d, key %d served %v", name, sup[name], fin[name], key, served)
		}
	}
	if resp.FinalizedFeaturesEpoch != 1 {
		t.Errorf("epoch %d on a new broker, want 1", resp.FinalizedFeaturesEpoch)
	}
	if v2 := apiVersions(t, b, 2); len(v2.SupportedFeatures) != 0 || v2.FinalizedFeaturesEpoch != -1 {
		t.Errorf("v2 carries features: %+v", v2)
	}
}

func TestUpdateFeaturesRefusals(t *testing.T) {
	b := newAdminBroker(t)
	const prefix = "The update failed for all features since the following feature had an error: "
	for _, tc := range []struct {
		u    kmsg.UpdateFeaturesRequestFeatureUpdate
		want string // "" accepted
	}{
		{fu("group.version", 1, 1), ""},
		{fu("group.version", 0, 2), ""},
		{fu("group.version", 0, 3), ""},
		{fu("group.version", 2, 1), "Invalid update version 2 for feature group.version. Local controller 1 only supports versions 0-1"},
		{fu("group.version", 0, 1), "Invalid update version 0 for feature group.version. Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade."},
		{fu("eligible.leader.replicas.version", 0, 2), ""},
		{fu("group.version", -1, 2), "Invalid update version -1 for feature group.version. A feature version cannot be less than 0."},
		{fu("group.version", 1, 0), "Invalid update version 1 for feature group.version. The controller does not support the given upgrade type."},
		{fu("group.version", 1, 4), "Invalid update version 1 for feature group.version. The controller does not support the given upgrade type."},
		{fu("nope.version", 1, 1), "Invalid update version 1 for feature nope.version. Local controller 1 does not support this feature."},
		{fu("nope.version", 0, 2), "Invalid update version 0 for feature nope.version. Feature nope.version not found."},
		{fu("", 2, 1), "Invalid update version 2 for feature . Local controller 1 does not support this feature."},
		{fu("metadata.version", 33, 1), ""},
		{fu("metadata.version", 34, 1), "Invalid update version 34 for feature metadata.version. Local controller 1 only supports versions 7-33"},
		{fu("metadata.version", 1, 2), "Invalid update version 1 for feature metadata.version. Local controller 1 only supports versions 7-33"},
		{fu("metadata.version", 30, 2), "Unsupported metadata.version downgrade from 33 to 30. Refusing to perform the requested downgrade because it might delete metadata information."},
		{fu("metadata.version", 30, 3), "Unsupported metadata.version downgrade from 33 to 30. Unsafe metadata downgrade is not supported in this version."},
		{fu("transaction.version", 2, 1), ""},
		{fu("transaction.version", 1, 2), "Invalid update version 1 for feature transaction.version. Moldau serves transactions v2 (KIP-890) only and cannot lower transaction.version below 2."},
		{fu("kraft.version", 0, 1), ""},
		{fu("kraft.version", 1, 1), "Invalid update version 1 for feature kraft.version. Moldau's kraft.version is fixed by its mode (0: a single node without a quorum)."},
	} {
		for v := int16(1); v <= 2; v++ {
			resp := updateFeatures(t, b, v, true, tc.u)
			name := tc.u.Feature
			if tc.want == "" {
				if resp.ErrorCode != 0 || resp.ErrorMessage != nil {
					t.Errorf("v%d %s=%d type %d: %v %v", v, name, tc.u.MaxVersionLevel, tc.u.UpgradeType, kerr.ErrorForCode(resp.ErrorCode), *resp.ErrorMessage)
				}
				if v == 1 && (len(resp.Results) != 1 || resp.Results[0].Feature != name || resp.Results[0].ErrorCode != 0) {
					t.Errorf("v1 results %+v", resp.Results)
				}
				continue
			}
			wantCode(t, name, resp.ErrorCode, kerr.InvalidUpdateVersion)
			want := strings.ReplaceAll(tc.want, "controller 1 ", fmt.Sprintf("controller %d ", b.cfg.NodeID))
			if resp.ErrorMessage == nil || *resp.ErrorMessage != prefix+want {
				t.Errorf("v%d %s=%d: message %v, want %q", v, name, tc.u.MaxVersionLevel, nullableString(resp.ErrorMessage), want)
			}
			if len(resp.Results) != 0 {
				t.Errorf("v%d: results with an error: %+v", v, resp.Results)
			}
		}
	}
	// Validate-only changed nothing.
	if fin := finalized(apiVersions(t, b, 3)); fin["group.version"] != 1 || fin["eligible.leader.replicas.version"] != 1 {
		t.Fatalf("validate-only changed levels: %v", fin)
	}
	// v0 has no upgrade type: AllowDowngrade is ignored (Kafka 4.4).
	resp := updateFeatures(t, b, 0, false, fu("group.version", 0, 2))
	wantCode(t, "v0 downgrade", resp.ErrorCode, kerr.InvalidUpdateVersion)
	// One bad update fails them all.
	resp = updateFeatures(t, b, 1, false, fu("eligible.leader.replicas.version", 0, 2), fu("group.version", 5, 1))
	wantCode(t, "one bad of two", resp.ErrorCode, kerr.InvalidUpdateVersion)
	if fin := finalized(apiVersions(t, b, 3)); fin["eligible.leader.replicas.version"] != 1 {
		t.Fatalf("a failed request changed levels: %v", fin)
	}
}

func TestUpdateFeaturesDurableEpoch(t *testing.T) {
	dir := t.TempDir()
	open := func() *Broker {
		return newAdminBroker(t, func(c *config.Config) { c.Memory, c.DataDir = false, dir })
	}
	b := open()
	epoch := apiVersions(t, b, 3).FinalizedFeaturesEpoch
	resp := updateFeatures(t, b, 1, false, fu("group.version", 0, 2), fu("eligible.leader.replicas.version", 0, 3))
	if resp.ErrorCode != 0 || len(resp.Results) != 2 {
		t.Fatalf("disable: %+v", resp)
	}
	av := apiVersions(t, b, 3)
	if fin := finalized(av); fin["group.version"] != 0 || fin["eligible.leader.replicas.version"] != 0 || av.FinalizedFeaturesEpoch <= epoch {
		t.Fatalf("after disable: %v epoch %d (was %d)", fin, av.FinalizedFeaturesEpoch, epoch)
	}
	if _, ok := finalized(av)["group.version"]; ok {
		t.Fatal("level 0 listed as finalized")
	}
	if b.featureLevel("group.version") != 0 {
		t.Fatal("featureLevel(group.version) after disabling")
	}
	// group.version 0 turns KIP-848 off.
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Group, hb.MemberID, hb.RebalanceTimeoutMillis = "g", "m", 1000
	hr := do[*kmsg.ConsumerGroupHeartbeatResponse](t, b, 1, hb)
	wantCode(t, "heartbeat with group.version 0", hr.ErrorCode, kerr.UnsupportedVersion)
	if hr.ErrorMessage != nil {
		t.Errorf("heartbeat with group.version 0: message %q, want null (Kafka 4.4)", *hr.ErrorMessage)
	}
	epoch = av.FinalizedFeaturesEpoch
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Durable: a restart keeps the levels and the epoch, and the next
	// change moves the epoch on.
	b = open()
	av = apiVersions(t, b, 3)
	if fin := finalized(av); fin["group.version"] != 0 || av.FinalizedFeaturesEpoch != epoch {
		t.Fatalf("after restart: %v epoch %d, want epoch %d", fin, av.FinalizedFeaturesEpoch, epoch)
	}
	if resp := updateFeatures(t, b, 2, false, fu("group.version", 1, 1)); resp.ErrorCode != 0 || len(resp.Results) != 0 {
		t.Fatalf("v2 upgrade: %+v", resp)
	}
	av = apiVersions(t, b, 3)
	if finalized(av)["group.version"] != 1 || av.FinalizedFeaturesEpoch != epoch+1 {
		t.Fatalf("after upgrade: %v epoch %d, want %d", finalized(av), av.FinalizedFeaturesEpoch, epoch+1)
	}
}

func TestApiVersionsV5ClusterCheck(t *testing.T) {
	b := newAdminBroker(t)
	id, self := b.clusterID(), b.cfg.NodeID
	for _, tc := range []struct {
		name    string
		cluster *string
		node    int32
		want    *kerr.Error
	}{
		{"neither", nil, -1, nil},
		{"both match", &id, self, nil},
		{"node only (not checked)", nil, self + 5, nil},
		{"cluster without node", &id, -1, kerr.InvalidRequest},
		{"other cluster", kmsg.StringPtr("other"), self, kerr.RebootstrapRequired},
		{"other node", &id, self + 5, kerr.RebootstrapRequired},
	} {
		resp := apiVersions(t, b, 5, func(r *kmsg.ApiVersionsRequest) { r.ClusterID, r.NodeID = tc.cluster, tc.node })
		wantCode(t, tc.name, resp.ErrorCode, tc.want)
		if (tc.want == nil) != (len(resp.ApiKeys) > 0) || (tc.want != nil && (resp.FinalizedFeaturesEpoch != -1 || len(resp.SupportedFeatures) > 0)) {
			t.Errorf("%s: %d keys, epoch %d", tc.name, len(resp.ApiKeys), resp.FinalizedFeaturesEpoch)
		}
	}
}

// TestFeatureGatesShareAndStreams: share.version 0 turns share groups off
// (76, 78, 79) and streams.version 0 streams groups (88), as Kafka's
// isShareGroupProtocolEnabled/isStreamsGroupProtocolEnabled: the keys stay
// advertised, the requests get UNSUPPORTED_VERSION; level 1 again serves them.
func TestFeatureGatesShareAndStreams(t *testing.T) {
	b := newAdminBroker(t)
	shareHB := func() int16 {
		req := kmsg.NewPtrShareGroupHeartbeatRequest()
		req.GroupID, req.MemberID, req.SubscribedTopicNames = "gate", "AAAAAAAAAAAAAAAAAAAAAA", []string{"t"}
		return do[*kmsg.ShareGroupHeartbeatResponse](t, b, 1, req).ErrorCode
	}
	shareFetch := func() int16 {
		req := kmsg.NewPtrShareFetchRequest()
		req.GroupID, req.MemberID = kmsg.StringPtr("gate"), kmsg.StringPtr("AAAAAAAAAAAAAAAAAAAAAA")
		return do[*kmsg.ShareFetchResponse](t, b, 1, req).ErrorCode
	}
	shareAck := func() int16 {
		req := kmsg.NewPtrShareAcknowledgeRequest()
		req.GroupID, req.MemberID = kmsg.StringPtr("gate"), kmsg.StringPtr("AAAAAAAAAAAAAAAAAAAAAA")
		return do[*kmsg.ShareAcknowledgeResponse](t, b, 1, req).ErrorCode
	}
	streamsHB := func() int16 {
		req := kmsg.NewPtrStreamsGroupHeartbeatRequest()
		req.Group, req.MemberID = "gate", "m"
		return do[*kmsg.StreamsGroupHeartbeatResponse](t, b, 0, req).ErrorCode
	}
	for name, f := range map[string]func() int16{"share heartbeat": shareHB, "share fetch": shareFetch, "share ack": shareAck, "streams heartbeat": streamsHB} {
		if code := f(); code == kerr.UnsupportedVersion.Code {
			t.Fatalf("%s: UNSUPPORTED_VERSION with the feature on", name)
		}
	}
	for _, u := range []kmsg.UpdateFeaturesRequestFeatureUpdate{fu("share.version", 0, 2), fu("streams.version", 0, 2)} {
		if resp := updateFeatures(t, b, 1, false, u); resp.ErrorCode != 0 {
			t.Fatalf("disabling %s: %v", u.Feature, kerr.ErrorForCode(resp.ErrorCode))
		}
	}
	for name, f := range map[string]func() int16{"share heartbeat": shareHB, "share fetch": shareFetch, "share ack": shareAck, "streams heartbeat": streamsHB} {
		if code := f(); code != kerr.UnsupportedVersion.Code {
			t.Errorf("%s with the feature at 0: %v, want UNSUPPORTED_VERSION", name, kerr.ErrorForCode(code))
		}
	}
	if resp := updateFeatures(t, b, 1, false, fu("share.version", 1, 1)); resp.ErrorCode != 0 {
		t.Fatalf("enabling share.version: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	if code := shareHB(); code == kerr.UnsupportedVersion.Code {
		t.Error("share heartbeat still refused after share.version 1")
	}
}
