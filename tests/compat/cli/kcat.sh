#!/usr/bin/env bash
# Compat driver for kcat (librdkafka's command-line client, Debian package):
#   kcat.sh BOOTSTRAP scenario[,scenario...]
# Prints one JSON line per scenario. kcat has no admin operations: topics
# come from auto-creation on first produce (num.partitions=1 on both brokers).
set -uo pipefail
B=$1
IFS=, read -ra SCENARIOS <<<"$2"
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
client=kcat
kc() { kcat -b "$B" -X client.id=compat-kcat "$@"; }

# produce_lines TOPIC [kcat args...] < lines "key:value"
produce_lines() { local t=$1; shift; kc -P -t "$t" -p 0 -K: -X topic.request.required.acks=all "$@"; }
# consume TOPIC COUNT [args...]: prints "key:value:offset" lines
consume() { local t=$1 n=$2; shift 2; kc -C -t "$t" -p 0 -c "$n" -e -o beginning -f '%k:%s:%o\n' "$@"; }
gen() { local p=$1 n=$2 from=${3:-0}; for ((i = from; i < from + n; i++)); do echo "k$i:$p$i"; done; }
expect_records() { # want_prefix n from got
	local want got=$4
	want=$(for ((i = $3; i < $3 + $2; i++)); do echo "k$i:$1$i"; done)
	[ "$(cut -d: -f1,2 <<<"$got")" = "$want" ] || fail "consumed $(wc -l <<<"$got") records, not the $2 produced: $(head -c 200 <<<"$got")"
}

sc_metadata() {
	local t; t=$(topic metadata)
	echo "k:v" | produce_lines "$t" || fail "produce (auto-create) failed"
	local md; md=$(kc -L -J -t "$t") || fail "kcat -L failed"
	python3 - "$md" "$t" "${COMPAT_BROKERS:-0}" <<'PY' || fail "metadata: $(errtail 1)"
import json, sys
md = json.loads(sys.argv[1])
want = int(sys.argv[3])
assert len(md["brokers"]) >= 1 and want in (0, len(md["brokers"])), "%d brokers, want %d" % (len(md["brokers"]), max(want, 1))
ts = [t for t in md["topics"] if t["topic"] == sys.argv[2]]
assert ts and len(ts[0]["partitions"]) == 1, "topic partitions: %r" % ts
assert all(p["leader"] >= 0 for p in ts[0]["partitions"]), "no leader"
PY
}

produce_consume() { # n [produce args...]
	local n=$1 t; shift
	t=$(topic produce)
	gen v "$n" | produce_lines "$t" "$@" || fail "produce failed"
	local got; got=$(consume "$t" "$n") || fail "consume failed"
	expect_records v "$n" 0 "$got"
	[ "$(cut -d: -f3 <<<"$got" | tr '\n' ' ')" = "$(seq -s ' ' 0 $((n - 1))) " ] || fail "offsets not 0..$((n - 1))"
}

sc_consume_latest() {
	local t; t=$(topic consume_latest)
	gen old 5 | produce_lines "$t" || fail "produce failed"
	kc -C -t "$t" -p 0 -c 5 -o end -f '%k:%s:%o\n' >"$TMP/latest" 2>>"$ERR" &
	local pid=$!
	sleep 2
	gen new 5 5 | produce_lines "$t" || fail "produce failed"
	wait_pid $pid 20 || fail "consumer at end did not get the 5 new records"
	expect_records new 5 5 "$(cat "$TMP/latest")"
}

sc_consume_timestamp() {
	local t; t=$(topic consume_timestamp)
	gen v 5 | produce_lines "$t" || fail "produce failed"
	sleep 1.1
	local ts; ts=$(($(date +%s%3N) - 5))
	gen v 5 5 | produce_lines "$t" || fail "produce failed"
	local got; got=$(kc -C -t "$t" -p 0 -c 5 -e -o "s@$ts" -f '%k:%s:%o\n') || fail "consume from s@ts failed"
	expect_records v 5 5 "$got"
}

group_commit_resume() { # extra -X args
	local t; t=$(topic group)
	gen v 10 | produce_lines "$t" || fail "produce failed"
	local g=g-$t
	# kcat -G stores the offsets of what it delivered and commits them on exit.
	local got; got=$(timeout 25 kcat -b "$B" -G "$g" -X auto.offset.reset=earliest "$@" -c 6 -f '%k:%s:%o\n' "$t" 2>>"$ERR") || fail "first member failed or timed out"
	expect_records v 6 0 "$got"
	got=$(timeout 25 kcat -b "$B" -G "$g" -X auto.offset.reset=earliest "$@" -c 4 -f '%k:%s:%o\n' "$t" 2>>"$ERR") || fail "second member failed or timed out"
	expect_records v 4 6 "$got"
}

sc_group_two_members() {
	local t; t=$(topic group_two_members)
	echo "k:v" | produce_lines "$t" || fail "produce failed"
	# kcat cannot create a topic with several partitions: the group
	# subscribes to two one-partition topics instead (round-robin assignor).
	local t2=$t-b
	echo "k:v" | produce_lines "$t2" || fail "produce failed"
	local g=g-$t
	kcat -b "$B" -G "$g" -X partition.assignment.strategy=roundrobin -f '' "$t" "$t2" 2>"$TMP/a" >/dev/null &
	local a=$!
	kcat -b "$B" -G "$g" -X partition.assignment.strategy=roundrobin -f '' "$t" "$t2" 2>"$TMP/b" >/dev/null &
	local b=$!
	local ok=
	for _ in $(seq 100); do
		if [ "$(assigned "$TMP/a")" = 1 ] && [ "$(assigned "$TMP/b")" = 1 ]; then ok=1; break; fi
		sleep 0.2
	done
	[ -n "$ok" ] || { kill $a $b 2>/dev/null; fail "two members never split the 2 partitions (a: $(assigned "$TMP/a"), b: $(assigned "$TMP/b"))"; }
	kill -TERM $b; wait $b 2>/dev/null
	ok=
	for _ in $(seq 100); do
		if [ "$(assigned "$TMP/a")" = 2 ]; then ok=1; break; fi
		sleep 0.2
	done
	kill -TERM $a 2>/dev/null; wait $a 2>/dev/null
	[ -n "$ok" ] || fail "after one member left the other owns $(assigned "$TMP/a") of 2 partitions"
}

# assigned FILE: partitions in the last "assigned:" rebalance line of a kcat -G stderr.
assigned() { grep 'rebalanced' "$1" | grep -o 'assigned: .*' | tail -1 | grep -o '\[[0-9]*\]' | wc -l; }

sc_transactions() {
	local t; t=$(topic transactions)
	echo "x:init" | produce_lines "$t" >/dev/null || fail "produce failed"
	local id=txn-$t
	gen committed-a 3 | kc -P -t "$t" -p 0 -K: -X transactional.id="$id" || fail "transaction A failed"
	# B: kcat aborts its transaction when interrupted before stdin ends. It
	# sends nothing of a small transaction before EOF, so B is large enough
	# (20000 records) to reach the broker before the interrupt.
	mkfifo "$TMP/in"
	kcat -b "$B" -P -t "$t" -p 0 -K: -X transactional.id="$id" <"$TMP/in" 2>>"$ERR" &
	local pid=$!
	exec 7>"$TMP/in"
	seq 1 20000 | sed 's/^/k:aborted-b/' >&7
	local sent=
	for _ in $(seq 50); do
		[ "$(kc -C -t "$t" -p 0 -e -o beginning -X isolation.level=read_uncommitted -f '%o\n' 2>/dev/null | wc -l)" -gt 4 ] && { sent=1; break; }
		sleep 0.2
	done
	kill -INT $pid
	exec 7>&-
	wait_pid $pid 15
	[ -n "$sent" ] || fail "transaction B never reached the broker before the interrupt"
	gen committed-c 3 | kc -P -t "$t" -p 0 -K: -X transactional.id="$id" || fail "transaction C failed"
	local got; got=$(kc -C -t "$t" -p 0 -e -o beginning -X isolation.level=read_committed -f '%k:%s\n') || fail "read_committed consume failed"
	local want; want=$(echo "x:init"; gen committed-a 3; gen committed-c 3)
	[ "$got" = "$want" ] || fail "read_committed saw: $(tr '\n' ' ' <<<"$got" | head -c 250)"
}

run_scenario() {
	case $1 in
	metadata) sc_metadata ;;
	topics_admin | configs) na "kcat has no admin operations (topics, partitions, configs)" ;;
	produce_none) produce_consume 50 ;;
	produce_gzip | produce_snappy | produce_lz4 | produce_zstd) produce_consume 50 -X compression.codec="${1#produce_}" ;;
	acks_0) produce_consume 10 -X topic.request.required.acks=0 ;;
	acks_1) produce_consume 10 -X topic.request.required.acks=1 ;;
	acks_all) produce_consume 10 -X topic.request.required.acks=all ;;
	idempotent) produce_consume 100 -X enable.idempotence=true ;;
	roundtrip) na "kcat cannot set a record's timestamp, and gives every record of a run the same headers" ;;
	consume_earliest) produce_consume 10 ;;
	consume_latest) sc_consume_latest ;;
	consume_timestamp) sc_consume_timestamp ;;
	group_commit_resume) group_commit_resume ;;
	group_two_members) sc_group_two_members ;;
	transactions_read_committed) sc_transactions ;;
	static_membership) group_commit_resume -X group.instance.id=static-1 ;;
	kip848) na "kcat 1.7.1 (Debian) bundles librdkafka 2.0.2, which predates group.protocol=consumer (librdkafka 2.4+)" ;;
	produce_record_errors) na "kcat has no admin operations (a compacted topic), and its librdkafka 2.0.2 predates per-record errors (librdkafka 2.4+, KIP-467)" ;;
	share_group) na "kcat has no share consumer (KIP-932), and its librdkafka 2.0.2 predates librdkafka's" ;;
	streams_group_protocol) na "Kafka Streams (KIP-1071) is a Java library, not something kcat can run" ;;
	client_telemetry) na "kcat's librdkafka 2.0.2 predates client metrics push (KIP-714, librdkafka 2.5+), and kcat cannot make a subscription" ;;
	log_dirs) na "kcat has no admin operations (DescribeLogDirs)" ;;
	features) na "kcat has no admin operations (UpdateFeatures, DescribeQuorum)" ;;
	*) fail "unknown scenario" ;;
	esac
}

run_all
