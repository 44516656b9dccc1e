package main

// The admin CLI: subcommands of the same binary that speak the Kafka protocol
// (through franz-go) to any broker, Moldau or Apache Kafka.
//
//	moldau topic list|create|describe|delete|alter-config
//	moldau produce --topic T            (lines from stdin; --key-sep to split keys)
//	moldau consume --topic T            (--from beginning|end|OFFSET|@UNIXMS, --count, --format)
//	moldau group list|describe|reset-offsets|delete
//	moldau cluster info|describe|add-node|remove-node   (cluster.go)
//	moldau dev-cluster --nodes 3        (local cluster of child processes; devcluster.go)
//	moldau version | help [COMMAND] | completion bash|zsh
//
// help.go holds the command table that dispatch, --help and the completion
// scripts are all built from; each command's flags are defined once, in a
// ...Flags function that both the command and its help use.

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

type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	bootstrap      string
	jsonOut        bool
	timeout        time.Duration
}

// runCLI runs the subcommand name (a key of the command table); it returns
// the process exit code: 0, 1 when the command failed, 2 on a usage error.
// -h/--help anywhere the command's flags are parsed prints its help to
// stdout and exits 0.
func runCLI(name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := lookupCommand(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "moldau: unknown command %q\nRun 'moldau --help' for the commands.\n", name)
		return 2
	}
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	err := cmd.run(c, args)
	var usage *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		verb := ""
		if len(args) > 0 && cmd.verb(args[0]) != nil {
			verb = args[0]
		}
		writeCommandHelp(stdout, cmd, verb)
		return 0
	case errors.As(err, &usage):
		hint := "moldau help " + name
		if name == "help" {
			hint = "moldau --help"
		}
		fmt.Fprintf(stderr, "moldau %s: %v\nRun '%s' for the flags and examples.\n", name, err, hint)
		return 2
	}
	fmt.Fprintf(stderr, "moldau %s: %v\n", name, err)
	return 1
}

// usageError is a command line the command cannot run: a bad flag, a
// missing or unknown verb, a missing argument.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// defaultBootstrap is --bootstrap's default: $MOLDAU_BOOTSTRAP, else the
// broker's default listen address.
func defaultBootstrap() string {
	if def := os.Getenv("MOLDAU_BOOTSTRAP"); def != "" {
		return def
	}
	return "127.0.0.1:9092"
}

// flags returns a flag set with the common flags. It prints nothing: parse
// errors and -h come back as errors for runCLI to report.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("moldau "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.bootstrap, "bootstrap", defaultBootstrap(), "bootstrap brokers, comma-separated `HOST:PORT,...` (env MOLDAU_BOOTSTRAP)")
	fs.BoolVar(&c.jsonOut, "json", false, "print JSON instead of a table")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up on the whole command after this `DURATION`")
	return fs
}

// parse parses args into fs; a malformed flag is a usage error, -h is
// flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	return nil
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
	if err := parse(fs, args); err != nil {
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

// sub splits args into cmd's verb and the rest: -h/--help before a verb
// is flag.ErrHelp; a missing or unknown verb is a usage error.
func sub(cmd *command, args []string) (string, []string, error) {
	if len(args) > 0 && isHelpFlag(args[0]) {
		return "", nil, flag.ErrHelp
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, usagef("missing subcommand: want %s", cmd.verbList())
	}
	if cmd.verb(args[0]) == nil {
		return "", nil, usagef("unknown subcommand %q: want %s", args[0], cmd.verbList())
	}
	return args[0], args[1:], nil
}

// isHelpFlag reports whether arg asks for help the way the flag package
// understands it.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "--h", "-help", "--help":
		return true
	}
	return false
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

// topicOptions are the flags of `moldau topic VERB`.
type topicOptions struct {
	partitions, replicationFactor int
	configs, deletes              keyValues
	internal                      bool
}

func (c *cli) topicFlags(name string) (*flag.FlagSet, *topicOptions) {
	o := &topicOptions{}
	fs := c.flags(name)
	fs.IntVar(&o.partitions, "partitions", -1, "number of partitions `N` (create: -1 for the broker default; add-partitions: the new total)")
	fs.IntVar(&o.replicationFactor, "replication-factor", -1, "replication factor `N` (create; -1: the broker default)")
	fs.Var(&o.configs, "config", "topic config `KEY=VALUE` (create, alter-config; repeatable)")
	fs.Var(&o.deletes, "delete-config", "topic config `KEY` to reset to its default (alter-config; repeatable)")
	fs.BoolVar(&o.internal, "internal", false, "include internal topics such as __consumer_offsets (list)")
	return fs, o
}

func (c *cli) topic(args []string) error {
	verb, rest, err := sub(lookupCommand("topic"), args)
	if err != nil {
		return err
	}
	fs, o := c.topicFlags("topic " + verb)
	partitions, rf, internal, configs, deletes := &o.partitions, &o.replicationFactor, &o.internal, &o.configs, &o.deletes
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
		cfgs, err := parseConfigs(*configs)
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
			return usagef("add-partitions needs --partitions TOTAL")
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
		for _, kv := range *configs {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("config %q: want key=value", kv)
			}
			alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
		}
		for _, k := range *deletes {
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

// produceOptions are the flags of `moldau produce`.
type produceOptions struct {
	topic, keySep, acks, compression string
	partition                        int
}

func (c *cli) produceFlags() (*flag.FlagSet, *produceOptions) {
	o := &produceOptions{}
	fs := c.flags("produce")
	fs.StringVar(&o.topic, "topic", "", "`TOPIC` to produce to (required)")
	fs.StringVar(&o.keySep, "key-sep", "", "split each line into key and value at the first `SEP`")
	fs.IntVar(&o.partition, "partition", -1, "partition `N` (-1: by key hash)")
	fs.StringVar(&o.acks, "acks", "all", "`ACKS`: 0, 1 or all")
	fs.StringVar(&o.compression, "compression", "none", "`CODEC`: none, gzip, snappy, lz4 or zstd")
	return fs, o
}

func (c *cli) produce(args []string) error {
	fs, o := c.produceFlags()
	topic, keySep, partition, acks, compression := &o.topic, &o.keySep, &o.partition, &o.acks, &o.compression
	if err := parse(fs, args); err != nil {
		return err
	}
	if *topic == "" {
		return usagef("--topic is required")
	}
	codec, ok := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}[*compression]
	if !ok {
		return usagef("bad --compression %q", *compression)
	}
	opts := []kgo.Opt{kgo.DefaultProduceTopic(*topic), kgo.ProducerBatchCompression(codec)}
	switch *acks {
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "all", "-1":
	default:
		return usagef("bad --acks %q", *acks)
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

// consumeOptions are the flags of `moldau consume`.
type consumeOptions struct {
	topic, from, format, group, isolation string
	count, partition                      int
	idle                                  time.Duration
}

func (c *cli) consumeFlags() (*flag.FlagSet, *consumeOptions) {
	o := &consumeOptions{}
	fs := c.flags("consume")
	fs.StringVar(&o.topic, "topic", "", "`TOPIC` to consume (required)")
	fs.StringVar(&o.from, "from", "beginning", "where to start, `WHERE`: beginning, end, an offset, or @UNIX_MILLIS")
	fs.IntVar(&o.count, "count", 0, "stop after `N` records (0: run until interrupted or --idle)")
	fs.DurationVar(&o.idle, "idle", 0, "stop after this `DURATION` without records (0: never)")
	fs.StringVar(&o.format, "format", "%v\n", "`FORMAT` per record: %t topic, %p partition, %o offset, %k key, %v value, %T timestamp ms, %h headers, \\n, \\t")
	fs.IntVar(&o.partition, "partition", -1, "only partition `N` (-1: all)")
	fs.StringVar(&o.group, "group", "", "consume as a member of `GROUP`, committing what was printed (--from applies where the group has no offset)")
	fs.StringVar(&o.isolation, "isolation", "read_uncommitted", "`LEVEL`: read_uncommitted or read_committed")
	return fs, o
}

func (c *cli) consume(args []string) error {
	fs, o := c.consumeFlags()
	topic, from, count, idle, format, partition, group, isolation := &o.topic, &o.from, &o.count, &o.idle, &o.format, &o.partition, &o.group, &o.isolation
	if err := parse(fs, args); err != nil {
		return err
	}
	if *topic == "" {
		return usagef("--topic is required")
	}
	if *group != "" && *partition >= 0 {
		return usagef("--group and --partition exclude each other")
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
			return usagef("bad --from %q", *from)
		}
		off = off.AfterMilli(ms)
	default:
		o, err := strconv.ParseInt(*from, 10, 64)
		if err != nil {
			return usagef("bad --from %q", *from)
		}
		off = off.At(o)
	}
	var opts []kgo.Opt
	switch *isolation {
	case "read_uncommitted":
	case "read_committed":
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	default:
		return usagef("bad --isolation %q", *isolation)
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

// groupOptions are the flags of `moldau group VERB`.
type groupOptions struct {
	to, topic string
}

func (c *cli) groupFlags(name string) (*flag.FlagSet, *groupOptions) {
	o := &groupOptions{}
	fs := c.flags(name)
	fs.StringVar(&o.to, "to", "", "reset-offsets: the new offset, `WHERE`: earliest, latest, or an offset")
	fs.StringVar(&o.topic, "topic", "", "reset-offsets: the `TOPIC` whose offsets to reset (required)")
	return fs, o
}

func (c *cli) group(args []string) error {
	verb, rest, err := sub(lookupCommand("group"), args)
	if err != nil {
		return err
	}
	fs, o := c.groupFlags("group " + verb)
	to, topic := &o.to, &o.topic
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
			return usagef("reset-offsets needs --topic TOPIC --to earliest|latest|OFFSET and one GROUP")
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
				return usagef("bad --to %q", *to)
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
