package config

import (
	"flag"
	"regexp"
	"strings"
)

// FlagDoc describes one server flag as Load parses it: what `moldau --help`
// and the shell completion scripts show. It is read from the same flag set
// Load uses, so help text, defaults and environment names cannot drift from
// the parser.
type FlagDoc struct {
	Name        string // without dashes: "addr"
	Placeholder string // the value's name in the usage ("HOST:PORT"); "" for a boolean flag
	Usage       string // the description, without the "(env …)" note
	Default     string // the default as text; "" when empty, false or unset
	Env         string // the environment variable that sets it; "" for none
	Bool        bool   // takes no value
	Repeatable  bool   // may be given more than once (--set)
}

// envNote matches the "(env MOLDAU_X)" note the flag definitions end with.
var envNote = regexp.MustCompile(`\s*\(env (MOLDAU_[A-Z0-9_]+)\)`)

// Flags describes the server flags, sorted by name.
func Flags() []FlagDoc {
	var v flagValues
	fs := newFlagSet(&v)
	var out []FlagDoc
	fs.VisitAll(func(f *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(f)
		d := FlagDoc{Name: f.Name, Placeholder: placeholder, Default: f.DefValue}
		if m := envNote.FindStringSubmatch(usage); m != nil {
			d.Env = m[1]
			usage = envNote.ReplaceAllString(usage, "")
		}
		d.Usage = strings.TrimSpace(usage)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			d.Bool, d.Placeholder = true, ""
		}
		if _, ok := f.Value.(*setFlag); ok {
			d.Repeatable = true
		}
		if d.Default == "false" && d.Bool {
			d.Default = ""
		}
		out = append(out, d)
	})
	return out
}
