package broker

// Produce-side schema ID validation (Confluent Server's broker-side Schema
// ID Validation): a topic with confluent.value.schema.validation=true
// (confluent.key.schema.validation for keys) accepts a batch only if every
// record's non-null value (key) is in the schema registry wire format
// (magic byte 0, then a 4-byte big-endian schema id) with an id the
// built-in registry has registered under the record's subject, by
// TopicNameStrategy "<topic>-value" ("<topic>-key"). Null values and keys
// pass (tombstones), as Confluent's do. The payload itself is not checked
// against the schema (Confluent's does not either).
//
// A batch with a refused record is refused whole with INVALID_RECORD and
// every refused record listed (KIP-467, as the other record errors:
// batch.go's recordsError). A broker whose registry is off refuses such a
// topic's batches with INVALID_RECORD saying so; a registry that cannot
// answer in time (catching up after a start) gives a retriable
// KAFKA_STORAGE_ERROR.
//
// The cost when no topic has it on: one bool test in produceOne
// (TopicSettings.SchemaValidation()). With it on, the batch is walked again
// (decompressed, bounded by max.message.bytes) and the registry asked once
// per distinct id per batch (an in-memory lookup once it is caught up).

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/log/records"
)

// schemaIDChecker is what validation asks of the registry
// (schemareg.Registry.SubjectHasID): whether id is registered, not
// deleted, under subject. Safe for concurrent use; it may block while the
// registry catches up, up to ctx.
type schemaIDChecker interface {
	SubjectHasID(ctx context.Context, subject string, id int32) (bool, error)
}

// schemaCheckTimeout bounds how long one batch's validation waits for the
// registry.
const schemaCheckTimeout = 5 * time.Second

// errSchemaRegistryUnavailable: the registry could not answer (retriable:
// KAFKA_STORAGE_ERROR at the wire edge, errorCode's default).
var errSchemaRegistryUnavailable = errors.New("broker: schema registry unavailable for schema validation")

// validateSchemaIDs applies the topic's schema validation to the batch raw
// (already validated by validateBatch).
func (b *Broker) validateSchemaIDs(topicName string, s *config.TopicSettings, raw []byte) error {
	if b.schemaIDs == nil {
		return fmt.Errorf("%w: topic %s has schema validation on (confluent.key/value.schema.validation) but this broker's schema registry is off (--schema-registry-addr)", errInvalidRecord, topicName)
	}
	ctx, cancel := context.WithTimeout(context.Background(), schemaCheckTimeout)
	defer cancel()
	v := schemaValidation{ids: b.schemaIDs, ctx: ctx, lastRefused: -1}
	if s.KeySchemaValidation {
		v.key = &schemaSide{what: "key", subject: topicName + "-key"}
	}
	if s.ValueSchemaValidation {
		v.value = &schemaSide{what: "value", subject: topicName + "-value"}
	}
	var i int32
	err := records.ForEach(raw, int(min(s.MaxMessageBytes, 1<<31-1)), func(r records.Record) error {
		defer func() { i++ }()
		if v.key != nil && r.Key != nil {
			if err := v.check(v.key, i, r.Key); err != nil {
				return err
			}
		}
		if v.value != nil && r.Value != nil && v.lastRefused != i {
			return v.check(v.value, i, r.Value)
		}
		return nil
	})
	switch {
	case errors.Is(err, errSchemaRegistryUnavailable):
		return err
	case errors.Is(err, records.ErrTooLarge):
		return fmt.Errorf("%w: the batch decompresses to more than max.message.bytes %d", errMessageTooLarge, s.MaxMessageBytes)
	case err != nil:
		return fmt.Errorf("%w: %w", errInvalidRecord, err)
	case len(v.refused) > 0:
		return &recordsError{err: errInvalidRecord, records: v.refused, total: v.total}
	}
	return nil
}

// schemaSide is the key's or the value's validation within one batch.
type schemaSide struct {
	what    string // "key" or "value"
	subject string
	// known caches the registry's answers for this batch.
	known map[int32]bool
}

// schemaValidation is one batch's validation state.
type schemaValidation struct {
	ids        schemaIDChecker
	ctx        context.Context
	key, value *schemaSide
	refused    []recordError
	total      int
	// lastRefused is the index of the last record refused (-1: none), so
	// a record whose key and value are both bad counts once.
	lastRefused int32
}

// check checks the key or value data of the record at index i.
func (v *schemaValidation) check(side *schemaSide, i int32, data []byte) error {
	if len(data) < 5 || data[0] != 0 {
		v.refuse(i, "The "+side.what+" of the record at batch index "+strconv.Itoa(int(i))+
			" is not in the schema registry wire format (magic byte 0 and a 4-byte schema id), required by subject "+side.subject)
		return nil
	}
	id := int32(binary.BigEndian.Uint32(data[1:5]))
	ok, seen := side.known[id]
	if !seen {
		var err error
		ok, err = v.ids.SubjectHasID(v.ctx, side.subject, id)
		if err != nil {
			return fmt.Errorf("%w: %v", errSchemaRegistryUnavailable, err)
		}
		if side.known == nil {
			side.known = make(map[int32]bool, 1)
		}
		side.known[id] = ok
	}
	if !ok {
		v.refuse(i, "The "+side.what+" of the record at batch index "+strconv.Itoa(int(i))+
			" has schema id "+strconv.Itoa(int(id))+", which is not registered under subject "+side.subject)
	}
	return nil
}

func (v *schemaValidation) refuse(i int32, msg string) {
	v.total++
	v.lastRefused = i
	if len(v.refused) < maxRecordErrors {
		v.refused = append(v.refused, recordError{index: i, problem: recordSchemaID, msg: msg})
	}
}
