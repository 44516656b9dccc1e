#!/usr/bin/env bash
# Compat driver for Moldau's own admin CLI (`moldau topic|produce|consume|
# group|cluster`), which speaks the Kafka protocol through franz-go and must
# work against any broker:
#   moldau-cli.sh MOLDAU_BINARY BOOTSTRAP scenario[,scenario...]
# Prints one JSON line per scenario.
set -uo pipefail
M=$1
B=$2
IFS=, read -ra SCENARIOS <<<"$3"
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
client=moldau-cli
# m VERB... : one CLI call; subcommands with verbs take --bootstrap after the verb.
m() {
	case $1 in
	topic | group | cluster) "$M" "$1" "$2" --bootstrap "$B" --timeout 20s "${@:3}" ;;
	*) "$M" "$1" --bootstrap "$B" --timeout 20s "${@:2}" ;;
	esac
}
gen() { local p=$1 n=$2 from=${3:-0}; for ((i = from; i < from + n; i++)); do echo "k$i:$p$i"; done; }
# consume_lines TOPIC COUNT [args...]: "key:value:offset" lines of partition 0
consume_lines() { local t=$1 n=$2; shift 2; m consume --topic "$t" --partition 0 --count "$n" --format '%k:%v:%o\n' "$@"; }
expect_records() { # want_prefix n from got
	local want got=$4
	want=$(for ((i = $3; i < $3 + $2; i++)); do echo "k$i:$1$i"; done)
	[ "$(cut -d: -f1,2 <<<"$got")" = "$want" ] || fail "consumed $(wc -l <<<"$got") records, not the $2 produced: $(head -c 200 <<<"$got")"
}
create() { m topic create --partitions "${2:-1}" "$1" >/dev/null || fail "topic create $1: $(errtail 2)"; }
# json_check JSON PYTHON_EXPR_ON_d: fails the scenario when the expression is false.
json_check() {
	python3 - "$1" "$2" <<'PY' || fail "$3: $(head -c 300 <<<"$1")"
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

sc_metadata() {
	local t; t=$(topic metadata)
	create "$t" 3
	local info; info=$(m cluster info --json) || fail "cluster info: $(errtail 2)"
	json_check "$info" 'len(d) >= 1 and all(r["address"] for r in d) and '"${COMPAT_BROKERS:-0}"' in (0, len(d))' "cluster info (want ${COMPAT_BROKERS:-at least 1} brokers)"
	local desc; desc=$(m topic describe --json "$t") || fail "topic describe: $(errtail 2)"
	json_check "$desc" 'len([r for r in d if "partition" in r]) == 3 and all(int(r["leader"]) >= 0 for r in d if "leader" in r)' "describe: 3 partitions with leaders"
}

sc_topics_admin() {
	local t; t=$(topic admin)
	create "$t" 2
	local l; l=$(m topic list) || fail "topic list: $(errtail 2)"
	grep "^$t " <<<"$l" >/dev/null || fail "list does not show $t"
	m topic add-partitions --partitions 4 "$t" >/dev/null || fail "add-partitions: $(errtail 2)"
	local desc; desc=$(m topic describe --json "$t") || fail "describe: $(errtail 2)"
	json_check "$desc" 'len([r for r in d if "partition" in r]) == 4' "describe after add-partitions"
	m topic delete "$t" >/dev/null || fail "delete: $(errtail 2)"
	for _ in $(seq 50); do
		l=$(m topic list) || fail "topic list: $(errtail 2)"
		grep "^$t " <<<"$l" >/dev/null || return 0
		sleep 0.2
	done
	fail "$t still listed after delete"
}

sc_configs() {
	local t; t=$(topic configs)
	m topic create --partitions 1 --config retention.ms=123456789 "$t" >/dev/null || fail "create with config: $(errtail 2)"
	m topic describe "$t" | grep "retention.ms *123456789" >/dev/null || fail "describe does not show retention.ms=123456789"
	m topic alter-config --config retention.ms=987654321 "$t" >/dev/null || fail "alter-config: $(errtail 2)"
	m topic describe "$t" | grep "retention.ms *987654321" >/dev/null || fail "describe after alter does not show retention.ms=987654321"
	m topic alter-config --delete-config retention.ms "$t" >/dev/null || fail "alter-config --delete-config: $(errtail 2)"
	! m topic describe "$t" | grep "retention.ms" >/dev/null || fail "retention.ms still overridden after --delete-config"
}

produce_consume() { # n [produce args...]
	local n=$1 t; shift
	t=$(topic produce)
	create "$t"
	gen v "$n" | m produce --topic "$t" --partition 0 --key-sep : "$@" || fail "produce: $(errtail 2)"
	local got; got=$(consume_lines "$t" "$n") || fail "consume: $(errtail 2)"
	expect_records v "$n" 0 "$got"
	[ "$(cut -d: -f3 <<<"$got" | tr '\n' ' ')" = "$(seq -s ' ' 0 $((n - 1))) " ] || fail "offsets not 0..$((n - 1))"
}

sc_consume_latest() {
	local t; t=$(topic consume_latest)
	create "$t"
	gen old 5 | m produce --topic "$t" --partition 0 --key-sep : || fail "produce: $(errtail 2)"
	consume_lines "$t" 5 --from end >"$TMP/latest" 2>>"$ERR" &
	local pid=$!
	sleep 2
	gen new 5 5 | m produce --topic "$t" --partition 0 --key-sep : || fail "produce: $(errtail 2)"
	wait_pid $pid 25 || fail "consumer at the end did not get the 5 new records"
	expect_records new 5 5 "$(cat "$TMP/latest")"
}

sc_consume_timestamp() {
	local t; t=$(topic consume_timestamp)
	create "$t"
	gen v 5 | m produce --topic "$t" --partition 0 --key-sep : || fail "produce: $(errtail 2)"
	sleep 1.1
	local ts; ts=$(($(date +%s%3N) - 5))
	gen v 5 5 | m produce --topic "$t" --partition 0 --key-sep : || fail "produce: $(errtail 2)"
	local got; got=$(consume_lines "$t" 5 --from "@$ts") || fail "consume from @ts: $(errtail 2)"
	expect_records v 5 5 "$got"
}

sc_group_commit_resume() {
	local t; t=$(topic group)
	create "$t" 2
	gen v 10 | m produce --topic "$t" --key-sep : || fail "produce: $(errtail 2)"
	local g=g-$t
	local a; a=$(m consume --topic "$t" --group "$g" --count 6 --format '%k\n') || fail "first member: $(errtail 2)"
	local b; b=$(m consume --topic "$t" --group "$g" --count 4 --format '%k\n') || fail "second member: $(errtail 2)"
	[ "$( (echo "$a"; echo "$b") | sort)" = "$(gen v 10 | cut -d: -f1 | sort)" ] || fail "the two runs did not read the 10 records once each: $(echo $a $b)"
	local desc; desc=$(m group describe --json "$g") || fail "group describe: $(errtail 2)"
	json_check "$desc" 'sum(int(r["committed"]) for r in d) == 10 and all(r["lag"] == "0" for r in d)' "group describe: committed 10, lag 0"
	m group reset-offsets --topic "$t" --to earliest "$g" >/dev/null || fail "reset-offsets: $(errtail 2)"
	local again; again=$(m consume --topic "$t" --group "$g" --count 10 --format '%k\n' | sort) || fail "after reset: $(errtail 2)"
	[ "$again" = "$(gen v 10 | cut -d: -f1 | sort)" ] || fail "after reset-offsets to earliest the group did not re-read all 10"
	m group delete "$g" >/dev/null || fail "group delete: $(errtail 2)"
	local gl; gl=$(m group list) || fail "group list: $(errtail 2)"
	! grep "^$g " <<<"$gl" >/dev/null || fail "group still listed after delete"
}

sc_transactions() {
	# The CLI has no transactional producer; it reads read_committed. Abort
	# and commit are the other drivers'; here: plain records are visible.
	local t; t=$(topic txn)
	create "$t"
	gen v 3 | m produce --topic "$t" --partition 0 --key-sep : || fail "produce: $(errtail 2)"
	local got; got=$(consume_lines "$t" 3 --isolation read_committed) || fail "read_committed consume: $(errtail 2)"
	expect_records v 3 0 "$got"
	na "the CLI has no transactional producer (it reads read_committed: checked)"
}

run_scenario() {
	case $1 in
	metadata) sc_metadata ;;
	topics_admin) sc_topics_admin ;;
	configs) sc_configs ;;
	produce_none) produce_consume 50 ;;
	produce_gzip | produce_snappy | produce_lz4 | produce_zstd) produce_consume 50 --compression "${1#produce_}" ;;
	acks_0) produce_consume 10 --acks 0 ;;
	acks_1) produce_consume 10 --acks 1 ;;
	acks_all) produce_consume 10 --acks all ;;
	idempotent) produce_consume 100 --acks all ;; # franz-go: idempotent unless acks is 0 or 1
	roundtrip) na "the CLI produces lines (key and value), without headers or timestamps" ;;
	consume_earliest) produce_consume 10 ;;
	consume_latest) sc_consume_latest ;;
	consume_timestamp) sc_consume_timestamp ;;
	group_commit_resume) sc_group_commit_resume ;;
	group_two_members) na "the CLI consumer is one member at a time (inspection tool); splitting is covered by the client drivers" ;;
	transactions_read_committed) sc_transactions ;;
	static_membership) na "the CLI has no static membership option" ;;
	kip848) na "the CLI consumer uses the classic group protocol" ;;
	produce_record_errors) na "the CLI producer (franz-go) fails every record of a refused batch with the partition error; it reports no per-record errors (KIP-467)" ;;
	share_group) na "the CLI consumer joins classic consumer groups only; it has no share-group mode (KIP-932)" ;;
	streams_group_protocol) na "Kafka Streams (KIP-1071) is a Java library, not something the CLI can run" ;;
	client_telemetry) na "the CLI pushes no client metrics (KIP-714) and has no client-metrics command" ;;
	log_dirs) na "the CLI has no log-dirs command (DescribeLogDirs)" ;;
	features) na "the CLI has no features or quorum command (UpdateFeatures, DescribeQuorum)" ;;
	*) fail "unknown scenario" ;;
	esac
}

run_all
