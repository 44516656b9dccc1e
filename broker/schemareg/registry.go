// Package schemareg is Moldau's schema registry: Confluent Schema
// Registry's REST API over the _schemas topic, in Confluent's record
// format (FORMAT.md).
//
// Every broker runs one Registry over the same replicated topic. A
// background tailer applies the topic's records in offset order to an
// in-memory state (state.go); reads are answered from it; writes follow
// the protocol in write.go, which lets any number of instances write
// without clashing on ids or versions.
//
// Locking: mu guards st and progress (the tailer takes it for writing
// per batch, requests for reading). writeMu serialises this instance's
// writes (write.go); it is taken before mu, never while holding mu.
// parsedMu guards the parse cache only.
package schemareg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moldau/moldau/broker/schemareg/avro"
	"github.com/moldau/moldau/broker/schemareg/jsonschema"
	"github.com/moldau/moldau/broker/schemareg/protobuf"
	"github.com/moldau/moldau/broker/schemareg/schema"
)

// ErrClosed: the registry was closed.
var ErrClosed = errors.New("schemareg: registry closed")

// readBatchBytes is how much the tailer asks the log for at once.
const readBatchBytes = 1 << 20

// Registry is one registry instance (one per broker).
type Registry struct {
	cfg     Config
	logger  *slog.Logger
	formats map[string]schema.Format
	metrics *metrics
	handler http.Handler

	mu       sync.RWMutex
	st       *state
	progress chan struct{} // closed and replaced whenever st.applied moves

	writeMu sync.Mutex
	// unsureSeq (guarded by writeMu) is the highest seq of a record whose
	// Append failed: it may still land. write never plans at an end <=
	// unsureSeq (it first moves the end with a NOOP), so that no two
	// records of this instance share key bytes: compaction keeps the last
	// of equal keys, which would be the ignored copy.
	unsureSeq int64

	ready   atomic.Bool // caught up once with the End seen by a request
	started atomic.Bool
	closed  atomic.Bool
	cancel  context.CancelFunc
	done    chan struct{}

	parsedMu sync.Mutex
	parsed   map[string]parsedEntry // contentKey (+existing) -> parse result
}

// New checks cfg and returns a Registry; Start begins serving.
func New(cfg Config) (*Registry, error) {
	if cfg.Log == nil {
		return nil, errors.New("schemareg: Config.Log is nil")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	formats := cfg.Formats
	if formats == nil {
		formats = map[string]schema.Format{}
		for _, f := range []schema.Format{avro.New(), protobuf.New(), jsonschema.New()} {
			formats[f.Type()] = f
		}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	r := &Registry{
		cfg:       cfg,
		logger:    logger,
		formats:   formats,
		metrics:   m,
		st:        newState(logger),
		progress:  make(chan struct{}),
		done:      make(chan struct{}),
		parsed:    map[string]parsedEntry{},
		unsureSeq: -1,
	}
	r.handler = r.newRouter()
	return r, nil
}

// Start starts tailing the schemas topic in the background and returns at
// once; requests wait (bounded) for the first catch-up. ctx bounds
// nothing beyond Start itself; Close stops the tailing.
func (r *Registry) Start(ctx context.Context) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("schemareg: already started")
	}
	tctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.tail(tctx)
	return nil
}

// Close stops the registry; Handler answers 503 afterwards.
func (r *Registry) Close() error {
	if !r.closed.CompareAndSwap(false, true) {
		return nil
	}
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	return nil
}

// Handler is the Confluent-compatible HTTP API (every path, with
// Confluent's JSON shapes and error codes).
func (r *Registry) Handler() http.Handler { return r.handler }

// SubjectHasID reports whether schema id is registered (not deleted)
// under subject, for the broker's produce-side validation
// (confluent.value.schema.validation). A yes from the state this instance
// has applied is answered at once (a map lookup: the produce path must not
// pay a round trip to the schemas topic's leader per batch; an id deleted
// moments ago on another broker may pass until the deletion is applied
// here). A no is answered only after catching up with what was committed
// when it was called, so an id registered on another broker just before
// the produce is found.
func (r *Registry) SubjectHasID(ctx context.Context, subject string, id int32) (bool, error) {
	if r.started.Load() && r.hasID(subject, id) {
		return true, nil
	}
	if err := r.catchUp(ctx); err != nil {
		return false, err
	}
	return r.hasID(subject, id), nil
}

// hasID is SubjectHasID on the state applied so far.
func (r *Registry) hasID(subject string, id int32) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e := r.st.ids[int(id)]
	if e == nil {
		return false
	}
	for sv := range e.users {
		if sv.subject == subject {
			if v := r.st.subjects[subject][sv.version]; v != nil && !v.value.Deleted {
				return true
			}
		}
	}
	return false
}

// tail applies the schemas topic to st until ctx ends.
func (r *Registry) tail(ctx context.Context) {
	defer close(r.done)
	backoff := 50 * time.Millisecond
	for {
		r.mu.RLock()
		from := r.st.applied
		r.mu.RUnlock()
		recs, err := r.cfg.Log.Read(ctx, from, readBatchBytes)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.logger.Debug("schemareg: reading the schemas topic", "from", from, "err", err)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		if len(recs) == 0 {
			continue
		}
		r.mu.Lock()
		for _, rec := range recs {
			r.st.apply(rec)
		}
		close(r.progress)
		r.progress = make(chan struct{})
		r.metrics.observeState(r.st)
		r.mu.Unlock()
	}
}

// waitApplied waits until st has applied every offset below off.
func (r *Registry) waitApplied(ctx context.Context, off int64) error {
	for {
		r.mu.RLock()
		applied, ch := r.st.applied, r.progress
		r.mu.RUnlock()
		if applied >= off {
			return nil
		}
		if r.closed.Load() {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("schemareg: waiting for the schemas topic to reach offset %d (at %d): %w", off, applied, ctx.Err())
		case <-r.done:
			return ErrClosed
		}
	}
}

// catchUp waits until st has applied what was committed when called.
func (r *Registry) catchUp(ctx context.Context) error {
	if !r.started.Load() {
		return fmt.Errorf("%w: registry not started", ErrLogUnavailable)
	}
	end, err := r.cfg.Log.End(ctx)
	if err != nil {
		return err
	}
	if err := r.waitEnd(ctx, end); err != nil {
		return err
	}
	r.ready.Store(true)
	return nil
}

// stallAfter is how long waitEnd lets the tailer make no progress below
// the end before it writes a NOOP.
const stallAfter = 200 * time.Millisecond

// noopKey is Confluent's NOOP key; written with a null value, as Confluent
// does, it marks the end of the topic and compacts to one record.
var noopKey = []byte(`{"keytype":"NOOP","magic":0}`)

// waitEnd waits until st has applied everything below end. Compaction can
// remove the last records of the topic (tombstones, once
// delete.retention.ms has passed and their segment is no longer active),
// leaving no record at end-1 for the tailer to reach. When the tailer
// makes no progress below end for stallAfter, waitEnd does what Confluent
// does to find the end: it appends a NOOP and waits for that instead
// (once per call; a slow but moving tailer is left alone).
func (r *Registry) waitEnd(ctx context.Context, end int64) error {
	r.mu.RLock()
	applied := r.st.applied
	r.mu.RUnlock()
	if applied >= end {
		return nil // the usual case, without timers
	}
	wroteNoop := false
	for {
		r.mu.RLock()
		before := r.st.applied
		r.mu.RUnlock()
		pctx, cancel := context.WithTimeout(ctx, stallAfter)
		err := r.waitApplied(pctx, end)
		cancel()
		if err == nil || ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return err
		}
		r.mu.RLock()
		now := r.st.applied
		r.mu.RUnlock()
		if now != before || wroteNoop {
			continue
		}
		off, err := r.cfg.Log.Append(ctx, noopKey, nil)
		if err != nil {
			return err
		}
		wroteNoop = true
		r.logger.Debug("schemareg: tailer stalled below the end of the schemas topic; wrote a NOOP", "applied", now, "end", end, "noop", off)
		end = max(end, off+1)
	}
}

// readBarrier is what every request waits for first: the state caught up
// with what was committed when the request arrived, so that a read on one
// instance sees a write another instance completed before it. Once caught
// up at least once, a log that cannot say where it ends (no leader) does
// not fail reads: they are answered from the state as it is.
func (r *Registry) readBarrier(ctx context.Context) error {
	if !r.started.Load() {
		return fmt.Errorf("%w: registry not started", ErrLogUnavailable)
	}
	end, err := r.cfg.Log.End(ctx)
	if err != nil {
		if r.ready.Load() {
			return nil
		}
		return err
	}
	if err := r.waitEnd(ctx, end); err != nil {
		return err
	}
	r.ready.Store(true)
	return nil
}
