#!/usr/bin/env bash
# setup.sh: installs everything the compat drivers need, idempotently, and
# caches downloads under tests/compat/.cache (git-ignored):
#   - Apache Kafka's broker and tools jars (kafka/pom.xml) for kafka-ref.sh and the CLI driver;
#   - kafka-clients 4.x, 3.x and 2.8 jars (java/pom.xml), and the Java driver compiled against each;
#   - a Python venv with confluent-kafka and kafka-python (python/requirements.txt);
#   - kafkajs (node/package-lock.json, npm ci);
#   - the schema-registry clients (../schemaregistry/setup.sh);
#   - kcat (Debian package).
# Each step is skipped when its output is already there and up to date.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${COMPAT_CACHE:-$here/.cache}
mkdir -p "$cache"
step() { echo "compat setup: $*" >&2; }

# Maven: one local repository under the cache so a cold run is measurable.
mvn_q() { mvn -q -B ${COMPAT_M2:+-Dmaven.repo.local=$COMPAT_M2} "$@"; }

if [ ! -f "$cache/kafka-4.4.0/libs/kafka-tools-4.4.0.jar" ]; then
	step "fetching Apache Kafka 4.4.0 jars"
	mvn_q -f "$here/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$cache/kafka-4.4.0/libs"
fi

# Kafka Streams 4.4 (the java-4.4 driver's streams_group_protocol scenario),
# shared with tests/streams.
if [ ! -f "$cache/streams-4.4.0/kafka-streams-4.4.0.jar" ]; then
	step "fetching Kafka Streams 4.4.0 (tests/streams/setup.sh)"
	COMPAT_CACHE=$cache bash "$here/../streams/setup.sh" >&2
fi

for v in 4.4.0 3.9.1 2.8.2; do
	if [ ! -f "$cache/java-$v/kafka-clients-$v.jar" ]; then
		step "fetching kafka-clients $v"
		rm -rf "$cache/java-$v"
		mvn_q -f "$here/java/pom.xml" -Dkafka.version="$v" dependency:copy-dependencies -DoutputDirectory="$cache/java-$v"
	fi
	out=$cache/java-build/$v
	# Driver.java compiles against every version; the scenarios of newer
	# APIs are separate classes Driver reaches by reflection: Telemetry
	# (KIP-714, 3.7+) and Features (3.3+) for 4.x and 3.9, Share (KIP-932)
	# and StreamsGroup (KIP-1071, with the Streams jars) for 4.x only.
	srcs=("$here/java/Driver.java") cp="$cache/java-$v/*"
	case $v in
	4.*) srcs+=("$here/java/Share.java" "$here/java/Telemetry.java" "$here/java/Features.java" "$here/java/StreamsGroup.java") cp="$cp:$cache/streams-4.4.0/*" ;;
	3.9.*) srcs+=("$here/java/Telemetry.java" "$here/java/Features.java") ;;
	esac
	stale=
	for f in "${srcs[@]}"; do [ "$f" -nt "$out/Driver.class" ] && stale=1; done
	if [ -f "$here/java/Driver.java" ] && { [ ! -f "$out/Driver.class" ] || [ -n "$stale" ]; }; then
		step "compiling the Java driver against kafka-clients $v"
		rm -rf "$out" "$out.tmp" && mkdir -p "$out.tmp"
		javac -nowarn -d "$out.tmp" -cp "$cp" "${srcs[@]}"
		mv "$out.tmp" "$out"
	fi
done

# The reference broker's client-telemetry plugin (kafka/CompatTelemetry.java):
# without one, Apache Kafka does not advertise GetTelemetrySubscriptions and
# PushTelemetry (KIP-714).
plugin=$cache/kafka-plugin
if [ ! -f "$plugin/CompatTelemetry.class" ] || [ "$here/kafka/CompatTelemetry.java" -nt "$plugin/CompatTelemetry.class" ]; then
	step "compiling the reference broker's telemetry plugin"
	rm -rf "$plugin" && mkdir -p "$plugin"
	javac -nowarn -d "$plugin" -cp "$cache/kafka-4.4.0/libs/*" "$here/kafka/CompatTelemetry.java"
fi

venv=$cache/venv
if [ ! -x "$venv/bin/python" ] || [ "$here/python/requirements.txt" -nt "$venv/.installed" ]; then
	step "installing Python clients into $venv"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/python/requirements.txt"
	touch "$venv/.installed"
fi

# The schema-registry clients (confluent-kafka's serdes, kafkajs'
# @kafkajs/confluent-schema-registry) of tests/schemaregistry_clients_test.go.
COMPAT_CACHE=$cache bash "$here/../schemaregistry/setup.sh"

if [ -f "$here/node/package-lock.json" ] && { [ ! -d "$here/node/node_modules/kafkajs" ] || [ "$here/node/package-lock.json" -nt "$here/node/node_modules/.package-lock.json" ]; }; then
	step "installing kafkajs (npm ci)"
	(cd "$here/node" && npm ci --silent --no-audit --no-fund)
fi

if ! command -v kcat >/dev/null 2>&1; then
	step "installing kcat (Debian package)"
	SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
	$SUDO apt-get update -qq && $SUDO apt-get install -y -qq kcat >/dev/null
fi
step "done in ${SECONDS}s"
