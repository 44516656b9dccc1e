package restproxy

// v2 consumer instances (ConsumersResource, KafkaConsumerManager,
// KafkaConsumerState): create and delete, subscription, assignments,
// positions and offsets. Records are read in v2_records.go.
//
// Each instance owns a Kafka client built from its creator's pool options
// (newConsumerClient), made when it subscribes (a group member: the
// topics or the anchored pattern) or is assigned partitions (a direct
// consumer committing through kadm with the group's id, as a Java consumer
// with assign() and a group.id does). Only the principal that created an
// instance may use it; others get 40403 as if it did not exist.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/webclient"
)

// What an instance consumes.
const (
	modeNone = iota
	modeTopics
	modePattern
	modeAssigned
)

// consumerInstance is one v2 consumer. mu serializes its operations (a
// records read holds it for up to its timeout, as kafka-rest's read task
// holds the consumer) and guards the fields below it; assignMu guards
// assigned, which kgo's group callbacks update while mu may be held.
type consumerInstance struct {
	v              *v2State
	group, name    string
	owner          string
	format         string
	autoCommit     bool
	reset          kgo.Offset
	fetchMinBytes  int
	requestTimeout time.Duration
	used           atomic.Int64 // unix nanoseconds of the last use

	mu      sync.Mutex
	closed  bool
	kc      *kgo.Client
	mode    int
	topics  []string
	pattern string
	// buffer holds records polled but not answered yet.
	buffer []*kgo.Record
	// consumed is, per partition, the offset after the last record
	// answered (or the position a seek set): what "commit all" commits.
	consumed map[string]map[int32]kgo.EpochOffset
	// startAt is where an assigned (direct) client started each
	// partition: a seek rebuilds the client from it (seekLocked).
	startAt map[string]map[int32]kgo.Offset

	assignMu sync.Mutex
	assigned map[string]map[int32]bool
}

func (in *consumerInstance) touch()              { in.used.Store(time.Now().UnixNano()) }
func (in *consumerInstance) lastUsed() time.Time { return time.Unix(0, in.used.Load()) }

// close ends the instance: a final commit of what was answered when
// auto-committing, then its client (leaving the group).
func (in *consumerInstance) close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return
	}
	in.closed = true
	in.dropClientLocked()
}

// dropClientLocked closes the instance's client, committing first when
// auto-committing. Expects mu held.
func (in *consumerInstance) dropClientLocked() {
	if in.kc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if in.autoCommit {
		var err error
		switch in.mode {
		case modeTopics, modePattern:
			err = in.kc.CommitMarkedOffsets(ctx)
		case modeAssigned:
			err = in.commitDirect(ctx, in.kc, in.consumed)
		}
		if err != nil {
			in.v.s.log.Warn("restproxy: v2 consumer's final commit failed", "group", in.group, "instance", in.name, "err", err)
		}
	}
	in.kc.Close()
	in.kc = nil
	in.mode = modeNone
	in.topics, in.pattern, in.buffer = nil, "", nil
	in.consumed = map[string]map[int32]kgo.EpochOffset{}
	in.assignMu.Lock()
	in.assigned = map[string]map[int32]bool{}
	in.assignMu.Unlock()
}

// commitDirect commits offsets for the group without membership (a
// direct consumer's commit: generation -1).
func (in *consumerInstance) commitDirect(ctx context.Context, kc *kgo.Client, offsets map[string]map[int32]kgo.EpochOffset) error {
	var os kadm.Offsets
	for t, ps := range offsets {
		for p, eo := range ps {
			os.Add(kadm.Offset{Topic: t, Partition: p, At: eo.Offset, LeaderEpoch: eo.Epoch})
		}
	}
	if len(os) == 0 {
		return nil
	}
	resp, err := kadm.NewClient(kc).CommitOffsets(ctx, in.group, os)
	if err != nil {
		return err
	}
	return resp.Error()
}

func (in *consumerInstance) isAssigned(topic string, p int32) bool {
	in.assignMu.Lock()
	defer in.assignMu.Unlock()
	return in.assigned[topic][p]
}

// onAssigned and onRevoked track a group member's partitions.
func (in *consumerInstance) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	in.assignMu.Lock()
	defer in.assignMu.Unlock()
	for t, ps := range m {
		if in.assigned[t] == nil {
			in.assigned[t] = map[int32]bool{}
		}
		for _, p := range ps {
			in.assigned[t][p] = true
		}
	}
}

func (in *consumerInstance) onRevoked(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	if in.autoCommit {
		if err := cl.CommitMarkedOffsets(ctx); err != nil {
			in.v.s.log.Warn("restproxy: v2 consumer's commit on revoke failed", "group", in.group, "instance", in.name, "err", err)
		}
	}
	in.assignMu.Lock()
	defer in.assignMu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			delete(in.assigned[t], p)
		}
	}
}

func (in *consumerInstance) onLost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	in.assignMu.Lock()
	defer in.assignMu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			delete(in.assigned[t], p)
		}
	}
}

// --- create and delete ---

// v2InstanceConfig is kafka-rest's ConsumerInstanceConfig; its numbers
// and booleans may come as JSON strings.
type v2InstanceConfig struct {
	ID              *string         `json:"id"`
	Name            *string         `json:"name"`
	Format          *string         `json:"format"`
	AutoOffsetReset *string         `json:"auto.offset.reset"`
	AutoCommit      json.RawMessage `json:"auto.commit.enable"`
	FetchMinBytes   json.RawMessage `json:"fetch.min.bytes"`
	RequestTimeout  json.RawMessage `json:"consumer.request.timeout.ms"`
}

// scalar returns a JSON number, boolean or string as its text ("" when
// absent or null); a number as written (1048576, not float64's 1.048576e+06).
func scalar(raw json.RawMessage) (string, error) {
	if isNullJSON(raw) {
		return "", nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("restproxy: %s is not a scalar", raw)
}

// v2InstanceSettings is a v2 consumer instance's configuration, as its
// creation request gives it (defaults filled in; name "" when the
// request names none).
type v2InstanceSettings struct {
	name           string
	format         string
	autoCommit     bool
	reset          kgo.Offset
	fetchMinBytes  int
	requestTimeout time.Duration
}

// parseInstanceConfig reads a consumer instance's creation body
// (kafka-rest's CreateConsumerInstanceRequest); an invalid setting answers
// 42204 as the Kafka consumer's ConfigException does.
func parseInstanceConfig(data []byte) (v2InstanceSettings, *apiError) {
	set := v2InstanceSettings{
		format:         fmtBinary,
		autoCommit:     true,
		reset:          kgo.NewOffset().AtEnd(),
		requestTimeout: v2RequestTimeout * time.Millisecond,
	}
	invalid := func(msg string) *apiError {
		return &apiError{http.StatusUnprocessableEntity, 42204, "Invalid consumer configuration: " + msg}
	}
	var cfg v2InstanceConfig
	if _, ae := decodeV2Body(data, &cfg); ae != nil {
		return set, ae
	}
	switch {
	case cfg.ID != nil && *cfg.ID != "":
		set.name = *cfg.ID
	case cfg.Name != nil && *cfg.Name != "":
		set.name = *cfg.Name
	}
	if cfg.Format != nil {
		set.format = strings.ToLower(*cfg.Format)
	}
	switch set.format {
	case fmtBinary, fmtJSON, fmtAvro, fmtProtobuf, fmtJSONSchema:
	default:
		return set, invalid("invalid format type " + strconv.Quote(set.format))
	}
	if cfg.AutoOffsetReset != nil {
		switch strings.ToLower(*cfg.AutoOffsetReset) {
		case "earliest", "smallest":
			set.reset = kgo.NewOffset().AtStart()
		case "latest", "largest":
			set.reset = kgo.NewOffset().AtEnd()
		case "none":
			set.reset = kgo.NoResetOffset()
		default:
			return set, invalid("Invalid value " + *cfg.AutoOffsetReset + " for configuration auto.offset.reset: String must be one of: latest, earliest, none")
		}
	}
	if s, err := scalar(cfg.AutoCommit); err != nil {
		return set, invalid("auto.commit.enable: " + jsonErrorDetail(err))
	} else if s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return set, invalid("Invalid value " + s + " for configuration enable.auto.commit: Expected value to be either true or false")
		}
		set.autoCommit = b
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		set  func(int)
	}{
		{"fetch.min.bytes", cfg.FetchMinBytes, func(n int) { set.fetchMinBytes = n }},
		{"consumer.request.timeout.ms", cfg.RequestTimeout, func(n int) {
			if n > 0 {
				set.requestTimeout = time.Duration(n) * time.Millisecond
			}
		}},
	} {
		s, err := scalar(f.raw)
		if err != nil {
			return set, invalid(f.name + ": " + jsonErrorDetail(err))
		}
		if s == "" {
			continue
		}
		// Kafka's type INT: a 32-bit integer.
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return set, invalid("Invalid value " + s + " for configuration " + f.name + ": Not a number of type INT")
		}
		if f.name == "fetch.min.bytes" && n < 0 {
			return set, invalid("Invalid value " + s + " for configuration fetch.min.bytes: Value must be at least 0")
		}
		f.set(int(n))
	}
	return set, nil
}

func invalidConfig(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusUnprocessableEntity, 42204, "Invalid consumer configuration: "+msg)
}

func (v *v2State) createInstance(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, true) || !checkContentType(w, r) {
		return
	}
	data, ok := readBodyBytes(w, r, v2MaxConsumerBodyBytes)
	if !ok {
		return
	}
	set, ae := parseInstanceConfig(data)
	if ae != nil {
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	switch set.format {
	case fmtAvro, fmtProtobuf, fmtJSONSchema:
		if v.s.cfg.Serde == nil {
			invalidConfig(w, "format "+set.format+" needs the schema registry, which is off")
			return
		}
	}
	if set.name == "" {
		set.name = "rest-consumer-" + randomUUID()
	}
	in := &consumerInstance{
		v:              v,
		group:          r.PathValue("group"),
		name:           set.name,
		format:         set.format,
		autoCommit:     set.autoCommit,
		reset:          set.reset,
		fetchMinBytes:  set.fetchMinBytes,
		requestTimeout: set.requestTimeout,
		consumed:       map[string]map[int32]kgo.EpochOffset{},
		assigned:       map[string]map[int32]bool{},
	}
	c, ok := v.client(w, r)
	if !ok {
		return
	}
	in.owner = c.User
	in.touch()

	key := v2InstanceKey{in.group, in.name}
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, 50302, "restproxy: the broker is stopping")
		return
	}
	if _, exists := v.instances[key]; exists {
		v.mu.Unlock()
		writeError(w, http.StatusConflict, 40902, "Consumer with specified consumer ID already exists in the specified consumer group.")
		return
	}
	v.instances[key] = in
	v.mu.Unlock()

	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := (&url.URL{Scheme: scheme, Host: r.Host, Path: "/consumers/" + in.group + "/instances/" + in.name}).String()
	writeV2(w, http.StatusOK, map[string]string{"instance_id": in.name, "base_uri": base})
}

// instance finds the request's consumer instance for its principal; on
// failure it has answered (40403, 401).
func (v *v2State) instance(w http.ResponseWriter, r *http.Request) (*consumerInstance, *webclient.Client, bool) {
	c, ok := v.client(w, r)
	if !ok {
		return nil, nil, false
	}
	v.mu.Lock()
	in := v.instances[v2InstanceKey{r.PathValue("group"), r.PathValue("instance")}]
	v.mu.Unlock()
	if in == nil || in.owner != c.User {
		writeError(w, http.StatusNotFound, 40403, "Consumer instance not found.")
		return nil, nil, false
	}
	in.touch()
	return in, c, true
}

// lockInstance takes in's lock; false (answered 40403) when it closed
// meanwhile.
func lockInstance(w http.ResponseWriter, in *consumerInstance) bool {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		writeError(w, http.StatusNotFound, 40403, "Consumer instance not found.")
		return false
	}
	return true
}

func (v *v2State) deleteInstance(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, true) {
		return
	}
	in, _, ok := v.instance(w, r)
	if !ok {
		return
	}
	v.mu.Lock()
	if v.instances[v2InstanceKey{in.group, in.name}] == in {
		delete(v.instances, v2InstanceKey{in.group, in.name})
	}
	v.mu.Unlock()
	in.close()
	w.WriteHeader(http.StatusNoContent)
}

// --- subscription ---

func illegalState(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusConflict, 40903, "Illegal state: "+msg)
}

const exclusiveMsg = "Subscription to topics, partitions and pattern are mutually exclusive"

func (v *v2State) subscribe(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, true) || !checkContentType(w, r) {
		return
	}
	data, ok := readBodyBytes(w, r, v2MaxConsumerBodyBytes)
	if !ok {
		return
	}
	req, ae := parseSubscription(data)
	if ae != nil {
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	in, _, ok := v.instance(w, r)
	if !ok || !lockInstance(w, in) {
		return
	}
	defer in.mu.Unlock()
	mode := modeTopics
	var consume []string
	var opts []kgo.Opt
	if req.Topics != nil {
		consume = req.Topics
		if len(consume) == 0 { // Java: subscribe(empty) unsubscribes
			in.dropClientLocked()
			w.WriteHeader(http.StatusNoContent)
			return
		}
	} else {
		mode = modePattern
		consume = []string{anchoredPattern(*req.TopicPattern)}
		opts = append(opts, kgo.ConsumeRegex())
	}
	if in.mode != modeNone && in.mode != mode {
		illegalState(w, exclusiveMsg)
		return
	}
	in.dropClientLocked()
	opts = append(opts,
		kgo.ConsumerGroup(in.group),
		kgo.ConsumeTopics(consume...),
		kgo.ConsumeResetOffset(in.reset),
		kgo.OnPartitionsAssigned(in.onAssigned),
		kgo.OnPartitionsRevoked(in.onRevoked),
		kgo.OnPartitionsLost(in.onLost),
	)
	if in.autoCommit {
		opts = append(opts, kgo.AutoCommitMarks())
	} else {
		opts = append(opts, kgo.DisableAutoCommit())
	}
	kc, err := v.s.newConsumerClient(r, opts...)
	if err != nil {
		writeKafkaError(w, err)
		return
	}
	in.kc, in.mode = kc, mode
	if mode == modeTopics {
		in.topics = slices.Clone(consume)
	} else {
		in.pattern = *req.TopicPattern
	}
	w.WriteHeader(http.StatusNoContent)
}

// v2Subscription is a subscription's body: topics or topic_pattern.
type v2Subscription struct {
	Topics       []string `json:"topics"`
	TopicPattern *string  `json:"topic_pattern"`
}

func anchoredPattern(p string) string { return "^(?:" + p + ")$" }

// parseSubscription reads a subscription's body: topics (no empty name)
// or a topic_pattern that compiles.
func parseSubscription(data []byte) (v2Subscription, *apiError) {
	var req v2Subscription
	present, ae := decodeV2Body(data, &req)
	if ae != nil {
		return req, ae
	}
	if !present || (req.Topics == nil && req.TopicPattern == nil) {
		return req, &apiError{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, "topics or topic_pattern is required"}
	}
	if req.Topics != nil {
		if slices.Contains(req.Topics, "") {
			return req, &apiError{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, "topics may not hold an empty name"}
		}
		return req, nil
	}
	if _, err := regexp.Compile(anchoredPattern(*req.TopicPattern)); err != nil {
		return req, &apiError{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, "invalid topic_pattern: " + err.Error()}
	}
	return req, nil
}

func (v *v2State) subscription(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, true) {
		return
	}
	in, _, ok := v.instance(w, r)
	if !ok || !lockInstance(w, in) {
		return
	}
	defer in.mu.Unlock()
	topics := []string{}
	switch in.mode {
	case modeTopics:
		topics = append(topics, in.topics...)
	case modePattern:
		topics = append(topics, in.kc.GetConsumeTopics()...)
	}
	slices.Sort(topics)
	writeV2(w, http.StatusOK, map[string][]string{"topics": slices.Compact(topics)})
}

func (v *v2State) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, true) {
		return
	}
	in, _, ok := v.instance(w, r)
	if !ok || !lockInstance(w, in) {
		return
	}
	defer in.mu.Unlock()
	in.dropClientLocked()
	w.WriteHeader(http.StatusNoContent)
}

// --- assignments ---

type v2TopicPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

func (v *v2State) assign(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, true) || !checkContentType(w, r) {
		return
	}
	data, ok := readBodyBytes(w, r, v2MaxConsumerBodyBytes)
	if !ok {
		return
	}
	partitions, present, ae := parsePartitions(data)
	if ae == nil && (!present || partitions == nil) {
		ae = &apiError{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, "partitions is required"}
	}
	if ae != nil {
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	req := struct{ Partitions []v2TopicPartition }{partitions}
	in, c, ok := v.instance(w, r)
	if !ok || !lockInstance(w, in) {
		return
	}
	defer in.mu.Unlock()
	if in.mode == modeTopics || in.mode == modePattern {
		illegalState(w, exclusiveMsg)
		return
	}
	in.dropClientLocked()
	if len(req.Partitions) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// Start where the group committed, else at auto.offset.reset.
	committed, err := c.Admin.FetchOffsets(r.Context(), in.group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		writeKafkaError(w, err)
		return
	}
	start := map[string]map[int32]kgo.Offset{}
	assigned := map[string]map[int32]bool{}
	for _, tp := range req.Partitions {
		if start[tp.Topic] == nil {
			start[tp.Topic] = map[int32]kgo.Offset{}
			assigned[tp.Topic] = map[int32]bool{}
		}
		at := in.reset
		if o, ok := committed.Lookup(tp.Topic, tp.Partition); ok && o.Err == nil && o.At >= 0 {
			at = kgo.NewOffset().At(o.At)
		}
		start[tp.Topic][tp.Partition] = at
		assigned[tp.Topic][tp.Partition] = true
	}
	kc, err := v.s.newConsumerClient(r, kgo.ConsumePartitions(start), kgo.ConsumeResetOffset(in.reset))
	if err != nil {
		writeKafkaError(w, err)
		return
	}
	in.kc, in.mode, in.startAt = kc, modeAssigned, start
	in.assignMu.Lock()
	in.assigned = assigned
	in.assignMu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// parsePartitions reads a body of {"partitions":[{"topic","partition"}]}
// (assignments, seeks to the beginning or end, committed offsets):
// present false for an empty body; a partition needs a topic (Kafka's
// consumer: "cannot have null or empty topic") and a partition number
// that is not negative.
func parsePartitions(data []byte) (_ []v2TopicPartition, present bool, _ *apiError) {
	var req struct {
		Partitions []v2TopicPartition `json:"partitions"`
	}
	present, ae := decodeV2Body(data, &req)
	if ae != nil {
		return nil, present, ae
	}
	for _, tp := range req.Partitions {
		if ae := checkTopicPartition(tp.Topic, tp.Partition); ae != nil {
			return nil, present, ae
		}
	}
	return req.Partitions, present, nil
}

func checkTopicPartition(topic string, partition int32) *apiError {
	switch {
	case strings.TrimSpace(topic) == "":
		return &apiError{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, "a partition needs a topic (null or empty topics are not allowed)"}
	case partition < 0:
		return &apiError{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, fmt.Sprintf("partition %d of %s: partitions are numbered from 0", partition, topic)}
	}
	return nil
}

// parseOffsets reads a body of {"offsets":[{"topic","partition","offset"}]}
// (seeks, commits): present false for an empty body. An offset is not
// negative (a position or a record's), and for a commit below the largest
// int64, as the commit is of offset+1 (Kafka's OffsetAndMetadata refuses
// the negative offset it would wrap to).
func parseOffsets(data []byte, commit bool) (_ []v2Offset, present bool, _ *apiError) {
	var req struct {
		Offsets []v2Offset `json:"offsets"`
	}
	present, ae := decodeV2Body(data, &req)
	if ae != nil {
		return nil, present, ae
	}
	for _, o := range req.Offsets {
		if ae := checkTopicPartition(o.Topic, o.Partition); ae != nil {
			return nil, present, ae
		}
		if o.Offset < 0 {
			return nil, present, &apiError{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity,
				fmt.Sprintf("offset %d of %s-%d: offsets may not be negative", o.Offset, o.Topic, o.Partition)}
		}
		if commit && o.Offset == math.MaxInt64 {
			return nil, present, &apiError{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity,
				fmt.Sprintf("offset %d of %s-%d: the commit would be of the offset after it, which no int64 holds", o.Offset, o.Topic, o.Partition)}
		}
	}
	return req.Offsets, present, nil
}

func (in *consumerInstance) assignment() []v2TopicPartition {
	in.assignMu.Lock()
	defer in.assignMu.Unlock()
	out := []v2TopicPartition{}
	for t, ps := range in.assigned {
		for p := range ps {
			out = append(out, v2TopicPartition{t, p})
		}
	}
	slices.SortFunc(out, func(a, b v2TopicPartition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

func (v *v2State) assignments(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, true) {
		return
	}
	in, _, ok := v.instance(w, r)
	if !ok || !lockInstance(w, in) {
		return
	}
	defer in.mu.Unlock()
	writeV2(w, http.StatusOK, map[string][]v2TopicPartition{"partitions": in.assignment()})
}

// --- positions ---

type v2Offset struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Metadata  *string `json:"metadata,omitempty"`
}

// seekLocked moves the given partitions' positions; a partition not
// assigned answers 40903 as KafkaConsumer.seek's IllegalStateException.
// Expects mu held.
func (in *consumerInstance) seekLocked(w http.ResponseWriter, r *http.Request, offsets []v2Offset) {
	for _, o := range offsets {
		if in.kc == nil || !in.isAssigned(o.Topic, o.Partition) {
			illegalState(w, fmt.Sprintf("No current assignment for partition %s-%d", o.Topic, o.Partition))
			return
		}
	}
	set := map[string]map[int32]kgo.EpochOffset{}
	for _, o := range offsets {
		if set[o.Topic] == nil {
			set[o.Topic] = map[int32]kgo.EpochOffset{}
		}
		set[o.Topic][o.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o.Offset}
		if in.consumed[o.Topic] == nil {
			in.consumed[o.Topic] = map[int32]kgo.EpochOffset{}
		}
		in.consumed[o.Topic][o.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o.Offset}
	}
	if in.mode == modeAssigned {
		// kgo's SetOffsets skips a partition its direct consumer has not
		// started yet (the topic's metadata not loaded: an assignment
		// followed at once by a seek, kafka-rest's documented flow), and
		// the reset offset then wins. A new client starts every assigned
		// partition exactly: where asked (consumed now holds it), else
		// after the last record answered, else where the assignment
		// started it.
		if err := in.restartAssignedLocked(r); err != nil {
			writeKafkaError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	in.buffer = slices.DeleteFunc(in.buffer, func(rec *kgo.Record) bool {
		_, ok := set[rec.Topic][rec.Partition]
		return ok
	})
	in.kc.SetOffsets(set)
	w.WriteHeader(http.StatusNoContent)
}

// restartAssignedLocked replaces an assigned instance's client by one that
// starts each assigned partition at consumed's offset (a seek's target or
// after the last record answered), else at startAt's; the records buffered
// are dropped with the old client (fetched again from those offsets).
// Expects mu held.
func (in *consumerInstance) restartAssignedLocked(r *http.Request) error {
	start := map[string]map[int32]kgo.Offset{}
	for t, ps := range in.startAt {
		start[t] = maps.Clone(ps)
		for p := range ps {
			if eo, ok := in.consumed[t][p]; ok {
				start[t][p] = kgo.NewOffset().At(eo.Offset)
			}
		}
	}
	kc, err := in.v.s.newConsumerClient(r, kgo.ConsumePartitions(start), kgo.ConsumeResetOffset(in.reset))
	if err != nil {
		return err
	}
	in.kc.Close()
	in.kc, in.startAt, in.buffer = kc, start, nil
	return nil
}

func (v *v2State) seek(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, true) || !checkContentType(w, r) {
		return
	}
	data, ok := readBodyBytes(w, r, v2MaxConsumerBodyBytes)
	if !ok {
		return
	}
	offsets, present, ae := parseOffsets(data, false)
	if ae == nil && !present {
		ae = &apiError{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, "offsets is required"}
	}
	if ae != nil {
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	req := struct{ Offsets []v2Offset }{offsets}
	in, _, ok := v.instance(w, r)
	if !ok || !lockInstance(w, in) {
		return
	}
	defer in.mu.Unlock()
	in.seekLocked(w, r, req.Offsets)
}

func (v *v2State) seekToBeginning(w http.ResponseWriter, r *http.Request) { v.seekToEdge(w, r, true) }
func (v *v2State) seekToEnd(w http.ResponseWriter, r *http.Request)       { v.seekToEdge(w, r, false) }

func (v *v2State) seekToEdge(w http.ResponseWriter, r *http.Request, beginning bool) {
	if !checkAccept(w, r, true) || !checkContentType(w, r) {
		return
	}
	data, ok := readBodyBytes(w, r, v2MaxConsumerBodyBytes)
	if !ok {
		return
	}
	partitions, present, ae := parsePartitions(data)
	if ae == nil && !present {
		ae = &apiError{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, "partitions is required"}
	}
	if ae != nil {
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	req := struct{ Partitions []v2TopicPartition }{partitions}
	in, c, ok := v.instance(w, r)
	if !ok || !lockInstance(w, in) {
		return
	}
	defer in.mu.Unlock()
	var topics []string
	for _, tp := range req.Partitions {
		if in.kc == nil || !in.isAssigned(tp.Topic, tp.Partition) {
			illegalState(w, fmt.Sprintf("No current assignment for partition %s-%d", tp.Topic, tp.Partition))
			return
		}
		topics = append(topics, tp.Topic)
	}
	if len(topics) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	slices.Sort(topics)
	topics = slices.Compact(topics)
	list := c.Admin.ListEndOffsets
	if beginning {
		list = c.Admin.ListStartOffsets
	}
	listed, err := list(r.Context(), topics...)
	if err != nil {
		writeKafkaError(w, err)
		return
	}
	var offsets []v2Offset
	for _, tp := range req.Partitions {
		lo, ok := listed.Lookup(tp.Topic, tp.Partition)
		if !ok {
			writeError(w, http.StatusNotFound, 40402, "Partition not found.")
			return
		}
		if lo.Err != nil {
			writeKafkaError(w, lo.Err)
			return
		}
		offsets = append(offsets, v2Offset{Topic: tp.Topic, Partition: tp.Partition, Offset: lo.Offset})
	}
	in.seekLocked(w, r, offsets)
}

// --- offsets ---

func (v *v2State) commitOffsets(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, true) || !checkContentType(w, r) {
		return
	}
	data, ok := readBodyBytes(w, r, v2MaxConsumerBodyBytes)
	if !ok {
		return
	}
	given, present, ae := parseOffsets(data, true)
	if ae != nil {
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	req := struct{ Offsets []v2Offset }{given}
	in, c, ok := v.instance(w, r)
	if !ok || !lockInstance(w, in) {
		return
	}
	defer in.mu.Unlock()
	// No body: everything answered so far; otherwise each offset given is
	// the last one processed, and the commit is the next (kafka-rest
	// commits offset+1).
	offsets := in.consumed
	var metadata map[string]map[int32]string
	if present {
		offsets = map[string]map[int32]kgo.EpochOffset{}
		metadata = map[string]map[int32]string{}
		for _, o := range req.Offsets {
			if offsets[o.Topic] == nil {
				offsets[o.Topic] = map[int32]kgo.EpochOffset{}
				metadata[o.Topic] = map[int32]string{}
			}
			offsets[o.Topic][o.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o.Offset + 1}
			if o.Metadata != nil {
				metadata[o.Topic][o.Partition] = *o.Metadata
			}
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	var err error
	hasMetadata := false
	for _, ps := range metadata {
		hasMetadata = hasMetadata || len(ps) > 0
	}
	switch {
	case (in.mode == modeTopics || in.mode == modePattern) && !hasMetadata:
		in.kc.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, cerr error) {
			err = commitResponseError(resp, cerr)
		})
	case in.mode == modeTopics || in.mode == modePattern:
		// kgo's commits carry no metadata: commit as the member.
		err = in.commitAsMember(ctx, offsets, metadata)
	default:
		var os kadm.Offsets
		for t, ps := range offsets {
			for p, eo := range ps {
				os.Add(kadm.Offset{Topic: t, Partition: p, At: eo.Offset, LeaderEpoch: eo.Epoch, Metadata: metadata[t][p]})
			}
		}
		if len(os) > 0 {
			var resp kadm.OffsetResponses
			resp, err = c.Admin.CommitOffsets(ctx, in.group, os)
			if err == nil {
				err = resp.Error()
			}
		}
	}
	if err != nil {
		writeKafkaError(w, err)
		return
	}
	writeV2(w, http.StatusOK, []v2Offset{})
}

func (v *v2State) committedOffsets(w http.ResponseWriter, r *http.Request) {
	if !checkAccept(w, r, true) || !checkContentType(w, r) {
		return
	}
	data, ok := readBodyBytes(w, r, v2MaxConsumerBodyBytes)
	if !ok {
		return
	}
	partitions, present, ae := parsePartitions(data)
	if ae != nil {
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	req := struct{ Partitions []v2TopicPartition }{partitions}
	in, c, ok := v.instance(w, r)
	if !ok {
		return
	}
	if !present { // kafka-rest: a request without partitions
		writeError(w, http.StatusNotFound, 40402, "Partition not found.")
		return
	}
	committed, err := c.Admin.FetchOffsets(r.Context(), in.group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		writeKafkaError(w, err)
		return
	}
	out := []v2Offset{}
	for _, tp := range req.Partitions {
		o, ok := committed.Lookup(tp.Topic, tp.Partition)
		if !ok || o.Err != nil || o.At < 0 {
			continue
		}
		md := o.Metadata
		out = append(out, v2Offset{Topic: tp.Topic, Partition: tp.Partition, Offset: o.At, Metadata: &md})
	}
	writeV2(w, http.StatusOK, map[string][]v2Offset{"offsets": out})
}

// commitResponseError is a group commit's first error.
func commitResponseError(resp *kmsg.OffsetCommitResponse, err error) error {
	if err != nil || resp == nil {
		return err
	}
	for _, t := range resp.Topics {
		name := t.Topic
		if name == "" {
			name = fmt.Sprintf("%x", t.TopicID)
		}
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("restproxy: committing %s-%d: %w", name, p.Partition, err)
			}
		}
	}
	return nil
}

// randomUUID is a version 4 UUID (kafka-rest names unnamed instances
// rest-consumer-<UUID>).
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// commitAsMember commits offsets with metadata in the member's current
// generation (a group member's commit, which kgo's commit functions make
// without metadata).
func (in *consumerInstance) commitAsMember(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset, metadata map[string]map[int32]string) error {
	member, generation := in.kc.GroupMetadata()
	// OffsetCommit v10+ names topics by id.
	topics := make([]string, 0, len(offsets))
	for t := range offsets {
		topics = append(topics, t)
	}
	tds, err := kadm.NewClient(in.kc).ListTopics(ctx, topics...)
	if err != nil {
		return err
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = in.group
	req.MemberID = member
	req.Generation = generation
	for t, ps := range offsets {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = t
		if td, ok := tds[t]; ok && td.Err == nil {
			rt.TopicID = td.ID
		}
		for p, eo := range ps {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition = p
			rp.Offset = eo.Offset
			rp.LeaderEpoch = eo.Epoch
			if md, ok := metadata[t][p]; ok {
				rp.Metadata = &md
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, in.kc)
	return commitResponseError(resp, err)
}
