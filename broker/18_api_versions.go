package broker

// ApiVersions, key 18, versions 0–4.
//
//   - v0–v2: the table of served keys and versions.
//   - v3+: flexible request (client software name and version, accepted and
//     logged at debug) and response; supported and finalized features:
//     transaction.version 2 (transactions v2, KIP-890 part 2; see
//     transactionVersion), from which Java 4.x and franz-go choose the
//     transaction protocol; group.version 1 (the KIP-848 consumer group
//     protocol) whenever ConsumerGroupHeartbeat is served, as Kafka 4.x.
//   - An unsupported version is answered at v0 with UNSUPPORTED_VERSION and
//     the full table, as Kafka does, so the client can pick a version.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

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
		feature := func(name string, level int16) {
			sf := kmsg.NewApiVersionsResponseSupportedFeature()
			sf.Name, sf.MinVersion, sf.MaxVersion = name, 0, level
			resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
			ff := kmsg.NewApiVersionsResponseFinalizedFeature()
			ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = name, level, level
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
			resp.FinalizedFeaturesEpoch = 1
		}
		if tv := b.transactionVersion(); tv > 0 {
			feature("transaction.version", tv)
		}
		if _, _, ok := b.versionRange(68); ok {
			feature("group.version", 1) // KIP-848's consumer protocol is on
		}
	}
	return respond(resp)
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
