package config

import (
	"bytes"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func TestParsePeers(t *testing.T) {
	good := []struct {
		in   string
		want []Peer
		text string // FormatPeers of the result
	}{
		{"", nil, ""},
		{"  ", nil, ""},
		{"1@127.0.0.1:9093", []Peer{{1, "127.0.0.1:9093"}}, "1@127.0.0.1:9093"},
		{"1@a:9093, 2@b:9093 ,3@c:9093", []Peer{{1, "a:9093"}, {2, "b:9093"}, {3, "c:9093"}}, "1@a:9093,2@b:9093,3@c:9093"},
		{"3@c:1,0@a:2", []Peer{{3, "c:1"}, {0, "a:2"}}, "3@c:1,0@a:2"},
		{"1@[::1]:9093,2@[::1]:9094", []Peer{{1, "[::1]:9093"}, {2, "[::1]:9094"}}, "1@[::1]:9093,2@[::1]:9094"},
		{"2147483647@kafka-0.kafka.svc:65535", []Peer{{2147483647, "kafka-0.kafka.svc:65535"}}, "2147483647@kafka-0.kafka.svc:65535"},
	}
	for _, tt := range good {
		got, err := ParsePeers(tt.in)
		if err != nil {
			t.Errorf("ParsePeers(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePeers(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if s := FormatPeers(got); s != tt.text {
			t.Errorf("FormatPeers(ParsePeers(%q)) = %q, want %q", tt.in, s, tt.text)
		}
	}
	bad := []struct{ in, want string }{
		{"127.0.0.1:9093", "want ID@HOST:PORT"},
		{"1@127.0.0.1:9093,127.0.0.2:9093", `entry "127.0.0.2:9093": want ID@HOST:PORT`},
		{"x@h:1", `node id "x" must be an integer from 0 to 2147483647`},
		{"-1@h:1", "must be an integer from 0 to 2147483647"},
		{"2147483648@h:1", "must be an integer from 0 to 2147483647"},
		{"1@h", "want HOST:PORT"},
		{"1@:9093", "host must not be empty"},
		{"1@0.0.0.0:9093", "unspecified address"},
		{"1@[::]:9093", "unspecified address"},
		{"1@h:0", `bad port "0"`},
		{"1@h:65536", `bad port "65536"`},
		{"1@h:port", `bad port "port"`},
		{"1@a:1,2@b:1,1@c:1", "node id 1 is listed twice"},
		{"1@a:1,2@a:1", "address a:1 is listed for nodes 1 and 2"},
		{"1@a:1,,2@b:1", "entry 2 is empty"},
		{"1@a:1,", "entry 2 is empty"},
	}
	for _, tt := range bad {
		_, err := ParsePeers(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidPeers) {
			t.Errorf("ParsePeers(%q): err = %v, want ErrInvalidPeers containing %q", tt.in, err, tt.want)
		}
	}
}

const threePeers = "1@127.0.0.1:9093,2@127.0.0.2:9093,3@127.0.0.3:9093"

var threePeerList = []Peer{{1, "127.0.0.1:9093"}, {2, "127.0.0.2:9093"}, {3, "127.0.0.3:9093"}}

// TestClusterFlagsAndEnv: --peers/--peer-addr and MOLDAU_PEERS/
// MOLDAU_PEER_ADDR, with the precedence of every other flag, the
// inter-broker address defaulting to this node's entry of the peers, and
// the Kafka properties they stand for.
func TestClusterFlagsAndEnv(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		env           map[string]string
		wantPeers     []Peer
		wantPeerAddr  string
		wantListeners string // Properties["listeners"]; "-" for absent
	}{
		{name: "flags, peer address from the peers", args: []string{"--node-id", "2", "--peers", threePeers},
			wantPeers: threePeerList, wantPeerAddr: "127.0.0.2:9093", wantListeners: "-"},
		{name: "flags, bind address differs from the advertised one", args: []string{"--node-id", "2", "--peers", threePeers, "--peer-addr", "0.0.0.0:19093", "--addr", "0.0.0.0:9092"},
			wantPeers: threePeerList, wantPeerAddr: "0.0.0.0:19093", wantListeners: "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:19093"},
		{name: "--addr alone lists the defaulted controller listener", args: []string{"--node-id", "1", "--peers", threePeers, "--addr", "127.0.0.1:9092"},
			wantPeers: threePeerList, wantPeerAddr: "127.0.0.1:9093", wantListeners: "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"},
		{name: "environment", env: map[string]string{EnvNodeID: "3", EnvPeers: threePeers, EnvPeerAddr: ":9093"},
			wantPeers: threePeerList, wantPeerAddr: ":9093", wantListeners: "PLAINTEXT://127.0.0.1:9092,CONTROLLER://:9093"},
		{name: "flags over environment", args: []string{"--peers", "1@h1:1,2@h2:2", "--peer-addr", "h2:22"},
			env:       map[string]string{EnvNodeID: "2", EnvPeers: threePeers, EnvPeerAddr: "127.0.0.9:1"},
			wantPeers: []Peer{{1, "h1:1"}, {2, "h2:2"}}, wantPeerAddr: "h2:22", wantListeners: "PLAINTEXT://127.0.0.1:9092,CONTROLLER://h2:22"},
		{name: "empty --peers over the environment: single node", args: []string{"--peers", ""},
			env:           map[string]string{EnvNodeID: "2", EnvPeers: threePeers, EnvPeerAddr: "127.0.0.2:9093"},
			wantListeners: "-"},
		{name: "node id 0 is a valid voter", args: []string{"--peers", "0@a:1,1@b:1,2@c:1"},
			wantPeers: []Peer{{0, "a:1"}, {1, "b:1"}, {2, "c:1"}}, wantPeerAddr: "a:1", wantListeners: "-"},
		{name: "same port on another address", args: []string{"--node-id", "1", "--peers", threePeers, "--addr", "127.0.0.9:9093"},
			wantPeers: threePeerList, wantPeerAddr: "127.0.0.1:9093", wantListeners: "PLAINTEXT://127.0.0.9:9093,CONTROLLER://127.0.0.1:9093"},
		{name: "one voter", args: []string{"--peers", "0@127.0.0.1:9093"},
			wantPeers: []Peer{{0, "127.0.0.1:9093"}}, wantPeerAddr: "127.0.0.1:9093", wantListeners: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.args, env(tt.env), discard())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Peers, tt.wantPeers) || c.PeerAddr != tt.wantPeerAddr {
				t.Errorf("Peers %+v PeerAddr %q, want %+v %q", c.Peers, c.PeerAddr, tt.wantPeers, tt.wantPeerAddr)
			}
			voters, ok := c.Properties["controller.quorum.voters"]
			if want := FormatPeers(tt.wantPeers); ok != (len(tt.wantPeers) > 0) || voters != want {
				t.Errorf("Properties[controller.quorum.voters] = %q (set %v), want %q", voters, ok, want)
			}
			l, ok := c.Properties["listeners"]
			if !ok {
				l = "-"
			}
			if l != tt.wantListeners {
				t.Errorf("Properties[listeners] = %q, want %q", l, tt.wantListeners)
			}
		})
	}
}

// TestClusterProperties: controller.quorum.voters fills Peers and the
// controller listener of listeners fills PeerAddr, as in a Kafka KRaft
// combined node's server.properties; flags still win.
func TestClusterProperties(t *testing.T) {
	kraft := `process.roles=broker,controller
node.id=2
controller.quorum.voters=` + threePeers + `
listeners=PLAINTEXT://127.0.0.2:9092,CONTROLLER://127.0.0.2:9093
controller.listener.names=CONTROLLER
advertised.listeners=PLAINTEXT://kafka-2.example:9092
`
	tests := []struct {
		name         string
		text         string
		args         []string
		wantPeers    []Peer
		wantPeerAddr string
		wantAddr     string
	}{
		{name: "KRaft combined node", text: kraft, wantPeers: threePeerList, wantPeerAddr: "127.0.0.2:9093", wantAddr: "127.0.0.2:9092"},
		{name: "controller listener first", text: "node.id=1\ncontroller.quorum.voters=" + threePeers + "\nlisteners=CONTROLLER://:9093,PLAINTEXT://:9092\n",
			wantPeers: threePeerList, wantPeerAddr: ":9093", wantAddr: ":9092"},
		{name: "CONTROLLER is the default controller listener name", text: "node.id=1\ncontroller.quorum.voters=" + threePeers + "\nlisteners=PLAINTEXT://:9092,controller://:19093\n",
			wantPeers: threePeerList, wantPeerAddr: ":19093", wantAddr: ":9092"},
		{name: "controller.listener.names names it", text: "node.id=3\ncontroller.quorum.voters=" + threePeers + "\ncontroller.listener.names=RAFT,OTHER\nlisteners=RAFT://127.0.0.3:7000,PLAINTEXT://127.0.0.3:9092,CONTROLLER://127.0.0.3:9999\n",
			wantPeers: threePeerList, wantPeerAddr: "127.0.0.3:7000", wantAddr: "127.0.0.3:9092"},
		{name: "no controller listener: this node's voter entry", text: "node.id=3\ncontroller.quorum.voters=" + threePeers + "\nlisteners=PLAINTEXT://127.0.0.3:9092\n",
			wantPeers: threePeerList, wantPeerAddr: "127.0.0.3:9093", wantAddr: "127.0.0.3:9092"},
		{name: "--peer-addr over the controller listener", text: kraft, args: []string{"--peer-addr", "127.0.0.2:19093"},
			wantPeers: threePeerList, wantPeerAddr: "127.0.0.2:19093", wantAddr: "127.0.0.2:9092"},
		{name: "--peers over the voters", text: kraft, args: []string{"--peers", "2@x:1,5@y:1"},
			wantPeers: []Peer{{2, "x:1"}, {5, "y:1"}}, wantPeerAddr: "127.0.0.2:9093", wantAddr: "127.0.0.2:9092"},
		{name: "--addr keeps the controller listener of the file", text: kraft, args: []string{"--addr", "127.0.0.2:19092"},
			wantPeers: threePeerList, wantPeerAddr: "127.0.0.2:9093", wantAddr: "127.0.0.2:19092"},
		{name: "--set voters", text: "node.id=1\n", args: []string{"--set", "controller.quorum.voters=1@a:1, 2@b:1"},
			wantPeers: []Peer{{1, "a:1"}, {2, "b:1"}}, wantPeerAddr: "a:1", wantAddr: "127.0.0.1:9092"},
		{name: "bootstrap servers are not voters", text: "node.id=1\ncontroller.quorum.bootstrap.servers=localhost:9093\nlisteners=PLAINTEXT://:9092,CONTROLLER://:9093\n",
			wantAddr: ":9092"},
		{name: "controller listener without voters: single node", text: "node.id=1\nlisteners=PLAINTEXT://:9092,CONTROLLER://:9093\n",
			wantAddr: ":9092"},
		{name: "malformed controller listener without voters is ignored, as before", text: "listeners=PLAINTEXT://:9092,CONTROLLER://nonsense\n",
			wantAddr: ":9092"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, tt.text)
			c, err := Load(append([]string{"--config", file}, tt.args...), env(nil), discard())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Peers, tt.wantPeers) || c.PeerAddr != tt.wantPeerAddr || c.Addr != tt.wantAddr {
				t.Errorf("Peers %+v PeerAddr %q Addr %q, want %+v %q %q", c.Peers, c.PeerAddr, c.Addr, tt.wantPeers, tt.wantPeerAddr, tt.wantAddr)
			}
		})
	}
	// The KRaft file's advertised listener is still the Kafka one.
	c, err := Load([]string{"--config", writeFile(t, kraft)}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if c.AdvertiseAddr != "kafka-2.example:9092" || c.NodeID != 2 {
		t.Errorf("AdvertiseAddr %q NodeID %d", c.AdvertiseAddr, c.NodeID)
	}
	// --addr with a file's controller listener: listeners lists both.
	c, err = Load([]string{"--config", writeFile(t, kraft), "--addr", "127.0.0.2:19092"}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Properties["listeners"]; got != "PLAINTEXT://127.0.0.2:19092,CONTROLLER://127.0.0.2:9093" {
		t.Errorf("Properties[listeners] = %q", got)
	}
}

// A node whose id is not among the peers, with its own --peer-addr, is a
// joiner of a running cluster (broker/raft_members.go).
func TestJoinerConfig(t *testing.T) {
	c, err := Load([]string{"--node-id", "4", "--peers", threePeers, "--peer-addr", "127.0.0.4:9193"}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if _, self := c.Self(); self || c.PeerAddr != "127.0.0.4:9193" || len(c.Peers) != 3 {
		t.Fatalf("joiner: self %v, peer address %q, peers %v", self, c.PeerAddr, c.Peers)
	}
}

// TestClusterErrors: each wrong cluster setting stops start-up with an
// error naming the setting, the value, where it came from and why.
func TestClusterErrors(t *testing.T) {
	tests := []struct {
		name string
		text string // server.properties; "" for none
		args []string
		env  map[string]string
		want []string // substrings of the error; FILE is the properties file
	}{
		{name: "node not among the peers", args: []string{"--peers", threePeers},
			want: []string{`invalid value "` + threePeers + `" for peers in --peers`, "this node's id 0 (--node-id, node.id) is not among the voters 1, 2, 3"}},
		{name: "node not among the peers, env", args: []string{"--node-id", "4"}, env: map[string]string{EnvPeers: threePeers},
			want: []string{"for peers in " + EnvPeers, "this node's id 4"}},
		{name: "node not among the voters, file", text: "node.id=9\ncontroller.quorum.voters=" + threePeers + "\n",
			want: []string{"for controller.quorum.voters in FILE (line 2)", "this node's id 9"}},
		{name: "--node-id moves the node out of the voters", text: "node.id=1\ncontroller.quorum.voters=" + threePeers + "\n", args: []string{"--node-id", "7"},
			want: []string{"controller.quorum.voters", "this node's id 7"}},
		{name: "duplicate id", args: []string{"--node-id", "1", "--peers", "1@a:1,1@b:1"},
			want: []string{`for peers in --peers: node id 1 is listed twice`}},
		{name: "negative id", args: []string{"--peers", "-1@a:1"}, want: []string{"--peers", "must be an integer from 0 to 2147483647"}},
		{name: "missing id", env: map[string]string{EnvPeers: "a:1,b:1"}, want: []string{EnvPeers, "want ID@HOST:PORT"}},
		{name: "bad port", args: []string{"--peers", "0@a:99999"}, want: []string{"--peers", `bad port "99999"`}},
		{name: "bad voters in file", text: "controller.quorum.voters=0@a\n", want: []string{`"0@a" for controller.quorum.voters in FILE (line 1)`, "want HOST:PORT"}},
		{name: "bad --peer-addr", args: []string{"--peers", "0@a:1", "--peer-addr", "nope"}, want: []string{`"nope" for peer address in --peer-addr`}},
		{name: "bad --peer-addr without peers", args: []string{"--peer-addr", "a:b:c"}, want: []string{"--peer-addr"}},
		{name: "bad peer address env", env: map[string]string{EnvPeers: "0@a:1", EnvPeerAddr: "h:70000"}, want: []string{EnvPeerAddr, `bad port "70000"`}},
		{name: "peer address port 0", args: []string{"--peers", "0@a:1", "--peer-addr", "127.0.0.1:0"},
			want: []string{"for peer address in --peer-addr", "port 0 is not a port the other voters can reach (they dial a:1"}},
		{name: "peer address is the Kafka listener", args: []string{"--peers", "0@127.0.0.1:9092"},
			want: []string{`"127.0.0.1:9092" for peer address`, "cannot share the Kafka listener 127.0.0.1:9092"}},
		{name: "peer address on the Kafka port of every address", args: []string{"--peers", "0@a:1", "--addr", ":9092", "--peer-addr", "127.0.0.1:9092"},
			want: []string{"in --peer-addr", "cannot share the Kafka listener :9092"}},
		{name: "controller listener is the Kafka listener", text: "controller.quorum.voters=0@a:1\nlisteners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://127.0.0.1:9092\n",
			want: []string{"for controller listener of listeners in FILE (line 2)", "cannot share the Kafka listener 0.0.0.0:9092"}},
		{name: "bad controller listener with voters", text: "controller.quorum.voters=0@a:1\nlisteners=PLAINTEXT://:9092,CONTROLLER://nonsense\n",
			want: []string{`"nonsense" for controller listener of listeners in FILE (line 2)`, "want HOST:PORT"}},
		{name: "only controller listeners", text: "listeners=CONTROLLER://:9093\n", want: []string{"listeners", "every listener is a controller listener"}},
		{name: "joiner on every address", args: []string{"--node-id", "4", "--peers", threePeers, "--peer-addr", "0.0.0.0:9193"},
			want: []string{`"0.0.0.0:9193" for peer address in --peer-addr`, "a node joining a cluster"}},
		{name: "joiner on the Kafka listener", args: []string{"--node-id", "4", "--peers", threePeers, "--addr", "127.0.0.4:9092", "--peer-addr", "127.0.0.4:9092"},
			want: []string{"in --peer-addr", "cannot share the Kafka listener"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			file := ""
			if tt.text != "" {
				file = writeFile(t, tt.text)
				args = append([]string{"--config", file}, args...)
			}
			_, err := Load(args, env(tt.env), discard())
			if err == nil {
				t.Fatalf("Load succeeded, want an error containing %q", tt.want)
			}
			var ic *InvalidConfigError
			if !errors.As(err, &ic) && tt.name != "only controller listeners" {
				t.Errorf("err %T is not an *InvalidConfigError", err)
			}
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, "FILE", file); !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// TestSingleNodeUnchanged: without peers nothing about the cluster is set,
// and a --peer-addr alone is ignored with a warning.
func TestSingleNodeUnchanged(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	c, err := Load([]string{"--peer-addr", "127.0.0.1:9093"}, env(nil), logger)
	if err != nil {
		t.Fatal(err)
	}
	if c.Peers != nil || c.PeerAddr != "" || len(c.Properties) != 0 {
		t.Errorf("Peers %+v PeerAddr %q Properties %v, want none", c.Peers, c.PeerAddr, c.Properties)
	}
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "single-node broker") || !strings.Contains(buf.String(), "where=--peer-addr") {
		t.Errorf("log:\n%s", buf.String())
	}
	// The same command line as before the cluster settings existed gives
	// the same Config.
	c, err = Load([]string{"--addr", "127.0.0.1:1", "--node-id", "3"}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Addr, want.NodeID = "127.0.0.1:1", 3
	// Load turns the schema registry, the console and the HTTP proxy on.
	want.SchemaRegistryAddr = DefaultSchemaRegistryAddr
	want.ConsoleAddr, want.HTTPProxyAddr = DefaultConsoleAddr, DefaultHTTPProxyAddr
	want.Properties = map[string]string{"listeners": "PLAINTEXT://127.0.0.1:1", "node.id": "3"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load = %+v\nwant %+v", c, want)
	}
	// Kafka 4's bootstrap servers are named in a warning, not read.
	buf.Reset()
	file := writeFile(t, "controller.quorum.bootstrap.servers=localhost:9093\n")
	if c, err = Load([]string{"--config", file}, env(nil), logger); err != nil || c.Peers != nil {
		t.Fatalf("Peers %+v err %v", c.Peers, err)
	}
	if out := buf.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "controller.quorum.voters or --peers") || strings.Count(out, "\n") != 1 {
		t.Errorf("log:\n%s", out)
	}
}

// TestResolveCluster: a Config built by hand (embedding, tests) is checked
// and completed as Load does it.
func TestResolveCluster(t *testing.T) {
	c := Default()
	c.NodeID, c.Peers = 2, threePeerList
	if err := c.ResolveCluster(); err != nil || c.PeerAddr != "127.0.0.2:9093" {
		t.Fatalf("PeerAddr %q err %v", c.PeerAddr, err)
	}
	if self, ok := c.Self(); !ok || self != threePeerList[1] {
		t.Errorf("Self() = %+v %v", self, ok)
	}
	c = Default()
	c.PeerAddr = "127.0.0.1:9093"
	if err := c.ResolveCluster(); err != nil || c.PeerAddr != "" || c.Peers != nil {
		t.Errorf("no peers: PeerAddr %q Peers %v err %v", c.PeerAddr, c.Peers, err)
	}
	if _, ok := c.Self(); ok {
		t.Errorf("Self() found an entry without peers")
	}
	for _, peers := range [][]Peer{{{1, "a:1"}, {1, "b:1"}}, {{-1, "a:1"}}, {{0, "a"}}, {{0, "0.0.0.0:1"}}, {{1, "a:1"}}} {
		c = Default()
		c.Peers = peers
		var ic *InvalidConfigError
		if err := c.ResolveCluster(); !errors.As(err, &ic) || ic.Name != "peers" {
			t.Errorf("peers %+v: err %v", peers, err)
		}
	}
}

// TestDescribeClusterConfigs: controller.quorum.voters is described as Kafka
// describes it (a LIST, "" by default) and listeners names the controller
// listener of a cluster node.
func TestDescribeClusterConfigs(t *testing.T) {
	describe := func(c Config, key string) ConfigEntry {
		t.Helper()
		e := c.DescribeBrokerConfigs([]string{key}, true, true)
		if len(e) != 1 {
			t.Fatalf("%s: %d entries", key, len(e))
		}
		return e[0]
	}
	c, err := Load(nil, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	e := describe(c, "controller.quorum.voters")
	if e.Value == nil || *e.Value != "" || e.Source != SourceDefault || e.Type != TypeList || !e.ReadOnly || e.Doc == "" ||
		!reflect.DeepEqual(e.Synonyms, []Synonym{{"controller.quorum.voters", sp(""), SourceDefault}}) {
		t.Errorf("single node: %+v", e)
	}
	if e := describe(c, "listeners"); *e.Value != "PLAINTEXT://127.0.0.1:9092" {
		t.Errorf("single node listeners = %q", *e.Value)
	}
	c, err = Load([]string{"--node-id", "1", "--peers", "1@127.0.0.1:9093, 2@127.0.0.2:9093,3@127.0.0.3:9093"}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	e = describe(c, "controller.quorum.voters")
	if e.Value == nil || *e.Value != threePeers || e.Source != SourceStaticBroker ||
		!reflect.DeepEqual(e.Synonyms, []Synonym{{"controller.quorum.voters", sp(threePeers), SourceStaticBroker}, {"controller.quorum.voters", sp(""), SourceDefault}}) {
		t.Errorf("cluster: %+v", e)
	}
	if e := describe(c, "listeners"); *e.Value != "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093" {
		t.Errorf("cluster listeners = %q", *e.Value)
	}
	// From a file, with the file's own controller listener name.
	file := writeFile(t, "node.id=1\ncontroller.quorum.voters=1@h:1\ncontroller.listener.names=RAFT\nlisteners=PLAINTEXT://:9092,RAFT://:7000\n")
	if c, err = Load([]string{"--config", file}, env(nil), discard()); err != nil {
		t.Fatal(err)
	}
	if e := describe(c, "listeners"); *e.Value != "PLAINTEXT://:9092,RAFT://:7000" || e.Source != SourceStaticBroker {
		t.Errorf("file listeners = %q (%s)", *e.Value, e.Source)
	}
	if e := describe(c, "controller.quorum.voters"); *e.Value != "1@h:1" || e.Source != SourceStaticBroker {
		t.Errorf("file voters = %q (%s)", *e.Value, e.Source)
	}
}
