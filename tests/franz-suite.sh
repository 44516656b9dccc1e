#!/usr/bin/env bash
# Runs franz-go's own integration suite (github.com/twmb/franz-go/pkg/kgo)
# against a fresh Moldau binary and prints the counts of top-level tests, the
# failed ones, and every skipped test with the suite's reason.
# Usage: tests/franz-suite.sh [go test -run pattern]
#
# The broker has two listeners: PLAINTEXT (KGO_SEEDS) and SASL_PLAINTEXT
# with SCRAM-SHA-256/512 (a user from --add-scram) and unsecured OAUTHBEARER,
# so the suite's TestSCRAMAuth, TestSCRAMAuthBadCredentials (KGO_TEST_SCRAM,
# KGO_TEST_SCRAM_SEEDS) and TestOAuthAuth (KGO_TEST_OAUTH_SEEDS) run instead
# of skipping. Share-group tests run once the broker advertises ShareFetch
# v2 and ShareAcknowledge v2 (issue #17), and skip before.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${MOLDAU_BIN:-$root/bin/moldau}
[ -x "$bin" ] || CGO_ENABLED=0 go build -o "$bin" ./cmd/moldau
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
read -r plain sasl < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join("127.0.0.1:%d" % s.getsockname()[1] for s in socks))
')
listeners="PLAINTEXT://$plain,SASL_PLAINTEXT://$sasl"
cat >"$work/server.properties" <<PROPS
listeners=$listeners
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
transaction.max.timeout.ms=900000
PROPS
scram_user=franz scram_pass=franz-secret
"$bin" --config "$work/server.properties" --listeners "$listeners" --data-dir "$work/data" --admin-addr "" --schema-registry-addr "" --console-addr "" --http-proxy-addr "" \
	--add-scram "SCRAM-SHA-256=[name=$scram_user,password=$scram_pass]" \
	--add-scram "SCRAM-SHA-512=[name=$scram_user,password=$scram_pass]" >"$work/stdout" 2>"$work/broker.log" &
pid=$!
up() { (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }
ready=
for _ in $(seq 100); do
	kill -0 $pid 2>/dev/null || break
	up "$plain" && up "$sasl" && { ready=1; break; }
	sleep 0.1
done
[ -n "$ready" ] || { echo "broker did not start"; cat "$work/broker.log"; exit 1; }
# The suite must run from a module that requires franz-go: this one does.
KGO_SEEDS=$plain KGO_TEST_RF=1 KGO_LOG_LEVEL=none KGO_TEST_RECORDS=${KGO_TEST_RECORDS:-50000} \
	KGO_TEST_SCRAM_SEEDS=$sasl KGO_TEST_SCRAM=$scram_user:$scram_pass:${KGO_SCRAM_BITS:-512} KGO_TEST_OAUTH_SEEDS=$sasl \
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
cp "$work/suite.log" "${FRANZ_SUITE_LOG:-/tmp/franz-suite.log}"
exit $status
