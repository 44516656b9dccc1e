package broker

// Wiring between the group coordinator's share groups (coordinator/share*.go)
// and the share-partition state (broker/share.Persister, implemented by the
// share coordinator).
//
// The coordinator does not import broker/share: it defines its own small
// interface, coordinator.ShareStates, which shareStates adapts here.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/moldau/moldau/broker/share"
	"github.com/moldau/moldau/coordinator"
)

// wireShareGroups gives the group coordinator the share-partition state
// (called where the coordinator is built, before serving): b.persister(),
// the wired Broker.sharePersister (tests) or else the share coordinator's
// (share_fetch_glue.go, share_state_persister.go).
func (b *Broker) wireShareGroups() {
	b.groups.SetShareStates(shareStates{b})
}

// errNoSharePersister: no share coordinator is wired in.
var errNoSharePersister = errors.New("broker: share coordinator not available")

// shareStates adapts the broker's share.Persister to coordinator.ShareStates,
// asking b.persister() at each call.
type shareStates struct{ b *Broker }

func (s shareStates) persister() (share.Persister, error) {
	if p := s.b.persister(); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("%w: %w", coordinator.ErrCoordinatorNotAvailable, errNoSharePersister)
}

func (s shareStates) Initialize(ctx context.Context, group string, topicID [16]byte, partition, stateEpoch int32, startOffset int64) error {
	p, err := s.persister()
	if err != nil {
		return err
	}
	return p.Initialize(ctx, share.Key{Group: group, TopicID: topicID, Partition: partition}, stateEpoch, startOffset)
}

func (s shareStates) Delete(ctx context.Context, group string, topicID [16]byte, partition int32) error {
	p, err := s.persister()
	if err != nil {
		return err
	}
	return p.Delete(ctx, share.Key{Group: group, TopicID: topicID, Partition: partition})
}

func (s shareStates) ReadSummary(ctx context.Context, group string, topicID [16]byte, partition int32) (coordinator.ShareStateSummary, error) {
	p, err := s.persister()
	if err != nil {
		return coordinator.ShareStateSummary{}, err
	}
	st, err := p.ReadSummary(ctx, share.Key{Group: group, TopicID: topicID, Partition: partition})
	if errors.Is(err, share.ErrUninitialized) {
		return coordinator.ShareStateSummary{}, coordinator.ErrShareStateNotFound
	}
	if err != nil {
		return coordinator.ShareStateSummary{}, err
	}
	return coordinator.ShareStateSummary{StartOffset: st.StartOffset, StateEpoch: st.StateEpoch, LeaderEpoch: st.LeaderEpoch,
		DeliveryCompleteCount: st.DeliveryCompleteCount}, nil
}

// shareGroupErrorCode maps an error of the share APIs to a Kafka code: the
// group coordinator's errors, the persister's, and a missing share
// coordinator.
func shareGroupErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, coordinator.ErrNotShareGroup):
		return kerr.GroupIDNotFound.Code
	case errors.Is(err, coordinator.ErrUnknownTopicOrPartition):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, errNoSharePersister), errors.Is(err, share.ErrCoordinatorNotAvailable), errors.Is(err, share.ErrNotCoordinator):
		// The share coordinator moved or is loading: the admin client
		// retries; the group coordinator has not moved.
		return kerr.CoordinatorNotAvailable.Code
	case errors.Is(err, share.ErrFencedStateEpoch):
		return kerr.FencedStateEpoch.Code
	case errors.Is(err, share.ErrFencedLeaderEpoch):
		return kerr.FencedLeaderEpoch.Code
	case errors.Is(err, share.ErrStorage):
		return kerr.UnknownServerError.Code
	}
	return groupErrorCode(err)
}

// shareGroupErrorMessage is the message sent with a code: Kafka's text where the
// coordinator gave one, else Kafka's default message for the code (as
// Kafka's Errors.message()).
func shareGroupErrorMessage(err error) *string {
	if err == nil {
		return nil
	}
	msg := kafkaMessage(err)
	if strings.HasPrefix(msg, "coordinator: ") || strings.HasPrefix(msg, "broker: ") || strings.HasPrefix(msg, "share: ") {
		if e := kerr.ErrorForCode(shareGroupErrorCode(err)); e != nil {
			if ke, ok := e.(*kerr.Error); ok {
				msg = ke.Description
			}
		}
	}
	return &msg
}
