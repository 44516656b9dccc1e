package broker

// Client quotas and connection limits (issue 16): the broker side of
// broker/quota. Quotas live in the entity store (kind "quota", encoded as
// broker/quota/FORMAT.md); quotaState keeps a quota.Table built from them,
// rebuilt when AlterClientQuotas changes them here and, for changes that
// arrive from other brokers, when the store's Version moves (polled every
// second). Enforcement, as Kafka's:
//
//   - producer_byte_rate: a produce request's record bytes are recorded per
//     (user, client-id) sensor; over the quota, the response carries
//     throttle_time_ms and the connection is muted for that time after it
//     is sent (protocol/throttle.go; an acks=0 produce only mutes).
//   - consumer_byte_rate: a fetch response's record bytes; a fetch over the
//     quota is answered at once with no records and the throttle time (its
//     bytes are taken back), and a fetch's max bytes are capped at what one
//     quota window allows (Kafka's getMaxValueInQuotaWindow).
//   - request_percentage: the time Handle spends on a request (the
//     connection's reader goroutine; a reply's Wait is not counted, as
//     Kafka does not count purgatory time) is recorded as a percentage of
//     one thread, and every response with throttle_time_ms carries the
//     throttle (capped at one window). ApiVersions, SaslHandshake and
//     SaslAuthenticate are exempt, and an acks=0 produce is not counted.
//   - controller_mutation_rate: partitions created (CreateTopics,
//     CreatePartitions) and deleted (DeleteTopics) per (user, client-id),
//     against a token bucket of controller.quota.window.* (Kafka's
//     ControllerMutationQuotaManager): the versions that know
//     THROTTLING_QUOTA_EXCEEDED (CreateTopics v6+, CreatePartitions v3+,
//     DeleteTopics v5+) get it for each topic asked while the bucket is in
//     debt, and the response's throttle_time_ms is the time until it is
//     out of debt; older versions are always served and throttled by the
//     debt they leave. Moldau counts them on the broker that serves the
//     request (Kafka: on the controller).
//
// Byte rates count record bytes (Kafka counts whole request and response
// sizes; the difference is a few dozen header bytes per partition).
//
// Fast path: with no quota of a kind configured, the cost on produce and
// fetch is one atomic pointer load and a bool read; no allocation, no lock.

import (
	"context"
	"errors"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/quota"
	"github.com/moldau/moldau/protocol"
)

// quotaState is the broker's quota manager and the store version its table
// was built from.
//
// Locking: refreshMu serialises table rebuilds; alterMu serialises
// AlterClientQuotas' read-modify-write of the store on this broker.
type quotaState struct {
	m         *quota.Manager
	version   atomic.Uint64
	loaded    atomic.Bool
	refreshMu sync.Mutex
	alterMu   sync.Mutex

	limiterOnce sync.Once
	limiter     *quota.ConnLimiter // shared by every listener's server
}

func newQuotaState(cfg config.Config) *quotaState {
	n, size := cfg.Security.Quotas.Window()
	m := quota.NewManager(quota.Window{Samples: n, Size: time.Duration(size) * time.Second})
	cn, csize := cfg.Security.Quotas.ControllerWindow()
	m.SetControllerWindow(quota.Window{Samples: cn, Size: time.Duration(csize) * time.Second})
	return &quotaState{m: m}
}

// storedQuotas decodes every quota entity in the store; undecodable ones
// are logged and skipped.
func (b *Broker) storedQuotas() []quota.Stored {
	var out []quota.Stored
	for _, e := range b.entities.List(entityQuota) {
		ent, err := quota.DecodeKey(e.Key)
		if err == nil {
			var vs []quota.Value
			if vs, err = quota.DecodeValues(e.Value); err == nil {
				out = append(out, quota.Stored{Entity: ent, Values: vs})
				continue
			}
		}
		b.logger.Warn("skipping a stored client quota that does not decode", "key", e.Key, "err", err)
	}
	return out
}

// refreshQuotas rebuilds the quota table if the entity store changed since.
func (b *Broker) refreshQuotas() {
	q := b.quotas
	q.refreshMu.Lock()
	defer q.refreshMu.Unlock()
	v := b.entities.Version()
	if q.loaded.Load() && v == q.version.Load() {
		return
	}
	q.m.SetTable(quota.NewTable(b.storedQuotas()))
	q.version.Store(v)
	q.loaded.Store(true)
}

// startQuotas loads the quota table, starts the refresher and installs the
// connection limits on the server. Called by Serve, once; a further
// listener's server gets the same limits with
// srv.SetConnLimiter(b.connLimits()).
func (b *Broker) startQuotas(srv *protocol.Server) {
	b.refreshQuotas()
	srv.SetConnLimiter(b.connLimits())
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		expire := time.Now()
		for {
			select {
			case <-b.stop:
				return
			case now := <-tick.C:
				b.refreshQuotas()
				if now.Sub(expire) > time.Minute {
					b.quotas.m.Expire(now)
					expire = now
				}
			}
		}
	}()
}

// connLimits is the broker's connection limiter (Kafka's ConnectionQuotas,
// one per broker, shared by its listeners), built on first use.
func (b *Broker) connLimits() *quota.ConnLimiter {
	b.quotas.limiterOnce.Do(func() { b.quotas.limiter = b.newConnLimiter() })
	return b.quotas.limiter
}

// newConnLimiter builds Kafka's connection limits from the config; override
// host names are resolved now (an unresolvable one is logged and skipped).
func (b *Broker) newConnLimiter() *quota.ConnLimiter {
	qc := b.cfg.Security.Quotas
	n, size := qc.Window()
	l := quota.ConnLimits{
		MaxPerIP:        math.MaxInt32, // Kafka's default
		MaxConnections:  int(qc.MaxConnections),
		MaxCreationRate: int(qc.MaxConnectionCreationRate),
		Window:          quota.Window{Samples: n, Size: time.Duration(size) * time.Second},
	}
	if qc.MaxConnectionsPerIPSet {
		l.MaxPerIP = int(qc.MaxConnectionsPerIP)
	}
	if len(qc.MaxConnectionsPerIPOverrides) > 0 {
		l.PerIPOverrides = map[string]int{}
		for host, count := range qc.MaxConnectionsPerIPOverrides {
			if ip := net.ParseIP(host); ip != nil {
				l.PerIPOverrides[ip.String()] = int(count)
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
			cancel()
			if err != nil {
				b.logger.Warn("max.connections.per.ip.overrides: cannot resolve host; override ignored", "host", host, "err", err)
				continue
			}
			for _, a := range addrs {
				l.PerIPOverrides[a.IP.String()] = int(count)
			}
		}
	}
	if qc.MaxConnectionsPerIPSet && qc.MaxConnectionsPerIP == 0 {
		l.MaxPerIP = 0
		if len(l.PerIPOverrides) == 0 {
			l.PerIPOverrides = map[string]int{"": 0} // nothing may connect
		}
	}
	return quota.NewConnLimiter(l, b.quotas.m.Table, nil)
}

// quotaExempt are the APIs request_percentage does not throttle.
func quotaExempt(key int16) bool { return key == 17 || key == 18 || key == 36 }

// handleWithQuotas runs a request's handler and applies the produce byte
// rate and request_percentage quotas to its reply.
func (b *Broker) handleWithQuotas(ctx context.Context, a *api, req *protocol.Request) protocol.Reply {
	m := b.quotas.m
	t := m.Table()
	produce := req.Key == 0 && t.Enabled(quota.Produce)
	request := t.Enabled(quota.Request) && !quotaExempt(req.Key)
	if !produce && !request {
		return a.handle(b, ctx, req)
	}
	user, client := quota.UserOf(req.Conn.Principal()), req.ClientID
	acks0 := false
	var produceBytes int
	if req.Key == 0 {
		if pr, ok := req.Body.(*kmsg.ProduceRequest); ok {
			acks0 = pr.Acks == 0
			if produce {
				for i := range pr.Topics {
					for j := range pr.Topics[i].Partitions {
						produceBytes += len(pr.Topics[i].Partitions[j].Records)
					}
				}
			}
		}
	}
	start := time.Now()
	reply := a.handle(b, ctx, req)
	now := time.Now()
	var throttle time.Duration
	if produce {
		throttle = m.Record(quota.Produce, user, client, float64(produceBytes), now)
	}
	if request && !acks0 {
		throttle = max(throttle, m.Record(quota.Request, user, client, quota.RequestPercentage(now.Sub(start)), now))
	}
	if throttle <= 0 {
		return reply
	}
	return withThrottle(reply, throttle)
}

// withThrottle makes reply carry throttle: in its response's
// throttle_time_ms (the higher of the two when it has one already), or, for
// a reply without a response, as a mute of the connection.
func withThrottle(reply protocol.Reply, throttle time.Duration) protocol.Reply {
	ms := int32(min(throttle.Milliseconds(), 1<<31-1))
	if reply.NoResponse {
		reply.MuteFor = max(reply.MuteFor, throttle)
		return reply
	}
	if reply.Wait != nil {
		wait := reply.Wait
		reply.Wait = func(ctx context.Context) kmsg.Response {
			resp := wait(ctx)
			setThrottle(resp, ms)
			return resp
		}
		return reply
	}
	setThrottle(reply.Resp, ms)
	return reply
}

func setThrottle(resp kmsg.Response, ms int32) {
	if fr, ok := resp.(*protocol.FileResponse); ok {
		resp = fr.Response
	}
	if tr, ok := resp.(interface {
		kmsg.ThrottleResponse
		kmsg.SetThrottleResponse
	}); ok {
		if cur, _ := tr.Throttle(); ms > cur {
			tr.SetThrottle(ms)
		}
	}
}

// capFetchBytes lowers a fetch's max bytes to what one quota window allows
// the client (Kafka's getMaxValueInQuotaWindow).
func (b *Broker) capFetchBytes(req *protocol.Request, r *kmsg.FetchRequest) {
	m := b.quotas.m
	if !m.Enabled(quota.Fetch) {
		return
	}
	limit := m.MaxValueInWindow(quota.Fetch, quota.UserOf(req.Conn.Principal()), req.ClientID)
	if limit < float64(r.MaxBytes) || r.MaxBytes <= 0 {
		r.MaxBytes = int32(max(1, min(limit, float64(1<<31-1))))
	}
}

// throttleFetch records a final fetch read against the client's
// consumer_byte_rate. Over the quota, the read is released and replaced by
// an empty response carrying the throttle (its bytes taken back), as Kafka's
// getThrottledResponse.
func (b *Broker) throttleFetch(req *protocol.Request, plan *fetchPlan, fr *fetchRead) *fetchRead {
	m := b.quotas.m
	if !m.Enabled(quota.Fetch) {
		return fr
	}
	user, client := quota.UserOf(req.Conn.Principal()), req.ClientID
	now := time.Now()
	d := m.Record(quota.Fetch, user, client, float64(fr.bytes), now)
	if d <= 0 {
		return fr
	}
	m.Unrecord(quota.Fetch, user, client, float64(fr.bytes), now)
	fr.release()
	resp := plan.req.ResponseKind().(*kmsg.FetchResponse)
	resp.SessionID = plan.sessionID
	resp.ThrottleMillis = int32(min(d.Milliseconds(), 1<<31-1))
	return &fetchRead{resp: resp}
}

// errThrottlingQuotaExceeded: a topic's partition mutations were refused by
// controller_mutation_rate (THROTTLING_QUOTA_EXCEEDED).
var errThrottlingQuotaExceeded = errors.New("broker: the throttling quota has been exceeded")

// mutationQuota applies controller_mutation_rate to one CreateTopics,
// CreatePartitions or DeleteTopics request. A nil *mutationQuota (no such
// quota configured) does nothing.
type mutationQuota struct {
	m            *quota.Manager
	user, client string
	strict       bool
	throttle     time.Duration
}

// mutationQuota returns the request's quota, nil when no
// controller_mutation_rate is set anywhere. strict: the request's version
// knows THROTTLING_QUOTA_EXCEEDED.
func (b *Broker) mutationQuota(req *protocol.Request, strict bool) *mutationQuota {
	if !b.quotas.m.Enabled(quota.ControllerMutation) {
		return nil
	}
	return &mutationQuota{m: b.quotas.m, user: quota.UserOf(req.Conn.Principal()), client: req.ClientID, strict: strict}
}

// take records n partition mutations; errThrottlingQuotaExceeded when they
// are refused (nothing must be changed for that topic then).
func (q *mutationQuota) take(n int) error {
	if q == nil || n <= 0 {
		return nil
	}
	ok, d := q.m.RecordMutations(q.user, q.client, float64(n), q.strict, time.Now())
	q.throttle = max(q.throttle, d)
	if !ok {
		return errThrottlingQuotaExceeded
	}
	return nil
}

// throttleMs is the response's throttle_time_ms.
func (q *mutationQuota) throttleMs() int32 {
	if q == nil {
		return 0
	}
	return int32(min(q.throttle.Milliseconds(), 1<<31-1))
}

// deleteTopic deletes t once its partitions pass the quota.
func (q *mutationQuota) deleteTopic(b *Broker, t *topic) error {
	if err := q.take(len(t.partitionList())); err != nil {
		return err
	}
	return b.deleteTopic(t)
}

// createPartitions grows a topic once its new partitions pass the quota
// (validate_only requests are not counted).
func (q *mutationQuota) createPartitions(b *Broker, name string, count int32, assignment [][]int32, validateOnly bool) error {
	if q != nil && !validateOnly {
		if t := b.topics.get(name); t != nil {
			if err := q.take(int(count) - len(t.partitionList())); err != nil {
				return err
			}
		}
	}
	return b.createPartitions(name, count, assignment, validateOnly)
}
