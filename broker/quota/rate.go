package quota

import (
	"math"
	"time"
)

// Window is the shape of Kafka's sampled rate: quota.window.num samples of
// quota.window.size.seconds each.
type Window struct {
	Samples int
	Size    time.Duration
}

// DefaultWindow is Kafka's: 11 samples of 1 s.
var DefaultWindow = Window{Samples: 11, Size: time.Second}

func (w Window) normalized() Window {
	if w.Samples < 1 {
		w.Samples = DefaultWindow.Samples
	}
	if w.Size <= 0 {
		w.Size = DefaultWindow.Size
	}
	return w
}

// Rate is Kafka's Rate over a SampledStat of totals: a ring of Samples
// windows of Size each; the rate is the sum of the live samples divided by
// the time they span, which is at least Samples-1 whole windows (so a new
// sensor does not see a huge rate from its first bytes). Not safe for
// concurrent use: the Manager guards each Rate with its sensor's lock.
type Rate struct {
	w       Window
	samples []rateSample // grows to w.Samples
	current int
}

type rateSample struct {
	start int64 // window start, ms
	total float64
}

// NewRate returns an empty rate over w.
func NewRate(w Window) *Rate {
	w = w.normalized()
	return &Rate{w: w, samples: make([]rateSample, 0, w.Samples)}
}

func (r *Rate) windowMs() int64 { return r.w.Size.Milliseconds() }

// Record adds value at nowMs (Kafka's SampledStat.record: a sample whose
// window has passed is replaced by the next one in the ring).
func (r *Rate) Record(value float64, nowMs int64) {
	if len(r.samples) == 0 {
		r.samples = append(r.samples, rateSample{start: nowMs})
		r.current = 0
	}
	s := &r.samples[r.current]
	if nowMs-s.start >= r.windowMs() {
		r.current = (r.current + 1) % r.w.Samples
		if r.current >= len(r.samples) {
			r.samples = append(r.samples, rateSample{start: nowMs})
		} else {
			r.samples[r.current] = rateSample{start: nowMs}
		}
		s = &r.samples[r.current]
	}
	s.total += value
}

// purge resets the samples older than the whole window (Kafka's
// purgeObsoleteSamples).
func (r *Rate) purge(nowMs int64) {
	expire := int64(r.w.Samples) * r.windowMs()
	for i := range r.samples {
		if nowMs-r.samples[i].start >= expire {
			r.samples[i] = rateSample{start: nowMs}
		}
	}
}

// windowSizeMs is the time the live samples span, at least Samples-1 whole
// windows (Kafka's Rate.windowSize).
func (r *Rate) windowSizeMs(nowMs int64) int64 {
	r.purge(nowMs)
	oldest := nowMs
	for _, s := range r.samples {
		oldest = min(oldest, s.start)
	}
	elapsed := nowMs - oldest
	full := elapsed / r.windowMs()
	if minFull := int64(r.w.Samples - 1); full < minFull {
		elapsed += (minFull - full) * r.windowMs()
	}
	return elapsed
}

// Measure is the rate per second at nowMs (Kafka's Rate.measure).
func (r *Rate) Measure(nowMs int64) float64 {
	r.purge(nowMs)
	total := 0.0
	for _, s := range r.samples {
		total += s.total
	}
	ws := r.windowSizeMs(nowMs)
	if ws <= 0 {
		return 0
	}
	return total / (float64(ws) / 1000)
}

// Throttle is Kafka's QuotaUtils.throttleTime for a rate measured against
// bound: zero when within it, else the time for the rate over the current
// window to fall back to the bound, (observed - bound) / bound × window.
func (r *Rate) Throttle(bound float64, nowMs int64) time.Duration {
	observed := r.Measure(nowMs)
	if observed <= bound || bound <= 0 {
		return 0
	}
	ms := math.Round((observed - bound) / bound * float64(r.windowSizeMs(nowMs)))
	if ms > float64(math.MaxInt32) {
		ms = math.MaxInt32
	}
	return time.Duration(ms) * time.Millisecond
}

// RecordAndThrottle records value and returns the throttle against bound
// (Kafka's Sensor.record with quota checking, then throttleTime). maxThrottle
// > 0 caps it (QuotaUtils.boundedThrottleTime).
func (r *Rate) RecordAndThrottle(value, bound float64, nowMs int64, maxThrottle time.Duration) time.Duration {
	r.Record(value, nowMs)
	t := r.Throttle(bound, nowMs)
	if maxThrottle > 0 {
		t = min(t, maxThrottle)
	}
	return t
}

// Idle reports whether nothing was recorded within the whole window: the
// rate would measure zero.
func (r *Rate) Idle(nowMs int64) bool {
	expire := int64(r.w.Samples) * r.windowMs()
	for _, s := range r.samples {
		if nowMs-s.start < expire {
			return false
		}
	}
	return true
}

// TokenBucket is Kafka's TokenBucket stat (KIP-599), used for
// controller_mutation_rate: it holds up to rate × Samples × Size tokens
// (the burst), refills at rate per second and is debited by each record; it
// may go into debt. It starts full. Not safe for concurrent use.
type TokenBucket struct {
	w       Window
	tokens  float64
	lastMs  int64
	started bool
}

// NewTokenBucket returns a full bucket over w.
func NewTokenBucket(w Window) *TokenBucket { return &TokenBucket{w: w.normalized()} }

func (t *TokenBucket) refill(rate float64, nowMs int64) {
	burst := rate * float64(t.w.Samples) * t.w.Size.Seconds()
	if !t.started {
		t.tokens, t.started = burst, true
	} else if nowMs > t.lastMs {
		t.tokens = min(burst, t.tokens+rate*float64(nowMs-t.lastMs)/1000)
	}
	t.tokens = min(t.tokens, burst)
	t.lastMs = max(t.lastMs, nowMs)
}

// Tokens is the balance at nowMs for a refill rate of rate per second.
func (t *TokenBucket) Tokens(rate float64, nowMs int64) float64 {
	t.refill(rate, nowMs)
	return t.tokens
}

// Record debits n tokens at nowMs.
func (t *TokenBucket) Record(n, rate float64, nowMs int64) {
	t.refill(rate, nowMs)
	t.tokens -= n
}

// Debt is how long the bucket takes to refill to zero: zero when not in
// debt (Kafka's ControllerMutationQuotaManager.throttleTime).
func (t *TokenBucket) Debt(rate float64, nowMs int64) time.Duration {
	tok := t.Tokens(rate, nowMs)
	if tok >= 0 || rate <= 0 {
		return 0
	}
	ms := math.Round(-tok / rate * 1000)
	if ms > math.MaxInt32 { // a tiny rate: capped as throttle_time_ms is
		ms = math.MaxInt32
	}
	return time.Duration(ms) * time.Millisecond
}
