// Package embed runs a Moldau broker inside a Go process, for tests: no ports
// to fight over, no files unless asked, ready in milliseconds.
//
//	b, err := embed.Start(ctx)
//	if err != nil { t.Fatal(err) }
//	defer b.Close()
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
//
// Each Broker listens on its own free loopback port, so tests using separate
// brokers run in parallel. Reset deletes every topic (and, as they land,
// every group and transaction) so one broker can serve many tests in turn.
//
// StartCluster runs n brokers as one Raft cluster (node ids 1..n, their Raft
// traffic over an in-process network) and injects faults by node index
// (0-based): StopNode, RestartNode (same id, data and Kafka address),
// Isolate (Raft links cut, Kafka listener up) and Heal.
//
//	c, err := embed.StartCluster(ctx, 3)
//	if err != nil { t.Fatal(err) }
//	defer c.Close()
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
//	_ = c.StopNode(0) // clients move to the new leaders
//
// WithTLS adds an SSL listener; WithListeners, WithSASLUser and
// WithUnsecuredOAuthBearer (security.go) add SASL_PLAINTEXT and SASL_SSL
// listeners with PLAIN, SCRAM and OAUTHBEARER users, so that an
// application's secured client configuration is tested unchanged;
// ListenerAddr gives each listener's address.
//
//	b, err := embed.Start(ctx,
//		embed.WithTLS(certPEM, keyPEM, "none", nil),
//		embed.WithListeners(embed.Listener{Name: "SASL_SSL"}),
//		embed.WithSASLUser(embed.MechanismScramSHA512, "alice", "alice-secret"))
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(b.ListenerAddr("SASL_SSL")),
//		kgo.DialTLSConfig(&tls.Config{RootCAs: pool}),
//		kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()))
//
// WithSchemaRegistry serves the built-in schema registry (Confluent Schema
// Registry's REST API) on a free loopback port, SchemaRegistryURL; on a
// Cluster every node serves one (Cluster.SchemaRegistryURL(i)) over the
// same replicated _schemas topic. It is off unless asked for.
//
// WithConsole serves the web console (ConsoleURL) and WithHTTPProxy the
// Confluent REST Proxy API (HTTPProxyURL), each on a free loopback port; on
// a Cluster every node serves its own (Cluster.ConsoleURL(i),
// Cluster.HTTPProxyURL(i)). Both are off unless asked for.
package embed

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/moldau/moldau/broker"
	"github.com/moldau/moldau/broker/config"
)

// Option configures Start.
type Option func(*options)

type options struct {
	props  []string // --set key=value arguments
	mods   []func(*config.Config)
	logger *slog.Logger
	reg    prometheus.Registerer
	sec    securityOptions // security.go
	// schemaRegistry: serve the built-in schema registry
	// (WithSchemaRegistry); off by default.
	schemaRegistry bool
	// console, httpProxy: serve the web console (WithConsole) and the
	// REST Proxy API (WithHTTPProxy); off by default.
	console, httpProxy bool
}

// WithConsole serves the web console on a free loopback port: ConsoleURL
// gives its URL. Embedded brokers run without one unless this is given.
func WithConsole() Option { return func(o *options) { o.console = true } }

// WithHTTPProxy serves the Confluent REST Proxy-compatible API (v2 and v3)
// on a free loopback port: HTTPProxyURL gives its URL. Embedded brokers run
// without one unless this is given.
func WithHTTPProxy() Option { return func(o *options) { o.httpProxy = true } }

// frontEndAddrs are the console and HTTP proxy addresses an embedded
// broker is configured with.
func (o *options) frontEndAddrs() (console, httpProxy string) {
	if o.console {
		console = "127.0.0.1:0"
	}
	if o.httpProxy {
		httpProxy = "127.0.0.1:0"
	}
	return console, httpProxy
}

// WithSchemaRegistry serves the built-in schema registry (Confluent Schema
// Registry's REST API) on a free loopback port: SchemaRegistryURL gives its
// URL. Embedded brokers run without one unless this is given.
func WithSchemaRegistry() Option { return func(o *options) { o.schemaRegistry = true } }

// schemaRegistryAddr is the registry address an embedded broker is
// configured with.
func (o *options) schemaRegistryAddr() string {
	if o.schemaRegistry {
		return "127.0.0.1:0"
	}
	return ""
}

// WithDataDir keeps the broker's data on disk in dir instead of in memory;
// a later Start with the same dir finds it again.
func WithDataDir(dir string) Option {
	return WithConfig(func(c *config.Config) { c.Memory = false; c.DataDir = dir })
}

// WithAddr listens on addr instead of a free loopback port.
func WithAddr(addr string) Option { return WithConfig(func(c *config.Config) { c.Addr = addr }) }

// WithLogger sends the broker's logs to l (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the broker's metrics on r (default: none).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithProperty sets one Kafka broker property, as `--set key=value` does
// (e.g. "num.partitions", "3"). An unknown key makes Start fail.
func WithProperty(key, value string) Option {
	return func(o *options) { o.props = append(o.props, "--set", key+"="+value) }
}

// WithTLS serves an SSL listener named SSL (ListenerAddr("SSL")) beside
// the PLAINTEXT one, both on free loopback ports, with a PEM certificate
// chain and private key (PKCS#8, PKCS#1 or SEC 1). clientAuth is Kafka's
// ssl.client.auth: "none" (or ""), "requested" or "required"; client
// certificates are verified against clientCAsPEM, and an SSL client's
// principal is User:<its certificate's DN>. For other TLS settings
// (keystore files, mapping rules) use WithProperty with Kafka's ssl.* keys.
func WithTLS(certChainPEM, keyPEM []byte, clientAuth string, clientCAsPEM []byte) Option {
	return func(o *options) {
		o.props = append(o.props, "--set", "listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
			"--set", "ssl.keystore.type=PEM",
			"--set", "ssl.keystore.certificate.chain="+string(certChainPEM),
			"--set", "ssl.keystore.key="+string(keyPEM))
		if clientAuth != "" {
			o.props = append(o.props, "--set", "ssl.client.auth="+clientAuth)
		}
		if len(clientCAsPEM) > 0 {
			o.props = append(o.props, "--set", "ssl.truststore.certificates="+string(clientCAsPEM))
		}
	}
}

// WithConfig adjusts the broker configuration directly.
func WithConfig(f func(*config.Config)) Option {
	return func(o *options) { o.mods = append(o.mods, f) }
}

// Broker is an embedded broker.
type Broker struct {
	b *broker.Broker
}

// Start runs a broker on a free loopback port, in memory unless WithDataDir
// is given. ctx bounds the start-up only.
func Start(ctx context.Context, opts ...Option) (*Broker, error) {
	o := options{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, opt := range opts {
		opt(&o)
	}
	secProps, err := o.sec.args()
	if err != nil {
		return nil, err
	}
	// Properties go through the same loader as the binary's --set, so
	// they are validated the same way; the environment is not consulted.
	cfg, err := config.Load(append(o.props, secProps...), func(string) string { return "" }, o.logger)
	if err != nil {
		return nil, err
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.Memory = true
	cfg.AdminAddr = ""
	cfg.SchemaRegistryAddr = o.schemaRegistryAddr()
	cfg.ConsoleAddr, cfg.HTTPProxyAddr = o.frontEndAddrs()
	for _, m := range o.mods {
		m(&cfg)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bopts := []broker.Option{broker.WithLogger(o.logger)}
	if o.reg != nil {
		bopts = append(bopts, broker.WithRegisterer(o.reg))
	}
	b, err := broker.New(cfg, bopts...)
	if err != nil {
		return nil, err
	}
	if err := b.Start(); err != nil {
		_ = b.Close(context.Background())
		return nil, err
	}
	return &Broker{b: b}, nil
}

// Addr is the bootstrap address, host:port.
func (b *Broker) Addr() string { return b.b.Addr() }

// SchemaRegistryURL is the schema registry's base URL, "http://host:port",
// or "" when it is off (WithSchemaRegistry not given).
func (b *Broker) SchemaRegistryURL() string { return registryURL(b.b.SchemaRegistryAddr()) }

// ConsoleURL is the web console's URL, "http://host:port", or "" when it
// is off (WithConsole not given).
func (b *Broker) ConsoleURL() string { return registryURL(b.b.ConsoleAddr()) }

// HTTPProxyURL is the REST Proxy API's base URL, "http://host:port" (its
// v3 API under /v3), or "" when it is off (WithHTTPProxy not given).
func (b *Broker) HTTPProxyURL() string { return registryURL(b.b.HTTPProxyAddr()) }

// registryURL is the http:// URL of a listener's address, "" for none.
func registryURL(addr string) string {
	if addr == "" {
		return ""
	}
	return "http://" + addr
}

// ListenerAddr is the address of the listener named name ("PLAINTEXT",
// "SSL", ...), "" when there is none.
func (b *Broker) ListenerAddr(name string) string { return b.b.ListenerAddr(name) }

// Reset deletes every topic, group and transaction and disarms injected
// faults, so the next test starts clean. Clients connected to the broker stay
// connected.
func (b *Broker) Reset(ctx context.Context) error {
	b.b.ClearFaults()
	return b.b.Reset(ctx)
}

// Fault is a misbehaviour for the next Count requests of one API: a Delay
// before the response, an ErrorCode answered instead of serving the request,
// or CloseConn to drop the connection instead of answering. Key is the API
// key (e.g. kmsg.Produce.Int16()) or AnyAPI.
//
//	// the next two produce requests fail as if leadership moved
//	b.InjectFault(embed.Fault{Key: 0, Count: 2, ErrorCode: kerr.NotLeaderForPartition.Code})
type Fault = broker.Fault

// AnyAPI as a Fault's Key matches requests of every API.
const AnyAPI = broker.AnyAPI

// InjectFault arms f; faults armed earlier for the same requests apply first.
func (b *Broker) InjectFault(f Fault) { b.b.InjectFault(f) }

// ClearFaults disarms every injected fault.
func (b *Broker) ClearFaults() { b.b.ClearFaults() }

// Close stops the broker and frees everything it holds; no goroutine is left
// behind.
func (b *Broker) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return b.b.Close(ctx)
}
