package restproxy

// Confluent REST Proxy API v2 (kafka-rest 7.x, resources/v2): topics,
// partitions, brokers, produce, and consumer instances (subscriptions,
// assignments, positions, records, offsets).
//
// Media types. Answers are application/vnd.kafka.v2+json (records:
// application/vnd.kafka.{binary,json,avro,protobuf,jsonschema}.v2+json, by
// the Accept header, binary when Accept names no embedded format). A
// request body's Content-Type names the embedded format on produce
// (application/vnd.kafka.v2+json: binary, as kafka-rest's v2 TopicsResource
// took it); elsewhere any of the v2 types, application/vnd.kafka+json,
// application/json or none. Another Content-Type answers 415, an Accept that
// admits none of the answer's types 406 (kafka-rest leaves both to JAX-RS:
// error_code is the status).
//
// Errors are kafka-rest's Errors.java and rest-utils' KafkaExceptionMapper
// codes: 40401 topic, 40402 partition, 40403 consumer instance not found,
// 40601 consumer format mismatch, 40902 instance exists, 40903 illegal
// state (subscribe after assign and the like), 42201/42202 key/value schema
// missing, 42203 conversion failed, 42204 invalid consumer configuration,
// 42205 invalid schema, 40101/40301 authentication/authorization, 50002
// Kafka error, 50003 retriable Kafka error.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/webclient"
)

// The v2 media types.
const (
	v2MediaType      = "application/vnd.kafka.v2+json"
	v2DefaultJSON    = "application/vnd.kafka+json"
	v2InstanceIdle   = 300 * time.Second // consumer.instance.timeout.ms default
	v2RequestTimeout = 1000              // consumer.request.timeout.ms default (ms)
	v2MaxBodyBytes   = 64 << 20
	// v2RequestMaxBytes is consumer.request.max.bytes' default: the most
	// key and value bytes one records answer holds.
	v2RequestMaxBytes = 64 << 20
	// v2AnswerMargin is the time a records answer may take to decode and
	// write after its wait.
	v2AnswerMargin = 30 * time.Second
)

// Embedded formats (EmbeddedFormat in kafka-rest), lower case as they
// appear in media types and in a consumer's "format".
const (
	fmtBinary     = "binary"
	fmtJSON       = "json"
	fmtAvro       = "avro"
	fmtProtobuf   = "protobuf"
	fmtJSONSchema = "jsonschema"
)

// Sentinel errors of the v2 API.
var (
	errV2InstanceNotFound = errors.New("restproxy: consumer instance not found")
	errV2IllegalState     = errors.New("restproxy: illegal state")
)

// v2State holds the v2 consumer instances and the per-principal producer
// clients. mu guards instances, producers and closed; each instance has
// its own lock for its operations.
type v2State struct {
	s         *Server
	mu        sync.Mutex
	instances map[v2InstanceKey]*consumerInstance
	producers map[*webclient.Client]*v2Producer
	closed    bool
	// idle is consumer.instance.timeout.ms: an instance unused this long
	// is closed by the sweeper.
	idle time.Duration
	stop chan struct{}
	done chan struct{}
}

type v2InstanceKey struct{ group, name string }

// close ends the sweeper, every consumer instance and producer.
func (v *v2State) close() {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.closed = true
	insts := v.instances
	prods := v.producers
	v.instances = nil
	v.producers = nil
	v.mu.Unlock()
	close(v.stop)
	<-v.done
	for _, in := range insts {
		in.close()
	}
	for _, p := range prods {
		p.kc.Close()
	}
}

// registerV2 adds the v2 API's routes.
func (s *Server) registerV2(mux *http.ServeMux) *v2State {
	idle := s.cfg.ConsumerInstanceTimeout
	if idle <= 0 {
		idle = v2InstanceIdle
	}
	v := &v2State{
		s:         s,
		instances: map[v2InstanceKey]*consumerInstance{},
		producers: map[*webclient.Client]*v2Producer{},
		idle:      idle,
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	go v.sweep()

	mux.HandleFunc("GET /topics", v.listTopics)
	mux.HandleFunc("GET /topics/{topic}", v.getTopic)
	mux.HandleFunc("POST /topics/{topic}", v.produceToTopic)
	mux.HandleFunc("GET /topics/{topic}/partitions", v.listPartitions)
	mux.HandleFunc("GET /topics/{topic}/partitions/{partition}", v.getPartition)
	mux.HandleFunc("POST /topics/{topic}/partitions/{partition}", v.produceToPartition)
	mux.HandleFunc("GET /topics/{topic}/partitions/{partition}/offsets", v.partitionOffsets)
	mux.HandleFunc("GET /brokers", v.listBrokers)

	const inst = "/consumers/{group}/instances/{instance}"
	mux.HandleFunc("POST /consumers/{group}", v.createInstance)
	mux.HandleFunc("DELETE "+inst, v.deleteInstance)
	mux.HandleFunc("POST "+inst+"/subscription", v.subscribe)
	mux.HandleFunc("GET "+inst+"/subscription", v.subscription)
	mux.HandleFunc("DELETE "+inst+"/subscription", v.unsubscribe)
	mux.HandleFunc("POST "+inst+"/assignments", v.assign)
	mux.HandleFunc("GET "+inst+"/assignments", v.assignments)
	mux.HandleFunc("POST "+inst+"/positions", v.seek)
	mux.HandleFunc("POST "+inst+"/positions/beginning", v.seekToBeginning)
	mux.HandleFunc("POST "+inst+"/positions/end", v.seekToEnd)
	mux.HandleFunc("GET "+inst+"/records", v.records)
	mux.HandleFunc("POST "+inst+"/offsets", v.commitOffsets)
	mux.HandleFunc("GET "+inst+"/offsets", v.committedOffsets)
	return v
}

// sweep closes idle consumer instances and producers.
func (v *v2State) sweep() {
	defer close(v.done)
	for {
		v.mu.Lock()
		every := min(max(v.idle/10, 50*time.Millisecond), 30*time.Second)
		v.mu.Unlock()
		select {
		case <-v.stop:
			return
		case <-time.After(every):
		}
		now := time.Now()
		var expired []*consumerInstance
		var idleProducers []*v2Producer
		v.mu.Lock()
		for k, in := range v.instances {
			if now.Sub(in.lastUsed()) > v.idle {
				expired = append(expired, in)
				delete(v.instances, k)
			}
		}
		for k, p := range v.producers {
			if now.Sub(p.lastUsed()) > v2ProducerIdle {
				idleProducers = append(idleProducers, p)
				delete(v.producers, k)
			}
		}
		v.mu.Unlock()
		for _, in := range expired {
			v.s.log.Info("restproxy: v2 consumer instance expired", "group", in.group, "instance", in.name)
			in.close()
		}
		for _, p := range idleProducers {
			p.kc.Close()
		}
	}
}

// client authenticates r and returns its principal's pooled client; on
// failure it has answered (401, or 500 when the broker is unreachable).
func (v *v2State) client(w http.ResponseWriter, r *http.Request) (*webclient.Client, bool) {
	c, err := v.s.cfg.Clients.Client(r)
	switch {
	case err == nil:
		return c, true
	case errors.Is(err, webclient.ErrUnauthorized):
		webclient.Unauthorized(w, `{"error_code":40101,"message":"Authentication failed"}`)
	case errors.Is(err, webclient.ErrBusy):
		tooManyLogins(w)
	case errors.Is(err, webclient.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, 50302, "restproxy: the broker is stopping")
	default:
		writeError(w, http.StatusInternalServerError, 50002, "Kafka error: "+err.Error())
	}
	return nil, false
}

// newConsumerClient builds a Kafka client of its own for r's principal
// (a consumer instance's), with the pool's options for that principal
// (seed brokers, TLS, SASL with r's credentials, client id) and opts after
// them. The caller closes it.
func (s *Server) newConsumerClient(r *http.Request, opts ...kgo.Opt) (*kgo.Client, error) {
	base, err := s.cfg.Clients.Client(r)
	if err != nil {
		return nil, err
	}
	kc, err := kgo.NewClient(append(base.Kgo.Opts(), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("restproxy: %w", err)
	}
	return kc, nil
}

// mediaTypes parses an Accept or Content-Type list into bare media types
// (lower case, parameters dropped; q=0 entries left out).
func mediaTypes(h string) []string {
	var out []string
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok && (q == "0" || q == "0.0" || q == "0.00" || q == "0.000") {
			continue
		}
		out = append(out, strings.ToLower(mt))
	}
	return out
}

// embeddedFormat returns the format named by a v2 embedded media type
// ("application/vnd.kafka.json.v2+json": json), "" for others.
func embeddedFormat(mt string) string {
	rest, ok := strings.CutPrefix(mt, "application/vnd.kafka.")
	if !ok {
		return ""
	}
	f, ok := strings.CutSuffix(rest, ".v2+json")
	if !ok {
		return ""
	}
	switch f {
	case fmtBinary, fmtJSON, fmtAvro, fmtProtobuf, fmtJSONSchema:
		return f
	}
	return ""
}

// acceptsV2 reports whether r's Accept admits a v2 JSON answer (also the
// embedded types when embedded: kafka-rest's consumer resources produce
// them all at a low weight).
func acceptsV2(r *http.Request, embedded bool) bool {
	h := r.Header.Values("Accept")
	if len(h) == 0 {
		return true
	}
	types := mediaTypes(strings.Join(h, ","))
	if len(types) == 0 {
		return true
	}
	for _, mt := range types {
		switch mt {
		case "*/*", "application/*", v2MediaType, v2DefaultJSON, "application/json":
			return true
		}
		if embedded && embeddedFormat(mt) != "" {
			return true
		}
	}
	return false
}

// checkAccept answers 406 when r's Accept admits no v2 answer.
func checkAccept(w http.ResponseWriter, r *http.Request, embedded bool) bool {
	if acceptsV2(r, embedded) {
		return true
	}
	writeError(w, http.StatusNotAcceptable, 0, "HTTP 406 Not Acceptable")
	return false
}

// checkContentType answers 415 unless r's body is one of the v2 JSON
// types (or untyped).
func checkContentType(w http.ResponseWriter, r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	mt = strings.ToLower(mt)
	if err == nil {
		switch mt {
		case v2MediaType, v2DefaultJSON, "application/json":
			return true
		}
		if embeddedFormat(mt) != "" {
			return true
		}
	}
	writeError(w, http.StatusUnsupportedMediaType, 0, "HTTP 415 Unsupported Media Type")
	return false
}

// v2MaxConsumerBodyBytes bounds the body of a v2 consumer request (an
// instance's settings, a subscription, partitions, offsets): 1 MiB holds
// some 30000 partitions, and a bigger list would cost tens of bytes of
// decoded form and consumer state for each of its bytes.
const v2MaxConsumerBodyBytes = 1 << 20

// readBodyBytes reads r's body, at most limit bytes; on failure it has
// answered (413 when larger).
func readBodyBytes(w http.ResponseWriter, r *http.Request, limit int) ([]byte, bool) {
	data, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, 0, "Bad Request: reading the body failed")
		return nil, false
	}
	if len(data) > limit {
		writeError(w, http.StatusRequestEntityTooLarge, 0, fmt.Sprintf("Request Entity Too Large: the body may not exceed %d bytes.", limit))
		return nil, false
	}
	return data, true
}

// decodeV2Body decodes a v2 request body into dst: present false for an
// empty (or blank) body; 400 for malformed JSON (Jackson's parse errors in
// kafka-rest), 422 for JSON of the wrong shape.
func decodeV2Body(data []byte, dst any) (present bool, ae *apiError) {
	if len(bytes.TrimSpace(data)) == 0 {
		return false, nil
	}
	if err := json.Unmarshal(data, dst); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return true, &apiError{http.StatusBadRequest, http.StatusBadRequest, "JSON parse error: " + err.Error()}
		}
		return true, &apiError{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, "Unprocessable entity: " + jsonErrorDetail(err)}
	}
	return true, nil
}

// writeV2 writes a v2 answer (application/vnd.kafka.v2+json).
func writeV2(w http.ResponseWriter, status int, v any) {
	writeV2As(w, status, v2MediaType, v)
}

func writeV2As(w http.ResponseWriter, status int, mediaType string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, 0, "restproxy: encoding the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// kafkaErrorCode maps a Kafka error to kafka-rest's error code and HTTP
// status (rest-utils' KafkaExceptionMapper).
func kafkaErrorCode(err error) (status, code int) {
	var ke *kerr.Error
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return http.StatusNotFound, 40401
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, webclient.ErrUnauthorized):
		return http.StatusUnauthorized, 40101
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return http.StatusForbidden, 40301
	case errors.As(err, &ke) && ke.Retriable:
		return http.StatusInternalServerError, 50003
	}
	return http.StatusInternalServerError, 50002
}

// writeKafkaError answers a Kafka error as kafka-rest does.
func writeKafkaError(w http.ResponseWriter, err error) {
	status, code := kafkaErrorCode(err)
	msg := "Kafka error: " + err.Error()
	if code == 50003 {
		msg = "Retriable Kafka error: " + err.Error()
	}
	writeError(w, status, code, msg)
}
