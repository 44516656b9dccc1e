package restproxy

// v3 produce: POST /v3/clusters/{cluster_id}/topics/{topic_name}/records
// (kafka-rest's ProduceAction). The body is one JSON ProduceRequest or
// several concatenated (streaming mode); the answer is 200 with one
// ProduceResponse per record, in order, each written and flushed as its
// record is acknowledged (kafka-rest separates them with "\r\n"). A
// record that fails carries {"error_code":N,"message":...} instead; the
// stream goes on. Before streaming: an unknown cluster or topic answers
// 404 and an empty body 422 (42206).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/moldau/moldau/broker/serde"
)

// maxInFlight bounds the records of one stream awaiting acknowledgement.
const maxInFlight = 1024

type produceRequest struct {
	PartitionID *int32          `json:"partition_id"`
	Headers     []produceHeader `json:"headers"`
	Key         *produceData    `json:"key"`
	Value       *produceData    `json:"value"`
	Timestamp   *time.Time      `json:"timestamp"`
}

type produceHeader struct {
	Name  string `json:"name"`
	Value []byte `json:"value"` // base64 in JSON; null: a null header value
}

type produceData struct {
	Type                *string         `json:"type"`
	Subject             *string         `json:"subject"`
	SubjectNameStrategy *string         `json:"subject_name_strategy"`
	SchemaID            *int            `json:"schema_id"`
	SchemaVersion       *int            `json:"schema_version"`
	Schema              *string         `json:"schema"`
	Data                json.RawMessage `json:"data"`
}

type produceResponseData struct {
	Type          *string `json:"type"`
	Subject       *string `json:"subject,omitempty"`
	SchemaID      *int    `json:"schema_id,omitempty"`
	SchemaVersion *int    `json:"schema_version,omitempty"`
	Size          int     `json:"size"`
}

type produceResponse struct {
	ErrorCode   int                  `json:"error_code"`
	Message     string               `json:"message,omitempty"`
	ClusterID   string               `json:"cluster_id,omitempty"`
	TopicName   string               `json:"topic_name,omitempty"`
	PartitionID *int32               `json:"partition_id,omitempty"`
	Offset      *int64               `json:"offset,omitempty"`
	Timestamp   string               `json:"timestamp,omitempty"`
	Key         *produceResponseData `json:"key,omitempty"`
	Value       *produceResponseData `json:"value,omitempty"`
}

func errorResult(e *apiError) produceResponse {
	return produceResponse{ErrorCode: e.code, Message: e.msg}
}

// instant formats t as Java's Instant.toString does (UTC, fraction only
// when non-zero, in groups of three digits).
func instant(t time.Time) string {
	t = t.UTC()
	switch {
	case t.Nanosecond() == 0:
		return t.Format("2006-01-02T15:04:05Z")
	case t.Nanosecond()%1e6 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case t.Nanosecond()%1e3 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	}
	return t.Format("2006-01-02T15:04:05.000000000Z")
}

func (s *Server) produceRecords(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	topic := r.PathValue("topic_name")
	t, err := q.topic(topic)
	cancel()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	partitions := len(t.Partitions)

	// The server's ReadTimeout and WriteTimeout count from the request's
	// start; a stream lives as long as records come: each record read
	// and each answer written moves its deadline (an error: the
	// ResponseWriter has no connection deadlines, as in tests).
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(streamIdle))
	stream := newProduceStream(r.Body)
	first, firstErr := stream.next()
	if errors.Is(firstErr, io.EOF) {
		e := invalidPayload("Request body is empty. Data is required.")
		writeError(w, e.status, e.code, e.msg)
		return
	}
	// Read the body while answering (HTTP/1.1 needs it said).
	_ = rc.EnableFullDuplex()
	// A stream that ends before its body (malformed JSON, a record too
	// large) leaves body unread. With full duplex, net/http's own close of
	// it after the handler can start its background read of the
	// connection after it stopped the last one, and the next request on
	// the connection panics with "invalid concurrent Body.Read call"
	// (golang/go#68560). Closed here, inside the handler, the body is
	// read to its end if little is left (the connection is kept) or
	// marked closed early (the connection is closed), as net/http does
	// for handlers that are not full duplex.
	defer r.Body.Close()

	ctx := r.Context()
	results := make(chan chan produceResponse, maxInFlight)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Header().Set("Content-Type", "application/json")
		_ = rc.SetWriteDeadline(time.Now().Add(streamIdle))
		w.WriteHeader(http.StatusOK)
		broken := false
		for ch := range results {
			res := <-ch
			if broken {
				continue
			}
			data, _ := json.Marshal(res)
			_ = rc.SetWriteDeadline(time.Now().Add(streamIdle))
			if _, err := w.Write(append(data, '\r', '\n')); err != nil {
				broken = true
				continue
			}
			if err := rc.Flush(); err != nil {
				broken = true
			}
		}
	}()
	defer func() {
		close(results)
		<-done
	}()

	req, err := first, firstErr
	for {
		ch := make(chan produceResponse, 1)
		results <- ch
		var re *recordError
		switch {
		case errors.As(err, &re):
			// A well-formed record of the wrong shape: the decoder
			// has passed it, the stream goes on.
			ch <- errorResult(re.apiError)
		case err != nil:
			// Malformed JSON, a record too large, a broken
			// connection: the stream cannot go on (the decoder
			// returns the same error for ever).
			ch <- streamError(err)
			return
		default:
			s.produceOne(ctx, q, topic, partitions, req, ch)
		}
		_ = rc.SetReadDeadline(time.Now().Add(streamIdle))
		req, err = stream.next()
		if errors.Is(err, io.EOF) {
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// produceStream reads the records of a v3 produce body: one JSON
// ProduceRequest, or several concatenated (whitespace between them or
// not), each at most maxRecordBytes of JSON. It holds at most one record
// (and the decoder's read-ahead) in memory, whatever the body's length.
type produceStream struct {
	body *recordLimitReader
	dec  *json.Decoder
}

func newProduceStream(r io.Reader) *produceStream {
	body := &recordLimitReader{r: r}
	return &produceStream{body: body, dec: json.NewDecoder(body)}
}

// recordError is a record the stream read whole but cannot produce (a
// field of the wrong type, a timestamp that is not ISO 8601, a header
// value that is not base64, a record that is not a JSON object): it is
// answered with the error, and the stream goes on.
type recordError struct{ *apiError }

// next decodes the next record. io.EOF: the body ended (an empty body's
// first call). A *recordError: this record is refused, the stream goes
// on. Any other error: the stream cannot go on; streamError answers it.
func (p *produceStream) next() (produceRequest, error) {
	p.body.next()
	var req *produceRequest
	err := p.dec.Decode(&req)
	var syn *json.SyntaxError
	switch {
	case err == nil && req == nil:
		return produceRequest{}, &recordError{badRequest("a record must be a JSON object, not null.")}
	case err == nil:
		return *req, nil
	case p.body.err != nil && !errors.Is(p.body.err, io.EOF):
		// The body itself failed (too large, the connection broke):
		// what the decoder made of the bytes it had does not matter.
		return produceRequest{}, p.body.err
	case errors.Is(err, io.EOF):
		return produceRequest{}, io.EOF
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return produceRequest{}, err
	}
	// The decoder read the record whole (json.Decoder reads a value
	// before it unmarshals it): only its contents are wrong.
	return produceRequest{}, &recordError{badRequest(jsonErrorDetail(err))}
}

// jsonErrorDetail describes a JSON value that does not fit the request's
// shape in the request's terms (the field's JSON path and the JSON type it
// takes) rather than encoding/json's, which names Go types.
func jsonErrorDetail(err error) string {
	var te *json.UnmarshalTypeError
	var ce base64.CorruptInputError
	var pe *time.ParseError
	switch {
	case errors.As(err, &te):
		where := "the request"
		if te.Field != "" {
			where = te.Field
		}
		return fmt.Sprintf("%s: %s found, %s expected.", where, te.Value, jsonKind(te.Type))
	case errors.As(err, &ce):
		return fmt.Sprintf("a value is not base64 (illegal data at byte %d).", int64(ce))
	case errors.As(err, &pe):
		return fmt.Sprintf("%q is not an ISO 8601 timestamp (2006-01-02T15:04:05Z).", pe.Value)
	}
	return err.Error()
}

// jsonKind names the JSON a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return fmt.Sprintf("an integer that fits %s", t.Kind())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Struct:
		if t == reflect.TypeFor[time.Time]() {
			return "an ISO 8601 timestamp string"
		}
		return "an object"
	case reflect.Map:
		return "an object"
	}
	return "another value"
}

// streamIdle is how long a streaming produce waits for its next record,
// and for the client to take an answer.
const streamIdle = 60 * time.Second

// maxRecordBytes bounds one produce record's JSON (a record of Kafka's
// default message.max.bytes, 1 MiB, as base64 in JSON is about 1.4 MiB).
const maxRecordBytes = 8 << 20

// errRecordTooLarge is a produce record over maxRecordBytes.
var errRecordTooLarge = errors.New("restproxy: record too large")

// recordLimitReader fails once more than maxRecordBytes were read since
// the last call of next (the start of the record being decoded; the
// decoder's read-ahead of the next record counts towards it too).
type recordLimitReader struct {
	r   io.Reader
	n   int64
	err error // the first error Read returned (io.EOF at the body's end)
}

func (l *recordLimitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.n >= maxRecordBytes {
		l.err = errRecordTooLarge
		return 0, l.err
	}
	if rest := maxRecordBytes - l.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	l.err = err
	return n, err
}

func (l *recordLimitReader) next() { l.n = 0 }

// streamError is the answer to a stream that cannot be read on.
func streamError(err error) produceResponse {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF):
		return produceResponse{ErrorCode: http.StatusBadRequest, Message: "Error processing JSON: " + err.Error()}
	case errors.Is(err, errRecordTooLarge):
		return produceResponse{ErrorCode: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("Request Entity Too Large: a record may not exceed %d bytes of JSON.", maxRecordBytes)}
	}
	return produceResponse{ErrorCode: http.StatusBadRequest, Message: "Bad Request: reading the request: " + err.Error()}
}

// produceOne encodes one record and produces it; its result arrives on ch.
func (s *Server) produceOne(ctx context.Context, q *v3Request, topic string, partitions int, req produceRequest, ch chan<- produceResponse) {
	if req.PartitionID != nil && (*req.PartitionID < 0 || int(*req.PartitionID) >= partitions) {
		ch <- produceResponse{ErrorCode: codePartitionNotFound, Message: "Partition not found."}
		return
	}
	key, keyInfo, aerr := s.encodeData(ctx, topic, req.Key, true)
	if aerr != nil {
		ch <- errorResult(aerr)
		return
	}
	value, valueInfo, aerr := s.encodeData(ctx, topic, req.Value, false)
	if aerr != nil {
		ch <- errorResult(aerr)
		return
	}
	rec := &kgo.Record{Topic: topic, Key: key, Value: value, Context: ctx}
	if req.Timestamp != nil {
		rec.Timestamp = *req.Timestamp
	} else {
		rec.Timestamp = time.Now()
	}
	for _, h := range req.Headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Name, Value: h.Value})
	}
	if req.PartitionID != nil {
		rec.Context = withPartition(ctx, *req.PartitionID)
	}
	want := req.PartitionID
	q.client.Kgo.Produce(ctx, rec, func(r *kgo.Record, err error) {
		if err != nil {
			ch <- errorResult(kafkaError(err, ""))
			return
		}
		if want != nil && r.Partition != *want {
			ch <- produceResponse{ErrorCode: http.StatusInternalServerError,
				Message: fmt.Sprintf("Internal Server Error: partition_id %d was not honoured (the proxy's Kafka clients lack restproxy.Partitioner); the record went to partition %d", *want, r.Partition)}
			return
		}
		p, off := r.Partition, r.Offset
		ch <- produceResponse{
			ErrorCode:   http.StatusOK,
			ClusterID:   q.cluster,
			TopicName:   topic,
			PartitionID: &p,
			Offset:      &off,
			Timestamp:   instant(r.Timestamp),
			Key:         sized(keyInfo, r.Key),
			Value:       sized(valueInfo, r.Value),
		}
	})
}

// sized fills in the serialized size (-1 for null, as Kafka's
// RecordMetadata says).
func sized(info *produceResponseData, b []byte) *produceResponseData {
	if info == nil {
		return nil
	}
	info.Size = len(b)
	if b == nil {
		info.Size = -1
	}
	return info
}

func isNull(data json.RawMessage) bool {
	return len(data) == 0 || string(data) == "null"
}

// encodeData turns a key or value of a produce request into bytes.
func (s *Server) encodeData(ctx context.Context, topic string, d *produceData, isKey bool) ([]byte, *produceResponseData, *apiError) {
	if d == nil {
		return nil, nil, nil
	}
	typ := ""
	if d.Type != nil {
		typ = strings.ToUpper(*d.Type)
	}
	schemaFields := d.Subject != nil || d.SubjectNameStrategy != nil || d.SchemaID != nil || d.SchemaVersion != nil || d.Schema != nil
	switch typ {
	case "BINARY", "JSON", "STRING":
		if schemaFields {
			return nil, nil, badRequest(fmt.Sprintf("%s does not support schemas: subject, subject_name_strategy, schema_id, schema_version and schema must be absent.", typ))
		}
		b, err := encodeSchemaless(typ, d.Data)
		if err != nil {
			return nil, nil, err
		}
		return b, &produceResponseData{Type: &typ}, nil
	case "", string(serde.FormatAvro), string(serde.FormatProtobuf), string(serde.FormatJSONSchema):
		return s.encodeWithSchema(ctx, topic, typ, d, isKey)
	}
	return nil, nil, badRequest(fmt.Sprintf("type %q is not one of BINARY, JSON, STRING, AVRO, PROTOBUF, JSONSCHEMA.", *d.Type))
}

// excerpt is the start of a request's JSON for an error message (a record
// may be megabytes long).
func excerpt(data json.RawMessage) string {
	const n = 64
	if len(data) <= n {
		return string(data)
	}
	return strings.ToValidUTF8(string(data[:n]), "") + "..."
}

func encodeSchemaless(typ string, data json.RawMessage) ([]byte, *apiError) {
	if isNull(data) {
		return nil, nil
	}
	switch typ {
	case "BINARY":
		var text string
		if err := json.Unmarshal(data, &text); err != nil {
			return nil, badRequest(fmt.Sprintf("data=%s is not a base64 string.", excerpt(data)))
		}
		b, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return nil, badRequest(fmt.Sprintf("data=%s is not a base64 string.", excerpt(data)))
		}
		return b, nil
	case "STRING":
		var text string
		if err := json.Unmarshal(data, &text); err != nil {
			return nil, badRequest(fmt.Sprintf("data=%s is not a string.", excerpt(data)))
		}
		return []byte(text), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, badRequest("data is not JSON: " + err.Error())
	}
	return buf.Bytes(), nil
}

// encodeWithSchema encodes a schema-registry-backed key or value, as
// kafka-rest's SchemaManager chooses the schema: a raw "schema" (with
// its type), else schema_id, else schema_version of the subject, else the
// subject's latest; the subject is "subject", or from
// subject_name_strategy (TOPIC_NAME by default: <topic>-key, <topic>-value).
func (s *Server) encodeWithSchema(ctx context.Context, topic, typ string, d *produceData, isKey bool) ([]byte, *produceResponseData, *apiError) {
	switch {
	case d.SchemaID != nil && d.SchemaVersion != nil:
		return nil, nil, badRequest("schema_id and schema_version cannot both be set.")
	case d.Schema != nil && (d.SchemaID != nil || d.SchemaVersion != nil):
		return nil, nil, badRequest("schema cannot be set with schema_id or schema_version.")
	case d.Subject != nil && d.SubjectNameStrategy != nil:
		return nil, nil, badRequest("subject and subject_name_strategy cannot both be set.")
	case d.Schema != nil && typ == "":
		return nil, nil, badRequest("type is required with schema.")
	case d.SchemaID != nil && *d.SchemaID <= 0:
		return nil, nil, badRequest(fmt.Sprintf("schema_id %d: schema ids start at 1.", *d.SchemaID))
	case d.SchemaVersion != nil && *d.SchemaVersion <= 0 && *d.SchemaVersion != -1:
		return nil, nil, badRequest(fmt.Sprintf("schema_version %d: versions start at 1 (-1: the latest).", *d.SchemaVersion))
	}
	subject := topic + "-value"
	if isKey {
		subject = topic + "-key"
	}
	if d.Subject != nil {
		subject = *d.Subject
	} else if d.SubjectNameStrategy != nil && !strings.EqualFold(*d.SubjectNameStrategy, "TOPIC_NAME") {
		return nil, nil, badRequest(fmt.Sprintf("subject_name_strategy %s is not supported (TOPIC_NAME is).", *d.SubjectNameStrategy))
	}
	if s.cfg.Serde == nil {
		return nil, nil, invalidPayload("Schema Registry must be configured when using schemas.")
	}
	spec := serde.Spec{Format: serde.Format(typ)}
	version := 0 // the schema's version under subject, when known
	switch {
	case d.Schema != nil:
		spec.Subject, spec.Schema = subject, *d.Schema
	case d.SchemaID != nil:
		spec.ID = *d.SchemaID
	case d.SchemaVersion != nil:
		spec.Subject, spec.Version = subject, *d.SchemaVersion
	default:
		spec.Subject, spec.Version = subject, -1
	}
	if d.Schema == nil && s.cfg.Registry != nil {
		// Learn the format (and version) as kafka-rest's SchemaManager does.
		if aerr := s.lookupSchema(ctx, &spec, &version); aerr != nil {
			return nil, nil, aerr
		}
		if typ != "" && string(spec.Format) != typ {
			return nil, nil, badRequest(fmt.Sprintf("type %s does not match the schema's type %s.", typ, spec.Format))
		}
	}
	if spec.Format == "" {
		return nil, nil, badRequest("type (AVRO, PROTOBUF or JSONSCHEMA) is required: the proxy has no schema registry client to learn it from.")
	}
	data := d.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	b, id, err := s.cfg.Serde.Encode(ctx, spec, data)
	if err != nil {
		return nil, nil, serdeError(err, spec)
	}
	format := string(spec.Format)
	info := &produceResponseData{Type: &format, Subject: &subject, SchemaID: &id}
	if version > 0 {
		info.SchemaVersion = &version
	}
	return b, info, nil
}

// lookupSchema resolves a schema named by id or by subject version
// (-1: latest) in the registry: spec gets its format (and, by version,
// its id), version its version under the subject.
func (s *Server) lookupSchema(ctx context.Context, spec *serde.Spec, version *int) *apiError {
	var (
		typ sr.SchemaType
		err error
	)
	if spec.ID > 0 {
		var sch sr.Schema
		sch, err = s.cfg.Registry.SchemaByID(ctx, spec.ID)
		typ = sch.Type
	} else {
		var ss sr.SubjectSchema
		ss, err = s.cfg.Registry.SchemaByVersion(ctx, spec.Subject, spec.Version)
		if err == nil {
			typ, *version = ss.Type, ss.Version
			spec.ID, spec.Subject, spec.Version = ss.ID, "", 0
		}
	}
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			err = fmt.Errorf("%w: %v", serde.ErrSchemaNotFound, err)
		}
		return serdeError(err, *spec)
	}
	switch typ {
	case sr.TypeAvro:
		spec.Format = serde.FormatAvro
	case sr.TypeProtobuf:
		spec.Format = serde.FormatProtobuf
	case sr.TypeJSON:
		spec.Format = serde.FormatJSONSchema
	default:
		return badRequest(fmt.Sprintf("schema type %v is not supported", typ))
	}
	return nil
}

// serdeError maps serde's sentinels to kafka-rest's answers.
func serdeError(err error, spec serde.Spec) *apiError {
	switch {
	case errors.Is(err, serde.ErrNoRegistry):
		return invalidPayload("Schema Registry must be configured when using schemas.")
	case errors.Is(err, serde.ErrSchemaNotFound) && spec.ID != 0:
		return &apiError{http.StatusUnprocessableEntity, codeSerialization, fmt.Sprintf("Error serializing message. Error when fetching schema by id. schemaId = %d\n%v", spec.ID, err)}
	case errors.Is(err, serde.ErrSchemaNotFound) || errors.Is(err, serde.ErrSubjectNotFound):
		if spec.Version > 0 {
			return badRequest(fmt.Sprintf("Schema does not exist for subject: %s, version: %d", spec.Subject, spec.Version))
		}
		return &apiError{http.StatusUnprocessableEntity, codeSerialization, fmt.Sprintf("Error serializing message. Error when fetching latest schema version. subject = %s\n%v", spec.Subject, err)}
	case errors.Is(err, serde.ErrInvalidSchema):
		return &apiError{http.StatusUnprocessableEntity, codeInvalidSchema, "Invalid schema: " + err.Error()}
	case errors.Is(err, serde.ErrInvalidData):
		return badRequest(err.Error())
	case errors.Is(err, serde.ErrIncompatible):
		return &apiError{http.StatusUnprocessableEntity, codeSerialization, "Error serializing message. " + err.Error()}
	}
	return &apiError{http.StatusInternalServerError, http.StatusInternalServerError, "Internal Server Error: " + err.Error()}
}
