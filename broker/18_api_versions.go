package broker

// ApiVersions, key 18, versions 0–5.
//
//   - v0–v2: the table of served keys and versions.
//   - v3+: flexible request (client software name and version, accepted and
//     logged at debug) and response; supported features, finalized
//     features and their epoch (features.go: Kafka 4.4's seven features,
//     as far as this broker serves them; finalized levels as UpdateFeatures
//     left them). Java 4.x and franz-go choose the transaction protocol
//     from transaction.version.
//   - v5 (KIP-1242): ClusterID and NodeID, which a client sets to the
//     cluster and broker it believes it is talking to. A ClusterID without
//     a NodeID (-1) is INVALID_REQUEST; both set and either differs from
//     this broker's: REBOOTSTRAP_REQUIRED, so a client routed to the wrong
//     broker or cluster rebootstraps; a NodeID without a ClusterID is not
//     checked (a real 4.4 broker probed answers so). Those errors carry no
//     keys and no features, epoch -1, as Kafka's. A cluster node that has
//     not yet replayed its metadata log (just restarted) does not know the
//     cluster's id: it waits for it as other requests wait for readiness,
//     and never answers REBOOTSTRAP_REQUIRED for an id it cannot compare
//     (it did, with its local id: a Java 4.x client that rebootstraps then
//     drops all its connections inside one poll and can wedge on an
//     IllegalStateException, as Kafka Streams did in CI).
//   - An unsupported version is answered at v0 with UNSUPPORTED_VERSION and
//     the full table, as Kafka does, so the client can pick a version.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/metadata"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleApiVersions(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ApiVersionsRequest)
	resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
	if !req.Parsed {
		resp.SetVersion(0)
		resp.ErrorCode = kerr.UnsupportedVersion.Code
	} else if r.Version >= 3 && (!validClientSoftware(r.ClientSoftwareName) || !validClientSoftware(r.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
	} else if r.Version >= 3 {
		b.noteClientSoftware(req, r.ClientSoftwareName, r.ClientSoftwareVersion)
	}
	if req.Parsed && r.Version >= 5 && r.ClusterID != nil {
		switch {
		case r.NodeID < 0:
			resp.ErrorCode = kerr.InvalidRequest.Code
			return respond(resp)
		case r.NodeID != b.cfg.NodeID:
			resp.ErrorCode = kerr.RebootstrapRequired.Code
			return respond(resp)
		}
		if id, known := b.knownClusterID(ctx); known && *r.ClusterID != id {
			resp.ErrorCode = kerr.RebootstrapRequired.Code
			return respond(resp)
		}
	}
	resp.ApiKeys = make([]kmsg.ApiVersionsResponseApiKey, 0, len(apiTable))
	for _, a := range apiTable {
		lo, hi, ok := b.versionRange(a.key)
		if !ok {
			continue
		}
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, lo, hi
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	if req.Parsed && r.Version >= 3 {
		b.addFeatures(resp)
	}
	return respond(resp)
}

// knownClusterID is the cluster's id for a KIP-1242 check: on a cluster
// node, the id the metadata log names, waited for (waitView, at most
// readyWait, as Handle waits for readiness) while the node replays its log
// after a restart; false when it is still unknown. A single node knows its
// own at once.
func (b *Broker) knownClusterID(ctx context.Context) (string, bool) {
	if b.raft == nil {
		return b.meta.clusterID(), true
	}
	ctx, cancel := context.WithTimeout(ctx, readyWait)
	defer cancel()
	_ = b.raft.waitView(ctx, func(v *metadata.View) bool { return v.ClusterID() != "" })
	id := b.raft.view().ClusterID()
	return id, id != ""
}

// addFeatures fills the supported and finalized features and their epoch.
func (b *Broker) addFeatures(resp *kmsg.ApiVersionsResponse) {
	for _, name := range featureOrder {
		if lo, hi, _ := b.supportedFeature(name); hi > 0 {
			sf := kmsg.NewApiVersionsResponseSupportedFeature()
			sf.Name, sf.MinVersion, sf.MaxVersion = name, lo, hi
			resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		}
	}
	for _, name := range finalizedOrder {
		if level := b.featureLevel(name); level > 0 {
			ff := kmsg.NewApiVersionsResponseFinalizedFeature()
			ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = name, level, level
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		}
	}
	resp.FinalizedFeaturesEpoch = b.finalizedFeaturesEpoch()
}

// validClientSoftware is Kafka's check on ApiVersions v3+ client software
// name and version: non-empty, letters, digits, '.', '-', starting and ending
// with a letter or digit.
func validClientSoftware(s string) bool {
	if s == "" {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	if !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}
