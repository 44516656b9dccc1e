package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/moldau/moldau/broker/config"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/txn"
)

// errorCode maps an internal error to the Kafka error code sent on the wire.
// This is the one place where Moldau's errors become kerr codes.
func errorCode(err error) int16 {
	var ice *config.InvalidConfigError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errCorruptMessage):
		return kerr.CorruptMessage.Code
	case errors.Is(err, errInvalidRecord):
		return kerr.InvalidRecord.Code
	case errors.Is(err, errMessageTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, errInvalidTimestamp):
		return kerr.InvalidTimestamp.Code
	case errors.Is(err, errTransactional):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, txn.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, txn.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, txn.ErrProducerFenced):
		return kerr.ProducerFenced.Code
	case errors.Is(err, plog.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, plog.ErrClosed), errors.Is(err, errPartitionClosed), errors.Is(err, errNotLeader):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, errFencedLeaderEpoch):
		return kerr.FencedLeaderEpoch.Code
	case errors.Is(err, errUnknownLeaderEpoch):
		return kerr.UnknownLeaderEpoch.Code
	case errors.Is(err, config.ErrUnknownConfig), errors.As(err, &ice):
		return kerr.InvalidConfig.Code
	case errors.Is(err, errInFlight), errors.Is(err, errNotEnoughReplicas):
		return kerr.NotEnoughReplicas.Code
	case errors.Is(err, errNotEnoughReplicasAfterAppend):
		return kerr.NotEnoughReplicasAfterAppend.Code
	case errors.Is(err, errReplicationTimeout), errors.Is(err, errMetadataTimeout):
		return kerr.RequestTimedOut.Code
	case errors.Is(err, errNoController), errors.Is(err, errClosing):
		return kerr.NotController.Code
	default:
		return kerr.KafkaStorageError.Code
	}
}

func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
