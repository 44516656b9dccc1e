package main

// The command table and the help it renders. Dispatch (runCLI), help
// (`moldau --help`, `moldau help CMD`, `moldau CMD --help`) and the shell
// completion scripts all read this table and the flag sets the commands
// parse, so none of them can list a flag or verb the binary does not have.

import (
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/moldau/moldau/broker/config"
)

// command is one subcommand of the binary (the first argument).
type command struct {
	name     string
	summary  string // one line in `moldau --help`
	about    string // more, in `moldau help NAME`; "" for none
	args     string // what follows the flags in the synopsis, e.g. "TOPIC..."
	verbs    []verb // the second word (topic create ...); nil when there is none
	examples []string
	// flags returns the flag set run parses, for help and completion; nil
	// when the command takes no flags.
	flags func(c *cli) *flag.FlagSet
	// words lists what completes the command's positional arguments when
	// it has no verbs (help: the command names).
	words func() []string
	run   func(c *cli, args []string) error
}

// verb is the second word of a command with verbs.
type verb struct {
	name    string
	args    string // positional arguments after the flags
	summary string
}

// commands is the table, in the order `moldau --help` lists it. It is
// filled in init because the help and completion commands read it.
var commands []*command

func init() {
	commands = []*command{
		{
			name:    "topic",
			summary: "list, create, describe, delete and configure topics",
			verbs: []verb{
				{"list", "[TOPIC...]", "list topics with their partition and replica counts and ids"},
				{"create", "TOPIC...", "create topics (--partitions, --replication-factor, --config)"},
				{"describe", "[TOPIC...]", "show partitions with leader, replicas, ISR, start and end offsets, and config overrides"},
				{"delete", "TOPIC...", "delete topics"},
				{"alter-config", "TOPIC...", "set (--config) or reset (--delete-config) topic configs"},
				{"add-partitions", "TOPIC...", "grow topics to --partitions partitions in total"},
			},
			examples: []string{
				"moldau topic create --partitions 3 --config retention.ms=86400000 orders",
				"moldau topic list --bootstrap broker-1:9092,broker-2:9092",
				"moldau topic describe --json orders",
				"moldau topic alter-config --config retention.ms=1000 --delete-config cleanup.policy orders",
				"moldau topic add-partitions --partitions 6 orders",
				"moldau topic delete orders",
			},
			flags: func(c *cli) *flag.FlagSet { fs, _ := c.topicFlags("topic"); return fs },
			run:   (*cli).topic,
		},
		{
			name:    "produce",
			summary: "produce one record per line of stdin",
			examples: []string{
				"printf 'k1:v1\\nk2:v2\\n' | moldau produce --topic orders --key-sep :",
				"moldau produce --topic orders --acks 1 --compression zstd < records.txt",
			},
			flags: func(c *cli) *flag.FlagSet { fs, _ := c.produceFlags(); return fs },
			run:   (*cli).produce,
		},
		{
			name:    "consume",
			summary: "print records, optionally as a consumer group member",
			examples: []string{
				"moldau consume --topic orders --from beginning --count 2 --format '%p/%o %k=%v\\n'",
				"moldau consume --topic orders --group billing --idle 5s",
				"moldau consume --topic orders --partition 0 --from @1767225600000 --isolation read_committed",
			},
			flags: func(c *cli) *flag.FlagSet { fs, _ := c.consumeFlags(); return fs },
			run:   (*cli).consume,
		},
		{
			name:    "group",
			summary: "list, describe (with lag), reset offsets of and delete consumer groups",
			verbs: []verb{
				{"list", "", "list groups with their state and protocol type"},
				{"describe", "[GROUP...]", "show each group's committed offsets, end offsets, lag and members"},
				{"reset-offsets", "GROUP", "commit new offsets for a group with no active members (--topic, --to)"},
				{"delete", "GROUP...", "delete groups"},
			},
			examples: []string{
				"moldau group list",
				"moldau group describe billing",
				"moldau group reset-offsets --topic orders --to earliest billing",
				"moldau group delete billing",
			},
			flags: func(c *cli) *flag.FlagSet { fs, _ := c.groupFlags("group"); return fs },
			run:   (*cli).group,
		},
		{
			name:    "cluster",
			summary: "show the brokers and controller quorum; add and remove nodes",
			about: "add-node makes a running joiner (a node started with --peers naming the current voters but not " +
				"itself, and its own --peer-addr) a voter of the controller quorum (AddRaftVoter). remove-node moves " +
				"every partition replica off the node (AlterPartitionReassignments, waiting until done), removes it " +
				"from the voters (RemoveRaftVoter) and unregisters it (UnregisterBroker); then stop it. Raise --timeout " +
				"when there is much data to move.",
			verbs: []verb{
				{"info", "", "show the cluster id, every broker's address and the controller"},
				{"describe", "", "show the controller quorum's voters and observers and the brokers"},
				{"add-node", "", "make node --node-id, running as a joiner, a voter of the controller quorum"},
				{"remove-node", "", "move node --node-id's replicas away, remove it from the voters and unregister it"},
			},
			examples: []string{
				"moldau cluster info",
				"moldau cluster info --bootstrap localhost:9092 --json",
				"moldau cluster describe",
				"moldau cluster add-node --node-id 4",
				"moldau cluster remove-node --node-id 4 --timeout 10m",
			},
			flags: func(c *cli) *flag.FlagSet { fs, _ := c.clusterFlags("cluster"); return fs },
			run:   (*cli).cluster,
		},
		{
			name:    "schema",
			summary: "list, show, register, check and delete schemas; set compatibility and mode (schema registry)",
			about: "Speaks the Confluent Schema Registry REST API to --registry: Moldau's built-in registry " +
				"(the broker's --schema-registry-addr, default 127.0.0.1:8081) or any compatible one. Flags may follow " +
				"the arguments. A registry error prints its error_code and message (40401 subject not found, 409 " +
				"incompatible, 42201 invalid schema, ...) and exits 1; check exits 1 when the schema is not compatible.",
			verbs: []verb{
				{"subjects", "[PREFIX]", "list the subjects (--deleted: with soft-deleted ones)"},
				{"get", "SUBJECT [VERSION]", "show a subject's version (default latest): id, type, references and the schema"},
				{"register", "SUBJECT", "register the schema in --file (--type, --ref) as the subject's next version"},
				{"check", "SUBJECT [VERSION]", "test the schema in --file against a version (default latest) under the subject's compatibility level"},
				{"delete", "SUBJECT [VERSION]", "soft-delete a subject or one version (--permanent: for good)"},
				{"config", "[SUBJECT]", "show or --set the compatibility level, global or of a subject"},
				{"mode", "[SUBJECT]", "show or --set the mode (READWRITE, READONLY, IMPORT), global or of a subject"},
				{"id", "ID", "show the schema with a global id and the subject versions that use it"},
			},
			examples: []string{
				"moldau schema subjects",
				"moldau schema register orders-value --file order.avsc",
				"moldau schema register orders-value --file order.proto --ref customer.proto=customer-value:1",
				"moldau schema check orders-value --file order-v2.avsc",
				"moldau schema get orders-value 2 --registry http://registry:8081",
				"moldau schema config orders-value --set FULL_TRANSITIVE",
				"moldau schema mode --set READONLY",
				"moldau schema id 7 --json",
				"moldau schema delete orders-value --permanent",
			},
			flags: func(c *cli) *flag.FlagSet { fs, _ := c.schemaFlags("schema"); return fs },
			run:   (*cli).schema,
		},
		{
			name:    "dev-cluster",
			summary: "start a local cluster of broker processes and print its bootstrap list",
			about: "Starts --nodes child processes of this binary, node ids 1..N, node i on 127.0.0.i " +
				"(Kafka --kafka-port, inter-broker --peer-port, admin --admin-port, schema registry --schema-registry-port, " +
				"web console --console-port, HTTP proxy --http-proxy-port; data in --data-dir/node-i), " +
				"each with the same --peers; waits until every node answers ApiVersions, then prints the bootstrap " +
				"list and each node's pid. Node output is prefixed [node i]. Ctrl-C or SIGTERM stops every node " +
				"(twice: at once). A node that dies (kill -9 PID, to watch a failover) is reported and the others " +
				"keep running; SIGHUP to the dev-cluster restarts every stopped node with its data. " +
				"Flags after -- go to every node. Linux routes 127.0.0.0/8 to the loopback; on macOS first: " +
				"sudo ifconfig lo0 alias 127.0.0.2 up (and so on).",
			args: "[-- BROKER-FLAGS...]",
			examples: []string{
				"moldau dev-cluster",
				"moldau dev-cluster --nodes 3 --data-dir ./dev-cluster",
				"moldau dev-cluster --kafka-port 19092 --peer-port 19093 --admin-port 0 -- --dev --log-level warn",
			},
			flags: func(c *cli) *flag.FlagSet { fs, _ := c.devClusterFlags(); return fs },
			run:   (*cli).devCluster,
		},
		{
			name:     "version",
			summary:  "print the version, VCS revision and build date (also: moldau --version)",
			examples: []string{"moldau version", "moldau --version"},
			run:      (*cli).version,
		},
		{
			name:     "help",
			summary:  "show the broker's flags, or a command's flags and examples",
			args:     "[COMMAND [VERB]]",
			examples: []string{"moldau help", "moldau help topic", "moldau help topic create"},
			words:    commandNames,
			run:      (*cli).help,
		},
		{
			name:    "completion",
			summary: "print a bash or zsh completion script",
			verbs: []verb{
				{"bash", "", "bash completion: source <(moldau completion bash)"},
				{"zsh", "", "zsh completion: source <(moldau completion zsh), or save it as _moldau in $fpath"},
			},
			examples: []string{
				"source <(moldau completion bash)",
				"moldau completion bash > /etc/bash_completion.d/moldau",
				"moldau completion zsh > \"${fpath[1]}/_moldau\"",
			},
			run: (*cli).completion,
		},
	}
}

// lookupCommand returns the command called name, nil if there is none.
func lookupCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func commandNames() []string {
	out := make([]string, len(commands))
	for i, c := range commands {
		out[i] = c.name
	}
	return out
}

// verb returns the command's verb called name, nil if there is none.
func (cmd *command) verb(name string) *verb {
	for i := range cmd.verbs {
		if cmd.verbs[i].name == name {
			return &cmd.verbs[i]
		}
	}
	return nil
}

// verbList is "list, create or delete".
func (cmd *command) verbList() string {
	names := make([]string, len(cmd.verbs))
	for i, v := range cmd.verbs {
		names[i] = v.name
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// flagDoc is one flag as help and completion show it.
type flagDoc struct {
	name, placeholder, usage, def, env string
	isBool, repeatable                 bool
}

// label is "--name PLACEHOLDER".
func (f flagDoc) label() string {
	if f.placeholder == "" {
		return "--" + f.name
	}
	return "--" + f.name + " " + f.placeholder
}

// notes is "default: X, env: Y", or "" when there is neither.
func (f flagDoc) notes() string {
	var notes []string
	if f.def != "" {
		def := f.def
		if strings.ContainsAny(def, " \t\n\"'") || !utf8.ValidString(def) {
			def = strconv.Quote(def)
		}
		notes = append(notes, "default: "+def)
	}
	if f.env != "" {
		notes = append(notes, "env: "+f.env)
	}
	return strings.Join(notes, ", ")
}

// placeholderFor names a flag's value where its usage does not (the flag
// package then names the Go type).
func placeholderFor(placeholder string) string {
	switch placeholder {
	case "string", "value":
		return "VALUE"
	case "int", "uint", "int64", "uint64":
		return "N"
	case "float":
		return "NUMBER"
	case "duration":
		return "DURATION"
	}
	return placeholder
}

// serverFlagDocs describes the broker's flags from the flag set
// config.Load parses.
func serverFlagDocs() []flagDoc {
	var out []flagDoc
	for _, f := range config.Flags() {
		out = append(out, flagDoc{name: f.Name, placeholder: placeholderFor(f.Placeholder), usage: f.Usage, def: f.Default, env: f.Env, isBool: f.Bool, repeatable: f.Repeatable})
	}
	return out
}

// envNote is the "(env MOLDAU_X)" a usage ends with when an environment
// variable sets the flag's default (config.Flags reads the same note).
var envNote = regexp.MustCompile(`\s*\(env (MOLDAU_[A-Z0-9_]+)\)`)

// flagSetDocs describes the flags of fs, sorted by name.
func flagSetDocs(fs *flag.FlagSet) []flagDoc {
	var out []flagDoc
	if fs == nil {
		return out
	}
	fs.VisitAll(func(f *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(f)
		d := flagDoc{name: f.Name, placeholder: placeholderFor(placeholder), usage: usage, def: f.DefValue}
		if m := envNote.FindStringSubmatch(usage); m != nil {
			d.env, d.usage = m[1], strings.TrimSpace(envNote.ReplaceAllString(usage, ""))
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			d.isBool, d.placeholder = true, ""
			if d.def == "false" {
				d.def = ""
			}
		}
		_, d.repeatable = f.Value.(*keyValues)
		out = append(out, d)
	})
	return out
}

// commandFlagDocs describes the flags cmd parses; nil when it has none.
func commandFlagDocs(cmd *command) []flagDoc {
	if cmd.flags == nil {
		return nil
	}
	return flagSetDocs(cmd.flags(&cli{}))
}

// commonFlagNames are the flags every admin command shares (cli.flags).
func commonFlagNames() []string {
	var names []string
	for _, f := range flagSetDocs((&cli{}).flags("")) {
		names = append(names, f.name)
	}
	return names
}

// serverFlagGroups orders the broker's flags in `moldau --help`. A flag
// missing here is listed under "Other" (and fails TestServerHelpGroups).
var serverFlagGroups = []struct {
	title string
	flags []string
}{
	{"Listener", []string{"addr", "advertise-addr", "listeners", "node-id"}},
	{"Security", []string{"add-scram"}},
	{"Cluster", []string{"peers", "peer-addr"}},
	{"Storage", []string{"data-dir", "memory"}},
	{"Schema registry", []string{"schema-registry-addr"}},
	{"Web console and HTTP proxy", []string{"console-addr", "http-proxy-addr", "http-allowed-hosts"}},
	{"Profile and Kafka properties", []string{"dev", "config", "set", "kafka-version"}},
	{"Observability", []string{"log-level", "log-format", "log-requests", "admin-addr", "pprof"}},
}

const helpWidth = 100

// flagColumn is where the descriptions of flags start.
func flagColumn(flags []flagDoc) int {
	col := 0
	for _, f := range flags {
		col = max(col, len(f.label()))
	}
	return min(col, 30) + 4
}

// writeFlags prints flags as two columns from col on, the description
// wrapped, its default and environment variable on a line of their own.
func writeFlags(w io.Writer, flags []flagDoc, col int) {
	for _, f := range flags {
		lines := wrap(f.usage, helpWidth-col)
		if n := f.notes(); n != "" {
			lines = append(lines, n)
		}
		label := "  " + f.label()
		if len(label) > col-2 {
			fmt.Fprintln(w, label)
			label = ""
		}
		for i, l := range lines {
			if i > 0 {
				label = ""
			}
			fmt.Fprintf(w, "%-*s%s\n", col, label, l)
		}
	}
}

// wrap breaks text into lines of at most width bytes at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

// writeTwoColumns prints name/summary rows.
func writeTwoColumns(w io.Writer, rows [][2]string) {
	col := 0
	for _, r := range rows {
		col = max(col, len(r[0]))
	}
	col += 4
	for _, r := range rows {
		for i, l := range wrap(r[1], helpWidth-col) {
			name := "  " + r[0]
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(w, "%-*s%s\n", col, name, l)
		}
	}
}

// writeServerHelp is `moldau --help`: the broker's flags by group, then the
// commands.
func writeServerHelp(w io.Writer) {
	d := config.Default()
	fmt.Fprintf(w, `moldau: a Kafka-protocol-compatible broker in one binary, and an admin CLI for any Kafka cluster.

Usage:
  moldau [flags]                        run the broker (Kafka on %s, data in %s)
  moldau COMMAND [VERB] [flags] [ARGS]  run an admin command against any Kafka broker

Broker flags. Precedence: defaults < --config file < --set < environment < flags.
A flag may be written -flag or --flag, with its value as --flag=VALUE or --flag VALUE.
`, d.Addr, d.DataDir)
	docs := serverFlagDocs()
	col := flagColumn(docs)
	byName := map[string]flagDoc{}
	for _, f := range docs {
		byName[f.name] = f
	}
	for _, g := range serverFlagGroups {
		var group []flagDoc
		for _, name := range g.flags {
			if f, ok := byName[name]; ok {
				group = append(group, f)
				delete(byName, name)
			}
		}
		fmt.Fprintf(w, "\n%s:\n", g.title)
		writeFlags(w, group, col)
	}
	if len(byName) > 0 {
		var other []flagDoc
		for _, f := range docs {
			if _, ok := byName[f.name]; ok {
				other = append(other, f)
			}
		}
		fmt.Fprintf(w, "\nOther:\n")
		writeFlags(w, other, col)
	}
	fmt.Fprintf(w, "\nCommands:\n")
	var rows [][2]string
	for _, c := range commands {
		rows = append(rows, [2]string{c.name, c.summary})
	}
	writeTwoColumns(w, rows)
	fmt.Fprintf(w, `
Examples:
  moldau --dev --memory
  moldau --data-dir /var/lib/moldau --addr 0.0.0.0:9092 --advertise-addr kafka-1.example.com:9092
  moldau --config server.properties --set num.partitions=3
  moldau --node-id 2 --addr 127.0.0.2:9092 --peer-addr 127.0.0.2:9093 --peers 1@127.0.0.1:9093,2@127.0.0.2:9093,3@127.0.0.3:9093
  MOLDAU_LOG_FORMAT=json moldau --admin-addr 0.0.0.0:9644

Run 'moldau help COMMAND' (or 'moldau COMMAND --help') for a command's flags and examples.
Shell completion: source <(moldau completion bash), or: moldau completion zsh.
`)
}

// writeCommandHelp is `moldau help NAME [VERB]` and `moldau NAME [VERB] --help`.
func writeCommandHelp(w io.Writer, cmd *command, verbName string) {
	v := cmd.verb(verbName)
	flags := commandFlagDocs(cmd)
	flagsWord := ""
	if len(flags) > 0 {
		flagsWord = " [flags]"
	}
	fmt.Fprintf(w, "moldau %s: %s\n\nUsage:\n", cmd.name, cmd.summary)
	switch {
	case v != nil:
		fmt.Fprintf(w, "  %s\n\n%s\n", strings.TrimSpace("moldau "+cmd.name+" "+v.name+flagsWord+" "+v.args), v.summary)
	case len(cmd.verbs) > 0:
		argsWord := ""
		for _, v := range cmd.verbs {
			if v.args != "" {
				argsWord = " [ARGS]"
			}
		}
		fmt.Fprintf(w, "  moldau %s VERB%s%s\n\nVerbs:\n", cmd.name, flagsWord, argsWord)
		var rows [][2]string
		for _, v := range cmd.verbs {
			rows = append(rows, [2]string{strings.TrimSpace(v.name + " " + v.args), v.summary})
		}
		writeTwoColumns(w, rows)
	default:
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace("moldau "+cmd.name+flagsWord+" "+cmd.args))
	}
	if cmd.about != "" && v == nil {
		fmt.Fprintf(w, "\n%s\n", strings.Join(wrap(cmd.about, helpWidth), "\n"))
	}
	if len(flags) > 0 {
		common := commonFlagNames()
		var own, shared []flagDoc
		for _, f := range flags {
			if slices.Contains(common, f.name) {
				shared = append(shared, f)
			} else {
				own = append(own, f)
			}
		}
		col := flagColumn(flags)
		if len(own) > 0 {
			takesArgs := cmd.args != "" || (v != nil && v.args != "")
			for _, v := range cmd.verbs {
				takesArgs = takesArgs || (verbName == "" && v.args != "")
			}
			if takesArgs {
				fmt.Fprintf(w, "\nFlags (before the arguments):\n")
			} else {
				fmt.Fprintf(w, "\nFlags:\n")
			}
			writeFlags(w, own, col)
		}
		if len(shared) > 0 {
			fmt.Fprintf(w, "\nConnection and output flags (every admin command):\n")
			writeFlags(w, shared, col)
		}
	}
	examples := cmd.examples
	if v != nil {
		var mine []string
		for _, e := range cmd.examples {
			if strings.Contains(e, "moldau "+cmd.name+" "+v.name+" ") || strings.HasSuffix(e, "moldau "+cmd.name+" "+v.name) {
				mine = append(mine, e)
			}
		}
		if len(mine) > 0 {
			examples = mine
		}
	}
	fmt.Fprintf(w, "\nExamples:\n")
	for _, e := range examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

// help is `moldau help [COMMAND [VERB]]`.
func (c *cli) help(args []string) error {
	if len(args) > 0 && isHelpFlag(args[0]) {
		return flag.ErrHelp
	}
	if len(args) == 0 {
		writeServerHelp(c.stdout)
		return nil
	}
	cmd := lookupCommand(args[0])
	if cmd == nil {
		return usagef("unknown command %q: want one of %s", args[0], strings.Join(commandNames(), ", "))
	}
	verbName := ""
	if len(args) > 1 {
		if cmd.verb(args[1]) == nil {
			if len(cmd.verbs) == 0 {
				return usagef("moldau %s has no verbs", cmd.name)
			}
			return usagef("unknown %s command %q: want %s", cmd.name, args[1], cmd.verbList())
		}
		verbName = args[1]
	}
	if len(args) > 2 {
		return usagef("unexpected argument %q", args[2])
	}
	writeCommandHelp(c.stdout, cmd, verbName)
	return nil
}

// version is `moldau version` and `moldau --version`.
func (c *cli) version(args []string) error {
	if len(args) > 0 {
		if isHelpFlag(args[0]) {
			return flag.ErrHelp
		}
		return usagef("unexpected argument %q", args[0])
	}
	fmt.Fprintln(c.stdout, versionString())
	return nil
}
