package protocol

// Quota throttling on a connection (KIP-219). A response whose
// throttle_time_ms is above zero is, for versions where the client applies
// the throttle itself (kmsg's ThrottleResponse reports it), sent at once and
// the connection is then muted: its reader handles no further request until
// the throttle has passed. For older versions the response itself is held
// back for the throttle time, as Kafka does. Reply.MuteFor mutes a
// connection after a reply with no response (a throttled acks=0 produce).
//
// mutedUntil (unix nanos) is set by the reader goroutine as soon as the
// handler returns a reply whose throttle is known then (a ready response, or
// MuteFor), and by the writer goroutine for a response that a Wait produced,
// before it is written; the reader waits for it before handing the next
// request to the handler. A request the reader handled before a Wait's
// throttle was known is not held back (requests are pipelined); the client,
// which honours throttle_time_ms too, sends nothing more meanwhile.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// throttleOf is the throttle a response asks for and whether the client
// applies it itself (KIP-219: the response goes out first).
func throttleOf(resp kmsg.Response) (time.Duration, bool) {
	if fr, ok := resp.(*FileResponse); ok {
		resp = fr.Response
	}
	tr, ok := resp.(kmsg.ThrottleResponse)
	if !ok {
		return 0, true
	}
	ms, after := tr.Throttle()
	if ms <= 0 {
		return 0, true
	}
	return time.Duration(ms) * time.Millisecond, after
}

// throttle is called by the writer for each reply before its response is
// written: it mutes the connection for the reply's throttle and, for a
// response whose client does not throttle itself, waits it out first.
func (c *conn) throttle(ctx context.Context, reply Reply, resp kmsg.Response) {
	d, after := time.Duration(0), true
	if resp != nil && !reply.NoResponse {
		d, after = throttleOf(resp)
	}
	d = max(d, reply.MuteFor)
	if d <= 0 {
		return
	}
	c.mute(d)
	if !after {
		sleepCtx(ctx, d)
	}
}

// mute holds the connection's next requests back for d from now.
func (c *conn) mute(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	if until > c.mutedUntil.Load() {
		c.mutedUntil.Store(until)
	}
}

// handle is called by the reader: it hands req to the handler and mutes the
// connection at once for a throttle the reply already carries.
func (c *conn) handle(ctx context.Context, req *Request) Reply {
	reply := c.srv.handler.Handle(ctx, req)
	d := reply.MuteFor
	if reply.Wait == nil && reply.Resp != nil && !reply.NoResponse {
		t, _ := throttleOf(reply.Resp)
		d = max(d, t)
	}
	if d > 0 {
		c.mute(d)
	}
	return reply
}

// waitMuted is called by the reader before it hands a request to the
// handler: it waits while the connection is muted.
func (c *conn) waitMuted(ctx context.Context) {
	if until := c.mutedUntil.Load(); until != 0 {
		if d := time.Until(time.Unix(0, until)); d > 0 {
			sleepCtx(ctx, d)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
