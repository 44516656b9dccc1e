#!/usr/bin/env bash
# setup.sh: fetches Kafka Streams 4.4.0 and its dependencies (pom.xml) into
# tests/compat/.cache/streams-4.4.0 (git-ignored, shared with the compat
# drivers' cache) and compiles CountSum.java into tests/compat/.cache/streams-build.
# Idempotent: each step is skipped when its output is there and up to date,
# so a warm run needs no network. tests/streams_test.go runs it once per test
# process; COMPAT_CACHE and COMPAT_M2 as in tests/compat/setup.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${COMPAT_CACHE:-$(cd "$here/../compat" && pwd)/.cache}
mkdir -p "$cache"
libs=$cache/streams-4.4.0
out=$cache/streams-build
if [ ! -f "$libs/kafka-streams-4.4.0.jar" ] || [ "$here/pom.xml" -nt "$libs/.complete" ]; then
	echo "streams setup: fetching Kafka Streams 4.4.0 jars" >&2
	rm -rf "$libs"
	mvn -q -B ${COMPAT_M2:+-Dmaven.repo.local=$COMPAT_M2} -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" >&2
	touch "$libs/.complete"
fi
if [ ! -f "$out/CountSum.class" ] || [ "$here/CountSum.java" -nt "$out/CountSum.class" ] || [ "$libs/.complete" -nt "$out/CountSum.class" ]; then
	echo "streams setup: compiling CountSum.java" >&2
	rm -rf "$out" && mkdir -p "$out"
	javac -nowarn -d "$out" -cp "$libs/*" "$here/CountSum.java"
fi
# The classpath for java -cp, on stdout.
echo "$out:$libs/*"
