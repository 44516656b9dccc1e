#!/usr/bin/env bash
# kafka-ref.sh: the reference broker. Fetches Apache Kafka's broker jars from
# Maven Central (kafka/pom.xml, cached under tests/compat/.cache), formats a
# KRaft single-node log dir (combined broker+controller) and runs it on a free
# loopback port. With KAFKA_REF_NODES=3 it runs a three-broker cluster instead:
# three combined broker+controller processes on 127.0.0.1, .2 and .3 (same
# ports on each, one cluster id, controller.quorum.voters naming all three),
# replication factor 3 and min.insync.replicas 2 by default. The first line on
# stdout is "listening on 127.0.0.1:PORT[,127.0.0.2:PORT,...]", printed once
# Metadata lists every broker; the script then waits for the broker and
# stops it on SIGTERM/SIGINT. Broker logs go to $KAFKA_REF_LOG (default:
# <workdir>/kafka.log).
#   tests/compat/kafka-ref.sh            # start and wait
#   KAFKA_REF_NODES=3 tests/compat/kafka-ref.sh   # a three-broker cluster
#   tests/compat/kafka-ref.sh fetch      # only fetch the jars
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=${KAFKA_REF_VERSION:-4.4.0}
cache=${COMPAT_CACHE:-$here/.cache}
libs=$cache/kafka-$version/libs

if [ ! -f "$libs/kafka_2.13-$version.jar" ]; then
	echo "fetching Apache Kafka $version jars into $libs" >&2
	mvn -q -B -f "$here/kafka/pom.xml" -Dkafka.version="$version" \
		dependency:copy-dependencies -DoutputDirectory="$libs" >&2
fi
[ "${1:-}" = fetch ] && exit 0

nodes=${KAFKA_REF_NODES:-1}
case $nodes in 1 | 3) ;; *) echo "KAFKA_REF_NODES must be 1 or 3" >&2; exit 2 ;; esac
# A port free on every node's address (127.0.0.1 .. 127.0.0.N), and not in $1.
free_port() {
	python3 - "$nodes" "${1:-}" <<'PY'
import socket, sys
n, avoid = int(sys.argv[1]), sys.argv[2]
while True:
    socks = []
    try:
        s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
        port = s.getsockname()[1]
        for i in range(2, n + 1):
            t = socket.socket(); socks.append(t); t.bind(("127.0.0.%d" % i, port))
        if str(port) != avoid:
            print(port)
            break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
PY
}
port=$(free_port)
cport=$(free_port "$port")
work=$(mktemp -d "${TMPDIR:-/tmp}/kafka-ref.XXXXXX")
log=${KAFKA_REF_LOG:-$work/kafka.log}
# Replicated internal topics and min.insync.replicas=2 on a cluster, as on Moldau's.
rf=1 isr=1
[ "$nodes" = 3 ] && rf=3 isr=2
# A client-telemetry plugin (setup.sh compiles kafka/CompatTelemetry.java):
# without one, Kafka does not advertise GetTelemetrySubscriptions and
# PushTelemetry (KIP-714).
telemetry= plugin_cp=
if [ -f "$cache/kafka-plugin/CompatTelemetry.class" ]; then
	telemetry=metric.reporters=CompatTelemetry plugin_cp=$cache/kafka-plugin
fi
voters=
for i in $(seq "$nodes"); do voters=${voters:+$voters,}$i@127.0.0.$i:$cport; done
for i in $(seq "$nodes"); do
	host=127.0.0.$i
	mkdir -p "$work/node$i"
	cat >"$work/node$i/server.properties" <<PROPS
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$cport
advertised.listeners=PLAINTEXT://$host:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$work/node$i/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
transaction.max.timeout.ms=900000
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
$telemetry
PROPS
done
cp="$libs/*${plugin_cp:+:$plugin_cp}"
# Smaller heaps for three JVMs on one (2-core) machine.
if [ "$nodes" = 1 ]; then heap=(-Xms256m -Xmx768m); else heap=(-Xms128m -Xmx512m); fi
jvm=("${heap[@]}" -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
# A random cluster id as Kafka makes them (no leading '-', which the storage
# tool's argument parser would read as an option); every node formats with it.
cluster_id=$(python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break
')
# Node 1 logs to $log, node i>1 to $log.i.
nodelog() { if [ "$1" = 1 ]; then echo "$log"; else echo "$log.$1"; fi; }
pids=()
# (|| true: under set -e a failed kill or a JVM's non-zero exit status would
# end the trap before the other nodes are waited for and $work removed.)
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' TERM INT
for i in $(seq "$nodes"); do
	java "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" -c "$work/node$i/server.properties" >"$(nodelog "$i")" 2>&1 ||
		{ cat "$(nodelog "$i")" >&2; exit 1; }
done
for i in $(seq "$nodes"); do
	java "${jvm[@]}" -cp "$cp" kafka.Kafka "$work/node$i/server.properties" >>"$(nodelog "$i")" 2>&1 &
	pids+=($!)
done
# Ready when the broker listener accepts and answers Metadata listing every
# node: a TCP connect alone can succeed before the controller has registered
# the broker.
for _ in $(seq 900); do
	for i in $(seq "$nodes"); do
		kill -0 "${pids[$((i - 1))]}" 2>/dev/null || { echo "kafka node $i exited" >&2; tail -50 "$(nodelog "$i")" >&2; exit 1; }
	done
	if python3 - "$port" "$nodes" <<'PY' 2>/dev/null; then break; fi
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
# Metadata v1 for all topics: header key=3 ver=1 corr=1 client "r", topics=-1
body = struct.pack(">hhih", 3, 1, 1, 1) + b"r" + struct.pack(">i", -1)
s.sendall(struct.pack(">i", len(body)) + body)
n = struct.unpack(">i", s.recv(4))[0]
data = b""
while len(data) < n:
    data += s.recv(n - len(data))
# corr id, then the brokers array length must be the node count
sys.exit(0 if struct.unpack(">i", data[4:8])[0] >= int(sys.argv[2]) else 1)
PY
	sleep 0.2
done
addrs=
for i in $(seq "$nodes"); do addrs=${addrs:+$addrs,}127.0.0.$i:$port; done
echo "listening on $addrs"
# Exit when any node does (cleanup stops the others).
wait -n "${pids[@]}"
