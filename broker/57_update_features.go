package broker

// UpdateFeatures, key 57, versions 0–2 (KIP-584, KIP-778), single node and
// cluster. The finalized levels and their epoch are in features.go.
//
// Each update is checked as Kafka 4.4's FeatureControlManager checks it,
// with its messages (a real 4.4 broker was probed for them):
//   - the upgrade type: v0 has none (AllowDowngrade is ignored, as Kafka
//     4.x reads UpgradeType's default, UPGRADE); v1+: 1 upgrade, 2 safe
//     downgrade, 3 unsafe downgrade, anything else "The controller does
//     not support the given upgrade type.";
//   - a level below 0; a level outside the supported range ("Local
//     controller N only supports versions a-b"); an unknown feature ("Local
//     controller N does not support this feature.", or "Feature X not
//     found." when disabling it);
//   - a downgrade with type UPGRADE, an upgrade with a downgrade type;
//   - metadata.version: every downgrade is refused ("Unsupported
//     metadata.version downgrade from a to b. ..."), safe or unsafe, as
//     Kafka refuses them once metadata has changed between the levels;
//   - Moldau's own refusals, in Kafka's INVALID_UPDATE_VERSION style, for
//     what it cannot turn off: transaction.version below 2 (it serves
//     transactions v2 only) and kraft.version other than its mode's.
//
// The first update with an error fails the whole request: top-level
// INVALID_UPDATE_VERSION with "The update failed for all features since the
// following feature had an error: ..." and no results (nothing is written).
// Otherwise, unless ValidateOnly (v1+), every level is written in one
// entity-store change with a new epoch (durable, replicated in a cluster)
// before the answer; v0–v1 list a result per feature (NONE, message
// "NONE", as Kafka); v2 has no results. A feature named twice takes its
// last level. CLUSTER ALTER is required (authorize.go): without it a
// top-level CLUSTER_AUTHORIZATION_FAILED.

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

// Upgrade types (FeatureUpdate.UpgradeType).
const (
	upgradeTypeUpgrade        int8 = 1
	upgradeTypeSafeDowngrade  int8 = 2
	upgradeTypeUnsafeDowngrad int8 = 3
)

func (b *Broker) handleUpdateFeatures(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.UpdateFeaturesRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.UpdateFeaturesResponse)
		type update struct {
			level int16
			typ   int8
		}
		updates := map[string]update{}
		var order []string
		for _, u := range r.FeatureUpdates {
			typ := u.UpgradeType
			if r.Version == 0 {
				typ = upgradeTypeUpgrade
			}
			if _, ok := updates[u.Feature]; !ok {
				order = append(order, u.Feature)
			}
			updates[u.Feature] = update{u.MaxVersionLevel, typ}
		}
		featureMu.Lock()
		defer featureMu.Unlock()
		for _, name := range order {
			u := updates[name]
			if msg := b.checkFeatureUpdate(name, u.level, u.typ); msg != "" {
				resp.ErrorCode = kerr.InvalidUpdateVersion.Code
				resp.ErrorMessage = kmsg.StringPtr("The update failed for all features since the following feature had an error: " + msg)
				return resp
			}
		}
		if !r.ValidateOnly && len(order) > 0 {
			value := featureValue{epoch: b.finalizedFeaturesEpoch() + 1}
			put := make([]Entity, 0, len(order))
			for _, name := range order {
				value.level = updates[name].level
				put = append(put, Entity{Key: name, Value: value.encode()})
			}
			if err := b.entities.Apply(ctx, entityFeature, put, nil); err != nil {
				b.logger.Warn("UpdateFeatures: storing the feature levels failed", "err", err)
				resp.ErrorCode = errorCode(err)
				if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
					resp.ErrorCode = kerr.RequestTimedOut.Code
				}
				resp.ErrorMessage = kmsg.StringPtr(err.Error())
				return resp
			}
			b.logger.Info("finalized features updated", "features", order, "epoch", value.epoch)
		}
		if r.Version <= 1 {
			for _, name := range order {
				res := kmsg.NewUpdateFeaturesResponseResult()
				res.Feature, res.ErrorMessage = name, kmsg.StringPtr("NONE")
				resp.Results = append(resp.Results, res)
			}
		}
		return resp
	}}
}

// checkFeatureUpdate is Kafka's refusal message for setting the feature
// name to level with upgrade type typ, "" when it may be done.
func (b *Broker) checkFeatureUpdate(name string, level int16, typ int8) string {
	invalid := func(format string, args ...any) string {
		return fmt.Sprintf("Invalid update version %d for feature %s. ", level, name) + fmt.Sprintf(format, args...)
	}
	if typ < upgradeTypeUpgrade || typ > upgradeTypeUnsafeDowngrad {
		return invalid("The controller does not support the given upgrade type.")
	}
	if level < 0 {
		return invalid("A feature version cannot be less than 0.")
	}
	lo, hi, known := b.supportedFeature(name)
	self := b.cfg.NodeID
	switch {
	case !known && level == 0:
		return invalid("Feature %s not found.", name)
	case !known:
		return invalid("Local controller %d does not support this feature.", self)
	case level < lo || level > hi:
		return invalid("Local controller %d only supports versions %d-%d", self, lo, hi)
	}
	current := b.featureLevel(name)
	switch {
	case level < current && typ == upgradeTypeUpgrade:
		return invalid("Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade.")
	case level > current && typ != upgradeTypeUpgrade:
		return invalid("Can't downgrade to a newer version.")
	}
	switch name {
	case featureMetadata:
		if level < current {
			why := "Refusing to perform the requested downgrade because it might delete metadata information."
			if typ == upgradeTypeUnsafeDowngrad {
				why = "Unsafe metadata downgrade is not supported in this version."
			}
			return fmt.Sprintf("Unsupported metadata.version downgrade from %d to %d. %s", current, level, why)
		}
	case featureTransaction:
		if level < current {
			return invalid("Moldau serves transactions v2 (KIP-890) only and cannot lower transaction.version below %d.", current)
		}
	case featureKRaft:
		if level != current {
			return invalid("Moldau's kraft.version is fixed by its mode (%d: %s).", current, map[bool]string{true: "a cluster with dynamic voters", false: "a single node without a quorum"}[b.raft != nil])
		}
	}
	return ""
}
