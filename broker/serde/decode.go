package serde

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// The wire format: byte 0 is the magic 0, bytes 1-4 the schema id (big
// endian), then the payload. A Protobuf payload starts with the message
// indexes: a zigzag varint count, then that many zigzag varint indexes
// (the first into the file's top-level messages, each next one into the
// previous message's nested messages); a count of 0 alone means [0].

const headerSize = 5

// maxMessageIndexes bounds the message index list (nesting depth of the
// message named); real schemas nest a handful of levels.
const maxMessageIndexes = 64

func appendHeader(b []byte, id int) []byte {
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, uint32(id))
}

// Decode makes data readable; it never fails: bytes it cannot decode come
// back as "binary" with Error saying why, when they looked like the wire
// format.
func (s *Serde) Decode(ctx context.Context, data []byte) Decoded {
	d := Decoded{Size: len(data)}
	if data == nil {
		d.Format, d.Value = "null", json.RawMessage("null")
		return d
	}
	if len(data) >= headerSize && data[0] == 0 {
		id := int(binary.BigEndian.Uint32(data[1:headerSize]))
		format, subject, value, err := s.decodeFramed(ctx, id, data[headerSize:])
		if err == nil {
			d.Format, d.SchemaID, d.Subject, d.Value = format, id, subject, value
			return d
		}
		d.Format, d.Value = "binary", base64JSON(data)
		d.Error = err.Error()
		return d
	}
	return plain(d, data)
}

// plain classifies unframed bytes: a JSON object or array, UTF-8 text, or
// binary.
func plain(d Decoded, data []byte) Decoded {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') && json.Valid(trimmed) {
		d.Format, d.Value = "json", json.RawMessage(trimmed)
		return d
	}
	if utf8.Valid(data) {
		d.Format = "string"
		d.Value = appendJSONString(nil, string(data))
		return d
	}
	d.Format, d.Value = "binary", base64JSON(data)
	return d
}

func base64JSON(data []byte) json.RawMessage {
	out := make([]byte, 0, base64.StdEncoding.EncodedLen(len(data))+2)
	out = append(out, '"')
	out = base64.StdEncoding.AppendEncode(out, data)
	return append(out, '"')
}

func (s *Serde) decodeFramed(ctx context.Context, id int, payload []byte) (format, subject string, value json.RawMessage, err error) {
	if s.reg == nil {
		return "", "", nil, fmt.Errorf("magic byte 0 and schema id %d, but %w", id, ErrNoRegistry)
	}
	p, err := s.schema(ctx, id)
	if err != nil {
		return "", "", nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	switch p.format {
	case FormatAvro:
		value, err = p.avro.decode(payload)
		format = "avro"
	case FormatProtobuf:
		value, err = p.proto.decode(payload)
		format = "protobuf"
	case FormatJSONSchema:
		value, err = p.json.decode(payload)
		format = "jsonschema"
	}
	if err != nil {
		return "", "", nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	return format, p.subject, value, nil
}

// readMessageIndexes reads a Protobuf payload's message indexes.
func readMessageIndexes(b []byte) (indexes []int, rest []byte, err error) {
	count, n := binary.Varint(b)
	if n <= 0 {
		return nil, nil, fmt.Errorf("%w: bad message index count", ErrInvalidData)
	}
	b = b[n:]
	if count == 0 {
		return []int{0}, b, nil
	}
	if count < 0 || count > maxMessageIndexes {
		return nil, nil, fmt.Errorf("%w: message index count %d out of range", ErrInvalidData, count)
	}
	indexes = make([]int, 0, count)
	for range count {
		idx, n := binary.Varint(b)
		if n <= 0 || idx < 0 || idx > 1<<30 {
			return nil, nil, fmt.Errorf("%w: bad message index", ErrInvalidData)
		}
		indexes = append(indexes, int(idx))
		b = b[n:]
	}
	return indexes, b, nil
}

// appendMessageIndexes writes indexes as Confluent's serializers do: [0]
// as the single byte 0.
func appendMessageIndexes(b []byte, indexes []int) []byte {
	if len(indexes) == 1 && indexes[0] == 0 {
		return append(b, 0)
	}
	b = binary.AppendVarint(b, int64(len(indexes)))
	for _, i := range indexes {
		b = binary.AppendVarint(b, int64(i))
	}
	return b
}
