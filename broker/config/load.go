package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Environment variables, one per flag.
const (
	EnvAddr          = "MOLDAU_ADDR"
	EnvAdvertiseAddr = "MOLDAU_ADVERTISE_ADDR"
	EnvDataDir       = "MOLDAU_DATA_DIR"
	EnvMemory        = "MOLDAU_MEMORY"
	EnvNodeID        = "MOLDAU_NODE_ID"
	EnvConfig        = "MOLDAU_CONFIG"
	EnvLogLevel      = "MOLDAU_LOG_LEVEL"
	EnvLogFormat     = "MOLDAU_LOG_FORMAT"
	EnvAdminAddr     = "MOLDAU_ADMIN_ADDR"
	EnvDev           = "MOLDAU_DEV"
	EnvPprof         = "MOLDAU_PPROF"
	EnvLogRequests   = "MOLDAU_LOG_REQUESTS"
	EnvKafkaVersion  = "MOLDAU_KAFKA_VERSION"
	EnvPeers         = "MOLDAU_PEERS"
	EnvPeerAddr      = "MOLDAU_PEER_ADDR"
	EnvListeners     = "MOLDAU_LISTENERS"

	EnvSchemaRegistryAddr = "MOLDAU_SCHEMA_REGISTRY_ADDR"
	EnvConsoleAddr        = "MOLDAU_CONSOLE_ADDR"
	EnvHTTPProxyAddr      = "MOLDAU_HTTP_PROXY_ADDR"
	EnvHTTPAllowedHosts   = "MOLDAU_HTTP_ALLOWED_HOSTS"
)

// setFlag collects repeated --set key=value flags.
type setFlag []string

func (s *setFlag) String() string     { return strings.Join(*s, " ") }
func (s *setFlag) Set(v string) error { *s = append(*s, v); return nil }

type flagValues struct {
	addr, advertiseAddr, dataDir, config, logLevel, logFormat, adminAddr string
	kafkaVersion, peers, peerAddr, listeners, schemaRegistryAddr         string
	consoleAddr, httpProxyAddr, httpAllowedHosts                         string
	memory, dev, pprof, logRequests                                      bool
	nodeID                                                               int64
	set                                                                  setFlag
	addScram                                                             setFlag
}

func newFlagSet(v *flagValues) *flag.FlagSet {
	d := Default()
	d.SchemaRegistryAddr = DefaultSchemaRegistryAddr
	d.ConsoleAddr, d.HTTPProxyAddr = DefaultConsoleAddr, DefaultHTTPProxyAddr
	fs := flag.NewFlagSet("moldau", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&v.addr, "addr", d.Addr, "`HOST:PORT` to listen on for Kafka clients (env "+EnvAddr+")")
	fs.StringVar(&v.listeners, "listeners", "", "Kafka's listeners: `NAME://HOST:PORT,...` with PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL or names from listener.security.protocol.map; overrides --addr (env "+EnvListeners+")")
	fs.StringVar(&v.advertiseAddr, "advertise-addr", "", "`HOST:PORT` given to clients in metadata; default: the listen address (env "+EnvAdvertiseAddr+")")
	fs.StringVar(&v.dataDir, "data-dir", d.DataDir, "`DIR` for data (env "+EnvDataDir+")")
	fs.BoolVar(&v.memory, "memory", false, "keep everything in memory, nothing on disk (env "+EnvMemory+")")
	fs.Int64Var(&v.nodeID, "node-id", 0, "node id `N` of this broker (env "+EnvNodeID+")")
	fs.StringVar(&v.config, "config", "", "Kafka-style server.properties `FILE` (env "+EnvConfig+")")
	fs.StringVar(&v.logLevel, "log-level", d.LogLevel, "`LEVEL`: debug, info, warn or error (env "+EnvLogLevel+")")
	fs.StringVar(&v.logFormat, "log-format", d.LogFormat, "text or json (env "+EnvLogFormat+")")
	fs.StringVar(&v.adminAddr, "admin-addr", d.AdminAddr, "`HOST:PORT` of the admin/metrics HTTP listener, \"\" to disable (env "+EnvAdminAddr+")")
	fs.StringVar(&v.schemaRegistryAddr, "schema-registry-addr", d.SchemaRegistryAddr, "`HOST:PORT` of the built-in schema registry (Confluent Schema Registry's REST API), \"\" to disable (env "+EnvSchemaRegistryAddr+")")
	fs.StringVar(&v.consoleAddr, "console-addr", d.ConsoleAddr, "`HOST:PORT` of the web console, \"\" to disable (env "+EnvConsoleAddr+")")
	fs.StringVar(&v.httpProxyAddr, "http-proxy-addr", d.HTTPProxyAddr, "`HOST:PORT` of the HTTP proxy (Confluent REST Proxy's API, v2 and v3), \"\" to disable (env "+EnvHTTPProxyAddr+")")
	fs.StringVar(&v.httpAllowedHosts, "http-allowed-hosts", "", "host names `NAME,...` browsers may use to reach the web console and the HTTP proxy besides localhost and loopback addresses; when set, other names are refused on every connection, not only on loopback ones (DNS rebinding protection for a non-loopback bind, e.g. in a container) (env "+EnvHTTPAllowedHosts+")")
	fs.Var(&v.set, "set", "set a Kafka broker property, `key=value` (repeatable; overrides --config)")
	fs.Var(&v.addScram, "add-scram", "create a SCRAM user at start unless it exists, kafka-storage format's `MECHANISM=[name=USER,password=PW]` (also salt=, saltedpassword=, iterations=; repeatable)")
	fs.BoolVar(&v.dev, "dev", false, "development profile: auto-create topics, no fsync on acks=all, 16 MiB segments, 1 partition by default; properties and flags still override (env "+EnvDev+")")
	fs.BoolVar(&v.pprof, "pprof", false, "serve /debug/pprof on the admin listener (env "+EnvPprof+")")
	fs.BoolVar(&v.logRequests, "log-requests", false, "log every request at debug level; implies --log-level debug (env "+EnvLogRequests+")")
	fs.StringVar(&v.kafkaVersion, "kafka-version", "", "emulate an older Kafka `X.Y`: advertise no API versions newer than that release's (env "+EnvKafkaVersion+")")
	fs.StringVar(&v.peers, "peers", "", "run as one node of a cluster: every voter's node id and inter-broker address, this node's included, `ID@HOST:PORT,...` (as Kafka's controller.quorum.voters); none: a single-node broker (env "+EnvPeers+")")
	fs.StringVar(&v.peerAddr, "peer-addr", "", "`HOST:PORT` this node's inter-broker listener binds; default: this node's address in --peers; ignored without --peers (env "+EnvPeerAddr+")")
	return fs
}

// Usage writes the command-line help to w.
func Usage(w io.Writer) {
	var v flagValues
	fs := newFlagSet(&v)
	fs.SetOutput(w)
	fmt.Fprintf(w, "Usage: moldau [flags]\n\nPrecedence: defaults < --config file < --set < environment < flags.\n\n")
	fs.PrintDefaults()
}

// origin says where a property's final value came from.
type origin struct {
	file string // file name or "--set"
	line int    // 0 for --set
}

func (o origin) String() string {
	if o.line == 0 {
		return o.file
	}
	return fmt.Sprintf("%s (line %d)", o.file, o.line)
}

// Load builds the configuration from args (without the program name), the
// environment (getenv; nil means os.Getenv) and the properties file named by
// --config or MOLDAU_CONFIG. Ignored Kafka keys are logged once each on
// logger (nil means slog.Default()). -h/--help returns an error matching
// flag.ErrHelp; print Usage then.
func Load(args []string, getenv func(string) string, logger *slog.Logger) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if logger == nil {
		logger = slog.Default()
	}
	var fv flagValues
	fs := newFlagSet(&fv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	flagSet := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { flagSet[f.Name] = true })

	cfg := Default()
	cfg.SchemaRegistryAddr = DefaultSchemaRegistryAddr
	cfg.ConsoleAddr, cfg.HTTPProxyAddr = DefaultConsoleAddr, DefaultHTTPProxyAddr
	// Layer 0: the --dev profile, which every later layer may override.
	dev := fv.dev
	if !flagSet["dev"] {
		if v := getenv(EnvDev); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Config{}, &InvalidConfigError{Name: "dev", Value: v, Reason: "expected true or false", Where: EnvDev}
			}
			dev = b
		}
	}
	if dev {
		cfg.ApplyDevProfile()
	}

	// Layer 1: properties, from the file and then --set.
	file := getenv(EnvConfig)
	if flagSet["config"] {
		file = fv.config
	}
	props := map[string]string{}
	origins := map[string]origin{}
	var order []string
	add := func(k, v string, o origin) {
		if _, ok := props[k]; !ok {
			order = append(order, k)
		}
		props[k], origins[k] = v, o
	}
	if file != "" {
		cfg.ConfigFile = file
		data, err := os.ReadFile(file)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		list, err := parseProperties(file, string(data))
		if err != nil {
			return Config{}, err
		}
		for _, p := range list {
			add(p.Key, p.Value, origin{file: file, line: p.Line})
		}
	}
	for _, s := range fv.set {
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return Config{}, fmt.Errorf("config: --set %q: want key=value", s)
		}
		add(k, v, origin{file: "--set"})
	}

	// Classify every key; validate supported ones.
	canonical := map[string]string{}
	for _, k := range order {
		v, o := props[k], origins[k]
		if securityHandles(k) {
			continue // parsed by its security part (security.go)
		}
		if bk, ok := lookupBrokerKey(k); ok {
			c, err := bk.spec.validate(v)
			if err != nil {
				return Config{}, &InvalidConfigError{Name: k, Value: v, Reason: err.Error(), Where: o.String()}
			}
			canonical[k] = c
			continue
		}
		if k == "controller.quorum.bootstrap.servers" {
			logger.Warn("ignoring controller.quorum.bootstrap.servers: Moldau reads the voters only from controller.quorum.voters or --peers (no KIP-853 dynamic quorum); without them it runs as a single-node broker", "key", k, "where", o.String())
			continue
		}
		if IsKafkaBrokerKey(k) {
			logger.Info("ignoring Kafka config key not used by Moldau", "key", k)
			continue
		}
		return Config{}, &UnknownKeyError{Key: k, File: o.file, Line: o.line}
	}
	cfg.Properties = props
	for _, bk := range brokerKeys() {
		v, ok := canonical[bk.name]
		if !ok {
			continue
		}
		if err := bk.apply(&cfg, v, props); err != nil {
			return Config{}, &InvalidConfigError{Name: bk.name, Value: props[bk.name], Reason: err.Error(), Where: origins[bk.name].String()}
		}
	}
	// Where the cluster settings came from, for resolveCluster's errors.
	var cluster clusterOrigin
	if _, ok := canonical["controller.quorum.voters"]; ok {
		cluster.peersName, cluster.peersWhere = "controller.quorum.voters", origins["controller.quorum.voters"].String()
	}
	if _, ok := canonical["listeners"]; ok && cfg.PeerAddr != "" {
		cluster.peerAddrName, cluster.peerAddrWhere = "controller listener of listeners", origins["listeners"].String()
	}
	listenersSet := false  // --addr or --peer-addr (or their environment) set
	peerAddrGiven := false // --peer-addr or its environment set

	// Layers 2 and 3: environment, then flags.
	type setting struct {
		flag, env string
		apply     func(v string, where string) error
	}
	settings := []setting{
		{"addr", EnvAddr, func(v, where string) error {
			if err := checkListenAddr(v); err != nil {
				return &InvalidConfigError{Name: "address", Value: v, Reason: err.Error(), Where: where}
			}
			cfg.Addr = v
			props["listeners"] = "PLAINTEXT://" + v
			listenersSet = true
			return nil
		}},
		{"listeners", EnvListeners, func(v, where string) error {
			addr, err := pickListener(v, controllerNames(props), "")
			if err == nil {
				err = checkListenAddr(addr)
			}
			if err != nil {
				return &InvalidConfigError{Name: "listeners", Value: v, Reason: err.Error(), Where: where}
			}
			cfg.Addr = addr
			props["listeners"] = v
			if a, ok := findListener(v, controllerListenerName(props)); ok {
				cfg.PeerAddr = a
			}
			return nil
		}},
		{"advertise-addr", EnvAdvertiseAddr, func(v, where string) error {
			if v != "" {
				if err := checkAdvertiseAddr(v); err != nil {
					return &InvalidConfigError{Name: "address", Value: v, Reason: err.Error(), Where: where}
				}
				// The first client listener's (PLAINTEXT unless
				// listeners names another first).
				name := listenerName(props["listeners"], controllerNames(props))
				if name == "" {
					name = "PLAINTEXT"
				}
				props["advertised.listeners"] = name + "://" + v
			} else {
				delete(props, "advertised.listeners")
			}
			cfg.AdvertiseAddr = v
			return nil
		}},
		{"data-dir", EnvDataDir, func(v, where string) error {
			if v == "" {
				return &InvalidConfigError{Name: "directory", Value: v, Reason: "must not be empty", Where: where}
			}
			cfg.DataDir = v
			props["log.dirs"] = v
			delete(props, "log.dir")
			return nil
		}},
		{"memory", EnvMemory, func(v, where string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return &InvalidConfigError{Name: "memory", Value: v, Reason: "expected true or false", Where: where}
			}
			cfg.Memory = b
			return nil
		}},
		{"node-id", EnvNodeID, func(v, where string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
			if err != nil || n < 0 {
				return &InvalidConfigError{Name: "node id", Value: v, Reason: "must be an integer from 0 to 2147483647", Where: where}
			}
			cfg.NodeID = int32(n)
			props["node.id"] = strconv.FormatInt(n, 10)
			if _, ok := props["broker.id"]; ok {
				props["broker.id"] = props["node.id"]
			}
			return nil
		}},
		{"log-level", EnvLogLevel, func(v, where string) error {
			l := strings.ToLower(strings.TrimSpace(v))
			switch l {
			case "debug", "info", "warn", "error":
			case "warning":
				l = "warn"
			default:
				return &InvalidConfigError{Name: "log level", Value: v, Reason: "must be debug, info, warn or error", Where: where}
			}
			cfg.LogLevel = l
			return nil
		}},
		{"log-format", EnvLogFormat, func(v, where string) error {
			f := strings.ToLower(strings.TrimSpace(v))
			if f != "text" && f != "json" {
				return &InvalidConfigError{Name: "log format", Value: v, Reason: "must be text or json", Where: where}
			}
			cfg.LogFormat = f
			return nil
		}},
		{"pprof", EnvPprof, boolSetting("pprof", &cfg.Pprof)},
		{"log-requests", EnvLogRequests, func(v, where string) error {
			if err := boolSetting("log requests", &cfg.LogRequests)(v, where); err != nil {
				return err
			}
			if cfg.LogRequests {
				cfg.LogLevel = "debug"
			}
			return nil
		}},
		{"kafka-version", EnvKafkaVersion, func(v, where string) error {
			if v != "" && !validKafkaVersion(v) {
				return &InvalidConfigError{Name: "kafka version", Value: v, Reason: "want a Kafka release such as 2.8, 3.6 or 4.0", Where: where}
			}
			cfg.KafkaVersion = v
			return nil
		}},
		{"peers", EnvPeers, func(v, where string) error {
			peers, err := parsePeers(v)
			if err != nil {
				return &InvalidConfigError{Name: "peers", Value: v, Reason: err.Error(), Where: where}
			}
			cfg.Peers, cluster.peersName, cluster.peersWhere = peers, "peers", where
			if len(peers) > 0 {
				props["controller.quorum.voters"] = FormatPeers(peers)
			} else {
				delete(props, "controller.quorum.voters")
			}
			return nil
		}},
		{"peer-addr", EnvPeerAddr, func(v, where string) error {
			if v != "" {
				if err := checkListenAddr(v); err != nil {
					return &InvalidConfigError{Name: "peer address", Value: v, Reason: err.Error(), Where: where}
				}
			}
			cfg.PeerAddr, cluster.peerAddrName, cluster.peerAddrWhere = v, "peer address", where
			listenersSet, peerAddrGiven = true, true
			return nil
		}},
		{"admin-addr", EnvAdminAddr, func(v, where string) error {
			if v != "" {
				if err := checkListenAddr(v); err != nil {
					return &InvalidConfigError{Name: "address", Value: v, Reason: err.Error(), Where: where}
				}
			}
			cfg.AdminAddr = v
			return nil
		}},
		{"schema-registry-addr", EnvSchemaRegistryAddr, func(v, where string) error {
			if v != "" {
				if err := checkListenAddr(v); err != nil {
					return &InvalidConfigError{Name: "schema registry address", Value: v, Reason: err.Error(), Where: where}
				}
			}
			cfg.SchemaRegistryAddr = v
			return nil
		}},
		{"console-addr", EnvConsoleAddr, func(v, where string) error {
			if v != "" {
				if err := checkListenAddr(v); err != nil {
					return &InvalidConfigError{Name: "console address", Value: v, Reason: err.Error(), Where: where}
				}
			}
			cfg.ConsoleAddr = v
			return nil
		}},
		{"http-proxy-addr", EnvHTTPProxyAddr, func(v, where string) error {
			if v != "" {
				if err := checkListenAddr(v); err != nil {
					return &InvalidConfigError{Name: "http proxy address", Value: v, Reason: err.Error(), Where: where}
				}
			}
			cfg.HTTPProxyAddr = v
			return nil
		}},
		{"http-allowed-hosts", EnvHTTPAllowedHosts, func(v, where string) error {
			cfg.HTTPAllowedHosts = nil
			for _, h := range strings.Split(v, ",") {
				h = strings.TrimSpace(h)
				if h == "" {
					continue
				}
				if !validAllowedHost(h) {
					return &InvalidConfigError{Name: "http allowed hosts", Value: v, Reason: "a host name or address with an optional port, without scheme, path or user", Where: where}
				}
				cfg.HTTPAllowedHosts = append(cfg.HTTPAllowedHosts, h)
			}
			return nil
		}},
	}
	flagValue := map[string]string{
		"addr": fv.addr, "advertise-addr": fv.advertiseAddr, "data-dir": fv.dataDir,
		"memory": strconv.FormatBool(fv.memory), "node-id": strconv.FormatInt(fv.nodeID, 10),
		"log-level": fv.logLevel, "log-format": fv.logFormat, "admin-addr": fv.adminAddr,
		"pprof": strconv.FormatBool(fv.pprof), "log-requests": strconv.FormatBool(fv.logRequests), "kafka-version": fv.kafkaVersion,
		"peers": fv.peers, "peer-addr": fv.peerAddr, "listeners": fv.listeners,
		"schema-registry-addr": fv.schemaRegistryAddr,
		"console-addr":         fv.consoleAddr, "http-proxy-addr": fv.httpProxyAddr,
		"http-allowed-hosts": fv.httpAllowedHosts,
	}
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			if err := s.apply(v, s.env); err != nil {
				return Config{}, err
			}
		}
	}
	for _, s := range settings {
		if flagSet[s.flag] {
			if err := s.apply(flagValue[s.flag], "--"+s.flag); err != nil {
				return Config{}, err
			}
		}
	}

	// The cluster settings, checked together now that every layer is in.
	if len(cfg.Peers) == 0 && peerAddrGiven && cfg.PeerAddr != "" {
		logger.Warn("ignoring the peer address: there are no peers (--peers), so this node is a single-node broker", "peer_addr", cfg.PeerAddr, "where", cluster.peerAddrWhere)
	}
	if err := cfg.resolveCluster(cluster); err != nil {
		return Config{}, err
	}
	if len(cfg.Peers) > 0 && listenersSet {
		// As Kafka lists a combined node's listeners: the Kafka
		// listener, then the controller (inter-broker) one.
		props["listeners"] = "PLAINTEXT://" + cfg.Addr + "," + controllerListenerName(props) + "://" + cfg.PeerAddr
	}
	for _, a := range fv.addScram {
		u, err := ParseAddScram(a)
		if err != nil {
			return Config{}, err
		}
		cfg.Security.SASL.ScramUsers = append(cfg.Security.SASL.ScramUsers, u)
	}
	if err := parseSecurity(&cfg, props); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func boolSetting(name string, dst *bool) func(v, where string) error {
	return func(v, where string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return &InvalidConfigError{Name: name, Value: v, Reason: "expected true or false", Where: where}
		}
		*dst = b
		return nil
	}
}

// validKafkaVersion accepts "X.Y" or "X.Y.Z" with X in 0..4.
func validKafkaVersion(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	major, _ := strconv.Atoi(parts[0])
	return major >= 0 && major <= 4
}

// validAllowedHost: h is NAME, NAME:PORT, an IP address or [IPv6]:PORT
// (an --http-allowed-hosts entry).
func validAllowedHost(h string) bool {
	if strings.ContainsAny(h, "/ @?#") {
		return false
	}
	host := h
	if strings.Contains(h, ":") {
		if hh, port, err := net.SplitHostPort(h); err == nil {
			if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				return false
			}
			host = hh
		} else if _, err := netip.ParseAddr(h); err != nil {
			return false // neither HOST:PORT nor a bare IPv6 address
		} else {
			return true
		}
	}
	return host != ""
}
