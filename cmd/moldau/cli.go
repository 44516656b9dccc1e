package main

// The admin CLI: subcommands of the same binary that speak the Kafka protocol
// (through franz-go) to any broker, Moldau or Apache Kafka.
//
//	moldau topic list|create|describe|delete|alter-config
//	moldau produce --topic T            (lines from stdin; --key-sep to split keys)
//	moldau consume --topic T            (--from beginning|end|OFFSET|@UNIXMS, --count, --format)
//	moldau group list|describe|reset-offsets|delete
//	moldau cluster info
//	moldau version

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cliCommands are the first arguments that select the CLI instead of the
// broker.
var cliCommands = map[string]func(c *cli, args []string) error{
	"topic":   (*cli).topic,
	"produce": (*cli).produce,
	"consume": (*cli).consume,
	"group":   (*cli).group,
	"cluster": (*cli).cluster,
}

type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	bootstrap      string
	jsonOut        bool
	timeout        time.Duration
}

// runCLI runs a subcommand; it returns the process exit code.
func runCLI(name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if name == "version" {
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	if err := cliCommands[name](c, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "moldau %s: %v\n", name, err)
		return 1
	}
	return 0
}

// flags returns a flag set with the common flags.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("moldau "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	def := os.Getenv("MOLDAU_BOOTSTRAP")
	if def == "" {
		def = "127.0.0.1:9092"
	}
	fs.StringVar(&c.bootstrap, "bootstrap", def, "bootstrap broker host:port, comma-separated (env MOLDAU_BOOTSTRAP)")
	fs.BoolVar(&c.jsonOut, "json", false, "print JSON instead of a table")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "overall timeout")
	return fs
}

func (c *cli) client(opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(c.bootstrap, ",")...), kgo.ClientID("moldau-cli")}, opts...)...)
}

func (c *cli) ctx() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	return ctx, func() { cancel(); stop() }
}

// table prints rows as aligned columns, or as JSON objects keyed by header.
func (c *cli) table(header []string, rows [][]string) error {
	if c.jsonOut {
		out := make([]map[string]string, 0, len(rows))
		for _, r := range rows {
			m := make(map[string]string, len(header))
			for i, h := range header {
				m[strings.ToLower(strings.ReplaceAll(h, " ", "_"))] = r[i]
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// admin parses fs from args and opens an admin client bounded by --timeout;
// done releases both.
func (c *cli) admin(fs *flag.FlagSet, args []string) (*kadm.Client, context.Context, func(), error) {
	if err := fs.Parse(args); err != nil {
		return nil, nil, nil, err
	}
	cl, err := c.client()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := c.ctx()
	return kadm.NewClient(cl), ctx, func() { cancel(); cl.Close() }, nil
}

// tableThen prints a result table, then returns the operation's error (a
// partial failure is shown row by row and still fails the command).
func (c *cli) tableThen(header []string, rows [][]string, opErr error) error {
	if err := c.table(header, rows); err != nil {
		return err
	}
	return opErr
}

func sub(args []string, usage string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("usage: %s", usage)
	}
	return args[0], args[1:], nil
}

type keyValues []string

func (k *keyValues) String() string     { return strings.Join(*k, ",") }
func (k *keyValues) Set(v string) error { *k = append(*k, v); return nil }

func parseConfigs(kvs []string) (map[string]*string, error) {
	out := map[string]*string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("config %q: want key=value", kv)
		}
		out[k] = kadm.StringPtr(v)
	}
	return out, nil
}

func (c *cli) topic(args []string) error {
	verb, rest, err := sub(args, "moldau topic list|create|describe|delete|alter-config|add-partitions [flags] [TOPIC...]")
	if err != nil {
		return err
	}
	fs := c.flags("topic " + verb)
	partitions := fs.Int("partitions", -1, "partitions (create; -1: broker default; add-partitions: the new total)")
	rf := fs.Int("replication-factor", -1, "replication factor (create; -1: broker default)")
	var configs keyValues
	fs.Var(&configs, "config", "key=value topic config (create, alter-config; repeatable)")
	var deletes keyValues
	fs.Var(&deletes, "delete-config", "topic config key to reset to its default (alter-config; repeatable)")
	internal := fs.Bool("internal", false, "include internal topics (list)")
	adm, ctx, done, err := c.admin(fs, rest)
	if err != nil {
		return err
	}
	defer done()
	topics := fs.Args()
	switch verb {
	case "list":
		var td kadm.TopicDetails
		if *internal {
			td, err = adm.ListTopicsWithInternal(ctx, topics...)
		} else {
			td, err = adm.ListTopics(ctx, topics...)
		}
		if err != nil {
			return err
		}
		var rows [][]string
		for _, t := range td.Sorted() {
			rows = append(rows, []string{t.Topic, strconv.Itoa(len(t.Partitions)), strconv.Itoa(t.Partitions.NumReplicas()), base64.RawURLEncoding.EncodeToString(t.ID[:]), errString(t.Err)})
		}
		return c.table([]string{"TOPIC", "PARTITIONS", "REPLICAS", "ID", "ERROR"}, rows)
	case "create":
		cfgs, err := parseConfigs(configs)
		if err != nil {
			return err
		}
		resp, err := adm.CreateTopics(ctx, int32(*partitions), int16(*rf), cfgs, topics...)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, t := range resp.Sorted() {
			rows = append(rows, []string{t.Topic, strconv.Itoa(int(t.NumPartitions)), strconv.Itoa(int(t.ReplicationFactor)), errString(t.Err)})
		}
		return c.tableThen([]string{"TOPIC", "PARTITIONS", "REPLICATION", "ERROR"}, rows, resp.Error())
	case "delete":
		resp, err := adm.DeleteTopics(ctx, topics...)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, t := range resp.Sorted() {
			rows = append(rows, []string{t.Topic, errString(t.Err)})
		}
		return c.tableThen([]string{"TOPIC", "ERROR"}, rows, resp.Error())
	case "describe":
		td, err := adm.ListTopics(ctx, topics...)
		if err != nil {
			return err
		}
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return err
		}
		starts, err := adm.ListStartOffsets(ctx, topics...)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, t := range td.Sorted() {
			for _, p := range t.Partitions.Sorted() {
				s, _ := starts.Lookup(t.Topic, p.Partition)
				e, _ := ends.Lookup(t.Topic, p.Partition)
				rows = append(rows, []string{t.Topic, strconv.Itoa(int(p.Partition)), strconv.Itoa(int(p.Leader)), fmt.Sprint(p.Replicas), fmt.Sprint(p.ISR),
					strconv.FormatInt(s.Offset, 10), strconv.FormatInt(e.Offset, 10), errString(firstErr(t.Err, p.Err))})
			}
		}
		if err := c.table([]string{"TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR", "START", "END", "ERROR"}, rows); err != nil {
			return err
		}
		rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
		if err != nil {
			return err
		}
		rows = rows[:0]
		for _, rc := range rcs {
			for _, cfg := range rc.Configs {
				if cfg.Source == 1 { // DYNAMIC_TOPIC_CONFIG: the topic's overrides
					rows = append(rows, []string{rc.Name, cfg.Key, cfg.MaybeValue()})
				}
			}
		}
		if len(rows) > 0 && !c.jsonOut {
			fmt.Fprintln(c.stdout)
			return c.table([]string{"TOPIC", "CONFIG", "VALUE"}, rows)
		}
		return nil
	case "add-partitions":
		if *partitions <= 0 {
			return errors.New("usage: moldau topic add-partitions --partitions TOTAL TOPIC...")
		}
		resp, err := adm.UpdatePartitions(ctx, *partitions, topics...)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, r := range resp.Sorted() {
			rows = append(rows, []string{r.Topic, strconv.Itoa(*partitions), errString(r.Err)})
		}
		return c.tableThen([]string{"TOPIC", "PARTITIONS", "ERROR"}, rows, resp.Error())
	case "alter-config":
		var alters []kadm.AlterConfig
		for _, kv := range configs {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("config %q: want key=value", kv)
			}
			alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
		}
		for _, k := range deletes {
			alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		}
		resp, err := adm.AlterTopicConfigs(ctx, alters, topics...)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, r := range resp {
			rows = append(rows, []string{r.Name, errString(r.Err)})
		}
		return c.table([]string{"TOPIC", "ERROR"}, rows)
	}
	return fmt.Errorf("unknown topic command %q", verb)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (c *cli) produce(args []string) error {
	fs := c.flags("produce")
	topic := fs.String("topic", "", "topic to produce to (required)")
	keySep := fs.String("key-sep", "", "split each line into key and value at the first occurrence of this separator")
	partition := fs.Int("partition", -1, "partition (-1: by key hash)")
	acks := fs.String("acks", "all", "0, 1 or all")
	compression := fs.String("compression", "none", "none, gzip, snappy, lz4 or zstd")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *topic == "" {
		return errors.New("--topic is required")
	}
	codec, ok := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}[*compression]
	if !ok {
		return fmt.Errorf("bad --compression %q", *compression)
	}
	opts := []kgo.Opt{kgo.DefaultProduceTopic(*topic), kgo.ProducerBatchCompression(codec)}
	switch *acks {
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "all", "-1":
	default:
		return fmt.Errorf("bad --acks %q", *acks)
	}
	if *partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := c.client(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := c.ctx()
	defer cancel()
	sc := bufio.NewScanner(c.stdin)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var n, failed int
	var firstFail error
	start := time.Now()
	for sc.Scan() {
		line := sc.Text()
		r := &kgo.Record{Value: []byte(line), Partition: int32(*partition)}
		if *keySep != "" {
			if k, v, ok := strings.Cut(line, *keySep); ok {
				r.Key, r.Value = []byte(k), []byte(v)
			}
		}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				failed++
				if firstFail == nil {
					firstFail = err
				}
			}
		})
		n++
		if n%100000 == 0 {
			fmt.Fprintf(c.stderr, "\rproduced %d records", n)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if n >= 100000 {
		fmt.Fprintf(c.stderr, "\rproduced %d records in %v\n", n, time.Since(start).Round(time.Millisecond))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d records failed: %w", failed, n, firstFail)
	}
	return nil
}

func (c *cli) consume(args []string) error {
	fs := c.flags("consume")
	topic := fs.String("topic", "", "topic to consume (required)")
	from := fs.String("from", "beginning", "beginning, end, an offset, or @UNIX_MILLIS")
	count := fs.Int("count", 0, "stop after this many records (0: run until interrupted or --idle)")
	idle := fs.Duration("idle", 0, "stop after this long without records (0: never)")
	format := fs.String("format", "%v\n", "per record: %t topic, %p partition, %o offset, %k key, %v value, %T timestamp ms, %h headers")
	partition := fs.Int("partition", -1, "only this partition")
	group := fs.String("group", "", "consume as a member of this group, committing what was printed (--from applies where the group has no offset)")
	isolation := fs.String("isolation", "read_uncommitted", "read_uncommitted or read_committed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *topic == "" {
		return errors.New("--topic is required")
	}
	if *group != "" && *partition >= 0 {
		return errors.New("--group and --partition exclude each other")
	}
	off := kgo.NewOffset()
	switch {
	case *from == "beginning":
		off = off.AtStart()
	case *from == "end":
		off = off.AtEnd()
	case strings.HasPrefix(*from, "@"):
		ms, err := strconv.ParseInt((*from)[1:], 10, 64)
		if err != nil {
			return fmt.Errorf("bad --from %q", *from)
		}
		off = off.AfterMilli(ms)
	default:
		o, err := strconv.ParseInt(*from, 10, 64)
		if err != nil {
			return fmt.Errorf("bad --from %q", *from)
		}
		off = off.At(o)
	}
	var opts []kgo.Opt
	switch *isolation {
	case "read_uncommitted":
	case "read_committed":
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	default:
		return fmt.Errorf("bad --isolation %q", *isolation)
	}
	if *partition >= 0 {
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{*topic: {int32(*partition): off}}))
	} else {
		opts = append(opts, kgo.ConsumeTopics(*topic), kgo.ConsumeResetOffset(off))
	}
	if *group != "" {
		// Commit exactly what was printed: marks, committed on the way out.
		opts = append(opts, kgo.ConsumerGroup(*group), kgo.AutoCommitMarks())
	}
	cl, err := c.client(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	w := bufio.NewWriter(c.stdout)
	defer w.Flush()
	n := 0
	for *count == 0 || n < *count {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if *idle > 0 {
			pctx, cancel = context.WithTimeout(ctx, *idle)
		}
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil || (*idle > 0 && pctx.Err() != nil && fetches.NumRecords() == 0) {
			return commitMarked(cl, *group)
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("%s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		for _, r := range fetches.Records() {
			if *count > 0 && n >= *count {
				break
			}
			writeRecord(w, *format, r)
			if *group != "" {
				cl.MarkCommitRecords(r)
			}
			n++
		}
		w.Flush()
	}
	return commitMarked(cl, *group)
}

// commitMarked commits a group consumer's marked offsets before it leaves
// (the loop above may end on a cancelled context, so a fresh one is used).
func commitMarked(cl *kgo.Client, group string) error {
	if group == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cl.CommitMarkedOffsets(ctx)
}

// writeRecord expands format for one record (kcat-style verbs).
func writeRecord(w *bufio.Writer, format string, r *kgo.Record) {
	for i := 0; i < len(format); i++ {
		ch := format[i]
		if ch == '\\' && i+1 < len(format) {
			i++
			switch format[i] {
			case 'n':
				w.WriteByte('\n')
			case 't':
				w.WriteByte('\t')
			default:
				w.WriteByte(format[i])
			}
			continue
		}
		if ch != '%' || i+1 == len(format) {
			w.WriteByte(ch)
			continue
		}
		i++
		switch format[i] {
		case 't':
			w.WriteString(r.Topic)
		case 'p':
			w.WriteString(strconv.Itoa(int(r.Partition)))
		case 'o':
			w.WriteString(strconv.FormatInt(r.Offset, 10))
		case 'k':
			w.Write(r.Key)
		case 'v':
			w.Write(r.Value)
		case 'T':
			w.WriteString(strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
		case 'h':
			for j, h := range r.Headers {
				if j > 0 {
					w.WriteByte(',')
				}
				w.WriteString(h.Key)
				w.WriteByte('=')
				w.Write(h.Value)
			}
		case '%':
			w.WriteByte('%')
		default:
			w.WriteByte('%')
			w.WriteByte(format[i])
		}
	}
}

func (c *cli) group(args []string) error {
	verb, rest, err := sub(args, "moldau group list|describe|reset-offsets|delete [flags] [GROUP...]")
	if err != nil {
		return err
	}
	fs := c.flags("group " + verb)
	to := fs.String("to", "", "reset-offsets: earliest, latest, or an offset")
	topic := fs.String("topic", "", "reset-offsets: the topic whose offsets to reset (required)")
	adm, ctx, done, err := c.admin(fs, rest)
	if err != nil {
		return err
	}
	defer done()
	groups := fs.Args()
	switch verb {
	case "list":
		ls, err := adm.ListGroups(ctx)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, g := range ls.Sorted() {
			rows = append(rows, []string{g.Group, g.State, g.ProtocolType})
		}
		return c.table([]string{"GROUP", "STATE", "PROTOCOL TYPE"}, rows)
	case "describe":
		lags, err := adm.Lag(ctx, groups...)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, name := range sortedKeys(lags) {
			l := lags[name]
			if l.Error() != nil {
				rows = append(rows, []string{name, l.State, "", "", "", "", "", "", l.Error().Error()})
				continue
			}
			for _, m := range l.Lag.Sorted() {
				member := ""
				if m.Member != nil {
					member = m.Member.ClientID + "/" + m.Member.MemberID
				}
				rows = append(rows, []string{name, l.State, m.Topic, strconv.Itoa(int(m.Partition)), strconv.FormatInt(m.Commit.At, 10),
					strconv.FormatInt(m.End.Offset, 10), strconv.FormatInt(m.Lag, 10), member, errString(firstErr(m.Err))})
			}
		}
		return c.table([]string{"GROUP", "STATE", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "MEMBER", "ERROR"}, rows)
	case "delete":
		resp, err := adm.DeleteGroups(ctx, groups...)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, r := range resp.Sorted() {
			rows = append(rows, []string{r.Group, errString(r.Err)})
		}
		return c.tableThen([]string{"GROUP", "ERROR"}, rows, resp.Error())
	case "reset-offsets":
		if *topic == "" || *to == "" || len(groups) != 1 {
			return errors.New("usage: moldau group reset-offsets --topic T --to earliest|latest|OFFSET GROUP")
		}
		var listed kadm.ListedOffsets
		switch *to {
		case "earliest":
			listed, err = adm.ListStartOffsets(ctx, *topic)
		case "latest":
			listed, err = adm.ListEndOffsets(ctx, *topic)
		default:
			var o int64
			if o, err = strconv.ParseInt(*to, 10, 64); err != nil {
				return fmt.Errorf("bad --to %q", *to)
			}
			listed, err = adm.ListEndOffsets(ctx, *topic)
			for t, ps := range listed {
				for p, lo := range ps {
					lo.Offset = o
					listed[t][p] = lo
				}
			}
		}
		if err != nil {
			return err
		}
		if err := listed.Error(); err != nil {
			return err
		}
		resp, err := adm.CommitOffsets(ctx, groups[0], listed.Offsets())
		if err != nil {
			return err
		}
		var rows [][]string
		for _, r := range resp.Sorted() {
			rows = append(rows, []string{groups[0], r.Topic, strconv.Itoa(int(r.Partition)), strconv.FormatInt(r.At, 10), errString(r.Err)})
		}
		return c.tableThen([]string{"GROUP", "TOPIC", "PARTITION", "OFFSET", "ERROR"}, rows, resp.Error())
	}
	return fmt.Errorf("unknown group command %q", verb)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *cli) cluster(args []string) error {
	verb, rest, err := sub(args, "moldau cluster info")
	if err != nil {
		return err
	}
	if verb != "info" {
		return fmt.Errorf("unknown cluster command %q", verb)
	}
	fs := c.flags("cluster info")
	adm, ctx, done, err := c.admin(fs, rest)
	if err != nil {
		return err
	}
	defer done()
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, b := range meta.Brokers {
		role := ""
		if b.NodeID == meta.Controller {
			role = "controller"
		}
		rows = append(rows, []string{meta.Cluster, strconv.Itoa(int(b.NodeID)), fmt.Sprintf("%s:%d", b.Host, b.Port), role})
	}
	return c.table([]string{"CLUSTER", "NODE", "ADDRESS", "ROLE"}, rows)
}
