// Package fuzzseed builds seed inputs for the request fuzzers: a valid
// request of every API key kmsg knows at every version kmsg knows, each with
// one element in every array (so the fuzzer starts from bodies whose nested
// structs are on the wire, not from empty arrays), encoded as kmsg encodes
// them. It is used by tests only (protocol's and broker's fuzz targets).
package fuzzseed

import (
	"reflect"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request is one seed: a request at a version, and its encoded body (no
// header).
type Request struct {
	Key, Version int16
	Body         kmsg.Request
	Encoded      []byte
}

// All returns a seed for every key 0..kmsg.MaxKey that kmsg knows at every
// version from 0 to its MaxVersion.
func All() []Request {
	var out []Request
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		probe := kmsg.RequestForKey(key)
		if probe == nil {
			continue
		}
		for v := int16(0); v <= probe.MaxVersion(); v++ {
			req := kmsg.RequestForKey(key)
			fill(reflect.ValueOf(req).Elem(), 0)
			req.SetVersion(v)
			out = append(out, Request{Key: key, Version: v, Body: req, Encoded: req.AppendTo(nil)})
		}
	}
	return out
}

// Frame is req framed as on the wire without its size prefix: header v1 or
// v2 (client id "fuzz", tags when flexible), then the body.
func Frame(key, version int16, correlationID int32, body []byte) []byte {
	req := kmsg.RequestForKey(key)
	req.SetVersion(version)
	b := []byte{byte(key >> 8), byte(key), byte(version >> 8), byte(version),
		byte(correlationID >> 24), byte(correlationID >> 16), byte(correlationID >> 8), byte(correlationID),
		0, 4, 'f', 'u', 'z', 'z'}
	if req.IsFlexible() {
		b = append(b, 0)
	}
	return append(b, body...)
}

// fill gives every array in v (a kmsg struct) one defaulted element, and
// every empty string a one-letter value, recursively down to a few levels.
func fill(v reflect.Value, depth int) {
	if depth > 4 || v.Kind() != reflect.Struct {
		return
	}
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.String:
			if f.Len() == 0 {
				f.SetString("t")
			}
		case reflect.Slice:
			el := f.Type().Elem()
			if el.Kind() != reflect.Struct || f.Len() > 0 {
				continue
			}
			s := reflect.MakeSlice(f.Type(), 1, 1)
			e := s.Index(0)
			if d := e.Addr().MethodByName("Default"); d.IsValid() {
				d.Call(nil)
			}
			fill(e, depth+1)
			f.Set(s)
		case reflect.Struct:
			fill(f, depth+1)
		}
	}
}
