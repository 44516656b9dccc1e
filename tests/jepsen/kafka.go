package jepsen

// The Apache Kafka 4.4 process cluster: three combined broker+controller
// KRaft JVMs on 127.0.0.1-3 (server.properties as bench/runner/cluster.go's
// kafkaClusterProps: controller.quorum.voters naming all three, one cluster
// id, data dirs formatted with kafka.tools.StorageTool), each JVM with a
// small heap (ProcOptions.KafkaHeap, 512m) and C1 only.
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
//
// Membership is not offered for Kafka (Kinds leaves it out; see
// membershipChange for why).

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
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
	dataRoot string
}

func (c *KafkaCluster) cutRules(a, b *procNode) []string { return uidCutRules(a, b) }
func (c *KafkaCluster) supportsMembership() bool         { return false }

// membershipChange: not on Kafka. The cluster's controller quorum is
// static (controller.quorum.voters, as the benchmarks run it), and every
// node is a combined broker+controller: a broker-only fourth node could
// take the replicas of one of the three (AlterPartitionReassignments), but
// that node then stays a controller quorum voter, and Kafka refuses
// UnregisterBroker for a broker that is still alive, so the
// "remove a member, add one" of Moldau's fault has no equivalent short of
// reformatting the quorum as a dynamic one (KIP-853), which this campaign
// does not do.
func (c *KafkaCluster) membershipChange(context.Context, *rand.Rand) (Fault, func(context.Context) error, error) {
	return Fault{}, nil, fmt.Errorf("%w: membership on Kafka (static controller quorum of combined nodes; kafka.go)", ErrUnsupportedFault)
}

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
func kafkaProps(id int32, port, cport int, logDir string) string {
	var voters []string
	for i := int32(1); i <= 3; i++ {
		voters = append(voters, fmt.Sprintf("%d@%s:%d", i, nodeIP(i), cport))
	}
	ip := nodeIP(id)
	return fmt.Sprintf(`process.roles=broker,controller
node.id=%[1]d
controller.quorum.voters=%[2]s
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
`, id, strings.Join(voters, ","), ip, port, cport, logDir)
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
	c := &KafkaCluster{procCluster: pc}
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
	jvm := []string{java, "-Xms128m", "-Xmx" + pc.opts.KafkaHeap, "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1",
		"-XX:-UsePerfData", "-Djava.awt.headless=true"}
	clusterID := func() string {
		var b [16]byte
		_, _ = crand.Read(b[:])
		return base64.RawURLEncoding.EncodeToString(b[:])
	}()
	var nodes []*procNode
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for id := int32(1); id <= 3; id++ {
		dir := filepath.Join(c.dataRoot, fmt.Sprintf("node%d", id))
		if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
			_ = c.Close()
			return nil, err
		}
		props := filepath.Join(dir, "server.properties")
		log4j := filepath.Join(dir, "log4j2.properties")
		if err := os.WriteFile(props, []byte(kafkaProps(id, pc.ports[0], pc.ports[1], filepath.Join(dir, "data"))), 0o644); err != nil {
			_ = c.Close()
			return nil, err
		}
		if err := os.WriteFile(log4j, []byte(kafkaLog4j), 0o644); err != nil {
			_ = c.Close()
			return nil, err
		}
		uid := kafkaUIDBase + int(id)
		args := append(append([]string(nil), jvm...), "-Djava.io.tmpdir="+filepath.Join(dir, "tmp"),
			"-Dlog4j2.configurationFile="+log4j, "-cp", libs+"/*")
		n := &procNode{
			id: id, ip: nodeIP(id), ports: pc.ports, uid: uint32(uid), dir: dir,
			logPath: filepath.Join(pc.dir, fmt.Sprintf("node%d.log", id)),
			argv:    append(append([]string(nil), args...), "kafka.Kafka", props),
			env:     []string{"HOME=" + dir},
		}
		nodes = append(nodes, n)
		wg.Add(1)
		go func() { // the three formats at once: each is a JVM start
			defer wg.Done()
			out, err := exec.CommandContext(ctx, args[0], append(args[1:], "kafka.tools.StorageTool", "format", "-t", clusterID, "-c", props)...).CombinedOutput()
			if err != nil {
				errs[id-1] = fmt.Errorf("jepsen: kafka format node %d: %w: %s", id, err, out)
				return
			}
			errs[id-1] = chownTree(dir, uid)
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

// Close stops the JVMs, removes the rules and the data directories.
func (c *KafkaCluster) Close() error {
	err := c.procCluster.Close()
	if c.dataRoot != "" {
		err = errors.Join(err, os.RemoveAll(c.dataRoot))
	}
	return err
}
