package share

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata expectations with the actual output")

// TestPartitionScripts drives the state machine from testdata/*.txt. A
// script is blocks separated by blank lines: a command line, "----", and
// the expected output (the command's result, then the state). Commands:
//
//	config lock=MS limit=N maxlocks=N
//	init spso=N
//	load spso=N batches=F-L:STATE:COUNT,...       (STATE: available|acked|archived)
//	acquire member=M at=MS log=F-L,F-L!,... [max=N] [strict]   (! marks a skipped batch)
//	ack member=M at=MS F-L:T[,T...] ...            (T: 0 gap 1 accept 2 release 3 reject 4 renew)
//	release member=M
//	expire at=MS
//	logstart offset=N
//	restart                                        (persist State, rebuild with FromState)
//	state
func TestPartitionScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata scripts")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

type scriptBlock struct {
	cmd  string
	want string
}

func runScript(t *testing.T, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []scriptBlock
	for _, chunk := range strings.Split(strings.TrimSpace(string(raw)), "\n\n") {
		lines := strings.Split(strings.TrimSpace(chunk), "\n")
		var b scriptBlock
		var out []string
		inOut := false
		for _, l := range lines {
			switch {
			case strings.HasPrefix(l, "#") && !inOut:
				continue
			case l == "----":
				inOut = true
			case inOut:
				out = append(out, l)
			default:
				b.cmd = l
			}
		}
		b.want = strings.Join(out, "\n")
		if b.cmd != "" {
			blocks = append(blocks, b)
		}
	}
	cfg := Config{LockDuration: 1000 * time.Millisecond, DeliveryCountLimit: 3, MaxRecordLocks: 100}
	p := New(cfg, 0)
	var rewritten []string
	failed := false
	for _, b := range blocks {
		got := runCommand(t, &p, &cfg, b.cmd)
		if got != b.want {
			failed = true
			if !*rewrite {
				t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", file, b.cmd, got, b.want)
			}
		}
		rewritten = append(rewritten, b.cmd+"\n----\n"+got)
	}
	if *rewrite && failed {
		if err := os.WriteFile(file, []byte(strings.Join(rewritten, "\n\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func at(ms int64) time.Time { return time.UnixMilli(ms) }

func runCommand(t *testing.T, pp **Partition, cfg *Config, line string) string {
	t.Helper()
	fields := strings.Fields(line)
	args := map[string]string{}
	var pos []string
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			args[k] = v
		} else {
			pos = append(pos, f)
		}
	}
	num := func(k string) int64 {
		v, ok := args[k]
		if !ok {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s: bad %s", line, k)
		}
		return n
	}
	rng := func(s string) (int64, int64) {
		a, b, _ := strings.Cut(s, "-")
		f, err1 := strconv.ParseInt(a, 10, 64)
		l, err2 := strconv.ParseInt(b, 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: bad range %q", line, s)
		}
		return f, l
	}
	p := *pp
	var res string
	switch fields[0] {
	case "config":
		*cfg = Config{LockDuration: time.Duration(num("lock")) * time.Millisecond, DeliveryCountLimit: int16(num("limit")), MaxRecordLocks: num("maxlocks")}
		p.SetConfig(*cfg)
		res = "ok"
	case "init":
		p = New(*cfg, num("spso"))
		res = "ok"
	case "load":
		st := State{StartOffset: num("spso")}
		for _, b := range strings.Split(args["batches"], ",") {
			if b == "" {
				continue
			}
			parts := strings.Split(b, ":")
			f, l := rng(parts[0])
			c, _ := strconv.Atoi(parts[2])
			st.Batches = append(st.Batches, StateBatch{FirstOffset: f, LastOffset: l, DeliveryState: map[string]int8{"available": StateAvailable, "acked": StateAcked, "archived": StateArchived}[parts[1]], DeliveryCount: int16(c)})
		}
		p = FromState(*cfg, st)
		res = "ok"
	case "acquire":
		var batches []LogBatch
		for _, b := range strings.Split(args["log"], ",") {
			if b == "" {
				continue
			}
			skip := strings.HasSuffix(b, "!")
			f, l := rng(strings.TrimSuffix(b, "!"))
			batches = append(batches, LogBatch{First: f, Last: l, Skip: skip})
		}
		strict := len(pos) > 0 && pos[0] == "strict"
		fetchAt := p.FetchOffset()
		got, changed := p.Acquire(args["member"], batches, int(num("max")), strict, at(num("at")))
		var parts []string
		for _, a := range got {
			parts = append(parts, fmt.Sprintf("%d-%d/n=%d", a.First, a.Last, a.DeliveryCount))
		}
		res = fmt.Sprintf("fetch@%d acquired=[%s] changed=%v", fetchAt, strings.Join(parts, " "), changed)
	case "ack":
		var acks []AckBatch
		for _, a := range pos {
			r, ts, _ := strings.Cut(a, ":")
			f, l := rng(r)
			var types []int8
			for _, x := range strings.Split(ts, ",") {
				n, _ := strconv.Atoi(x)
				types = append(types, int8(n))
			}
			acks = append(acks, AckBatch{First: f, Last: l, Types: types})
		}
		if err := p.Acknowledge(args["member"], acks, at(num("at"))); err != nil {
			res = "error: " + err.Error()
		} else {
			res = "ok"
		}
	case "release":
		res = fmt.Sprintf("changed=%v", p.ReleaseMember(args["member"]))
	case "expire":
		changed, next := p.Expire(at(num("at")))
		n := int64(0)
		if !next.IsZero() {
			n = next.UnixMilli()
		}
		res = fmt.Sprintf("changed=%v next=%d", changed, n)
	case "logstart":
		res = fmt.Sprintf("changed=%v", p.AdvanceLogStart(num("offset")))
	case "restart":
		st := p.State()
		var parts []string
		for _, b := range st.Batches {
			parts = append(parts, fmt.Sprintf("%d-%d:%s:%d", b.FirstOffset, b.LastOffset, stateName(b.DeliveryState), b.DeliveryCount))
		}
		res = fmt.Sprintf("persisted spso=%d complete=%d batches=%s", st.StartOffset, st.DeliveryCompleteCount, strings.Join(parts, ","))
		p = FromState(*cfg, st)
	case "state":
		res = "ok"
	default:
		t.Fatalf("unknown command %q", line)
	}
	*pp = p
	return res + "\n" + p.String()
}
