package restproxy

// Fuzz targets for the request decoding of the REST Proxy: what a client
// sends, taken apart without a broker (the handlers call these same
// functions before any Kafka call). The invariant is the issue's: bad input
// gets Confluent's error (a 4xx apiError), never a panic, a 5xx or a loop
// that does not end; what passes is what Kafka can be asked. Seeds are
// Confluent's documented examples (kafka-rest's API reference and the REST
// Proxy quick start); failing inputs found are kept under testdata/fuzz.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/serde"
)

// clientError fails t unless ae is a request error Confluent answers
// with a 4xx status and an error_code of that status or its five-digit
// refinement.
func clientError(t *testing.T, what string, ae *apiError) {
	t.Helper()
	if ae.status < 400 || ae.status > 499 {
		t.Fatalf("%s: status %d (%s), want a 4xx", what, ae.status, ae.msg)
	}
	if ae.code != ae.status && ae.code/100 != ae.status {
		t.Fatalf("%s: error_code %d does not refine status %d", what, ae.code, ae.status)
	}
	if ae.msg == "" {
		t.Fatalf("%s: no message", what)
	}
	for _, leak := range []string{"Go struct", "Go value", "restproxy.", "main."} {
		if strings.Contains(ae.msg, leak) {
			t.Fatalf("%s: message %q names Go internals", what, ae.msg)
		}
	}
}

// v3 produce records, as kafka-rest's API reference and the "Produce
// records" guide show them.
var v3ProduceSeeds = []string{
	`{"partition_id":1,"headers":[{"name":"Header-1","value":"SGVhZGVyLTE="},{"name":"Header-2","value":"SGVhZGVyLTI="}],` +
		`"key":{"type":"BINARY","data":"Zm9vYmFy"},"value":{"type":"JSON","data":{"foo":"bar"}},"timestamp":"2021-02-05T19:14:42Z"}`,
	`{"value":{"type":"JSON","data":"Hello World!"}}`,
	`{"key":{"type":"STRING","data":"key"},"value":{"type":"STRING","data":"value"}}`,
	`{"key":{"subject_name_strategy":"TOPIC_NAME","schema_id":1,"data":1000},"value":{"schema_version":1,"data":{"foo":"bar"}}}`,
	`{"value":{"type":"AVRO","schema":"{\"type\":\"string\"}","data":"foobar"}}`,
	`{"value":{"type":"PROTOBUF","subject":"topic-value","schema_version":"latest","data":{"foo":"bar"}}}`,
	`{"partition_id":-1,"value":null,"key":{"type":"BINARY","data":null}}`,
	`{"value":{"type":"BINARY","data":"Zm9v\nYmFy"}}`,
	`{"value":{"type":"BINARY","data":"-_-_"}}`,
	`{"partition_id":99999999999999999999}`,
	`{"timestamp":"yesterday"}`,
	`null`,
	`[]`,
	`{"headers":[{"name":"h","value":"!!"}]}`,
}

// FuzzV3ProduceRecord decodes one v3 produce record and encodes its key
// and value as the handler does (no schema registry: schema formats get
// kafka-rest's 422 "Schema Registry must be configured").
func FuzzV3ProduceRecord(f *testing.F) {
	for _, s := range v3ProduceSeeds {
		f.Add([]byte(s))
	}
	s := &Server{cfg: Config{Serde: serde.New(nil)}}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := newProduceStream(bytes.NewReader(data)).next()
		var re *recordError
		switch {
		case errors.Is(err, io.EOF):
			if len(bytes.TrimSpace(data)) != 0 {
				t.Fatalf("EOF for a body that is not blank: %q", data)
			}
			return
		case errors.As(err, &re):
			clientError(t, "record", re.apiError)
			return
		case err != nil:
			res := streamError(err)
			if res.ErrorCode != http.StatusBadRequest && res.ErrorCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("stream error %v answered %d", err, res.ErrorCode)
			}
			return
		}
		for i, d := range []*produceData{req.Key, req.Value} {
			b, info, ae := s.encodeData(context.Background(), "topic", d, i == 0)
			if ae != nil {
				clientError(t, "encode", ae)
				continue
			}
			if d == nil && (b != nil || info != nil) {
				t.Fatalf("absent key or value encoded as %q", b)
			}
		}
	})
}

// FuzzV3ProduceStream reads a streaming produce body (records
// concatenated) to its end: every record read is answered, a record of the
// wrong shape does not end the stream, and the stream ends: each call of
// next consumes input or ends it.
func FuzzV3ProduceStream(f *testing.F) {
	f.Add([]byte(strings.Join(v3ProduceSeeds[:4], "")))
	f.Add([]byte(strings.Join(v3ProduceSeeds, "\r\n")))
	f.Add([]byte(`{"value":{"type":"JSON","data":1}} {"value":{"type":"JSON","data":2}}{"value":`))
	f.Add([]byte(`{"partition_id":"x"}{"value":{"type":"STRING","data":"after"}}`))
	f.Add([]byte(`{"value":{"type":"JSON","data":1}}}{"value":{"type":"JSON","data":2}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		stream := newProduceStream(bytes.NewReader(data))
		for n := 0; ; n++ {
			if n > len(data)+1 {
				t.Fatalf("%d records out of %d bytes: the stream does not end", n, len(data))
			}
			_, err := stream.next()
			var re *recordError
			switch {
			case err == nil:
				continue
			case errors.Is(err, io.EOF):
				return
			case errors.As(err, &re):
				clientError(t, "record", re.apiError)
				continue
			}
			if res := streamError(err); res.ErrorCode != http.StatusBadRequest {
				t.Fatalf("stream error %v answered %d", err, res.ErrorCode)
			}
			return
		}
	})
}

// TestProduceStreamRecordLimit: a record longer than maxRecordBytes ends
// the stream with 413, after the records before it were read (the limit
// counts bytes read since the record began, so the decoder's read-ahead
// of it while decoding the one before makes it inexact by that much).
func TestProduceStreamRecordLimit(t *testing.T) {
	body := `{"value":{"type":"STRING","data":"ok"}}` + `{"value":{"type":"STRING","data":"` + strings.Repeat("a", maxRecordBytes+1<<16) + `"}}`
	stream := newProduceStream(strings.NewReader(body))
	if _, err := stream.next(); err != nil {
		t.Fatalf("first record: %v", err)
	}
	_, err := stream.next()
	if res := streamError(err); res.ErrorCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized record: %v answered %d, want 413", err, res.ErrorCode)
	}
}

// v2 produce bodies per embedded format (kafka-rest's v2 API reference).
var v2ProduceSeeds = map[string][]string{
	fmtBinary: {
		`{"records":[{"key":"a2V5","value":"Y29uZmx1ZW50"},{"value":"a2Fma2E=","partition":1},{"value":"bG9ncw=="}]}`,
		`{"records":[{"value":"Y29u\nZmx1ZW50"},{"value":"-_8="},{"value":null}]}`,
	},
	fmtJSON: {
		`{"records":[{"key":"somekey","value":{"foo":"bar"}},{"value":["foo","bar"],"partition":1},{"value":53.5}]}`,
		`{"records":[{"value":123456789012345678901234567890}]}`,
	},
	fmtAvro: {
		`{"value_schema":"{\"name\":\"int\",\"type\": \"int\"}","records":[{"value":12},{"value":24,"partition":1}]}`,
		`{"key_schema_id":1,"value_schema_id":2,"records":[{"key":1,"value":{"name":"testUser"}}]}`,
		`{"records":[{"key":1}]}`,
	},
	fmtProtobuf: {
		`{"value_schema":"syntax = \"proto3\"; message User { string name = 1; }","records":[{"value":{"name":"testUser"}}]}`,
	},
	fmtJSONSchema: {
		`{"value_schema":"{\"type\":\"object\",\"properties\":{\"f1\":{\"type\":\"string\"}}}","records":[{"value":{"f1":"bar"}}]}`,
	},
}

var v2Formats = []string{fmtBinary, fmtJSON, fmtAvro, fmtProtobuf, fmtJSONSchema}

// FuzzV2Produce parses a v2 produce body in each embedded format.
func FuzzV2Produce(f *testing.F) {
	for i, format := range v2Formats {
		for _, s := range v2ProduceSeeds[format] {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Add(uint8(0), []byte(`{"records":[]}`))
	f.Add(uint8(1), []byte(`{"records":{}}`))
	f.Add(uint8(0), []byte(`{"RECORDS":[{"value":"YQ=="}],"records":null}`))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		format := v2Formats[int(which)%len(v2Formats)]
		req, keys, values, ae := parseV2Produce(format, data)
		if ae != nil {
			clientError(t, format, ae)
			return
		}
		if len(req.Records) == 0 || len(req.Records) > v2MaxRecords || len(keys) != len(req.Records) || len(values) != len(req.Records) {
			t.Fatalf("%d records, %d keys, %d values", len(req.Records), len(keys), len(values))
		}
		// The bound's count sees every record decoding does.
		if n := countV2Records(data, math.MaxInt32); n < len(req.Records) {
			t.Fatalf("counted %d records of %d", n, len(req.Records))
		}
		for i, rec := range req.Records {
			switch format {
			case fmtBinary, fmtJSON:
				if isNullJSON(rec.Value) != (values[i] == nil) {
					t.Fatalf("record %d: value %s encoded as %q", i, rec.Value, values[i])
				}
			default:
				if keys[i] != nil || values[i] != nil {
					t.Fatalf("record %d: %s encoded before the registry was asked", i, format)
				}
			}
		}
	})
}

// v2 consumer instance creation bodies (kafka-rest's v2 reference).
var v2ConsumerSeeds = []string{
	`{"name":"my_consumer_instance","format":"binary","auto.offset.reset":"earliest","auto.commit.enable":"false"}`,
	`{"name":"my_consumer","format":"json","auto.offset.reset":"earliest"}`,
	`{"id":"c1","format":"avro","fetch.min.bytes":1048576,"consumer.request.timeout.ms":"30000","auto.commit.enable":true}`,
	`{"fetch.min.bytes":-1}`,
	`{"consumer.request.timeout.ms":1e30}`,
	`{"auto.commit.enable":{}}`,
	``,
}

// FuzzV2ConsumerCreate parses a consumer instance creation body.
func FuzzV2ConsumerCreate(f *testing.F) {
	for _, s := range v2ConsumerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, ae := parseInstanceConfig(data)
		if ae != nil {
			clientError(t, "create", ae)
			return
		}
		if !slices.Contains(v2Formats, set.format) {
			t.Fatalf("format %q accepted", set.format)
		}
		if set.fetchMinBytes < 0 || set.requestTimeout <= 0 {
			t.Fatalf("fetch.min.bytes %d, request timeout %v accepted", set.fetchMinBytes, set.requestTimeout)
		}
	})
}

// FuzzV2Subscription parses a subscription body.
func FuzzV2Subscription(f *testing.F) {
	for _, s := range []string{`{"topics":["test1","test2"]}`, `{"topic_pattern":"test.*"}`, `{"topics":[]}`,
		`{"topic_pattern":"(("}`, `{"topics":[""]}`, `{"topics":null,"topic_pattern":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, ae := parseSubscription(data)
		if ae != nil {
			clientError(t, "subscribe", ae)
			return
		}
		if req.Topics == nil && req.TopicPattern == nil {
			t.Fatalf("neither topics nor a pattern accepted")
		}
		if slices.Contains(req.Topics, "") {
			t.Fatalf("an empty topic name accepted")
		}
	})
}

// FuzzV2Partitions parses the partition lists of assignments, seeks to
// the beginning or end, and committed-offset queries.
func FuzzV2Partitions(f *testing.F) {
	for _, s := range []string{`{"partitions":[{"topic":"test","partition":0},{"topic":"test","partition":1}]}`,
		`{"partitions":[]}`, `{"partitions":[{"topic":"","partition":0}]}`, `{"partitions":[{"topic":"t","partition":-1}]}`,
		`{"partitions":[{"topic":"t","partition":2147483648}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, _, ae := parsePartitions(data)
		if ae != nil {
			clientError(t, "partitions", ae)
			return
		}
		for _, tp := range ps {
			if strings.TrimSpace(tp.Topic) == "" || tp.Partition < 0 {
				t.Fatalf("partition %+v accepted", tp)
			}
		}
	})
}

// FuzzV2Offsets parses the offset lists of positions (seek) and commits.
func FuzzV2Offsets(f *testing.F) {
	for _, s := range []string{`{"offsets":[{"topic":"test","partition":0,"offset":20},{"topic":"test","partition":1,"offset":30}]}`,
		`{"offsets":[{"topic":"test","partition":0,"offset":20,"metadata":"m"}]}`,
		`{"offsets":[{"topic":"t","partition":0,"offset":-1}]}`,
		`{"offsets":[{"topic":"t","partition":0,"offset":9223372036854775807}]}`,
		`{"offsets":[{"topic":"t","partition":0,"offset":9223372036854775808}]}`,
		`{"offsets":[{"topic":"t","partition":0,"offset":1.5}]}`} {
		f.Add(true, []byte(s))
		f.Add(false, []byte(s))
	}
	f.Fuzz(func(t *testing.T, commit bool, data []byte) {
		os, _, ae := parseOffsets(data, commit)
		if ae != nil {
			clientError(t, "offsets", ae)
			return
		}
		for _, o := range os {
			if o.Offset < 0 || commit && o.Offset == math.MaxInt64 || o.Partition < 0 || strings.TrimSpace(o.Topic) == "" {
				t.Fatalf("offset %+v accepted", o)
			}
		}
	})
}

// FuzzV3CreateTopic parses a v3 topic creation body.
func FuzzV3CreateTopic(f *testing.F) {
	for _, s := range []string{
		`{"topic_name":"topic-X","partitions_count":64,"replication_factor":3,"configs":[{"name":"cleanup.policy","value":"compact"},{"name":"compression.type","value":"gzip"}]}`,
		`{"topic_name":"topic-Y","replicas_assignments":{"0":[1,2],"1":[2,3]},"validate_only":true}`,
		`{"topic_name":"topic-Z"}`,
		`{"topic_name":"a/b","partitions_count":1}`,
		`{"topic_name":"t","partitions_count":2147483648}`,
		`{"topic_name":"t","replicas_assignments":{"x":[1]}}`,
		`{"topic_name":"t","partitions_count":1,"replicas_assignments":{"0":[1]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, rt, ae := parseCreateTopic(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(data)), maxAdminBodyBytes))
		if ae != nil {
			clientError(t, "create topic", ae)
			return
		}
		if !validTopicName(rt.Topic) || rt.Topic != req.TopicName {
			t.Fatalf("topic name %q accepted", rt.Topic)
		}
		if len(rt.ReplicaAssignment) > 0 && (rt.NumPartitions != -1 || rt.ReplicationFactor != -1) {
			t.Fatalf("an assignment with partitions_count or replication_factor accepted")
		}
		if !slices.IsSortedFunc(rt.ReplicaAssignment, func(a, b kmsg.CreateTopicsRequestTopicReplicaAssignment) int {
			return int(a.Partition) - int(b.Partition)
		}) {
			t.Fatalf("assignment out of partition order")
		}
	})
}

// FuzzV3AlterConfigs parses a configs:alter body.
func FuzzV3AlterConfigs(f *testing.F) {
	for _, s := range []string{
		`{"data":[{"name":"cleanup.policy","operation":"DELETE"},{"name":"compression.type","value":"gzip"}]}`,
		`{"data":[{"name":"retention.ms","value":"86400000","operation":"SET"}],"validate_only":true}`,
		`{"data":[{"name":"x","operation":"APPEND"}]}`,
		`{"data":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		alters, _, ae := parseAlterConfigBatch(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(data)), maxAdminBodyBytes))
		if ae != nil {
			clientError(t, "alter configs", ae)
			return
		}
		for _, a := range alters {
			if a.Op != kadm.SetConfig && a.Op != kadm.DeleteConfig {
				t.Fatalf("operation %v accepted", a.Op)
			}
		}
	})
}
