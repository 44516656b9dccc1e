package quota

import (
	"errors"
	"math"
	"net"
	"testing"
	"time"
)

func name(s string) *string { return &s }

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func TestRateThrottleAsKafka(t *testing.T) {
	c := newClock()
	r := NewRate(DefaultWindow)
	// 1000 bytes at once: the rate is taken over at least 10 windows, so
	// 100 B/s; against 50 B/s the throttle is (100-50)/50 * 10 s.
	if d := r.RecordAndThrottle(1000, 50, c.now().UnixMilli(), 0); d != 10*time.Second {
		t.Fatalf("throttle %v, want 10s", d)
	}
	// Kafka's QuotaUtilsTest: observed 100 against 50 over 3 windows -> 2000 ms.
	r3 := NewRate(Window{Samples: 3, Size: time.Second})
	if d := r3.RecordAndThrottle(200, 50, c.now().UnixMilli(), 0); d != 2*time.Second {
		t.Fatalf("3-window throttle %v, want 2s", d)
	}
	// Within the quota: no throttle.
	r2 := NewRate(DefaultWindow)
	if d := r2.RecordAndThrottle(400, 50, c.now().UnixMilli(), 0); d != 0 {
		t.Fatalf("throttle %v within quota", d)
	}
	// Bounded (request quotas): capped at the cap.
	if d := NewRate(DefaultWindow).RecordAndThrottle(1000, 50, c.now().UnixMilli(), time.Second); d != time.Second {
		t.Fatalf("bounded throttle %v", d)
	}
}

func TestRateSlidesAndExpires(t *testing.T) {
	c := newClock()
	r := NewRate(Window{Samples: 11, Size: time.Second})
	// 100 B/s steady for 30 s: the measured rate settles at 100.
	for range 30 {
		r.Record(100, c.now().UnixMilli())
		c.advance(time.Second)
	}
	if m := r.Measure(c.now().UnixMilli()); math.Abs(m-100) > 10 {
		t.Fatalf("steady rate %v, want ~100", m)
	}
	if r.Idle(c.now().UnixMilli()) {
		t.Fatal("idle while in use")
	}
	// Idle for longer than the whole window: everything expires.
	c.advance(12 * time.Second)
	if !r.Idle(c.now().UnixMilli()) {
		t.Fatal("not idle after a whole window without records")
	}
	if m := r.Measure(c.now().UnixMilli()); m != 0 {
		t.Fatalf("rate after idle %v", m)
	}
}

// TestManagerBoundsThroughput: a client that waits out every throttle gets
// the quota's rate over a long run, within a few percent.
func TestManagerBoundsThroughput(t *testing.T) {
	c := newClock()
	m := NewManager(DefaultWindow)
	m.SetTable(NewTable([]Stored{{Entity{{Type: TypeClientID, Name: name("app")}}, []Value{{KeyProducerByteRate, 10_000}}}}))
	start := c.now()
	sent := 0.0
	for c.now().Sub(start) < 120*time.Second {
		d := m.Record(Produce, "ANONYMOUS", "app", 1000, c.now())
		sent += 1000
		c.advance(10*time.Millisecond + d)
	}
	got := sent / c.now().Sub(start).Seconds()
	if got < 10_000*0.9 || got > 10_000*1.15 {
		t.Fatalf("throughput %v B/s against a 10000 B/s quota", got)
	}
}

func TestResolvePrecedence(t *testing.T) {
	u, c := "alice", "app"
	levelsSet := []struct {
		e         Entity
		perUser   bool
		perClient bool
	}{
		{Entity{{TypeClientID, name(c)}, {TypeUser, name(u)}}, true, true},
		{Entity{{TypeClientID, nil}, {TypeUser, name(u)}}, true, true},
		{Entity{{TypeUser, name(u)}}, true, false},
		{Entity{{TypeClientID, name(c)}, {TypeUser, nil}}, true, true},
		{Entity{{TypeClientID, nil}, {TypeUser, nil}}, true, true},
		{Entity{{TypeUser, nil}}, true, false},
		{Entity{{TypeClientID, name(c)}}, false, true},
		{Entity{{TypeClientID, nil}}, false, true},
	}
	// With levels i..7 set, level i wins (value i+1).
	for i := range levelsSet {
		var stored []Stored
		for j := i; j < len(levelsSet); j++ {
			stored = append(stored, Stored{levelsSet[j].e, []Value{{KeyConsumerByteRate, float64(j + 1)}}})
		}
		tab := NewTable(stored)
		bound, key, ok := tab.Resolve(Fetch, u, c)
		if !ok || bound != float64(i+1) {
			t.Fatalf("level %d: bound %v ok %v", i+1, bound, ok)
		}
		want := SensorKey{Kind: Fetch}
		if levelsSet[i].perUser {
			want.User = u
		}
		if levelsSet[i].perClient {
			want.ClientID = c
		}
		if key != want {
			t.Fatalf("level %d: sensor %+v, want %+v", i+1, key, want)
		}
		// Another kind is not set anywhere.
		if _, _, ok := tab.Resolve(Produce, u, c); ok {
			t.Fatalf("level %d: produce quota resolved", i+1)
		}
	}
	// Keys resolve independently: produce from the client level, fetch
	// from the user level.
	tab := NewTable([]Stored{
		{Entity{{TypeUser, name(u)}}, []Value{{KeyConsumerByteRate, 5}}},
		{Entity{{TypeClientID, name(c)}}, []Value{{KeyProducerByteRate, 7}}},
	})
	if b, _, _ := tab.Resolve(Produce, u, c); b != 7 {
		t.Fatalf("produce %v", b)
	}
	if b, _, _ := tab.Resolve(Fetch, u, c); b != 5 {
		t.Fatalf("fetch %v", b)
	}
	if _, _, ok := tab.Resolve(Fetch, "bob", c); ok {
		t.Fatal("bob has a fetch quota")
	}
}

func TestUserQuotaShared(t *testing.T) {
	c := newClock()
	m := NewManager(DefaultWindow)
	m.SetTable(NewTable([]Stored{{Entity{{TypeUser, name("alice")}}, []Value{{KeyProducerByteRate, 100}}}}))
	if d := m.Record(Produce, "alice", "a", 900, c.now()); d != 0 {
		t.Fatalf("first client throttled %v", d)
	}
	// The second client id shares alice's sensor: 1800 B over 10 s.
	if d := m.Record(Produce, "alice", "b", 900, c.now()); d != 8*time.Second {
		t.Fatalf("second client throttle %v, want 8s", d)
	}
	// bob has no quota.
	if d := m.Record(Produce, "bob", "a", 1e9, c.now()); d != 0 {
		t.Fatalf("bob throttled %v", d)
	}
}

func TestRequestPercentageBounded(t *testing.T) {
	c := newClock()
	m := NewManager(DefaultWindow)
	m.SetTable(NewTable([]Stored{{Entity{{TypeClientID, nil}}, []Value{{KeyRequestPercentage, 1}}}}))
	// 1% over 10 s is 100 ms of handler time; 2 s of it is far over.
	d := m.Record(Request, "", "x", RequestPercentage(2*time.Second), c.now())
	if d != time.Second {
		t.Fatalf("request throttle %v, want the 1 s cap", d)
	}
	if RequestPercentage(time.Second) != 100 {
		t.Fatal("1 s is not 100%")
	}
}

func TestUnrecordAndMaxValue(t *testing.T) {
	c := newClock()
	m := NewManager(DefaultWindow)
	m.SetTable(NewTable([]Stored{{Entity{{TypeClientID, name("c")}}, []Value{{KeyConsumerByteRate, 100}}}}))
	if d := m.Record(Fetch, "", "c", 2000, c.now()); d == 0 {
		t.Fatal("not throttled")
	}
	m.Unrecord(Fetch, "", "c", 2000, c.now())
	if d := m.Record(Fetch, "", "c", 500, c.now()); d != 0 {
		t.Fatalf("throttled %v after unrecord", d)
	}
	if v := m.MaxValueInWindow(Fetch, "", "c"); v != 1000 {
		t.Fatalf("max value %v", v)
	}
	if v := m.MaxValueInWindow(Fetch, "", "other"); !math.IsInf(v, 1) {
		t.Fatalf("max value without quota %v", v)
	}
}

func TestFastPathNoAlloc(t *testing.T) {
	m := NewManager(DefaultWindow)
	now := time.Now()
	if n := testing.AllocsPerRun(1000, func() { m.Record(Produce, "u", "c", 100, now) }); n != 0 {
		t.Fatalf("%v allocs without quotas", n)
	}
	// Quotas of another kind only: still nothing for produce.
	m.SetTable(NewTable([]Stored{{Entity{{TypeUser, nil}}, []Value{{KeyConsumerByteRate, 1}}}}))
	if m.Enabled(Produce) || !m.Enabled(Fetch) {
		t.Fatal("enabled kinds wrong")
	}
	if n := testing.AllocsPerRun(1000, func() { m.Record(Produce, "u", "c", 100, now) }); n != 0 {
		t.Fatalf("%v allocs with only a fetch quota", n)
	}
}

func TestKeyAndValueFormat(t *testing.T) {
	for _, e := range []Entity{
		{{TypeUser, name("alice")}},
		{{TypeClientID, name("app 1,=%+<default>")}, {TypeUser, nil}},
		{{TypeClientID, nil}},
		{{TypeIP, name("10.0.0.1")}},
		{{TypeIP, nil}},
	} {
		k := EncodeKey(e)
		got, err := DecodeKey(k)
		if err != nil || got.String() != e.String() || EncodeKey(got) != k {
			t.Fatalf("%v -> %q -> %v, %v", e, k, got, err)
		}
	}
	if k := EncodeKey(Entity{{TypeUser, name("alice")}, {TypeClientID, nil}}); k != "client-id,user=alice" {
		t.Fatalf("key %q", k)
	}
	vs := []Value{{KeyRequestPercentage, 12.5}, {KeyProducerByteRate, 1024}}
	b := EncodeValues(vs)
	if b[0] != 1 {
		t.Fatalf("version byte %d", b[0])
	}
	got, err := DecodeValues(b)
	if err != nil || len(got) != 2 || got[0] != (Value{KeyProducerByteRate, 1024}) || got[1] != (Value{KeyRequestPercentage, 12.5}) {
		t.Fatalf("decoded %v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {2, 0}, b[:len(b)-1], append(append([]byte{}, b...), 0)} {
		if _, err := DecodeValues(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%x decoded: %v", bad, err)
		}
	}
}

func TestValidation(t *testing.T) {
	user := Entity{{TypeUser, name("u")}}
	ip := Entity{{TypeIP, name("10.1.2.3")}}
	for _, c := range []struct {
		e   Entity
		key string
		v   float64
		ok  bool
	}{
		{user, KeyProducerByteRate, 1024, true},
		{user, KeyProducerByteRate, 10.5, false},
		{user, KeyProducerByteRate, 0, false},
		{user, KeyProducerByteRate, -5, false},
		{user, KeyRequestPercentage, 0.5, true},
		{user, KeyControllerMutationRate, 2.5, true},
		{user, "foo_rate", 1, false},
		{user, KeyConnectionCreationRate, 1, false},
		{ip, KeyConnectionCreationRate, 10, true},
		{ip, KeyConnectionCreationRate, 3e9, false},
		{ip, KeyProducerByteRate, 10, false},
	} {
		err := ValidateValue(c.e, c.key, c.v)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("%v %s=%v: %v", c.e, c.key, c.v, err)
		}
	}
	for _, bad := range []Entity{
		nil,
		{{TypeUser, name("")}},
		{{"group", name("g")}},
		{{TypeIP, name("1.2.3.4")}, {TypeUser, name("u")}},
		{{TypeIP, name("not-an-ip")}},
		{{TypeUser, name("a")}, {TypeUser, name("b")}},
	} {
		if err := ValidateEntity(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestFilter(t *testing.T) {
	ua := Entity{{TypeUser, name("a")}}
	ud := Entity{{TypeUser, nil}}
	uaC := Entity{{TypeClientID, name("c")}, {TypeUser, name("a")}}
	c := Entity{{TypeClientID, name("c")}}
	all := []Entity{ua, ud, uaC, c}
	for _, tc := range []struct {
		f    Filter
		want []int
	}{
		{Filter{Components: []FilterComponent{{Type: TypeUser, Match: MatchExact, Name: name("a")}}}, []int{0, 2}},
		{Filter{Components: []FilterComponent{{Type: TypeUser, Match: MatchExact, Name: name("a")}}, Strict: true}, []int{0}},
		{Filter{Components: []FilterComponent{{Type: TypeUser, Match: MatchDefault}}}, []int{1}},
		{Filter{Components: []FilterComponent{{Type: TypeUser, Match: MatchAny}}}, []int{0, 1, 2}},
		{Filter{Components: []FilterComponent{{Type: TypeClientID, Match: MatchAny}}, Strict: true}, []int{3}},
		{Filter{}, []int{0, 1, 2, 3}},
		{Filter{Strict: true}, nil},
	} {
		var got []int
		for i, e := range all {
			if tc.f.Matches(e) {
				got = append(got, i)
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("%+v: got %v want %v", tc.f, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%+v: got %v want %v", tc.f, got, tc.want)
			}
		}
	}
	if err := (Filter{Components: []FilterComponent{{Type: "group"}}}).Validate(); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("unknown type: %v", err)
	}
	if err := (Filter{Components: []FilterComponent{{Type: TypeUser}, {Type: TypeUser}}}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("duplicate type: %v", err)
	}
	if err := (Filter{Components: []FilterComponent{{Type: TypeIP}, {Type: TypeUser}}}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("ip with user: %v", err)
	}
	if err := (Filter{Components: []FilterComponent{{Type: TypeUser, Match: 3}}}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("match type 3: %v", err)
	}
}

func TestConnLimiter(t *testing.T) {
	c := newClock()
	addr := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 1234} }
	l := NewConnLimiter(ConnLimits{MaxPerIP: 2, PerIPOverrides: map[string]int{"10.0.0.9": 3}}, nil, c.now)
	for i := range 2 {
		if ok, _ := l.Admit(addr("10.0.0.1"), nil); !ok {
			t.Fatalf("connection %d refused", i)
		}
	}
	if ok, d := l.Admit(addr("10.0.0.1"), nil); ok || d != 0 {
		t.Fatalf("third connection: ok %v delay %v", ok, d)
	}
	if ok, _ := l.Admit(addr("10.0.0.2"), nil); !ok {
		t.Fatal("other IP refused")
	}
	for i := range 3 {
		if ok, _ := l.Admit(addr("10.0.0.9"), nil); !ok {
			t.Fatalf("override IP connection %d refused", i)
		}
	}
	if ok, _ := l.Admit(addr("10.0.0.9"), nil); ok {
		t.Fatal("override IP: fourth admitted")
	}
	l.Release(addr("10.0.0.1"))
	if ok, _ := l.Admit(addr("10.0.0.1"), nil); !ok {
		t.Fatal("refused after a release")
	}
	if n := l.Count("10.0.0.1"); n != 2 {
		t.Fatalf("count %d", n)
	}

	// Per-IP creation rate quota (KIP-612): over it, closed after a delay
	// of at most one window, and not counted.
	tab := NewTable([]Stored{{Entity{{TypeIP, nil}}, []Value{{KeyConnectionCreationRate, 1}}}})
	l2 := NewConnLimiter(ConnLimits{}, func() *Table { return tab }, c.now)
	admitted := 0
	var delay time.Duration
	for range 20 {
		ok, d := l2.Admit(addr("10.0.0.5"), nil)
		if ok {
			admitted++
		} else {
			delay = d
		}
	}
	if admitted != 10 || delay <= 0 || delay > time.Second {
		t.Fatalf("admitted %d (want 10: 1/s over 10 windows), delay %v", admitted, delay)
	}
	if n := l2.Count("10.0.0.5"); n != 10 {
		t.Fatalf("count %d", n)
	}
}

func TestConnLimiterMaxConnectionsWaits(t *testing.T) {
	l := NewConnLimiter(ConnLimits{MaxConnections: 1}, nil, nil)
	a := &net.TCPAddr{IP: net.ParseIP("10.0.0.1")}
	if ok, _ := l.Admit(a, nil); !ok {
		t.Fatal("first refused")
	}
	closing := false
	polls := 0
	ok, _ := l.Admit(a, func() bool { polls++; closing = polls > 2; return closing })
	if ok || !closing {
		t.Fatalf("second admitted (%v) or did not wait (%v)", ok, closing)
	}
	done := make(chan bool)
	go func() { ok, _ := l.Admit(a, nil); done <- ok }()
	l.Release(a)
	if !<-done {
		t.Fatal("waiting connection not admitted after a release")
	}
}

// BenchmarkRecordNoQuota is the produce/fetch fast path with no quota set.
func BenchmarkRecordNoQuota(b *testing.B) {
	m := NewManager(DefaultWindow)
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Record(Produce, "u", "c", 100, now)
		}
	})
}

// BenchmarkRecordWithQuota is one client's produce recorded against a quota.
func BenchmarkRecordWithQuota(b *testing.B) {
	m := NewManager(DefaultWindow)
	m.SetTable(NewTable([]Stored{{Entity{{TypeClientID, nil}}, []Value{{KeyProducerByteRate, 1e12}}}}))
	now := time.Now()
	b.ReportAllocs()
	for range b.N {
		m.Record(Produce, "u", "c", 100, now)
	}
}

// TestConnLimiterCreationRate: max.connection.creation.rate delays
// accepting (at most one window) instead of refusing.
func TestConnLimiterCreationRate(t *testing.T) {
	l := NewConnLimiter(ConnLimits{MaxCreationRate: 2, Window: Window{Samples: 2, Size: time.Second}}, nil, nil)
	a := &net.TCPAddr{IP: net.ParseIP("10.0.0.1")}
	start := time.Now()
	for range 2 {
		if ok, _ := l.Admit(a, nil); !ok {
			t.Fatal("refused")
		}
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("two connections at 2/s over a 1 s minimum window took %v", d)
	}
	// The third is over the rate: delayed (3/s against 2/s over 1 s:
	// 500 ms), not refused.
	start = time.Now()
	if ok, _ := l.Admit(a, nil); !ok {
		t.Fatal("refused")
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 1500*time.Millisecond {
		t.Fatalf("third connection delayed %v", d)
	}
}

// TestControllerMutations: Kafka's token bucket for
// controller_mutation_rate (burst = rate x samples x window).
func TestControllerMutations(t *testing.T) {
	c := newClock()
	m := NewManager(DefaultWindow)
	m.SetControllerWindow(Window{Samples: 2, Size: time.Second})
	m.SetTable(NewTable([]Stored{{Entity{{TypeUser, nil}}, []Value{{KeyControllerMutationRate, 10}}}}))
	// Burst 20: 15 then 10 (into debt by 5) are accepted, strictly.
	if ok, d := m.RecordMutations("u", "c", 15, true, c.now()); !ok || d != 0 {
		t.Fatalf("first: %v %v", ok, d)
	}
	if ok, d := m.RecordMutations("u", "c", 10, true, c.now()); !ok || d != 0 {
		t.Fatalf("second: %v %v", ok, d)
	}
	// In debt by 5 at 10/s: refused for 500 ms.
	if ok, d := m.RecordMutations("u", "c", 1, true, c.now()); ok || d != 500*time.Millisecond {
		t.Fatalf("in debt: %v %v", ok, d)
	}
	c.advance(500 * time.Millisecond)
	if ok, _ := m.RecordMutations("u", "c", 1, true, c.now()); !ok {
		t.Fatal("refused once out of debt")
	}
	// Permissive: always recorded, throttled by the debt.
	if ok, d := m.RecordMutations("v", "c", 30, false, c.now()); !ok || d != time.Second {
		t.Fatalf("permissive: %v %v", ok, d)
	}
	// Other users' buckets are their own (default user: per user).
	if ok, _ := m.RecordMutations("w", "c", 20, true, c.now()); !ok {
		t.Fatal("w refused")
	}
	// No quota for another kind of entity: nothing applies.
	m.SetTable(NewTable(nil))
	if ok, d := m.RecordMutations("v", "c", 1000, true, c.now()); !ok || d != 0 {
		t.Fatalf("without a quota: %v %v", ok, d)
	}
	if d := m.Record(ControllerMutation, "u", "c", 1, c.now()); d != 0 {
		t.Fatal("Record on the mutation kind")
	}
}

// TestExtremeQuotas: tiny and huge quota values give bounded, positive
// throttles (no overflow into a negative duration).
func TestExtremeQuotas(t *testing.T) {
	c := newClock()
	m := NewManager(DefaultWindow)
	m.SetTable(NewTable([]Stored{{Entity{{TypeClientID, nil}}, []Value{
		{KeyRequestPercentage, 1e-300}, {KeyControllerMutationRate, 1e-300}, {KeyProducerByteRate, 1}, {KeyConsumerByteRate, 9e18}}}}))
	if d := m.Record(Request, "", "c", 50, c.now()); d != time.Second {
		t.Fatalf("request throttle %v", d)
	}
	if d := m.Record(Produce, "", "c", 1e15, c.now()); d <= 0 || d > math.MaxInt32*time.Millisecond {
		t.Fatalf("produce throttle %v", d)
	}
	if d := m.Record(Fetch, "", "c", 1e15, c.now()); d != 0 {
		t.Fatalf("fetch throttle %v", d)
	}
	m.RecordMutations("", "c", 5, false, c.now())
	if ok, d := m.RecordMutations("", "c", 1, true, c.now()); ok || d <= 0 || d > math.MaxInt32*time.Millisecond {
		t.Fatalf("mutations: %v %v", ok, d)
	}
}
