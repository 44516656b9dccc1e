package restproxy

// v2 topics, partitions and brokers (TopicsResource, PartitionsResource,
// BrokersResource) and produce (ProduceToTopicAction,
// ProduceToPartitionAction).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/serde"
	"github.com/moldau/moldau/broker/webclient"
)

// v2ProducerIdle closes a principal's producer unused this long.
const v2ProducerIdle = 5 * time.Minute

// v2Partition is kafka-rest's v2 Partition entity.
type v2Partition struct {
	Partition int32       `json:"partition"`
	Leader    int32       `json:"leader"`
	Replicas  []v2Replica `json:"replicas"`
}

type v2Replica struct {
	Broker int32 `json:"broker"`
	Leader bool  `json:"leader"`
	InSync bool  `json:"in_sync"`
}

// v2Topic is kafka-rest's v2 Topic entity.
type v2Topic struct {
	Name       string             `json:"name"`
	Configs    map[string]*string `json:"configs"`
	Partitions []v2Partition      `json:"partitions"`
}

func (v *v2State) listTopics(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, false) {
		return
	}
	c, ok := v.client(w, r)
	if !ok {
		return
	}
	tds, err := c.Admin.ListTopics(r.Context())
	if err != nil {
		writeKafkaError(w, err)
		return
	}
	names := []string{}
	for name, td := range tds {
		if td.Err == nil && !td.IsInternal {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	writeV2(w, http.StatusOK, names)
}

// topicDetail describes one topic; on failure it has answered (40401
// when the topic does not exist).
func (v *v2State) topicDetail(w http.ResponseWriter, r *http.Request, c *webclient.Client, topic string) (kadm.TopicDetail, bool) {
	tds, err := c.Admin.ListTopics(r.Context(), topic)
	if err != nil {
		writeKafkaError(w, err)
		return kadm.TopicDetail{}, false
	}
	td, ok := tds[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		writeError(w, http.StatusNotFound, 40401, "Topic not found.")
		return td, false
	}
	if td.Err != nil {
		writeKafkaError(w, td.Err)
		return td, false
	}
	return td, true
}

func toV2Partition(p kadm.PartitionDetail) v2Partition {
	out := v2Partition{Partition: p.Partition, Leader: p.Leader, Replicas: []v2Replica{}}
	for _, b := range p.Replicas {
		out.Replicas = append(out.Replicas, v2Replica{Broker: b, Leader: b == p.Leader, InSync: slices.Contains(p.ISR, b)})
	}
	return out
}

func sortedPartitions(td kadm.TopicDetail) []v2Partition {
	out := []v2Partition{}
	for _, p := range td.Partitions.Sorted() {
		out = append(out, toV2Partition(p))
	}
	return out
}

func (v *v2State) getTopic(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, false) {
		return
	}
	c, ok := v.client(w, r)
	if !ok {
		return
	}
	topic := r.PathValue("topic")
	td, ok := v.topicDetail(w, r, c, topic)
	if !ok {
		return
	}
	rcs, err := c.Admin.DescribeTopicConfigs(r.Context(), topic)
	if err != nil {
		writeKafkaError(w, err)
		return
	}
	configs := map[string]*string{}
	if rc, err := rcs.On(topic, nil); err == nil && rc.Err == nil {
		for _, cfg := range rc.Configs {
			configs[cfg.Key] = cfg.Value
		}
	} else {
		if err == nil {
			err = rc.Err
		}
		writeKafkaError(w, err)
		return
	}
	writeV2(w, http.StatusOK, v2Topic{Name: topic, Configs: configs, Partitions: sortedPartitions(td)})
}

func (v *v2State) listPartitions(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, false) {
		return
	}
	c, ok := v.client(w, r)
	if !ok {
		return
	}
	td, ok := v.topicDetail(w, r, c, r.PathValue("topic"))
	if !ok {
		return
	}
	writeV2(w, http.StatusOK, sortedPartitions(td))
}

// partitionDetail looks up {topic}/{partition}; on failure it has
// answered (40401, 40402).
func (v *v2State) partitionDetail(w http.ResponseWriter, r *http.Request, c *webclient.Client) (kadm.PartitionDetail, bool) {
	td, ok := v.topicDetail(w, r, c, r.PathValue("topic"))
	if !ok {
		return kadm.PartitionDetail{}, false
	}
	p, err := strconv.ParseInt(r.PathValue("partition"), 10, 32)
	if err != nil {
		writeError(w, http.StatusNotFound, 0, "HTTP 404 Not Found")
		return kadm.PartitionDetail{}, false
	}
	pd, ok := td.Partitions[int32(p)]
	if !ok {
		writeError(w, http.StatusNotFound, 40402, "Partition not found.")
		return pd, false
	}
	return pd, true
}

func (v *v2State) getPartition(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, false) {
		return
	}
	c, ok := v.client(w, r)
	if !ok {
		return
	}
	pd, ok := v.partitionDetail(w, r, c)
	if !ok {
		return
	}
	writeV2(w, http.StatusOK, toV2Partition(pd))
}

// partitionOffsets answers {"beginning_offset","end_offset"}
// (PartitionsResource's GET .../offsets).
func (v *v2State) partitionOffsets(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, false) {
		return
	}
	c, ok := v.client(w, r)
	if !ok {
		return
	}
	pd, ok := v.partitionDetail(w, r, c)
	if !ok {
		return
	}
	topic := r.PathValue("topic")
	start, err := c.Admin.ListStartOffsets(r.Context(), topic)
	if err != nil {
		writeKafkaError(w, err)
		return
	}
	end, err := c.Admin.ListEndOffsets(r.Context(), topic)
	if err != nil {
		writeKafkaError(w, err)
		return
	}
	so, ok1 := start.Lookup(topic, pd.Partition)
	eo, ok2 := end.Lookup(topic, pd.Partition)
	for _, e := range []error{so.Err, eo.Err} {
		if e != nil {
			writeKafkaError(w, e)
			return
		}
	}
	if !ok1 || !ok2 {
		writeError(w, http.StatusNotFound, 40402, "Partition not found.")
		return
	}
	writeV2(w, http.StatusOK, map[string]int64{"beginning_offset": so.Offset, "end_offset": eo.Offset})
}

func (v *v2State) listBrokers(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, false) {
		return
	}
	c, ok := v.client(w, r)
	if !ok {
		return
	}
	md, err := c.Admin.BrokerMetadata(r.Context())
	if err != nil {
		writeKafkaError(w, err)
		return
	}
	ids := []int32{}
	for _, b := range md.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	writeV2(w, http.StatusOK, map[string][]int32{"brokers": ids})
}

// --- produce ---

// v2ProduceRequest is kafka-rest's v2 ProduceRequest (topic or
// partition; records' partition is ignored on the partition path).
type v2ProduceRequest struct {
	KeySchema     *string           `json:"key_schema"`
	KeySchemaID   *int              `json:"key_schema_id"`
	ValueSchema   *string           `json:"value_schema"`
	ValueSchemaID *int              `json:"value_schema_id"`
	Records       []v2ProduceRecord `json:"records"`
}

type v2ProduceRecord struct {
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	Partition *int32          `json:"partition"`
}

// v2PartitionOffset is one record's result.
type v2PartitionOffset struct {
	Partition *int32  `json:"partition"`
	Offset    *int64  `json:"offset"`
	ErrorCode *int    `json:"error_code"`
	Error     *string `json:"error"`
}

type v2ProduceResponse struct {
	KeySchemaID   *int                `json:"key_schema_id"`
	ValueSchemaID *int                `json:"value_schema_id"`
	Offsets       []v2PartitionOffset `json:"offsets"`
}

// v2Producer is a principal's producer: the pool's options with the
// manual partitioner, so a record's "partition" is honoured.
type v2Producer struct {
	kc   *kgo.Client
	mu   sync.Mutex
	used time.Time
}

func (p *v2Producer) lastUsed() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// producer returns c's principal's producer, creating it on first use.
func (v *v2State) producer(c *webclient.Client) (*kgo.Client, error) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil, webclient.ErrClosed
	}
	if p, ok := v.producers[c]; ok {
		p.mu.Lock()
		p.used = time.Now()
		p.mu.Unlock()
		v.mu.Unlock()
		return p.kc, nil
	}
	v.mu.Unlock()
	kc, err := kgo.NewClient(append(c.Kgo.Opts(), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		kc.Close()
		return nil, webclient.ErrClosed
	}
	if p, ok := v.producers[c]; ok { // raced
		kc.Close()
		return p.kc, nil
	}
	v.producers[c] = &v2Producer{kc: kc, used: time.Now()}
	return kc, nil
}

// produceFormat returns the embedded format a produce request's
// Content-Type names; "" when unsupported (answered 415).
func produceFormat(w http.ResponseWriter, r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil {
		mt = strings.ToLower(mt)
		if mt == v2MediaType {
			return fmtBinary
		}
		if f := embeddedFormat(mt); f != "" {
			return f
		}
	}
	writeError(w, http.StatusUnsupportedMediaType, 0, "HTTP 415 Unsupported Media Type")
	return ""
}

func (v *v2State) produceToTopic(w http.ResponseWriter, r *http.Request) {
	v.produce(w, r, -1)
}

func (v *v2State) produceToPartition(w http.ResponseWriter, r *http.Request) {
	p, err := strconv.ParseInt(r.PathValue("partition"), 10, 32)
	if err != nil || p < 0 {
		writeError(w, http.StatusNotFound, 40402, "Partition not found.")
		return
	}
	v.produce(w, r, int32(p))
}

// produce serves both produce paths; partition -1: the topic's (records
// choose, or the key's hash, as Kafka's default partitioner).
func (v *v2State) produce(w http.ResponseWriter, r *http.Request, partition int32) {
	if !checkAccept(w, r, false) {
		return
	}
	format := produceFormat(w, r)
	if format == "" {
		return
	}
	schemaBacked := format == fmtAvro || format == fmtProtobuf || format == fmtJSONSchema
	if schemaBacked && v.s.cfg.Serde == nil {
		writeError(w, http.StatusUnsupportedMediaType, 0, "HTTP 415 Unsupported Media Type: the schema registry is off")
		return
	}
	data, ok := readBodyBytes(w, r, v2MaxBodyBytes)
	if !ok {
		return
	}
	req, keys, values, ae := parseV2Produce(format, data)
	if ae != nil {
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	c, ok := v.client(w, r)
	if !ok {
		return
	}
	topic := r.PathValue("topic")
	td, ok := v.topicDetail(w, r, c, topic)
	if !ok {
		return
	}
	if partition >= 0 {
		if _, ok := td.Partitions[partition]; !ok {
			writeError(w, http.StatusNotFound, 40402, "Partition not found.")
			return
		}
	}

	var resp v2ProduceResponse
	if schemaBacked {
		if !v.encodeSchemaRecords(w, r, format, topic, &req, &resp, keys, values) {
			return
		}
	}

	kc, err := v.producer(c)
	if err != nil {
		writeKafkaError(w, err)
		return
	}
	n := len(td.Partitions)
	tp := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	resp.Offsets = make([]v2PartitionOffset, len(req.Records))
	var toSend []*kgo.Record
	// ProduceSync's results come in completion order, not the records'
	// (records to different partitions complete apart): each is mapped
	// back to its request record through the record it carries.
	pos := make(map[*kgo.Record]int, len(req.Records))
	for i, rec := range req.Records {
		kr := &kgo.Record{Topic: topic, Key: keys[i], Value: values[i]}
		switch {
		case partition >= 0:
			kr.Partition = partition
		case rec.Partition != nil:
			kr.Partition = *rec.Partition
			if _, ok := td.Partitions[kr.Partition]; !ok {
				code, msg := 40402, "Partition not found."
				resp.Offsets[i] = v2PartitionOffset{ErrorCode: &code, Error: &msg}
				continue
			}
		default:
			kr.Partition = int32(tp.Partition(kr, n))
		}
		toSend = append(toSend, kr)
		pos[kr] = i
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	for _, res := range kc.ProduceSync(ctx, toSend...) {
		i := pos[res.Record]
		if res.Err != nil {
			_, code := kafkaErrorCode(res.Err)
			msg := res.Err.Error()
			resp.Offsets[i] = v2PartitionOffset{ErrorCode: &code, Error: &msg}
			continue
		}
		p, o := res.Record.Partition, res.Record.Offset
		resp.Offsets[i] = v2PartitionOffset{Partition: &p, Offset: &o}
	}
	writeV2(w, http.StatusOK, resp)
}

// parseV2Produce decodes a v2 produce body of the given embedded format:
// binary and json keys and values are encoded here; schema-backed ones
// (avro, protobuf, jsonschema) only checked to have their schema, keys and
// values left nil for encodeSchemaRecords. On failure the answer is
// kafka-rest's: 400 malformed JSON, 422 wrong shape or no records, 42201
// and 42202 a key or value without its schema, 42203 a key or value that
// is not of the format.
func parseV2Produce(format string, data []byte) (req v2ProduceRequest, keys, values [][]byte, ae *apiError) {
	if n := countV2Records(data, v2MaxRecords); n > v2MaxRecords {
		return req, nil, nil, &apiError{http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("Request Entity Too Large: a produce request may hold at most %d records.", v2MaxRecords)}
	}
	present, ae := decodeV2Body(data, &req)
	if ae != nil {
		return req, nil, nil, ae
	}
	if !present || len(req.Records) == 0 {
		return req, nil, nil, &apiError{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, "records may not be empty"}
	}
	keys = make([][]byte, len(req.Records))
	values = make([][]byte, len(req.Records))
	switch format {
	case fmtAvro, fmtProtobuf, fmtJSONSchema:
		for _, rec := range req.Records {
			if !isNullJSON(rec.Key) && req.KeySchema == nil && req.KeySchemaID == nil {
				return req, nil, nil, &apiError{http.StatusUnprocessableEntity, 42201, "Request includes keys but does not include key schema"}
			}
			if !isNullJSON(rec.Value) && req.ValueSchema == nil && req.ValueSchemaID == nil {
				return req, nil, nil, &apiError{http.StatusUnprocessableEntity, 42202, "Request includes values but does not include value schema"}
			}
		}
		return req, keys, values, nil
	}
	for i, rec := range req.Records {
		var err error
		if keys[i], err = encodePlain(format, rec.Key); err == nil {
			values[i], err = encodePlain(format, rec.Value)
		}
		if err != nil {
			return req, nil, nil, &apiError{http.StatusUnprocessableEntity, 42203, "Conversion of JSON to Object failed: " + err.Error()}
		}
	}
	return req, keys, values, nil
}

// v2MaxRecords bounds the records of one v2 produce request. A request is
// held whole (kafka-rest's too): each record costs some 400 bytes of
// decoded form, Kafka record and result beyond its JSON, so 64 MiB of
// tiny records ({"value":"YQ=="}, 17 bytes: 3.9 million) would take
// gigabytes. kafka-rest sets no such bound; 100000 records of any size up
// to the body's 64 MiB keep one request within some 100 MB.
const v2MaxRecords = 100000

// countV2Records counts the records of a v2 produce body without decoding
// them (each is skipped as raw JSON, garbage at once), stopping past limit;
// 0 for a body that is not an object with a records array (decoding it
// says what is wrong).
func countV2Records(data []byte, limit int) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0
	}
	most := 0
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return most
		}
		// encoding/json matches keys regardless of case ("RECORDS"
		// fills Records too).
		if name, _ := key.(string); !strings.EqualFold(name, "records") {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return most
			}
			continue
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			if tok == json.Delim('{') {
				return most // an object: decoding refuses it
			}
			continue
		}
		n := 0
		for dec.More() && n <= limit {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return most
			}
			n++
		}
		if most = max(most, n); n > limit {
			return n
		}
		if _, err := dec.Token(); err != nil {
			return most
		}
	}
	return most
}

// encodePlain turns a binary (base64) or json record key or value into
// bytes; JSON null is Kafka's null.
func encodePlain(format string, raw json.RawMessage) ([]byte, error) {
	if isNullJSON(raw) {
		return nil, nil
	}
	if format == fmtBinary {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errors.New("restproxy: binary data must be a base64 string")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, errors.New("restproxy: binary data is not valid base64: " + err.Error())
		}
		if b == nil {
			b = []byte{}
		}
		return b, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func isNullJSON(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// encodeSchemaRecords encodes keys and values with the request's schemas
// through the schema registry (subjects {topic}-key and {topic}-value);
// on failure it has answered.
func (v *v2State) encodeSchemaRecords(w http.ResponseWriter, r *http.Request, format, topic string,
	req *v2ProduceRequest, resp *v2ProduceResponse, keys, values [][]byte) bool {
	sf := map[string]serde.Format{fmtAvro: serde.FormatAvro, fmtProtobuf: serde.FormatProtobuf, fmtJSONSchema: serde.FormatJSONSchema}[format]
	spec := func(schema *string, id *int, subject string) serde.Spec {
		if id != nil {
			return serde.Spec{Format: sf, ID: *id}
		}
		if schema != nil {
			return serde.Spec{Format: sf, Subject: subject, Schema: *schema}
		}
		return serde.Spec{}
	}
	keySpec := spec(req.KeySchema, req.KeySchemaID, topic+"-key")
	valueSpec := spec(req.ValueSchema, req.ValueSchemaID, topic+"-value")
	for i, rec := range req.Records {
		for _, kv := range []struct {
			raw  json.RawMessage
			spec serde.Spec
			out  *[]byte
			id   **int
		}{{rec.Key, keySpec, &keys[i], &resp.KeySchemaID}, {rec.Value, valueSpec, &values[i], &resp.ValueSchemaID}} {
			if isNullJSON(kv.raw) {
				continue
			}
			data, id, err := v2Encode(r.Context(), v.s.cfg.Serde, kv.spec, kv.raw)
			if err != nil {
				writeSerdeError(w, err)
				return false
			}
			*kv.out = data
			*kv.id = &id
		}
	}
	// A schema given but no record using it still answers its id, as
	// kafka-rest registers or looks it up before serializing.
	for _, s := range []struct {
		spec serde.Spec
		id   **int
	}{{keySpec, &resp.KeySchemaID}, {valueSpec, &resp.ValueSchemaID}} {
		if *s.id == nil && s.spec.ID != 0 {
			id := s.spec.ID
			*s.id = &id
		}
	}
	return true
}

// writeSerdeError answers a schema registry encoding failure.
func writeSerdeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, serde.ErrInvalidSchema):
		writeError(w, http.StatusUnprocessableEntity, 42205, "Invalid schema: "+err.Error())
	case errors.Is(err, serde.ErrInvalidData):
		writeError(w, http.StatusUnprocessableEntity, 42203, "Conversion of JSON to Object failed: "+err.Error())
	case errors.Is(err, serde.ErrSchemaNotFound), errors.Is(err, serde.ErrSubjectNotFound):
		writeError(w, http.StatusNotFound, 40403, "Schema not found: "+err.Error())
	case errors.Is(err, serde.ErrIncompatible):
		writeError(w, http.StatusConflict, 409, "Schema being registered is incompatible with an earlier schema: "+err.Error())
	case errors.Is(err, serde.ErrNoRegistry):
		writeError(w, http.StatusUnsupportedMediaType, 0, "HTTP 415 Unsupported Media Type: the schema registry is off")
	default:
		writeError(w, http.StatusInternalServerError, 50002, "restproxy: schema registry: "+err.Error())
	}
}
