package telemetry

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
)

// UUIDString is Kafka's Uuid.toString: URL-safe base64 without padding.
func UUIDString(u [16]byte) string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// Sentinel errors of GetTelemetrySubscriptions and PushTelemetry; the
// broker maps them to Kafka's error codes.
var (
	ErrThrottled           = errors.New("telemetry: request arrived before the next push interval")   // THROTTLING_QUOTA_EXCEEDED
	ErrUnknownSubscription = errors.New("telemetry: unknown client subscription id")                  // UNKNOWN_SUBSCRIPTION_ID
	ErrTerminated          = errors.New("telemetry: client instance already sent a terminating push") // INVALID_REQUEST
	ErrInvalidInstance     = errors.New("telemetry: invalid client instance id")                      // INVALID_REQUEST
	ErrUnsupportedCodec    = errors.New("telemetry: unsupported compression type")                    // UNSUPPORTED_COMPRESSION_TYPE
	ErrTooLarge            = errors.New("telemetry: metrics larger than telemetry.max.bytes")         // TELEMETRY_TOO_LARGE
	ErrInvalidMetrics      = errors.New("telemetry: metrics payload cannot be decoded")               // INVALID_RECORD
)

// Compression types, numbered as Kafka's CompressionType ids.
const (
	CodecNone   int8 = 0
	CodecGzip   int8 = 1
	CodecSnappy int8 = 2
	CodecLZ4    int8 = 3
	CodecZstd   int8 = 4
)

// AcceptedCodecs are the compression types the broker offers, in Kafka's
// order of preference (none is always accepted and not listed).
var AcceptedCodecs = []int8{CodecZstd, CodecLZ4, CodecGzip, CodecSnappy}

// sweepEveryMs spaces the expiry sweeps of Instances and Store, which
// walk every instance.
const sweepEveryMs = 1000

// instance is one client instance's state (Kafka's ClientMetricsInstance).
type instance struct {
	info       ClientInfo
	plan       Plan
	generation uint64 // the subscriptions generation the plan was resolved from
	lastGet    int64  // ms; 0: never
	lastPush   int64  // ms; 0: never
	lastError  error  // the last error answered to this instance
	terminated bool
	lastSeen   int64 // ms: the last request of either kind, for expiry
}

// Instances keeps the client instances a broker has seen and applies
// Kafka's ClientMetricsManager rules to their requests. Times are in
// milliseconds and passed in, so the rules are tested without a clock.
//
// Locking: mu guards every field; the subscriptions are replaced whole by
// SetSubscriptions (a new generation) and read under mu.
type Instances struct {
	mu         sync.Mutex
	subs       []Subscription
	generation uint64
	byID       map[[16]byte]*instance
	// MaxInstances bounds the cache (Kafka: 16384); the least recently
	// seen instance is evicted first. ExpiryMs: an instance not seen for
	// max(ExpiryMs, 3 push intervals) is dropped (Kafka: 60 s).
	maxInstances int
	expiryMs     int64
	lastSweep    int64 // ms: expiry runs at most once a second
}

// NewInstances returns an empty cache; maxInstances <= 0 means 16384 and
// expiryMs <= 0 means 60000.
func NewInstances(maxInstances int, expiryMs int64) *Instances {
	if maxInstances <= 0 {
		maxInstances = 16384
	}
	if expiryMs <= 0 {
		expiryMs = 60000
	}
	return &Instances{byID: map[[16]byte]*instance{}, maxInstances: maxInstances, expiryMs: expiryMs, generation: 1}
}

// SetSubscriptions replaces the subscriptions; every instance resolves its
// plan again on its next request (with its timestamps reset, as Kafka
// re-creates the instance).
func (in *Instances) SetSubscriptions(subs []Subscription) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.subs = subs
	in.generation++
}

// Answer is GetTelemetrySubscriptions' answer.
type Answer struct {
	InstanceID [16]byte
	Plan       Plan
}

// NewInstanceID returns a fresh random Uuid that is not one of Kafka's
// reserved ones (zero, and the metadata topic id 1).
func NewInstanceID() [16]byte {
	for {
		var u [16]byte
		_, _ = rand.Read(u[:])
		if !reservedUUID(u) && UUIDString(u)[0] != '-' {
			return u
		}
	}
}

func reservedUUID(u [16]byte) bool {
	var zero, one [16]byte
	one[15] = 1
	return u == zero || u == one
}

// lookupLocked returns the instance for id, creating it (with info) or
// re-resolving its plan when the subscriptions changed since.
func (in *Instances) lookupLocked(id [16]byte, info ClientInfo, now int64) *instance {
	in.expireLocked(now)
	inst := in.byID[id]
	switch {
	case inst == nil:
		info.InstanceID = id
		if len(in.byID) >= in.maxInstances {
			in.evictOldestLocked()
		}
		inst = &instance{info: info}
		inst.plan, inst.generation = Resolve(in.subs, &inst.info), in.generation
		in.byID[id] = inst
	case inst.generation != in.generation:
		// Kafka re-creates the instance: new plan, timestamps reset, the
		// metadata of the first request kept.
		*inst = instance{info: inst.info}
		inst.plan, inst.generation = Resolve(in.subs, &inst.info), in.generation
	}
	inst.lastSeen = now
	return inst
}

func (in *Instances) expireLocked(now int64) {
	if now-in.lastSweep < sweepEveryMs && now >= in.lastSweep {
		return
	}
	in.lastSweep = now
	for id, inst := range in.byID {
		ttl := max(in.expiryMs, 3*int64(inst.plan.IntervalMs))
		if now-inst.lastSeen > ttl {
			delete(in.byID, id)
		}
	}
}

func (in *Instances) evictOldestLocked() {
	var oldest [16]byte
	first := true
	var at int64
	for id, inst := range in.byID {
		if first || inst.lastSeen < at {
			oldest, at, first = id, inst.lastSeen, false
		}
	}
	delete(in.byID, oldest)
}

// Get applies GetTelemetrySubscriptions: a zero id gets a new instance id;
// a request sooner than the push interval after the instance's last get or
// push is throttled, unless the last answer was UNKNOWN_SUBSCRIPTION_ID or
// UNSUPPORTED_COMPRESSION_TYPE (the client is told to fetch again at once).
func (in *Instances) Get(id [16]byte, info ClientInfo, now int64) (Answer, error) {
	if id == ([16]byte{}) {
		id = NewInstanceID()
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	inst := in.lookupLocked(id, info, now)
	last := max(inst.lastGet, inst.lastPush)
	if (last != 0 && now-last < int64(inst.plan.IntervalMs)) &&
		!errors.Is(inst.lastError, ErrUnknownSubscription) && !errors.Is(inst.lastError, ErrUnsupportedCodec) {
		inst.lastError = ErrThrottled
		return Answer{InstanceID: id}, fmt.Errorf("%w: client %s", ErrThrottled, UUIDString(id))
	}
	inst.lastGet = now
	inst.lastError = nil
	return Answer{InstanceID: id, Plan: inst.plan}, nil
}

// Push is one PushTelemetry request's header.
type Push struct {
	InstanceID     [16]byte
	SubscriptionID int32
	Terminating    bool
	Codec          int8
	Size           int // bytes of (compressed) metrics
}

// Push applies PushTelemetry's checks in Kafka's order: a reserved
// instance id; an instance that already terminated; too early (a push
// right after a get is always accepted, as the client jitters its
// interval; a terminating push is never throttled); a stale subscription
// id; an unknown compression type; more than maxBytes. On success it
// returns the instance's plan and info (for the export) and records the
// push; the caller reports an export failure with Failed.
func (in *Instances) Push(p Push, info ClientInfo, maxBytes int, now int64) (Plan, ClientInfo, error) {
	if reservedUUID(p.InstanceID) {
		return Plan{}, ClientInfo{}, fmt.Errorf("%w: %s", ErrInvalidInstance, UUIDString(p.InstanceID))
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	inst := in.lookupLocked(p.InstanceID, info, now)
	fail := func(err error) (Plan, ClientInfo, error) {
		inst.lastError = err
		return Plan{}, ClientInfo{}, fmt.Errorf("%w: client %s", err, UUIDString(p.InstanceID))
	}
	if inst.terminated {
		return fail(ErrTerminated)
	}
	accept := inst.lastGet > inst.lastPush || now-inst.lastPush >= int64(inst.plan.IntervalMs)
	if accept {
		inst.lastPush = now
	} else if !p.Terminating {
		return fail(ErrThrottled)
	}
	if p.SubscriptionID != inst.plan.SubscriptionID {
		return fail(ErrUnknownSubscription)
	}
	if p.Codec < CodecNone || p.Codec > CodecZstd {
		return fail(ErrUnsupportedCodec)
	}
	if p.Size > maxBytes {
		return fail(ErrTooLarge)
	}
	inst.terminated = p.Terminating
	inst.lastError = nil
	return inst.plan, inst.info, nil
}

// Failed records that the export of an accepted push failed (Kafka answers
// INVALID_RECORD and remembers it as the instance's last error).
func (in *Instances) Failed(id [16]byte, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if inst := in.byID[id]; inst != nil {
		inst.lastError = err
	}
}

// Len is the number of cached instances.
func (in *Instances) Len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.byID)
}
