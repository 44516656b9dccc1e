package console

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/serde"
	"github.com/moldau/moldau/broker/webclient"
)

// Message browser bounds (API.md).
const (
	defaultLimit   = 50
	maxLimit       = 500
	defaultMaxScan = 10000
	maxMaxScan     = 100000
	// browseDeadline bounds the fetching of one browse request: whatever
	// was read by then is answered.
	browseDeadline = 4 * time.Second
)

type header struct {
	Key         string  `json:"key"`
	Value       *string `json:"value"`
	ValueBase64 string  `json:"value_base64"`
}

type message struct {
	Partition     int32         `json:"partition"`
	Offset        int64         `json:"offset"`
	Timestamp     int64         `json:"timestamp"`
	TimestampType string        `json:"timestamp_type"`
	Key           serde.Decoded `json:"key"`
	Value         serde.Decoded `json:"value"`
	Headers       []header      `json:"headers"`
	Size          int           `json:"size"`
}

// browseQuery is a parsed GET .../messages query.
type browseQuery struct {
	partition int32 // -1: all
	start     string
	offset    int64
	timestamp int64
	limit     int
	key       string
	maxScan   int
}

func parseBrowseQuery(q url.Values) (browseQuery, error) {
	b := browseQuery{partition: -1, start: "latest", limit: defaultLimit, maxScan: defaultMaxScan}
	intParam := func(name string, lo, hi int64) (int64, bool, error) {
		s := q.Get(name)
		if s == "" {
			return 0, false, nil
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < lo || v > hi {
			return 0, false, badRequest("%s: an integer from %d to %d expected, got %q", name, lo, hi, s)
		}
		return v, true, nil
	}
	if v, ok, err := intParam("partition", -1, 1<<31-1); err != nil {
		return b, err
	} else if ok {
		b.partition = int32(v)
	}
	if s := q.Get("start"); s != "" {
		b.start = s
	}
	switch b.start {
	case "latest", "earliest":
	case "offset":
		v, ok, err := intParam("offset", 0, 1<<63-1)
		if err != nil {
			return b, err
		}
		if !ok {
			return b, badRequest("start=offset needs offset")
		}
		b.offset = v
	case "timestamp":
		v, ok, err := intParam("timestamp", 0, 1<<63-1)
		if err != nil {
			return b, err
		}
		if !ok {
			return b, badRequest("start=timestamp needs timestamp (Unix milliseconds)")
		}
		b.timestamp = v
	default:
		return b, badRequest(`start: "latest", "earliest", "offset" or "timestamp" expected, got %q`, b.start)
	}
	if v, ok, err := intParam("limit", 1, maxLimit); err != nil {
		return b, err
	} else if ok {
		b.limit = int(v)
	}
	if v, ok, err := intParam("max_scan", 1, maxMaxScan); err != nil {
		return b, err
	} else if ok {
		b.maxScan = int(v)
	}
	b.key = q.Get("key")
	return b, nil
}

// span is the offsets [from, to) to read of one partition.
type span struct{ from, to int64 }

// partitionScan is what a browse has read of one partition: matching
// records in offset order.
type partitionScan struct {
	start int64 // the log start offset
	span  span  // the offsets the last round read
	recs  []*kgo.Record
}

// latestRounds bounds how many times a "latest" browse reads further back
// in a partition whose newest offsets held fewer than limit records
// (transaction markers, compaction, an aborted transaction's records
// filtered by the key search).
const latestRounds = 6

func (s *Server) browseMessages(w http.ResponseWriter, r *http.Request) error {
	topic := r.PathValue("topic")
	q, err := parseBrowseQuery(r.URL.Query())
	if err != nil {
		return err
	}
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	_, td, err := topicMetadata(ctx, cl, topic)
	if err != nil {
		return err
	}
	var parts []int32
	if q.partition >= 0 {
		if _, ok := td.Partitions[q.partition]; !ok {
			return badRequest("topic %q has no partition %d", topic, q.partition)
		}
		parts = []int32{q.partition}
	} else {
		for p := range td.Partitions {
			parts = append(parts, p)
		}
		slices.Sort(parts)
	}
	starts, err := cl.Admin.ListStartOffsets(ctx, topic)
	if err != nil {
		return err
	}
	ends, err := cl.Admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	var at kadm.ListedOffsets
	if q.start == "timestamp" {
		if at, err = cl.Admin.ListOffsetsAfterMilli(ctx, q.timestamp, topic); err != nil {
			return err
		}
	}
	hws := map[string]int64{}
	scans := map[int32]*partitionScan{}
	perPartitionScan := max(int64(q.maxScan)/int64(len(parts)), 1)
	for _, p := range parts {
		so, okS := starts.Lookup(topic, p)
		eo, okE := ends.Lookup(topic, p)
		if !okS || !okE || so.Err != nil || eo.Err != nil {
			return errors.Join(errors.New("console: listing the partition's offsets failed"), so.Err, eo.Err)
		}
		start, end := so.Offset, eo.Offset
		hws[partitionKey(p)] = end
		var from int64
		switch q.start {
		case "latest":
			if q.key == "" {
				from = end - int64(q.limit)
			} else {
				from = end - perPartitionScan
			}
		case "earliest":
			from = start
		case "offset":
			from = q.offset
		case "timestamp":
			// No record at or after the timestamp (kadm answers the end
			// offset, a broker may answer -1): nothing to read.
			from = end
			if a, ok := at.Lookup(topic, p); ok && a.Err == nil && a.Offset >= 0 {
				from = a.Offset
			}
		}
		from = min(max(from, start), end)
		if from < end { // an empty range is never fetched: nothing to wait for
			scans[p] = &partitionScan{start: start, span: span{from, end}}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, browseDeadline)
	defer cancel()
	backward := q.start == "latest"
	scanned := 0
	pending := maps.Clone(scans)
	for round := 0; len(pending) > 0 && scanned < q.maxScan && ctx.Err() == nil; round++ {
		if err := s.scan(ctx, cl, topic, pending, q, backward, &scanned); err != nil {
			return err
		}
		// A "latest" browse without a key search that found fewer than
		// limit records in a partition's newest limit offsets reads the
		// offsets before them, twice as many each round.
		if !backward || q.key != "" || round+1 == latestRounds {
			break
		}
		next := map[int32]*partitionScan{}
		for p, ps := range pending {
			if len(ps.recs) < q.limit && ps.span.from > ps.start {
				width := (ps.span.to - ps.span.from) * 2
				ps.span = span{max(ps.start, ps.span.from-width), ps.span.from}
				next[p] = ps
			}
		}
		pending = next
	}
	var msgs []*kgo.Record
	for _, ps := range scans {
		msgs = append(msgs, ps.recs...)
	}
	slices.SortFunc(msgs, func(a, b *kgo.Record) int {
		c := cmp.Or(a.Timestamp.Compare(b.Timestamp), cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
		if len(parts) == 1 {
			c = cmp.Compare(a.Offset, b.Offset)
		}
		if backward {
			return -c
		}
		return c
	})
	if len(msgs) > q.limit {
		msgs = msgs[:q.limit]
	}
	out := make([]message, 0, len(msgs))
	for _, rec := range msgs {
		out = append(out, s.toMessage(ctx, rec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out, "scanned": scanned, "high_watermarks": hws})
	return nil
}

// scan reads each partition's span with a short-lived consumer of the
// principal's own options (its seeds, TLS and SASL): exact offsets, no
// group, read uncommitted (records of aborted and open transactions show,
// as in other Kafka UIs, and the high watermark is reachable), control
// records kept so a transaction marker at the end of a span is seen, and
// then dropped. It adds the records whose key matches to each partition's
// recs, keeping at most limit of them: the newest (backward, the span
// being before the records already read) or the oldest, the partition
// then done. It stops when every span is read, *scanned reached max_scan
// or ctx (the browse deadline) is done, and closes the consumer.
func (s *Server) scan(ctx context.Context, cl *webclient.Client, topic string, scans map[int32]*partitionScan, q browseQuery, backward bool, scanned *int) error {
	offsets := map[int32]kgo.Offset{}
	found := map[int32][]*kgo.Record{}
	for p, ps := range scans {
		offsets[p] = kgo.NewOffset().At(ps.span.from)
	}
	opts := append(slices.Clone(cl.Kgo.Opts()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	consumer, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer consumer.Close()
	defer func() {
		for p, recs := range found {
			ps := scans[p]
			if backward {
				recs = append(recs, ps.recs...)
				ps.recs = recs[max(0, len(recs)-q.limit):]
			} else {
				ps.recs = append(ps.recs, recs...)
			}
		}
	}()

	remaining := len(scans)
	done := map[int32]bool{}
	finish := func(p int32) {
		if !done[p] {
			done[p] = true
			remaining--
		}
	}
	for remaining > 0 && *scanned < q.maxScan {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil // the deadline: answer what was read
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			return fe.Err
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			ps, ok := scans[rec.Partition]
			if !ok || done[rec.Partition] || *scanned >= q.maxScan {
				return
			}
			if rec.Offset >= ps.span.to {
				finish(rec.Partition)
				return
			}
			if rec.Offset >= ps.span.to-1 {
				finish(rec.Partition)
			}
			if rec.Attrs.IsControl() {
				return
			}
			*scanned++
			if q.key != "" && !s.keyMatches(ctx, rec.Key, q.key) {
				return
			}
			recs := append(found[rec.Partition], rec)
			if backward && len(recs) > q.limit {
				recs = recs[1:] // only the newest limit can be answered
			}
			found[rec.Partition] = recs
			if !backward && len(ps.recs)+len(recs) >= q.limit {
				finish(rec.Partition) // the oldest limit are read
			}
		})
	}
	return nil
}

// keyMatches: the key's bytes as text contain k, or, for a key in the
// schema registry's wire format, its decoded JSON does.
func (s *Server) keyMatches(ctx context.Context, key []byte, k string) bool {
	if bytes.Contains(key, []byte(k)) {
		return true
	}
	if len(key) >= 5 && key[0] == 0 {
		d := s.cfg.Serde.Decode(ctx, key)
		return d.Format != "binary" && bytes.Contains(d.Value, []byte(k))
	}
	return false
}

func (s *Server) toMessage(ctx context.Context, rec *kgo.Record) message {
	m := message{Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp.UnixMilli(),
		TimestampType: "CreateTime", Key: s.cfg.Serde.Decode(ctx, rec.Key), Value: s.cfg.Serde.Decode(ctx, rec.Value),
		Headers: []header{}, Size: len(rec.Key) + len(rec.Value)}
	if rec.Attrs.TimestampType() == 1 {
		m.TimestampType = "LogAppendTime"
	}
	for _, h := range rec.Headers {
		hd := header{Key: h.Key, ValueBase64: base64.StdEncoding.EncodeToString(h.Value)}
		if h.Value != nil && utf8.Valid(h.Value) {
			v := string(h.Value)
			hd.Value = &v
		}
		m.Headers = append(m.Headers, hd)
		m.Size += len(h.Key) + len(h.Value)
	}
	return m
}

type produceRequest struct {
	Partition *int32  `json:"partition"`
	Key       *string `json:"key"`
	Value     *string `json:"value"`
	Headers   []struct {
		Key   string  `json:"key"`
		Value *string `json:"value"`
	} `json:"headers"`
	KeyFormat     string `json:"key_format"`
	ValueFormat   string `json:"value_format"`
	KeySchemaID   *int   `json:"key_schema_id"`
	ValueSchemaID *int   `json:"value_schema_id"`
}

// parseProduceRequest reads a produce body (API.md) and checks what it
// can without the broker: the partition (-1 or a number), headers' keys.
func parseProduceRequest(r *http.Request) (produceRequest, error) {
	var req produceRequest
	if err := decodeRequest(r, &req); err != nil {
		return req, err
	}
	if req.Partition != nil && *req.Partition < -1 {
		return req, badRequest("partition: -1 (any) or a partition number expected")
	}
	for _, h := range req.Headers {
		if h.Key == "" {
			return req, badRequest("a header needs a key")
		}
	}
	return req, nil
}

// plainField turns a produce request's key or value text into bytes for
// the formats that need no schema registry (string, json, base64); for
// avro, protobuf and jsonschema it checks the text is JSON and returns the
// serde format to encode it with (encodeField does). nil text is a null
// key or value.
func plainField(which, format string, text *string) ([]byte, serde.Format, error) {
	if text == nil {
		return nil, "", nil
	}
	var sf serde.Format
	switch strings.ToLower(format) {
	case "", "string":
		return []byte(*text), "", nil
	case "json":
		if !json.Valid([]byte(*text)) {
			return nil, "", badRequest("%s is not valid JSON", which)
		}
		return []byte(*text), "", nil
	case "base64", "binary":
		b, err := base64.StdEncoding.DecodeString(*text)
		if err != nil {
			return nil, "", badRequest("%s is not valid base64: %v", which, err)
		}
		return b, "", nil
	case "avro":
		sf = serde.FormatAvro
	case "protobuf":
		sf = serde.FormatProtobuf
	case "jsonschema":
		sf = serde.FormatJSONSchema
	default:
		return nil, "", badRequest("%s_format %q: string, json, base64, avro, protobuf or jsonschema expected", which, format)
	}
	if !json.Valid([]byte(*text)) {
		return nil, "", badRequest("%s: the %s format takes the value's JSON form, and this is not valid JSON", which, format)
	}
	return nil, sf, nil
}

// encodeField turns a produce request's key or value text into bytes by
// format (API.md); nil text is a null key or value.
func (s *Server) encodeField(ctx context.Context, topic, which, format string, text *string, schemaID *int) ([]byte, error) {
	b, sf, err := plainField(which, format, text)
	if err != nil || sf == "" {
		return b, err
	}
	spec := serde.Spec{Format: sf, Subject: topic + "-" + which, Version: -1}
	if schemaID != nil {
		spec = serde.Spec{Format: sf, ID: *schemaID}
	}
	b, _, err = s.cfg.Serde.Encode(ctx, spec, json.RawMessage(*text))
	if err != nil {
		return nil, &httpError{status: http.StatusBadRequest, msg: which + ": " + err.Error()}
	}
	return b, nil
}

func (s *Server) produceMessage(w http.ResponseWriter, r *http.Request) error {
	topic := r.PathValue("topic")
	req, err := parseProduceRequest(r)
	if err != nil {
		return err
	}
	partition := int32(-1)
	if req.Partition != nil {
		partition = *req.Partition
	}
	ctx := r.Context()
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	_, td, err := topicMetadata(ctx, cl, topic)
	if err != nil {
		return err
	}
	if partition >= 0 {
		if _, ok := td.Partitions[partition]; !ok {
			return badRequest("topic %q has no partition %d", topic, partition)
		}
	}
	rec := &kgo.Record{Topic: topic, Partition: partition}
	if rec.Key, err = s.encodeField(ctx, topic, "key", req.KeyFormat, req.Key, req.KeySchemaID); err != nil {
		return err
	}
	if rec.Value, err = s.encodeField(ctx, topic, "value", req.ValueFormat, req.Value, req.ValueSchemaID); err != nil {
		return err
	}
	for _, h := range req.Headers {
		var v []byte
		if h.Value != nil {
			v = []byte(*h.Value)
		}
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: v})
	}
	producer := cl.Kgo
	if partition >= 0 {
		// The pool's client partitions by key; a chosen partition needs a
		// client with the manual partitioner.
		producer, err = kgo.NewClient(append(slices.Clone(cl.Kgo.Opts()), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
		if err != nil {
			return err
		}
		defer producer.Close()
	}
	if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"partition": rec.Partition, "offset": rec.Offset,
		"timestamp": rec.Timestamp.UnixMilli()})
	return nil
}

// decodeRequest reads r's JSON body into v (400 not
// JSON of that shape, 413 larger than maxBody), telling a value of the
// wrong type in the request's terms (the field's JSON path and the JSON it
// takes) rather than encoding/json's, which names the console's Go types.
func decodeRequest(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	err := dec.Decode(v)
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		where := "request body"
		if te.Field != "" {
			where = te.Field
		}
		return badRequest("%s: %s found, %s expected", where, te.Value, jsonKind(te.Type))
	}
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		return badRequest("request body: empty, JSON expected")
	default:
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &httpError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body larger than %d bytes", maxBody)}
		}
		return badRequest("request body: %v", err)
	}
	if dec.More() {
		return badRequest("request body: one JSON value expected")
	}
	return nil
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
		return "an integer that fits " + t.Kind().String()
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "another value"
}
