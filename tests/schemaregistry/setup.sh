#!/usr/bin/env bash
# setup.sh: installs the schema-registry clients that
# tests/schemaregistry_clients_test.go drives, idempotently, cached beside
# tests/compat's (COMPAT_CACHE, default tests/compat/.cache, git-ignored):
#   - $cache/sr-venv: confluent-kafka with its avro, protobuf, json and
#     schemaregistry extras, and grpcio-tools (python/requirements.txt);
#   - $cache/sr-node/node_modules: kafkajs and @kafkajs/confluent-schema-registry
#     (node/package-lock.json, npm ci).
# The two installs run in parallel; each is skipped when up to date. A lock
# keeps concurrent test processes from installing into the same place.
# (Confluent's Java kafka-schema-registry-client is not on Maven Central: n/a.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${COMPAT_CACHE:-$here/../compat/.cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
step() { echo "schemaregistry setup: $*" >&2; }
exec 9>"$cache/sr-setup.lock"
flock 9

python_clients() {
	local venv=$cache/sr-venv
	if [ -x "$venv/bin/python" ] && [ ! "$here/python/requirements.txt" -nt "$venv/.installed" ]; then return 0; fi
	step "installing confluent-kafka with its schema-registry extras into $venv"
	rm -rf "$venv"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/python/requirements.txt"
	touch "$venv/.installed"
}

node_clients() {
	local dir=$cache/sr-node
	if [ -d "$dir/node_modules/@kafkajs/confluent-schema-registry" ] && [ ! "$here/node/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then return 0; fi
	step "installing kafkajs and @kafkajs/confluent-schema-registry (npm ci) into $dir"
	rm -rf "$dir" && mkdir -p "$dir"
	cp "$here/node/package.json" "$here/node/package-lock.json" "$dir/"
	(cd "$dir" && npm ci --silent --no-audit --no-fund)
}

python_clients & py=$!
node_clients & node=$!
wait "$py"
wait "$node"
step "done in ${SECONDS}s"
