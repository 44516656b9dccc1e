package console

import (
	"context"
	"errors"
	"net/http"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/moldau/moldau/broker/serde"
	"github.com/moldau/moldau/broker/webclient"
)

// classify maps an error to the status and message API.md promises: 401
// for missing or refused credentials, 403 for the broker's authorization
// errors, 404 for unknown topics, groups and subjects, 409 for conflicts,
// 400 for requests the broker refuses as invalid, 503 when the broker or the
// registry cannot be reached.
func classify(err error) (int, string) {
	if he, ok := errors.AsType[*httpError](err); ok {
		return he.status, he.msg
	}
	msg := err.Error()
	switch {
	case errors.Is(err, webclient.ErrUnauthorized):
		return http.StatusUnauthorized, "credentials required or refused"
	case errors.Is(err, webclient.ErrBusy):
		return http.StatusTooManyRequests, "too many new logins at once; retry in a moment"
	case errors.Is(err, webclient.ErrClosed):
		return http.StatusServiceUnavailable, "the broker is stopping"
	}
	if _, ok := errors.AsType[*kadm.AuthError](err); ok {
		return http.StatusForbidden, msg
	}
	if re, ok := errors.AsType[*sr.ResponseError](err); ok {
		return registryStatus(re), re.Message
	}
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.TransactionalIDAuthorizationFailed),
		errors.Is(err, kerr.DelegationTokenAuthorizationFailed):
		return http.StatusForbidden, msg
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID),
		errors.Is(err, kerr.GroupIDNotFound), errors.Is(err, kerr.ResourceNotFound):
		return http.StatusNotFound, msg
	case errors.Is(err, kerr.TopicAlreadyExists), errors.Is(err, kerr.NonEmptyGroup),
		errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration),
		errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.StaleMemberEpoch):
		return http.StatusConflict, msg
	case errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.InvalidPartitions),
		errors.Is(err, kerr.InvalidReplicationFactor), errors.Is(err, kerr.InvalidConfig),
		errors.Is(err, kerr.InvalidRequest), errors.Is(err, kerr.InvalidReplicaAssignment),
		errors.Is(err, kerr.PolicyViolation), errors.Is(err, kerr.MessageTooLarge),
		errors.Is(err, kerr.RecordListTooLarge), errors.Is(err, kerr.InvalidRecord),
		errors.Is(err, kerr.InvalidGroupID), errors.Is(err, kerr.UnsupportedVersion),
		errors.Is(err, kerr.InvalidTimestamp):
		return http.StatusBadRequest, msg
	case errors.Is(err, serde.ErrSchemaNotFound), errors.Is(err, serde.ErrSubjectNotFound),
		errors.Is(err, serde.ErrInvalidSchema), errors.Is(err, serde.ErrInvalidData),
		errors.Is(err, serde.ErrNoRegistry):
		return http.StatusBadRequest, msg
	case errors.Is(err, serde.ErrIncompatible):
		return http.StatusConflict, msg
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "timed out waiting for the broker: " + msg
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		// A Kafka error not listed above: the broker answered, so the
		// request is what it refused.
		return http.StatusBadRequest, msg
	}
	return http.StatusServiceUnavailable, msg
}

// registryStatus maps a schema registry error answer to the console's
// statuses: the registry's own 4xx carry over (404 unknown subject or
// version, 409 incompatible, 422 invalid schema as 400), others are 503.
func registryStatus(re *sr.ResponseError) int {
	switch {
	case re.StatusCode == http.StatusNotFound, re.StatusCode == http.StatusConflict,
		re.StatusCode == http.StatusUnauthorized, re.StatusCode == http.StatusForbidden:
		if re.StatusCode == http.StatusUnauthorized {
			return http.StatusForbidden // the registry's auth is not the browser's to answer
		}
		return re.StatusCode
	case re.StatusCode == http.StatusUnprocessableEntity, re.StatusCode == http.StatusBadRequest:
		return http.StatusBadRequest
	}
	return http.StatusServiceUnavailable
}
