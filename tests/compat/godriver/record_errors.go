package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
)

// produce_record_errors (KIP-467): one batch of 100 records to a compacted
// topic, every record at batch index 3, 13, ..., 93 without a key. The
// broker refuses the batch and lists exactly those 10 in the response's
// RecordErrors; a client that maps them fails those 10 with INVALID_RECORD
// and the other 90 with another error. Nothing is written.

// recordErrorsClient is a client whose producer reports per-record errors.
type recordErrorsClient interface {
	// ProduceEach sends recs to partition 0 of topic as one batch (acks=all,
	// not idempotent) and returns each record's delivery error (nil:
	// delivered).
	ProduceEach(ctx context.Context, topic string, recs []rec) ([]error, error)
	// IsInvalidRecord reports whether a delivery error is INVALID_RECORD.
	IsInvalidRecord(error) bool
}

// recordErrorsUnsupported is a client that cannot report per-record errors;
// it says why.
type recordErrorsUnsupported interface{ recordErrorsNA() string }

// keylessIndexes are the records produce_record_errors sends without a key.
func keylessIndexes() []int {
	var out []int
	for i := 3; i < 100; i += 10 {
		out = append(out, i)
	}
	return out
}

func scRecordErrors(ctx context.Context, e *env) error {
	if u, ok := e.cl.(recordErrorsUnsupported); ok {
		return na("%s", u.recordErrorsNA())
	}
	rc, ok := e.cl.(recordErrorsClient)
	if !ok {
		return fmt.Errorf("driver: client implements neither ProduceEach nor recordErrorsNA")
	}
	t := e.topic()
	if err := e.createTopic(ctx, t, 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	keyless := keylessIndexes()
	recs := make([]rec, 100)
	for i := range recs {
		recs[i].Value = []byte("v" + strconv.Itoa(i))
		if !slices.Contains(keyless, i) {
			recs[i].Key = []byte("k" + strconv.Itoa(i))
		}
	}
	errs, err := rc.ProduceEach(ctx, t, recs)
	if err != nil {
		return err
	}
	var invalid, delivered []int
	for i, err := range errs {
		switch {
		case err == nil:
			delivered = append(delivered, i)
		case rc.IsInvalidRecord(err):
			invalid = append(invalid, i)
		}
	}
	if len(delivered) > 0 {
		return fmt.Errorf("records %v were delivered", delivered)
	}
	if !slices.Equal(invalid, keyless) {
		return fmt.Errorf("records failed with INVALID_RECORD: %v, want %v (first error: %v)", invalid, keyless, errs[0])
	}
	return nil
}
