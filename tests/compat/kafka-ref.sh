#!/usr/bin/env bash
# kafka-ref.sh: the reference broker. Fetches Apache Kafka's broker jars from
# Maven Central (kafka/pom.xml, cached under tests/compat/.cache), formats a
# KRaft single-node log dir (combined broker+controller) and runs it on a free
# loopback port. The first line on stdout is "listening on 127.0.0.1:PORT",
# printed once the broker answers; the script then waits for the broker and
# stops it on SIGTERM/SIGINT. Broker logs go to $KAFKA_REF_LOG (default:
# <workdir>/kafka.log).
#   tests/compat/kafka-ref.sh            # start and wait
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
cport=$(free_port)
while [ "$cport" = "$port" ]; do cport=$(free_port); done
work=$(mktemp -d "${TMPDIR:-/tmp}/kafka-ref.XXXXXX")
log=${KAFKA_REF_LOG:-$work/kafka.log}
cat >"$work/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$work/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
transaction.max.timeout.ms=900000
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
PROPS
cp="$libs/*"
jvm=(-Xms256m -Xmx768m -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
# A random cluster id as Kafka makes them (no leading '-', which the storage
# tool's argument parser would read as an option).
cluster_id=$(python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break
')
java "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" -c "$work/server.properties" >"$log" 2>&1 ||
	{ cat "$log" >&2; exit 1; }
java "${jvm[@]}" -cp "$cp" kafka.Kafka "$work/server.properties" >>"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 0' TERM INT
# Ready when the broker listener accepts and answers Metadata: a TCP connect
# alone can succeed before the controller has registered the broker.
for _ in $(seq 600); do
	kill -0 "$pid" 2>/dev/null || { echo "kafka exited" >&2; tail -50 "$log" >&2; exit 1; }
	if python3 - "$port" <<'PY' 2>/dev/null; then break; fi
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
# Metadata v1 for all topics: header key=3 ver=1 corr=1 client "r", topics=-1
body = struct.pack(">hhih", 3, 1, 1, 1) + b"r" + struct.pack(">i", -1)
s.sendall(struct.pack(">i", len(body)) + body)
n = struct.unpack(">i", s.recv(4))[0]
data = b""
while len(data) < n:
    data += s.recv(n - len(data))
# corr id, then brokers array length must be >= 1
sys.exit(0 if struct.unpack(">i", data[4:8])[0] >= 1 else 1)
PY
	sleep 0.2
done
echo "listening on 127.0.0.1:$port"
wait "$pid"
