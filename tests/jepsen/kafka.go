package jepsen

// The Apache Kafka 4.4 process cluster: three combined broker+controller
// KRaft JVMs on 127.0.0.1-3 (server.properties as bench/runner/cluster.go's
// kafkaClusterProps, one cluster id, data dirs formatted with
// kafka.tools.StorageTool), each JVM with a small heap
// (ProcOptions.KafkaHeap, 512m) and C1 only. The controller quorum is a
// dynamic one (KIP-853: controller.quorum.bootstrap.servers, formatted with
// --initial-controllers naming the three with their directory ids) so that
// the membership fault (membership.go) can change it, as Moldau's can.
//
// Kafka cannot bind its outgoing connections to a source address: every
// connection between two brokers leaves from 127.0.0.1, so address-pair
// rules cannot tell the nodes apart. Each JVM therefore runs under its own
// uid (21000+node id; no /etc/passwd entry is needed: HOME is its
// directory, -XX:-UsePerfData keeps it out of /tmp/hsperfdata_*), its data
// directory is chowned to that uid, and a cut matches the sending socket's
// owner (`meta skuid`, nft.go). Data directories live in their own
// world-traversable temporary directory (removed by Close) so that any
// ProcOptions.Dir works for the logs, which the campaign's process writes.
//
// kill -9 is SIGKILL of the JVM (the process started is java itself).

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// ErrNoKafka is returned when Kafka's jars cannot be found or fetched.
var ErrNoKafka = errors.New("jepsen: Apache Kafka 4.4 jars not available")

// kafkaUIDBase + node id is the uid a Kafka node runs under.
const kafkaUIDBase = 21000

// KafkaCluster is three Kafka 4.4 KRaft broker+controller JVMs.
type KafkaCluster struct {
	*procCluster
	dataRoot  string
	clusterID string
	jvm       []string // java and its flags, classpath included

	// dirIDs are the nodes' metadata log directory ids (voter keys);
	// guarded by procCluster.mu.
	dirIDs map[int32]string
}

func (c *KafkaCluster) cutRules(a, b *procNode) []string { return uidCutRules(a, b) }

// kafkaLibs finds the jars: opts, $MOLDAU_KAFKA_LIBS, the module's compat
// cache, else tests/compat/kafka-ref.sh fetch (Maven) fills that cache.
func kafkaLibs(opts ProcOptions) (string, error) {
	has := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "kafka_2.13-4.4.0.jar"))
		return err == nil
	}
	for _, d := range []string{opts.KafkaLibs, os.Getenv("MOLDAU_KAFKA_LIBS")} {
		if d != "" {
			if has(d) {
				return d, nil
			}
			return "", fmt.Errorf("%w: no kafka_2.13-4.4.0.jar in %s", ErrNoKafka, d)
		}
	}
	cache := filepath.Join(repoRoot(), "tests", "compat", ".cache", "kafka-4.4.0", "libs")
	if has(cache) {
		return cache, nil
	}
	out, err := exec.Command(filepath.Join(repoRoot(), "tests", "compat", "kafka-ref.sh"), "fetch").CombinedOutput()
	if err != nil || !has(cache) {
		return "", fmt.Errorf("%w: tests/compat/kafka-ref.sh fetch: %v: %s (or set MOLDAU_KAFKA_LIBS)", ErrNoKafka, err, out)
	}
	return cache, nil
}

// kafkaProps is node id's server.properties.
func kafkaProps(id int32, port, cport int, logDir, bootstrap string) string {
	ip := nodeIP(id)
	return fmt.Sprintf(`process.roles=broker,controller
node.id=%[1]d
controller.quorum.bootstrap.servers=%[2]s
listeners=PLAINTEXT://%[3]s:%[4]d,CONTROLLER://%[3]s:%[5]d
advertised.listeners=PLAINTEXT://%[3]s:%[4]d
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=%[6]s
num.partitions=1
offsets.topic.num.partitions=4
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
group.consumer.session.timeout.ms=6000
group.consumer.min.session.timeout.ms=6000
group.consumer.heartbeat.interval.ms=500
group.consumer.min.heartbeat.interval.ms=500
`, id, bootstrap, ip, port, cport, logDir)
}

const kafkaLog4j = `rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
`

// chownTree gives dir and everything under it to uid.
func chownTree(dir string, uid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
}

// NewKafkaCluster starts three Kafka 4.4 KRaft nodes on 127.0.0.1-3 and
// returns once each one's Metadata lists all three. It needs root (the
// JVMs run under their own uids) and java.
func NewKafkaCluster(ctx context.Context, opts ProcOptions) (*KafkaCluster, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("jepsen: the Kafka cluster runs each JVM under its own uid: it needs root")
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("jepsen: java: %w", err)
	}
	libs, err := kafkaLibs(opts)
	if err != nil {
		return nil, err
	}
	pc, err := newProcCluster("kafka", opts, 2)
	if err != nil {
		return nil, err
	}
	c := &KafkaCluster{procCluster: pc, clusterID: kafkaUUID(), dirIDs: map[int32]string{}}
	if c.dataRoot, err = os.MkdirTemp("", "jepsen-kafka-data-"); err != nil {
		return nil, err
	}
	if err := os.Chmod(c.dataRoot, 0o755); err != nil {
		return nil, err
	}
	if c.nft, err = newNFTTable(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	cp := libs + "/*"
	// Kafka's jars log through slf4j 1.7 with no binding (nothing is
	// logged); slf4j-simple, where the compat cache or Debian has it,
	// makes the nodes log warnings and errors to their log files.
	for _, pattern := range []string{filepath.Join(libs, "..", "..", "streams-4.4.0", "slf4j-simple-*.jar"), "/usr/share/java/slf4j-simple.jar"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			cp += ":" + m[0]
			break
		}
	}
	c.jvm = []string{java, "-Xms128m", "-Xmx" + pc.opts.KafkaHeap, "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1",
		"-XX:-UsePerfData", "-Djava.awt.headless=true", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-Dorg.slf4j.simpleLogger.showDateTime=true", "-cp", cp}
	// A dynamic quorum (KIP-853) of the three, so that the membership
	// fault can change it: each formatted with --initial-controllers
	// naming all three with their directory ids.
	var initial []string
	for id := int32(1); id <= 3; id++ {
		c.dirIDs[id] = kafkaUUID()
		initial = append(initial, fmt.Sprintf("%d@%s:%d:%s", id, nodeIP(id), pc.ports[1], c.dirIDs[id]))
	}
	var nodes []*procNode
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for id := int32(1); id <= 3; id++ {
		n, format, err := c.newNode(ctx, id, c.controllers(1, 2, 3), "--initial-controllers", strings.Join(initial, ","))
		if err != nil {
			_ = c.Close()
			return nil, err
		}
		nodes = append(nodes, n)
		wg.Add(1)
		go func() { // the three formats at once: each is a JVM start
			defer wg.Done()
			errs[id-1] = format()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = c.Close()
		return nil, err
	}
	if err := c.startNodes(ctx, nodes); err != nil {
		_ = c.Close()
		return nil, err
	}
	pc.opts.Logf("kafka cluster up: %v (logs in %s, data in %s)", c.Seeds(), pc.dir, c.dataRoot)
	return c, nil
}

// kafkaUUID is a random Kafka Uuid (base64url of 16 bytes, 22 characters).
func kafkaUUID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[0] &= 0x7f // far from the reserved all-zero and one ids
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// controllers is controller.quorum.bootstrap.servers for nodes ids.
func (c *KafkaCluster) controllers(ids ...int32) string {
	var s []string
	for _, id := range ids {
		s = append(s, fmt.Sprintf("%s:%d", nodeIP(id), c.ports[1]))
	}
	return strings.Join(s, ",")
}

// newNode writes node id's directory and properties and returns the node
// (not started) and the function that formats its data directory (with
// formatArgs) and gives the directory to the node's uid.
func (c *KafkaCluster) newNode(ctx context.Context, id int32, bootstrap string, formatArgs ...string) (*procNode, func() error, error) {
	dir := filepath.Join(c.dataRoot, fmt.Sprintf("node%d", id))
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, nil, err
	}
	props := filepath.Join(dir, "server.properties")
	log4j := filepath.Join(dir, "log4j2.properties")
	if err := os.WriteFile(props, []byte(kafkaProps(id, c.ports[0], c.ports[1], filepath.Join(dir, "data"), bootstrap)), 0o644); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(log4j, []byte(kafkaLog4j), 0o644); err != nil {
		return nil, nil, err
	}
	uid := kafkaUIDBase + int(id)
	args := append(slices.Clone(c.jvm), "-Djava.io.tmpdir="+filepath.Join(dir, "tmp"), "-Dlog4j2.configurationFile="+log4j)
	n := &procNode{
		id: id, ip: nodeIP(id), ports: c.ports, uid: uint32(uid), dir: dir,
		logPath: filepath.Join(c.dir, fmt.Sprintf("node%d.log", id)),
		argv:    append(slices.Clone(args), "kafka.Kafka", props),
		env:     []string{"HOME=" + dir},
	}
	format := func() error {
		fargs := append(slices.Clone(args[1:]), "kafka.tools.StorageTool", "format", "-t", c.clusterID, "-c", props)
		out, err := exec.CommandContext(ctx, args[0], append(fargs, formatArgs...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("jepsen: kafka format node %d: %w: %s", id, err, out)
		}
		return chownTree(dir, uid)
	}
	return n, format, nil
}

// Close stops the JVMs, removes the rules and the data directories.
func (c *KafkaCluster) Close() error {
	err := c.procCluster.Close()
	if c.dataRoot != "" {
		err = errors.Join(err, os.RemoveAll(c.dataRoot))
	}
	return err
}
