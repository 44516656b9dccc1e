#!/usr/bin/env bash
# setup.sh: installs everything the compat drivers need, idempotently, and
# caches downloads under tests/compat/.cache (git-ignored):
#   - Apache Kafka's broker and tools jars (kafka/pom.xml) for kafka-ref.sh and the CLI driver;
#   - kafka-clients 4.x, 3.x and 2.8 jars (java/pom.xml), and the Java driver compiled against each;
#   - a Python venv with confluent-kafka and kafka-python (python/requirements.txt);
#   - kafkajs (node/package-lock.json, npm ci);
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

for v in 4.4.0 3.9.1 2.8.2; do
	if [ ! -f "$cache/java-$v/kafka-clients-$v.jar" ]; then
		step "fetching kafka-clients $v"
		rm -rf "$cache/java-$v"
		mvn_q -f "$here/java/pom.xml" -Dkafka.version="$v" dependency:copy-dependencies -DoutputDirectory="$cache/java-$v"
	fi
	out=$cache/java-build/$v
	if [ -f "$here/java/Driver.java" ] && { [ ! -f "$out/Driver.class" ] || [ "$here/java/Driver.java" -nt "$out/Driver.class" ]; }; then
		step "compiling the Java driver against kafka-clients $v"
		rm -rf "$out" && mkdir -p "$out"
		javac -nowarn -d "$out" -cp "$cache/java-$v/*" "$here/java/Driver.java"
	fi
done

venv=$cache/venv
if [ ! -x "$venv/bin/python" ] || [ "$here/python/requirements.txt" -nt "$venv/.installed" ]; then
	step "installing Python clients into $venv"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/python/requirements.txt"
	touch "$venv/.installed"
fi

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
