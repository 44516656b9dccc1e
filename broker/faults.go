package broker

// Fault injection for tests (embed.Broker.InjectFault): delay, fail or drop
// the connection of the next N requests of an API. Nothing here runs unless a
// fault is armed; the request path pays one atomic load.

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

// AnyAPI matches every API key in a Fault.
const AnyAPI int16 = -1

// Fault is a misbehaviour applied to the next Count requests of one API.
// Exactly one of Delay, ErrorCode and CloseConn is usually set; when several
// are, CloseConn wins over ErrorCode, and Delay applies to what is answered.
type Fault struct {
	// Key is the API key (kmsg.Produce.Int16(), …) or AnyAPI.
	Key int16
	// Count is how many matching requests the fault applies to; 0 means 1.
	Count int
	// Delay holds the response this long after the request is served (the
	// connection's later responses wait behind it, as on a slow broker).
	Delay time.Duration
	// ErrorCode, when non-zero, answers the request with this Kafka error
	// code in every error field of the response without serving it: a
	// failed produce appends nothing, a failed commit commits nothing. An
	// acks=0 produce gets no response: its connection is closed, as Kafka
	// closes it on a failed acks=0 produce.
	ErrorCode int16
	// CloseConn closes the connection instead of answering (the request is
	// not served), as a network failure would.
	CloseConn bool
}

type faultSet struct {
	armed atomic.Int32 // faults with requests left; 0 skips the lock
	mu    sync.Mutex
	list  []*Fault
}

// InjectFault arms f for the next f.Count requests matching f.Key, after any
// faults armed earlier for the same requests are used up.
func (b *Broker) InjectFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	b.faults.mu.Lock()
	b.faults.list = append(b.faults.list, &f)
	b.faults.armed.Add(1)
	b.faults.mu.Unlock()
}

// ClearFaults disarms every injected fault.
func (b *Broker) ClearFaults() {
	b.faults.mu.Lock()
	b.faults.armed.Add(-int32(len(b.faults.list)))
	b.faults.list = nil
	b.faults.mu.Unlock()
}

// take returns the fault applying to one request of key, consuming one of
// its uses, or nil.
func (s *faultSet) take(key int16) *Fault {
	if s.armed.Load() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.list {
		if f.Key != AnyAPI && f.Key != key {
			continue
		}
		g := *f
		f.Count--
		if f.Count == 0 {
			s.list = append(s.list[:i], s.list[i+1:]...)
			s.armed.Add(-1)
		}
		return &g
	}
	return nil
}

// applyFault serves req under fault f.
func (b *Broker) applyFault(ctx context.Context, f *Fault, req *protocol.Request, serve func() protocol.Reply) protocol.Reply {
	var reply protocol.Reply
	switch {
	case f.CloseConn:
		return protocol.Reply{Close: true}
	case f.ErrorCode != 0:
		if p, ok := req.Body.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
			// Kafka closes the connection of a failed acks=0 produce:
			// the producer has no other way to learn of the error.
			return protocol.Reply{NoResponse: true, Close: true}
		}
		reply = protocol.Reply{Resp: errorResponse(req.Body, f.ErrorCode)}
	default:
		reply = serve()
	}
	if f.Delay <= 0 || reply.Close {
		return reply
	}
	// reply.Resp stays set: if the connection dies before the delayed
	// Wait runs, the server still releases it (a zero-copy fetch's
	// FileResponse pins segment files until released).
	ready, wait := reply.Resp, reply.Wait
	reply.Wait = func(ctx context.Context) kmsg.Response {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		if wait != nil {
			return wait(ctx)
		}
		return ready
	}
	return reply
}

// errorResponse builds req's response carrying code in every ErrorCode
// field: fields the request and the response share by name (topics,
// partitions, group ids, …) are mirrored from the request so that clients
// match the answer to what they asked; the rest keep kmsg's defaults.
func errorResponse(req kmsg.Request, code int16) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	rv := reflect.ValueOf(resp).Elem()
	mirror(rv, reflect.ValueOf(req).Elem())
	setErrorCodes(rv, code)
	return resp
}

var defaulter = reflect.TypeOf((*interface{ Default() })(nil)).Elem()

func mirror(dst, src reflect.Value) {
	for i := 0; i < dst.NumField(); i++ {
		df := dst.Type().Field(i)
		if !df.IsExported() || df.Name == "Version" {
			continue
		}
		sf := src.FieldByName(df.Name)
		if !sf.IsValid() {
			continue
		}
		d := dst.Field(i)
		switch {
		case df.Type.Kind() == reflect.Slice && df.Type.Elem().Kind() == reflect.Struct &&
			sf.Kind() == reflect.Slice && sf.Type().Elem().Kind() == reflect.Struct:
			out := reflect.MakeSlice(df.Type, sf.Len(), sf.Len())
			for j := 0; j < sf.Len(); j++ {
				e := out.Index(j)
				if e.Addr().Type().Implements(defaulter) {
					e.Addr().Interface().(interface{ Default() }).Default()
				}
				mirror(e, sf.Index(j))
			}
			d.Set(out)
		case df.Type == sf.Type() && df.Type.Kind() != reflect.Struct && df.Type.Kind() != reflect.Slice &&
			df.Type.Kind() != reflect.Pointer:
			d.Set(sf)
		case df.Type == sf.Type() && df.Type.Kind() == reflect.Slice && df.Type.Elem().Kind() != reflect.Struct:
			d.Set(sf) // e.g. []int32 partition lists
		case df.Type == sf.Type() && df.Type.Kind() == reflect.Pointer && df.Type.Elem().Kind() == reflect.String:
			d.Set(sf) // nullable names (Metadata's topics): shared, strings are immutable
		}
	}
}

func setErrorCodes(v reflect.Value, code int16) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			switch {
			case f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16:
				v.Field(i).SetInt(int64(code))
			case f.Name == "RecordBatches" && f.Type.Kind() == reflect.Slice && v.Field(i).IsNil():
				v.Field(i).SetBytes([]byte{}) // some clients reject null records
			default:
				setErrorCodes(v.Field(i), code)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for j := 0; j < v.Len(); j++ {
				setErrorCodes(v.Index(j), code)
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			setErrorCodes(v.Elem(), code)
		}
	}
}
