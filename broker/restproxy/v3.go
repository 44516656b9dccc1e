package restproxy

// Shared pieces of the v3 API: the principal's client, the cluster id
// check, Confluent's resource envelope ("kind", "metadata" with "self" and
// "resource_name") with URLs built from the request's Host, and the
// mapping of Kafka errors to kafka-rest's status and error codes.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/moldau/moldau/broker/webclient"
)

// kafka-rest's error codes (rest-utils KafkaExceptionMapper and
// kafka-rest's Errors).
const (
	codeKafkaBadRequest      = 40002
	codeKafkaAuthentication  = 40101
	codeKafkaAuthorization   = 40301
	codePartitionNotFound    = 40402
	codeUnknownTopicOrPart   = 40403
	codeInvalidSchema        = 42205
	codeInvalidPayload       = 42206
	codeSerialization        = 42207
	codeKafkaError           = 50002
	codeKafkaRetriable       = 50003
	codeBrokerNotAvailable   = 50302
	msgUnknownTopicPartition = "This server does not host this topic-partition."
	msgHTTPNotFound          = "HTTP 404 Not Found"
)

// v3Timeout bounds one admin call.
const v3Timeout = 30 * time.Second

// apiError is an answer to give instead of a result: status, Confluent
// error code and message.
type apiError struct {
	status, code int
	msg          string
}

func (e *apiError) Error() string { return fmt.Sprintf("restproxy: %d %d %s", e.status, e.code, e.msg) }

func notFound(msg string) *apiError { return &apiError{http.StatusNotFound, http.StatusNotFound, msg} }

func badRequest(detail string) *apiError {
	return &apiError{http.StatusBadRequest, http.StatusBadRequest, "Bad Request: " + detail}
}

func invalidPayload(detail string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, codeInvalidPayload, "Payload error. " + detail}
}

// kafkaError maps a Kafka client error as rest-utils' KafkaExceptionMapper
// does; msg overrides the message when the broker gave one.
func kafkaError(err error, msg string) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return &apiError{http.StatusInternalServerError, codeKafkaRetriable, "Timed out waiting for the broker: " + err.Error()}
		case errors.Is(err, webclient.ErrClosed):
			return &apiError{http.StatusServiceUnavailable, codeBrokerNotAvailable, "The proxy is shutting down."}
		}
		return &apiError{http.StatusInternalServerError, codeKafkaError, "Kafka error: " + err.Error()}
	}
	if msg == "" {
		msg = ke.Description
	}
	switch ke {
	case kerr.UnknownTopicOrPartition:
		return &apiError{http.StatusNotFound, codeUnknownTopicOrPart, msgUnknownTopicPartition}
	case kerr.SaslAuthenticationFailed:
		return &apiError{http.StatusUnauthorized, codeKafkaAuthentication, msg}
	case kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed,
		kerr.TransactionalIDAuthorizationFailed, kerr.DelegationTokenAuthorizationFailed:
		return &apiError{http.StatusForbidden, codeKafkaAuthorization, msg}
	case kerr.BrokerNotAvailable:
		return &apiError{http.StatusServiceUnavailable, codeBrokerNotAvailable, msg}
	case kerr.InvalidReplicationFactor, kerr.SecurityDisabled, kerr.UnsupportedVersion, kerr.InvalidPartitions,
		kerr.InvalidRequest, kerr.UnknownServerError, kerr.PolicyViolation, kerr.TopicAlreadyExists,
		kerr.InvalidConfig, kerr.InvalidTopicException, kerr.InvalidReplicaAssignment:
		return &apiError{http.StatusBadRequest, codeKafkaBadRequest, msg}
	}
	if ke.Retriable {
		return &apiError{http.StatusInternalServerError, codeKafkaRetriable, msg}
	}
	return &apiError{http.StatusInternalServerError, codeKafkaError, msg}
}

// fail writes err as Confluent's error answer.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := kafkaError(err, "")
	if ae.status >= 500 {
		s.log.Warn("restproxy: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, ae.status, ae.code, ae.msg)
}

// v3Request is one v3 request with its principal's client, the cluster it
// names (checked) and the base URL for links.
type v3Request struct {
	ctx     context.Context
	client  *webclient.Client
	cluster string
	base    string // scheme://host
}

// begin gets r's client and checks the {cluster_id} path value against
// the broker's cluster id; on failure it has answered and returns nil.
func (s *Server) begin(w http.ResponseWriter, r *http.Request) (*v3Request, context.CancelFunc) {
	c, ok := s.client(w, r)
	if !ok {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), v3Timeout)
	meta, err := c.Admin.BrokerMetadata(ctx)
	if err != nil {
		cancel()
		s.fail(w, r, err)
		return nil, nil
	}
	want := r.PathValue("cluster_id")
	if want != "" && want != meta.Cluster {
		cancel()
		writeError(w, http.StatusNotFound, 0, fmt.Sprintf("Cluster %s cannot be found.", want))
		return nil, nil
	}
	return &v3Request{ctx: ctx, client: c, cluster: meta.Cluster, base: baseURL(r)}, cancel
}

// client gets the client of r's principal, answering 401 or 503 itself.
func (s *Server) client(w http.ResponseWriter, r *http.Request) (*webclient.Client, bool) {
	c, err := s.cfg.Clients.Client(r)
	switch {
	case err == nil:
		return c, true
	case errors.Is(err, webclient.ErrUnauthorized):
		if _, _, has := r.BasicAuth(); has {
			webclient.Unauthorized(w, `{"error_code":40101,"message":"Authentication failed"}`)
		} else {
			webclient.Unauthorized(w, `{"error_code":401,"message":"Unauthorized"}`)
		}
	case errors.Is(err, webclient.ErrBusy):
		tooManyLogins(w)
	case errors.Is(err, webclient.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, codeBrokerNotAvailable, "The proxy is shutting down.")
	default:
		s.log.Warn("restproxy: no client", "err", err)
		writeError(w, http.StatusServiceUnavailable, codeBrokerNotAvailable, "Broker not available: "+err.Error())
	}
	return nil, false
}

// baseURL is the scheme and host the client used (kafka-rest's UrlFactory
// builds links from the request's base URI).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// url builds base/v3/clusters/<cluster>/<segments...>, each escaped.
func (q *v3Request) url(segments ...string) string {
	var b strings.Builder
	b.WriteString(q.base)
	b.WriteString("/v3/clusters/")
	b.WriteString(url.PathEscape(q.cluster))
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// crn builds kafka-rest's resource name: crn:///kafka=<cluster>/type=id...;
// an odd trailing component stands alone (".../lag-summary").
func (q *v3Request) crn(components ...string) string {
	var b strings.Builder
	b.WriteString("crn:///kafka=")
	b.WriteString(q.cluster)
	for i := 0; i < len(components); i += 2 {
		b.WriteByte('/')
		b.WriteString(components[i])
		if i+1 < len(components) {
			b.WriteByte('=')
			b.WriteString(components[i+1])
		}
	}
	return b.String()
}

// resourceMeta is a resource's "metadata".
type resourceMeta struct {
	Self         string `json:"self"`
	ResourceName string `json:"resource_name"`
}

// listMeta is a collection's "metadata".
type listMeta struct {
	Self string  `json:"self"`
	Next *string `json:"next"`
}

// relationship is a link to a related resource.
type relationship struct {
	Related string `json:"related"`
}

// list is a collection answer: {"kind":"KafkaXList","metadata":...,"data":[...]}.
type list[T any] struct {
	Kind     string   `json:"kind"`
	Metadata listMeta `json:"metadata"`
	Data     []T      `json:"data"`
}

func newList[T any](kind, self string, data []T) list[T] {
	if data == nil {
		data = []T{}
	}
	return list[T]{Kind: kind, Metadata: listMeta{Self: self}, Data: data}
}
