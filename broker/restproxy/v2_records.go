package restproxy

// v2 records read (ConsumersResource's GET .../records,
// KafkaConsumerReadTask): the Accept header picks the embedded format,
// which must be the instance's (else 406 40601); the read gathers records
// until max_bytes would be exceeded, fetch.min.bytes is reached (when set)
// or the timeout passes (the query's timeout, at most the instance's
// consumer.request.timeout.ms), as kafka-rest's read task does. One
// difference: a first record larger than max_bytes is still answered
// (kafka-rest answers [] for ever, and the consumer is stuck).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// v2Record is kafka-rest's v2 consumer record (binary: base64 strings;
// json: the JSON; schema formats: the value in its JSON form).
type v2Record struct {
	Topic     string          `json:"topic"`
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
}

// recordsFormat is the embedded format r's Accept asks for: the first
// embedded type listed, binary when only generic v2 types are; "" when
// nothing acceptable is listed.
func recordsFormat(r *http.Request) string {
	h := strings.Join(r.Header.Values("Accept"), ",")
	types := mediaTypes(h)
	if len(types) == 0 {
		return fmtBinary
	}
	generic := false
	for _, mt := range types {
		if f := embeddedFormat(mt); f != "" {
			return f
		}
		switch mt {
		case "*/*", "application/*", v2MediaType, v2DefaultJSON, "application/json":
			generic = true
		}
	}
	if generic {
		return fmtBinary
	}
	return ""
}

func (v *v2State) records(w http.ResponseWriter, r *http.Request) {
	format := recordsFormat(r)
	if format == "" {
		writeError(w, http.StatusNotAcceptable, 0, "HTTP 406 Not Acceptable")
		return
	}
	q := r.URL.Query()
	timeout, maxBytes := int64(-1), int64(-1)
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"timeout", &timeout}, {"max_bytes", &maxBytes}} {
		if s := q.Get(p.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				writeError(w, http.StatusBadRequest, 0, "HTTP 400 Bad Request: "+p.name+" is not a number")
				return
			}
			*p.dst = n
		}
	}
	// consumer.request.max.bytes caps max_bytes, and bounds an answer
	// when the query gives none.
	limit := v.s.cfg.ConsumerRequestMaxBytes
	if limit <= 0 {
		limit = v2RequestMaxBytes
	}
	if maxBytes <= 0 || maxBytes > limit {
		maxBytes = limit
	}
	in, _, ok := v.instance(w, r)
	if !ok {
		return
	}
	if in.format != format {
		writeError(w, http.StatusNotAcceptable, 40601, "The requested embedded data format does not match the deserializer for this consumer instance")
		return
	}
	if !lockInstance(w, in) {
		return
	}
	defer in.mu.Unlock()
	defer in.touch()
	if in.kc == nil {
		illegalState(w, "Consumer is not subscribed to any topics or assigned any partitions")
		return
	}
	wait := in.requestTimeout
	if timeout > 0 && timeout < wait.Milliseconds() { // compared in ms: a huge timeout does not overflow Duration
		wait = time.Duration(timeout) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	// The answer is written after the wait, which consumer.request.timeout.ms
	// may make longer than the server's WriteTimeout (2 min): move the
	// connection's write deadline past it.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + v2AnswerMargin))

	out := []v2Record{}
	var size int64
	var answered []*kgo.Record
	for {
		full := false
		for len(in.buffer) > 0 {
			rec := in.buffer[0]
			if !in.isAssigned(rec.Topic, rec.Partition) { // revoked meanwhile
				in.buffer = in.buffer[1:]
				continue
			}
			n := int64(len(rec.Key) + len(rec.Value))
			if size+n >= maxBytes && len(out) > 0 {
				full = true
				break
			}
			vr, err := v.decodeRecord(r.Context(), in.format, rec)
			if err != nil {
				writeError(w, http.StatusInternalServerError, 50002, "Kafka error: "+err.Error())
				return
			}
			out = append(out, vr)
			answered = append(answered, rec)
			size += n
			in.buffer = in.buffer[1:]
			if size >= maxBytes {
				full = true
				break
			}
		}
		if full || (in.fetchMinBytes > 0 && size >= int64(in.fetchMinBytes)) || ctx.Err() != nil {
			break
		}
		fs := in.kc.PollRecords(ctx, 500)
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
				return
			}
			if _, code := kafkaErrorCode(err); code == 40301 || code == 40101 {
				ferr = err
				return
			}
			v.s.log.Debug("restproxy: v2 consumer fetch error", "group", in.group, "instance", in.name, "topic", t, "partition", p, "err", err)
		})
		if ferr != nil {
			writeKafkaError(w, ferr)
			return
		}
		in.buffer = append(in.buffer, fs.Records()...)
	}
	for _, rec := range answered {
		if in.consumed[rec.Topic] == nil {
			in.consumed[rec.Topic] = map[int32]kgo.EpochOffset{}
		}
		in.consumed[rec.Topic][rec.Partition] = kgo.EpochOffset{Epoch: rec.LeaderEpoch, Offset: rec.Offset + 1}
	}
	if in.autoCommit && len(answered) > 0 {
		switch in.mode {
		case modeTopics, modePattern:
			in.kc.MarkCommitRecords(answered...)
		case modeAssigned:
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := in.commitDirect(cctx, in.kc, in.consumed); err != nil {
				v.s.log.Warn("restproxy: v2 consumer's auto commit failed", "group", in.group, "instance", in.name, "err", err)
			}
			ccancel()
		}
	}
	writeV2As(w, http.StatusOK, "application/vnd.kafka."+format+".v2+json", out)
}

// decodeRecord renders rec's key and value in the instance's format.
func (v *v2State) decodeRecord(ctx context.Context, format string, rec *kgo.Record) (v2Record, error) {
	out := v2Record{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}
	var err error
	if out.Key, err = v.decodeData(ctx, format, rec.Key); err != nil {
		return out, fmt.Errorf("restproxy: key of %s-%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
	if out.Value, err = v.decodeData(ctx, format, rec.Value); err != nil {
		return out, fmt.Errorf("restproxy: value of %s-%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
	return out, nil
}

func (v *v2State) decodeData(ctx context.Context, format string, data []byte) (json.RawMessage, error) {
	if data == nil {
		return json.RawMessage("null"), nil
	}
	switch format {
	case fmtBinary:
		b, _ := json.Marshal(base64.StdEncoding.EncodeToString(data))
		return b, nil
	case fmtJSON:
		if !json.Valid(data) {
			return nil, errors.New("not JSON")
		}
		return json.RawMessage(data), nil
	}
	d := v2Decode(ctx, v.s.cfg.Serde, data)
	if d.Format != format {
		msg := d.Error
		if msg == "" {
			msg = "the data is " + d.Format + ", not " + format
		}
		return nil, errors.New(msg)
	}
	return d.Value, nil
}
