#!/usr/bin/env bash
# Runs franz-go's own integration suite (github.com/twmb/franz-go/pkg/kgo)
# against a fresh three-node Moldau cluster (127.0.0.1-3, replication
# factor 3) and prints a pass/fail summary. Usage:
#   tests/franz-suite-cluster.sh [go test -run pattern]
# KGO_TEST_CHAOS=1 in the environment turns on franz-go's chaos dialer
# (client connections die after 0.5-1.5 s; `make franz-suite-cluster` runs
# both). Skipped tests are listed with the suite's reason (share-group
# tests skip until ShareFetch v2 and ShareAcknowledge v2 are advertised,
# issue #17; SCRAM and OAUTHBEARER run in tests/franz-suite.sh). Ports: KPORT (Kafka, default 19092) and PPORT (inter-broker, 19093) on
# each address.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${MOLDAU_BIN:-$root/bin/moldau}
[ -x "$bin" ] || CGO_ENABLED=0 go build -o "$bin" ./cmd/moldau
kport=${KPORT:-19092}
pport=${PPORT:-19093}
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
peers="1@127.0.0.1:$pport,2@127.0.0.2:$pport,3@127.0.0.3:$pport"
seeds="127.0.0.1:$kport,127.0.0.2:$kport,127.0.0.3:$kport"
for i in 1 2 3; do
	"$bin" --node-id "$i" --addr "127.0.0.$i:$kport" --peer-addr "127.0.0.$i:$pport" --peers "$peers" \
		--data-dir "$work/n$i" --admin-addr "" --schema-registry-addr "" --console-addr "" --http-proxy-addr "" --set transaction.max.timeout.ms=900000 \
		>"$work/out$i" 2>"$work/broker$i.log" &
	pids+=($!)
done
# Ready when every node's Metadata lists the three brokers.
ready=""
for _ in $(seq 300); do
	ready=1
	for i in 1 2 3; do
		n=$(kcat -b "127.0.0.$i:$kport" -m 2 -L 2>/dev/null | grep -c '^  broker ' || true)
		[ "$n" = 3 ] || ready=""
	done
	[ -n "$ready" ] && break
	sleep 0.2
done
[ -n "$ready" ] || { echo "cluster did not form"; tail -20 "$work"/broker*.log; exit 1; }
KGO_SEEDS=$seeds KGO_TEST_RF=3 KGO_LOG_LEVEL=none KGO_TEST_RECORDS=${KGO_TEST_RECORDS:-20000} \
	go test -count=1 -timeout 15m -json -run "${1:-.}" github.com/twmb/franz-go/pkg/kgo >"$work/suite.json" 2>"$work/suite.stderr"
status=$?
# The -v text ($FRANZ_SUITE_LOG), the counts of top-level tests, the failed
# ones and, per skipped top-level test, the suite's reason: test2json keeps each test's output
# apart even when parallel tests interleave.
python3 - "$work/suite.json" "$work/suite.log" "$work/skips" <<'PY'
import json, sys
out, per, skips, counts, failed = open(sys.argv[2], "w"), {}, [], {}, []
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        out.write(line)
        continue
    text, test = ev.get("Output", ""), ev.get("Test")
    out.write(text)
    if test and "/" not in test:
        if ev["Action"] == "output" and text.startswith("    "):
            per.setdefault(test, []).append(text.strip())
        elif ev["Action"] in ("pass", "fail", "skip"):
            counts[ev["Action"]] = counts.get(ev["Action"], 0) + 1
            if ev["Action"] == "fail":
                failed.append(test)
            if ev["Action"] == "skip":
                skips.append("skipped %s: %s" % (test, " ".join(per.get(test, [])) or "(no reason given)"))
summary = ["top-level tests: %d passed, %d failed, %d skipped" % (counts.get("pass", 0), counts.get("fail", 0), counts.get("skip", 0))]
summary += ["failed " + t for t in sorted(failed)] + sorted(skips)
open(sys.argv[3], "w").write("".join(s + "\n" for s in summary))
PY
cat "$work/suite.stderr" >>"$work/suite.log"
cat "$work/skips"
cp "$work/suite.log" "${FRANZ_SUITE_LOG:-/tmp/franz-suite-cluster.log}"
for i in 1 2 3; do cp "$work/broker$i.log" "/tmp/franz-suite-cluster-broker$i.log"; done
exit $status
