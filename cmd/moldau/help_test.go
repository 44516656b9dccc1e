package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moldau/moldau/broker"
	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/testenv"
)

// runInProcess runs `moldau ARGS...` through runMain. A help path that
// fell through to starting the broker would block on signals: that fails
// after a deadline instead of hanging the test.
func runInProcess(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- runMain(args, strings.NewReader(""), &out, &errOut) }()
	select {
	case code = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("moldau %q did not return within 20 s (did it start the broker?)", args)
	}
	return code, out.String(), errOut.String()
}

// helpPaths lists every way to ask for help, a version or a completion
// script, each with what its answer must mention.
func helpPaths() map[string][]string {
	var serverMust []string
	for _, f := range config.Flags() {
		serverMust = append(serverMust, "--"+f.Name)
		if f.Env != "" {
			serverMust = append(serverMust, f.Env)
		}
	}
	serverMust = append(serverMust, commandNames()...)
	paths := map[string][]string{
		"--help":          serverMust,
		"-h":              serverMust,
		"-help":           serverMust,
		"help":            serverMust,
		"--memory --help": serverMust,
		"--version":       {"moldau "},
		"-version":        {"moldau "},
		"version":         {"moldau "},
		"completion bash": {"complete -o default -F _moldau moldau"},
		"completion zsh":  {"#compdef moldau"},
	}
	for _, cmd := range commands {
		must := []string{"Usage:", "Examples:", "moldau " + cmd.name}
		for _, f := range commandFlagDocs(cmd) {
			must = append(must, "--"+f.name)
		}
		for _, v := range cmd.verbs {
			must = append(must, v.name)
		}
		paths["help "+cmd.name] = must
		paths[cmd.name+" --help"] = must
		paths[cmd.name+" -h"] = must
		for _, v := range cmd.verbs {
			vmust := []string{"Usage:", "Examples:", "moldau " + cmd.name + " " + v.name}
			for _, f := range commandFlagDocs(cmd) {
				vmust = append(vmust, "--"+f.name)
			}
			paths["help "+cmd.name+" "+v.name] = vmust
			paths[cmd.name+" "+v.name+" --help"] = vmust
			paths[cmd.name+" "+v.name+" -h"] = vmust
		}
	}
	return paths
}

// helpErrors are texts that mean a help path failed while exiting 0.
var helpErrors = []string{"flag: help requested", "flag provided but not defined", "unexpected argument", "unknown command", "usage:"}

// TestHelpPaths runs every help, version and completion path in process:
// each must exit 0 with an answer on stdout, nothing on stderr, and name
// what it documents.
func TestHelpPaths(t *testing.T) {
	t.Setenv("MOLDAU_BOOTSTRAP", "") // the help shows the built-in default
	paths := helpPaths()
	if len(paths) < 50 {
		t.Fatalf("only %d help paths: the command table is missing commands", len(paths))
	}
	for line, must := range paths {
		code, out, errOut := runInProcess(t, strings.Fields(line)...)
		if code != 0 || strings.TrimSpace(out) == "" || errOut != "" {
			t.Errorf("moldau %s: exit %d, stdout %d bytes, stderr %q", line, code, len(out), errOut)
			continue
		}
		for _, bad := range helpErrors {
			if strings.Contains(out, bad) {
				t.Errorf("moldau %s: answer contains %q:\n%s", line, bad, out)
			}
		}
		for _, m := range must {
			if !strings.Contains(out, m) {
				t.Errorf("moldau %s: answer does not mention %q:\n%s", line, m, out)
			}
		}
	}
}

// TestHelpErrors: a wrong command line exits 2 and points at the help,
// before any connection is tried.
func TestHelpErrors(t *testing.T) {
	for _, line := range []string{"tpoic", "help bogus", "help topic bogus", "topic", "topic bogus --bootstrap 127.0.0.1:1",
		"topic create --bogus", "produce", "completion fish", "completion", "version extra", "--version extra", "--bogus"} {
		code, out, errOut := runInProcess(t, strings.Fields(line)...)
		if code != 2 || out != "" || !strings.Contains(errOut, "--help") && !strings.Contains(errOut, "moldau help") {
			t.Errorf("moldau %s: exit %d, stdout %q, stderr %q; want exit 2 and a pointer to the help", line, code, out, errOut)
		}
		if strings.Contains(errOut, "flag: help requested") {
			t.Errorf("moldau %s: stderr %q", line, errOut)
		}
	}
}

// TestServerHelpGroups: every broker flag is in exactly one group of
// `moldau --help`, and no group names a flag that does not exist.
func TestServerHelpGroups(t *testing.T) {
	seen := map[string]string{}
	for _, g := range serverFlagGroups {
		for _, name := range g.flags {
			if other, ok := seen[name]; ok {
				t.Errorf("--%s is in groups %q and %q", name, other, g.title)
			}
			seen[name] = g.title
		}
	}
	known := map[string]bool{}
	for _, f := range config.Flags() {
		known[f.Name] = true
		if _, ok := seen[f.Name]; !ok {
			t.Errorf("--%s is in no group of serverFlagGroups (it would be listed under Other)", f.Name)
		}
	}
	for name := range seen {
		if !known[name] {
			t.Errorf("serverFlagGroups names --%s, which the broker does not have", name)
		}
	}
	if _, out, _ := runInProcess(t, "--help"); strings.Contains(out, "\nOther:\n") {
		t.Errorf("--help has an Other group:\n%s", out)
	}
}

// shellWords splits a command line the way sh would for the examples:
// single and double quotes, no expansion.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// exampleArgs is the moldau invocation in an example line: the words after
// "moldau" up to a pipe or redirection; nil if moldau is not run.
func exampleArgs(line string) []string {
	words := shellWords(line)
	i := slices.IndexFunc(words, func(w string) bool { return strings.TrimLeft(w, "<$(") == "moldau" })
	if i < 0 {
		return nil
	}
	args := []string{}
	for _, w := range words[i+1:] {
		if w == "|" || w == "<" || w == ">" || strings.HasPrefix(w, ">") || strings.HasPrefix(w, "<") || strings.HasPrefix(w, ")") {
			break
		}
		args = append(args, strings.TrimSuffix(w, ")"))
	}
	return args
}

// TestExamplesParse: every example in the help is a command line the
// binary accepts: a known command and verb, and flags its flag set parses.
// Commands that need no broker are run.
func TestExamplesParse(t *testing.T) {
	for _, cmd := range commands {
		if len(cmd.examples) == 0 {
			t.Errorf("%s has no example", cmd.name)
		}
		for _, ex := range cmd.examples {
			args := exampleArgs(ex)
			if args == nil {
				t.Errorf("%s example %q does not run moldau", cmd.name, ex)
				continue
			}
			if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
				args[0] = "version"
			}
			if len(args) == 0 || lookupCommand(args[0]) != cmd {
				t.Errorf("%s example %q runs %q", cmd.name, ex, args)
				continue
			}
			rest := args[1:]
			if len(cmd.verbs) > 0 {
				if len(rest) == 0 || cmd.verb(rest[0]) == nil {
					t.Errorf("%s example %q: no valid verb", cmd.name, ex)
					continue
				}
				rest = rest[1:]
			}
			if cmd.flags == nil {
				if code, out, errOut := runInProcess(t, args...); code != 0 || out == "" {
					t.Errorf("example %q: exit %d, stderr %q", ex, code, errOut)
				}
				continue
			}
			fs := cmd.flags(&cli{})
			if err := fs.Parse(rest); err != nil {
				t.Errorf("example %q: %v", ex, err)
			}
		}
	}
	// The broker's examples use only its flags.
	var b bytes.Buffer
	writeServerHelp(&b)
	_, examples, _ := strings.Cut(b.String(), "\nExamples:\n")
	examples, _, _ = strings.Cut(examples, "\n\n")
	lines := strings.Split(examples, "\n")
	if len(lines) < 2 {
		t.Fatalf("server help has %d examples", len(lines))
	}
	for _, ex := range lines {
		fs := flag.NewFlagSet("moldau", flag.ContinueOnError)
		fs.SetOutput(&bytes.Buffer{})
		for _, f := range config.Flags() {
			if f.Bool {
				fs.Bool(f.Name, false, "")
			} else {
				fs.String(f.Name, "", "")
			}
		}
		if err := fs.Parse(exampleArgs(ex)); err != nil || fs.NArg() > 0 {
			t.Errorf("server example %q: %v %q", ex, err, fs.Args())
		}
	}
}

// TestFormatVersion: the line names the revision and dates when known and
// says there is no VCS information when not.
func TestFormatVersion(t *testing.T) {
	got := formatVersion(broker.Build{Version: "v1.2.3", Revision: "0123456789ab", Dirty: true, CommitTime: "2026-12-01T10:00:00Z", BuildDate: "2026-12-06T13:20:00Z"})
	for _, want := range []string{"moldau v1.2.3 (", "revision 0123456789ab-dirty", "committed 2026-12-01T10:00:00Z", "built 2026-12-06T13:20:00Z", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(got, want) {
			t.Errorf("formatVersion = %q, missing %q", got, want)
		}
	}
	if strings.Contains(got, "no VCS") {
		t.Errorf("formatVersion = %q with a revision", got)
	}
	got = formatVersion(broker.Build{Version: "dev"})
	if !strings.HasPrefix(got, "moldau dev (no VCS information: ") || strings.Contains(got, "revision") {
		t.Errorf("formatVersion without VCS = %q", got)
	}
}

// completionFlags lists, per command ("" for the broker), the flags the
// completion scripts must offer: those the commands parse, and --help.
func completionFlags() map[string][]string {
	out := map[string][]string{}
	for _, f := range config.Flags() {
		out[""] = append(out[""], "--"+f.Name)
	}
	for _, cmd := range commands {
		out[cmd.name] = []string{}
		for _, f := range commandFlagDocs(cmd) {
			out[cmd.name] = append(out[cmd.name], "--"+f.name)
		}
	}
	for k := range out {
		out[k] = append(out[k], "--help")
	}
	return out
}

func completionScript(t *testing.T, shell string) string {
	t.Helper()
	code, out, errOut := runInProcess(t, "completion", shell)
	if code != 0 || errOut != "" {
		t.Fatalf("completion %s: exit %d: %s", shell, code, errOut)
	}
	path := filepath.Join(t.TempDir(), "moldau."+shell)
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBashCompletion checks the script with bash -n, then sources it and
// asks _moldau for completions the way bash does (COMP_WORDS, COMP_CWORD).
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed to check the completion script: %v", err)
	}
	path := completionScript(t, "bash")
	if out, err := exec.Command(bash, "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	type tc struct {
		words []string // the command line; the last word is the one being completed
		want  []string // all of these offered
		none  bool     // nothing offered (a flag's value: bash falls back to file names)
	}
	cases := []tc{
		{words: []string{"moldau", ""}, want: commandNames()},
		{words: []string{"moldau", "--da"}, want: []string{"--data-dir"}},
		{words: []string{"moldau", "--addr", "127.0.0.1:9092", "--mem"}, want: []string{"--memory"}},
		{words: []string{"moldau", "--config", ""}, none: true},
		{words: []string{"moldau", "topic", "cr"}, want: []string{"create"}},
		{words: []string{"moldau", "topic", "create", "--config", "x=1", "--repl"}, want: []string{"--replication-factor"}},
		{words: []string{"moldau", "consume", "--topic", ""}, none: true},
		{words: []string{"moldau", "group", "reset-offsets", "--topic", "=", "orders", "--t"}, want: []string{"--to", "--topic", "--timeout"}},
		{words: []string{"moldau", "help", "gr"}, want: []string{"group"}},
		{words: []string{"moldau", "completion", ""}, want: []string{"bash", "zsh"}},
	}
	// Every flag of every command, completed from its first letters.
	for name, flags := range completionFlags() {
		prefix := []string{"moldau"}
		if name != "" {
			prefix = append(prefix, name)
			if cmd := lookupCommand(name); len(cmd.verbs) > 0 {
				prefix = append(prefix, cmd.verbs[0].name)
			}
		}
		for _, f := range flags {
			cases = append(cases, tc{words: append(slices.Clone(prefix), f[:min(len(f), 5)]), want: []string{f}})
		}
	}
	var script strings.Builder
	script.WriteString("source " + path + "\n")
	for _, c := range cases {
		script.WriteString("COMP_WORDS=(")
		for _, w := range c.words {
			script.WriteString("'" + w + "' ")
		}
		script.WriteString(")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\nCOMPREPLY=()\n_moldau\necho \"${COMPREPLY[*]}\"\n")
	}
	out, err := exec.Command(bash, "-c", script.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("bash printed %d lines for %d cases:\n%s", len(lines), len(cases), out)
	}
	for i, c := range cases {
		got := strings.Fields(lines[i])
		if c.none && len(got) > 0 {
			t.Errorf("complete %q: got %q, want nothing", c.words, got)
		}
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("complete %q: got %q, want %q among them", c.words, got, w)
			}
		}
	}
}

// TestZshCompletion checks the script with zsh -n (zsh is installed by make
// deps; outside CI a machine without it checks the structure only), and its
// structure always: one function per
// command, each offering exactly that command's flags, and quotes that
// balance on every line.
func TestZshCompletion(t *testing.T) {
	path := completionScript(t, "zsh")
	if zsh, err := exec.LookPath("zsh"); err == nil {
		if out, err := exec.Command(zsh, "-n", path).CombinedOutput(); err != nil {
			t.Fatalf("zsh -n: %v\n%s", err, out)
		}
	} else if testenv.InCI() {
		t.Fatalf("zsh not installed (make deps installs Debian's zsh): %v", err)
	} else {
		t.Logf("zsh not installed: checking the script's structure only")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	script := string(data)
	if !strings.HasPrefix(script, "#compdef moldau\n") || !strings.Contains(script, "\ncompdef _moldau moldau\n") {
		t.Errorf("zsh script lacks #compdef moldau or compdef _moldau moldau")
	}
	for i, line := range strings.Split(script, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if n := strings.Count(strings.ReplaceAll(line, `'\''`, ""), "'"); n%2 != 0 {
			t.Errorf("zsh script line %d has unbalanced quotes: %s", i+1, line)
		}
	}
	if strings.Count(script, "{") != strings.Count(script, "}") {
		t.Errorf("zsh script braces do not balance")
	}
	flagSpec := regexp.MustCompile(`'\*?(--[a-z0-9-]+)[=\[]`)
	for name, flags := range completionFlags() {
		fn := "_moldau_server"
		if name != "" {
			fn = zshFunc(name)
		}
		_, body, ok := strings.Cut(script, "\n"+fn+"() {\n")
		if !ok {
			t.Errorf("zsh script has no function %s", fn)
			continue
		}
		body, _, _ = strings.Cut(body, "\n}\n")
		var got []string
		for _, m := range flagSpec.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(flags))
		if !slices.Equal(got, want) {
			t.Errorf("zsh %s offers %q, want %q", fn, got, want)
		}
		if cmd := lookupCommand(name); cmd != nil {
			for _, v := range cmd.verbs {
				if !strings.Contains(body, "'"+v.name+":") {
					t.Errorf("zsh %s does not offer the verb %s", fn, v.name)
				}
			}
		}
	}
	if !strings.Contains(script, "\n_moldau() {\n") {
		t.Errorf("zsh script has no _moldau function")
	}
}

// linkSymbols are the -X targets the build files may set.
var linkSymbols = []string{"main.version", "github.com/moldau/moldau/broker.linkRevision", "github.com/moldau/moldau/broker.linkBuildDate"}

// TestBinaryVersionAndHelp builds the binary as the Makefile and the
// Dockerfile do, with the link-time stamps they set (read from those files,
// so a misspelt -X target, which the linker ignores silently, fails here)
// and without VCS stamping, then runs --version, --help and a command's
// help through main.
func TestBinaryVersionAndHelp(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	xTarget := regexp.MustCompile(`-X ([A-Za-z0-9_./-]+)=`)
	// The Makefile's build target is the line after "build:"; the
	// Dockerfile has one go build line (deploy/check/check.sh insists).
	for _, file := range []struct{ name, after, prefix string }{{"Makefile", "\nbuild:\n", "\t"}, {"Dockerfile", "\n", "RUN CGO_ENABLED=0 go build "}} {
		data, err := os.ReadFile(filepath.Join(root, file.name))
		if err != nil {
			t.Fatal(err)
		}
		_, text, ok := strings.Cut(string(data), file.after)
		if !ok {
			t.Fatalf("%s: no %q", file.name, file.after)
		}
		var line string
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, file.prefix) {
				line = l
				break
			}
		}
		var targets []string
		for _, m := range xTarget.FindAllStringSubmatch(line, -1) {
			targets = append(targets, m[1])
		}
		slices.Sort(targets)
		if want := slices.Sorted(slices.Values(linkSymbols)); !slices.Equal(targets, want) {
			t.Errorf("%s build line sets -X %q, want %q", file.name, targets, want)
		}
	}

	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "moldau")
	ldflags := "-X main.version=v9.8.7-test -X " + linkSymbols[1] + "=0123456789abcdef0123456789abcdef01234567-dirty -X " + linkSymbols[2] + "=2026-01-02T03:04:05Z"
	build := exec.Command(goBin, "build", "-buildvcs=false", "-ldflags", ldflags, "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil || stdout.Len() == 0 || stderr.Len() > 0 {
			t.Fatalf("moldau %q: %v, stdout %q, stderr %q", args, err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	v := run("--version")
	for _, want := range []string{"moldau v9.8.7-test (", "revision 0123456789ab-dirty", "built 2026-01-02T03:04:05Z"} {
		if !strings.Contains(v, want) {
			t.Errorf("--version = %q, missing %q", v, want)
		}
	}
	if run("version") != v {
		t.Errorf("version and --version differ")
	}
	if h := run("--help"); !strings.Contains(h, "MOLDAU_DATA_DIR") || !strings.Contains(h, "completion") {
		t.Errorf("--help printed %q", h)
	}
	if h := run("topic", "--help"); !strings.Contains(h, "--partitions") || !strings.Contains(h, "moldau topic create") {
		t.Errorf("topic --help printed %q", h)
	}
}
