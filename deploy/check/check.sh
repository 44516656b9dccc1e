#!/usr/bin/env bash
# deploy-check: validate everything under deploy/ and the Dockerfile, offline
# once its tools are cached. Run from the repository root (make deploy-check).
#
# 1. Dockerfile: run its own `go build` line on the host (same flags, static),
#    then smoke-test the binary the way the manifests run it (env vars, --set,
#    /healthz, /readyz, /metrics, `moldau version`).
# 2. Kubernetes: kubeconform -strict on deploy/kubernetes (the single-node
#    kustomization and cluster.yaml, the three-node cluster) and on
#    `helm template` of the chart (default values: one node; the three-replica
#    values file and replicaCount=5: clusters), against
#    the Kubernetes JSON schemas that the PyPI package kubernetes-validate
#    ships (kubeconform would download them; this machine reaches no such
#    host). Then Moldau-specific wiring checks (validate.py k8s), which for a
#    cluster include the peer list (every pod by ordinal and DNS name).
# 3. helm lint --strict.
# 4. docker-compose.yml against the Compose spec's JSON schema (shipped in the
#    Go module github.com/compose-spec/compose-go/v2), then loaded by that
#    module as `docker compose config` would (deploy/check/composeconfig),
#    without and with the "cluster" profile, plus wiring checks: Prometheus
#    scrapes every broker's admin port, env names are real, mounts exist, the
#    cluster nodes' ids, ports, peer list and volumes fit together.
# 5. The Grafana dashboard's metric names against a live scrape: the Go test
#    TestDeployDashboardMetricsExist in tests/deploy_test.go. The cluster
#    dashboard's names against the Go source and pending-names.txt
#    (validate.py dashboard), and against the scrape of step 6.
# 6. A three-node cluster from the binary of step 1, started with the env and
#    arguments of deploy/kubernetes/cluster.yaml, then of the chart rendered
#    with ci/three-replicas-values.yaml (validate.py cluster-smoke):
#    it forms, and a topic gets the manifest's default replication factor,
#    leaders and full ISRs on node ids 0..2.
#
# Tools are installed once into $MOLDAU_DEPLOY_CACHE (default: $(go env GOPATH)/moldau-deploy-check).
set -euo pipefail

GO=${GO:-go}
KUBECONFORM_VERSION=v0.8.0
HELM_VERSION=v3.22.0
KUBERNETES_VALIDATE_VERSION=1.37.0
COMPOSE_GO_VERSION=v2.16.2
# Oldest Kubernetes the manifests support (the pod-index label is 1.28+) and the newest schema shipped.
KUBERNETES_VERSIONS="1.28.0 1.37.0"

cd "$(dirname "$0")/../.."
CACHE=${MOLDAU_DEPLOY_CACHE:-$($GO env GOPATH)/moldau-deploy-check}
mkdir -p "$CACHE"
WORK=$(mktemp -d)
BROKER_PID=
cleanup() {
	if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
step() { echo "deploy-check: $*"; }

# --- tools -----------------------------------------------------------------
gotool() { # gotool NAME MODULE/PATH VERSION -> path of the binary
	local dir="$CACHE/bin/$1-$3"
	if [ ! -x "$dir/$1" ]; then
		step "installing $1 $3 (go install, cached in $dir)" >&2
		(cd "$WORK" && GOFLAGS= GOBIN="$dir" $GO install "$2@$3") >&2
	fi
	echo "$dir/$1"
}
KUBECONFORM=$(gotool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION")
HELM=$(gotool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION")

VENV="$CACHE/venv-kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import yaml, jsonschema, kubernetes_validate' 2>/dev/null; then
	step "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (pip, cached in $VENV)"
	rm -rf "$VENV"
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" pyyaml jsonschema
fi
PY="$VENV/bin/python"
SCHEMA_SRC=$("$PY" -c 'import kubernetes_validate, os; print(os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema"))')
SCHEMAS="$CACHE/kubernetes-json-schema-$KUBERNETES_VALIDATE_VERSION"
for v in $KUBERNETES_VERSIONS; do
	if [ ! -f "$SCHEMAS/v$v-local-strict/_definitions.json" ]; then
		"$PY" deploy/check/validate.py schemas "$SCHEMA_SRC/v$v-local-strict" "$SCHEMAS/v$v-local-strict"
	fi
done
COMPOSE_SCHEMA=$(cd "$WORK" && GOFLAGS= $GO mod download -json "github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION" |
	"$PY" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')/schema/compose-spec.json

# --- 1. Dockerfile ---------------------------------------------------------
step "Dockerfile: building with its own go build line"
build_line=$(grep -E '^RUN CGO_ENABLED=0 go build ' Dockerfile || true)
if [ "$(printf '%s\n' "$build_line" | grep -c .)" != 1 ]; then
	echo "deploy-check: Dockerfile must have exactly one 'RUN CGO_ENABLED=0 go build ...' line" >&2
	exit 1
fi
grep -qE '^FROM (scratch|gcr\.io/distroless/static)' Dockerfile || { echo "deploy-check: final image must be scratch or distroless static" >&2; exit 1; }
grep -qE '^USER [1-9][0-9]*' Dockerfile || { echo "deploy-check: Dockerfile must set a numeric non-root USER" >&2; exit 1; }
cmd=${build_line#RUN }
cmd=${cmd//\/out\//$WORK/}
cmd=${cmd/CGO_ENABLED=0 go /CGO_ENABLED=0 $GO }
VERSION=deploy-check sh -c "$cmd"
BIN="$WORK/moldau"
$GO version -m "$BIN" | grep -q 'CGO_ENABLED=0' || { echo "deploy-check: binary not built with CGO_ENABLED=0" >&2; exit 1; }
"$BIN" version | grep -q 'moldau deploy-check' || { echo "deploy-check: version not stamped: $("$BIN" version)" >&2; exit 1; }

step "Dockerfile: smoke-testing the binary as the manifests run it"
MOLDAU_ADDR=127.0.0.1:0 MOLDAU_ADMIN_ADDR=127.0.0.1:0 MOLDAU_MEMORY=true MOLDAU_NODE_ID=2 \
	MOLDAU_SCHEMA_REGISTRY_ADDR=127.0.0.1:0 MOLDAU_CONSOLE_ADDR=127.0.0.1:0 MOLDAU_HTTP_PROXY_ADDR=127.0.0.1:0 \
	MOLDAU_ADVERTISE_ADDR=moldau-2.moldau-headless.default.svc.cluster.local:9092 MOLDAU_LOG_FORMAT=json \
	"$BIN" --set num.partitions=1 >"$WORK/stdout" 2>"$WORK/stderr" &
BROKER_PID=$!
admin=
for _ in $(seq 100); do
	admin=$(sed -n 's/.*"msg":"admin endpoint","addr":"\([^"]*\)".*/\1/p' "$WORK/stderr")
	[ -n "$admin" ] && grep -q '"msg":"moldau ready"' "$WORK/stderr" && break
	kill -0 "$BROKER_PID" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$admin" ]; then
	echo "deploy-check: broker did not start:" >&2
	cat "$WORK/stdout" "$WORK/stderr" >&2
	exit 1
fi
head -1 "$WORK/stdout" | grep -q '^listening on 127.0.0.1:' || { echo "deploy-check: first stdout line is not 'listening on ...'" >&2; exit 1; }
grep -q '"msg":"moldau ready".*"node_id":2' "$WORK/stderr" || { echo "deploy-check: MOLDAU_NODE_ID not applied" >&2; cat "$WORK/stderr" >&2; exit 1; }
for path in /healthz /readyz /metrics; do
	"$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5).read()' "http://$admin$path" ||
		{ echo "deploy-check: GET $path on the admin port failed" >&2; exit 1; }
done
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" || { echo "deploy-check: broker did not stop cleanly on SIGTERM" >&2; cat "$WORK/stderr" >&2; exit 1; }
BROKER_PID=

# --- 2, 3. Kubernetes and Helm ---------------------------------------------
CHART=deploy/helm/moldau
step "helm lint --strict"
"$HELM" lint --strict --quiet "$CHART" >/dev/null
"$HELM" lint --strict --quiet "$CHART" -f "$CHART/ci/three-replicas-values.yaml" >/dev/null
"$HELM" template moldau "$CHART" --namespace kafka >"$WORK/helm-default.yaml"
"$HELM" template prod "$CHART" --namespace kafka -f "$CHART/ci/three-replicas-values.yaml" >"$WORK/helm-three.yaml"
"$HELM" template big "$CHART" --set replicaCount=5 --set cluster.minInsyncReplicas=3 >"$WORK/helm-five.yaml"
grep -q '^  replicas: 3$' "$WORK/helm-three.yaml" || { echo "deploy-check: three-replica values did not render replicas: 3" >&2; exit 1; }
grep -q '^  replicas: 1$' "$WORK/helm-default.yaml" || { echo "deploy-check: default values did not render replicas: 1" >&2; exit 1; }
# Cluster defaults for new topics, and properties winning over them.
grep -q '"default.replication.factor=3"' "$WORK/helm-three.yaml" && grep -q '"min.insync.replicas=1"' "$WORK/helm-three.yaml" &&
	grep -q '"default.replication.factor=3"' "$WORK/helm-five.yaml" && grep -q '"min.insync.replicas=3"' "$WORK/helm-five.yaml" &&
	! grep -q 'replication.factor\|MOLDAU_PEERS' "$WORK/helm-default.yaml" ||
	{ echo "deploy-check: the chart's cluster properties are not what values.yaml says" >&2; exit 1; }
# The renamed value fails loudly instead of being ignored.
if "$HELM" template x "$CHART" --set replicas=3 >/dev/null 2>&1; then
	echo "deploy-check: the chart accepted the old value replicas (renamed replicaCount)" >&2
	exit 1
fi

manifests=(deploy/kubernetes/services.yaml deploy/kubernetes/statefulset.yaml deploy/kubernetes/pdb.yaml)
# A manifest that must fail: proves the schemas are loaded and strict.
cat >"$WORK/must-fail.yaml" <<'EOF'
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: must-fail}
spec:
  serviceName: x
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: i, ports: [{containerPort: 1, bogusField: 1}]}]
EOF
for v in $KUBERNETES_VERSIONS; do
	step "kubeconform -strict, Kubernetes $v: deploy/kubernetes and helm template"
	kc=("$KUBECONFORM" -strict -summary -kubernetes-version "$v"
		-schema-location "$SCHEMAS/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json")
	if "${kc[@]}" "$WORK/must-fail.yaml" >/dev/null 2>&1; then
		echo "deploy-check: kubeconform accepted a manifest with an unknown field: schemas not in effect" >&2
		exit 1
	fi
	"${kc[@]}" "${manifests[@]}" deploy/kubernetes/cluster.yaml "$WORK/helm-default.yaml" "$WORK/helm-three.yaml" "$WORK/helm-five.yaml"
done
step "Moldau wiring of the manifests (single node and clusters)"
"$PY" deploy/check/validate.py k8s "${manifests[@]}"
"$PY" deploy/check/validate.py k8s deploy/kubernetes/cluster.yaml
"$PY" deploy/check/validate.py k8s "$WORK/helm-default.yaml"
"$PY" deploy/check/validate.py k8s "$WORK/helm-three.yaml"
"$PY" deploy/check/validate.py k8s "$WORK/helm-five.yaml"
# The plain cluster manifest must fail the wiring check when its peer list is
# wrong: proves the cluster checks run on it.
sed 's/2@moldau-2\./3@moldau-2./' deploy/kubernetes/cluster.yaml >"$WORK/cluster-bad-peers.yaml"
if "$PY" deploy/check/validate.py k8s "$WORK/cluster-bad-peers.yaml" >/dev/null 2>&1; then
	echo "deploy-check: validate.py k8s accepted a cluster whose MOLDAU_PEERS has a wrong node id" >&2
	exit 1
fi
# A Service without the http-proxy port, and a front end bound to loopback,
# must fail too: proves the front-end checks run.
awk '/- name: http-proxy/ {skip=3} skip > 0 {skip--; next} {print}' deploy/kubernetes/services.yaml >"$WORK/services-no-proxy.yaml"
sed 's/value: 0.0.0.0:8080/value: 127.0.0.1:8080/' deploy/kubernetes/statefulset.yaml >"$WORK/statefulset-loopback-console.yaml"
for bad in "$WORK/services-no-proxy.yaml deploy/kubernetes/statefulset.yaml" "deploy/kubernetes/services.yaml $WORK/statefulset-loopback-console.yaml"; do
	# shellcheck disable=SC2086 # two file names
	if "$PY" deploy/check/validate.py k8s $bad deploy/kubernetes/pdb.yaml >/dev/null 2>&1; then
		echo "deploy-check: validate.py k8s accepted a front end not exposed on 0.0.0.0 by every Service ($bad)" >&2
		exit 1
	fi
done
# kustomization.yaml lists exactly the single-node manifests checked here, and
# every manifest in deploy/kubernetes is one of those or cluster.yaml.
"$PY" - "${manifests[@]}" <<'EOF'
import glob, os, sys, yaml
k = yaml.safe_load(open("deploy/kubernetes/kustomization.yaml"))
want = sorted(os.path.basename(p) for p in sys.argv[1:])
if sorted(k.get("resources", [])) != want:
    sys.exit(f"deploy-check: kustomization.yaml resources {k.get('resources')} != {want}")
present = sorted(os.path.basename(p) for p in glob.glob("deploy/kubernetes/*.y*ml"))
if present != sorted(want + ["cluster.yaml", "kustomization.yaml"]):
    sys.exit(f"deploy-check: deploy/kubernetes has {present}; check.sh validates {want} and cluster.yaml")
EOF

# --- 4. Compose and Prometheus ---------------------------------------------
step "docker-compose.yml against the Compose spec, loaded as docker compose does (default and cluster profile); Prometheus scrape config"
# Its own module (compose-go stays out of the broker's go.mod); env cleared of
# MOLDAU_CLUSTER_HOST so the defaults are what is checked.
(cd deploy/check/composeconfig && GOFLAGS= $GO build -o "$WORK/composeconfig" .)
env -u MOLDAU_CLUSTER_HOST -u MOLDAU_ADVERTISE_ADDR -u COMPOSE_PROFILES \
	"$WORK/composeconfig" deploy/docker-compose.yml >"$WORK/compose-default.json"
env -u MOLDAU_CLUSTER_HOST -u MOLDAU_ADVERTISE_ADDR -u COMPOSE_PROFILES \
	"$WORK/composeconfig" deploy/docker-compose.yml cluster >"$WORK/compose-cluster.json"
"$PY" deploy/check/validate.py compose "$COMPOSE_SCHEMA" "$WORK/compose-default.json" "$WORK/compose-cluster.json"

# --- 5. Grafana ------------------------------------------------------------
step "Grafana dashboard against a live /metrics scrape"
$GO test -count=1 -run '^TestDeployDashboardMetricsExist$' ./tests/
# The cluster dashboard needs a cluster to scrape (issue #14): until a test
# scrapes one, its names are checked against the Go source and
# pending-names.txt. A misspelt name must fail.
step "Grafana cluster dashboard against the Go source's metric names"
"$PY" deploy/check/validate.py dashboard deploy/grafana/moldau-cluster-dashboard.json
sed 's/moldau_raft_commit_seconds_bucket/moldau_raft_commit_second_bucket/' deploy/grafana/moldau-cluster-dashboard.json >"$WORK/dashboard-bad.json"
if "$PY" deploy/check/validate.py dashboard "$WORK/dashboard-bad.json" >/dev/null 2>&1; then
	echo "deploy-check: validate.py dashboard accepted a metric name the source does not define" >&2
	exit 1
fi

# --- 6. A cluster as the manifests start it ---------------------------------
for manifest in deploy/kubernetes/cluster.yaml "$WORK/helm-three.yaml"; do
	step "three-node cluster from $(basename "$manifest")'s env and args (local processes)"
	dir=$(mktemp -d "$WORK/cluster.XXXX")
	"$PY" deploy/check/validate.py cluster-smoke "$BIN" "$manifest" "$dir" deploy/grafana/moldau-cluster-dashboard.json ||
		{ tail -n 5 "$dir"/node*.stderr >&2; exit 1; }
done

step "ok"
