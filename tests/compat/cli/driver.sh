#!/usr/bin/env bash
# Compat driver for Apache Kafka's command-line tools, run from the Maven
# jars (kafka/pom.xml) with java -cp, as the kafka-*.sh scripts do:
#   driver.sh BOOTSTRAP scenario[,scenario...]
# Tools used: kafka-topics, kafka-configs, kafka-console-producer,
# kafka-console-consumer, kafka-get-offsets, kafka-consumer-groups,
# kafka-transactions, kafka-producer-perf-test, kafka-consumer-perf-test,
# and for issue #17's APIs kafka-share-groups, kafka-console-share-consumer,
# kafka-streams-groups, kafka-features, kafka-metadata-quorum, kafka-log-dirs,
# kafka-client-metrics.
set -uo pipefail
B=$1
IFS=, read -ra SCENARIOS <<<"$2"
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
client=kafka-cli
SCENARIO_TIMEOUT=90
libs=${COMPAT_CACHE:-$here/../.cache}/kafka-4.4.0/libs
tool() {
	local cls=$1; shift
	java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.level=off -cp "$libs/*" "$cls" "$@"
}
kafka_topics() { tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$B" "$@"; }
kafka_configs() { tool org.apache.kafka.tools.ConfigCommand --bootstrap-server "$B" "$@"; }
kafka_groups() { tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$B" "$@"; }
kafka_get_offsets() { tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$B" "$@"; }
kafka_transactions() { tool org.apache.kafka.tools.TransactionsCommand --bootstrap-server "$B" "$@"; }
console_producer() { # TOPIC [producer properties...] < "key:value" lines
	local t=$1; shift
	local props=()
	for p in "$@"; do props+=(--command-property "$p"); done
	tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$B" --topic "$t" \
		--reader-property parse.key=true --reader-property key.separator=: "${props[@]}"
}
console_consumer() { # TOPIC [args...]: prints key:value lines
	local t=$1; shift
	tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$B" --topic "$t" \
		--formatter-property print.key=true --formatter-property key.separator=: --timeout-ms "${CC_TIMEOUT:-20000}" "$@"
}
gen() { local p=$1 n=$2 from=${3:-0}; for ((i = from; i < from + n; i++)); do echo "k$i:$p$i"; done; }
expect_records() { # prefix n from got
	local want; want=$(gen "$1" "$2" "$3")
	[ "$4" = "$want" ] || fail "consumed $(grep -c . <<<"$4") records, not the $2 produced: $(head -c 200 <<<"$4" | tr '\n' ' ')"
}
create() { kafka_topics --create --topic "$1" --partitions "${2:-1}" --replication-factor "${COMPAT_RF:-1}" "${@:3}" >/dev/null || fail "kafka-topics --create failed: $(errtail 3)"; }

sc_metadata() {
	local t; t=$(topic metadata)
	create "$t" 3
	local d; d=$(kafka_topics --describe --topic "$t") || fail "describe failed"
	grep -q "PartitionCount: 3" <<<"$d" || fail "describe: $(head -1 <<<"$d")"
	[ "$(grep -c 'Leader: [0-9]' <<<"$d")" = 3 ] || fail "not every partition has a leader: $d"
}

sc_topics_admin() {
	local t; t=$(topic topics_admin)
	create "$t" 2
	kafka_topics --list | grep -x "$t" >/dev/null || fail "--list does not include the new topic"
	kafka_topics --alter --topic "$t" --partitions 3 >/dev/null || fail "--alter --partitions 3 failed"
	kafka_topics --describe --topic "$t" | grep "PartitionCount: 3" >/dev/null || fail "not 3 partitions after --alter"
	kafka_topics --delete --topic "$t" >/dev/null || fail "--delete failed"
	for _ in $(seq 20); do
		kafka_topics --list | grep -x "$t" >/dev/null || return 0
		sleep 0.5
	done
	fail "topic still listed after --delete"
}

sc_configs() {
	local t; t=$(topic configs)
	create "$t" 1 --config retention.ms=3600000
	kafka_configs --describe --entity-type topics --entity-name "$t" | grep "retention.ms=3600000" >/dev/null || fail "kafka-configs --describe does not show retention.ms=3600000"
	kafka_configs --alter --entity-type topics --entity-name "$t" --add-config retention.ms=7200000 >/dev/null || fail "kafka-configs --alter failed"
	kafka_configs --describe --entity-type topics --entity-name "$t" | grep "retention.ms=7200000" >/dev/null || fail "retention.ms not 7200000 after --alter"
}

produce_consume() { # n [producer properties...]
	local n=$1 t; shift
	t=$(topic produce)
	create "$t" 1
	gen v "$n" | console_producer "$t" "$@" || fail "console producer failed: $(errtail 3)"
	local got; got=$(console_consumer "$t" --partition 0 --offset earliest --max-messages "$n") || fail "console consumer failed"
	expect_records v "$n" 0 "$got"
}

# acks=all through the perf tools: 1000 records produced, 1000 consumed.
sc_perf() {
	local t; t=$(topic perf)
	create "$t" 1
	local out; out=$(tool org.apache.kafka.tools.ProducerPerformance --topic "$t" --num-records 1000 --record-size 100 \
		--throughput -1 --producer-props bootstrap.servers="$B" acks=all) || fail "kafka-producer-perf-test failed"
	grep -q "^1000 records sent" <<<"$out" || fail "producer-perf-test: $(tail -1 <<<"$out")"
	out=$(tool org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$B" --topic "$t" --messages 1000 --timeout 20000) ||
		fail "kafka-consumer-perf-test failed: $(errtail 2)"
	# data line: start, end, MB, MB/s, nMsg, ...
	[ "$(tail -1 <<<"$out" | cut -d, -f5 | tr -d ' ')" = 1000 ] || fail "consumer-perf-test: $(tail -1 <<<"$out")"
}

sc_consume_latest() {
	local t; t=$(topic consume_latest)
	create "$t" 1
	gen old 5 | console_producer "$t" || fail "produce failed"
	console_consumer "$t" --partition 0 --offset latest --max-messages 5 >"$TMP/latest" 2>>"$ERR" &
	local pid=$!
	sleep 5 # JVM start and offset resolution
	gen new 5 5 | console_producer "$t" || fail "produce failed"
	wait_pid $pid 30 || fail "consumer at latest did not get the 5 new records"
	expect_records new 5 5 "$(cat "$TMP/latest")"
}

sc_consume_timestamp() {
	local t; t=$(topic consume_timestamp)
	create "$t" 1
	gen v 5 | console_producer "$t" || fail "produce failed"
	sleep 1.1
	local ts; ts=$(($(date +%s%3N) - 5))
	gen v 5 5 | console_producer "$t" || fail "produce failed"
	local off; off=$(kafka_get_offsets --topic "$t" --partitions 0 --time "$ts") || fail "kafka-get-offsets failed"
	[ "$off" = "$t:0:5" ] || fail "kafka-get-offsets --time: $off, want $t:0:5"
	local got; got=$(console_consumer "$t" --partition 0 --offset 5 --max-messages 5) || fail "consume from offset 5 failed"
	expect_records v 5 5 "$got"
}

group_commit_resume() { # extra consumer properties
	local t; t=$(topic group)
	create "$t" 1
	gen v 10 | console_producer "$t" || fail "produce failed"
	local g=g-$t props=(--command-property max.poll.records=1)
	for p in "$@"; do props+=(--command-property "$p"); done
	# The console consumer commits its position when it closes.
	local got; got=$(console_consumer "$t" --group "$g" --from-beginning --max-messages 6 "${props[@]}") || fail "first member failed: $(errtail 2)"
	expect_records v 6 0 "$got"
	local d; d=$(kafka_groups --describe --group "$g" --offsets) || fail "kafka-consumer-groups --describe failed"
	awk -v t="$t" '$2 == t && $3 == 0 { print $4 }' <<<"$d" | grep -qx 6 || fail "kafka-consumer-groups shows no committed offset 6: $(tr -s ' \n' ' ' <<<"$d" | head -c 250)"
	got=$(console_consumer "$t" --group "$g" --max-messages 4 "${props[@]}") || fail "second member failed"
	expect_records v 4 6 "$got"
}

# stop_bg PID: a background console_consumer is a subshell running java:
# SIGTERM its java child (a clean close that leaves the group), then reap.
stop_bg() { pkill -TERM -P "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

sc_group_two_members() {
	local t; t=$(topic group_two_members)
	create "$t" 4
	local g=g-$t
	CC_TIMEOUT=60000 console_consumer "$t" --group "$g" >/dev/null 2>>"$ERR" &
	local a=$!
	CC_TIMEOUT=60000 console_consumer "$t" --group "$g" >/dev/null 2>>"$ERR" &
	local b=$!
	# --members: GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS
	local ok=
	for _ in $(seq 40); do
		[ "$(kafka_groups --describe --group "$g" --members 2>/dev/null | awk '$5 ~ /^[0-9]+$/ && $5 > 0 { n++; s += $5 } END { print n "/" s }')" = 2/4 ] && { ok=1; break; }
		sleep 0.5
	done
	[ -n "$ok" ] || { stop_bg $a; stop_bg $b; fail "two members never split the 4 partitions"; }
	stop_bg $b
	ok=
	for _ in $(seq 40); do
		[ "$(kafka_groups --describe --group "$g" --members 2>/dev/null | awk '$5 ~ /^[0-9]+$/ && $5 > 0 { n++; s += $5 } END { print n "/" s }')" = 1/4 ] && { ok=1; break; }
		sleep 0.5
	done
	stop_bg $a
	[ -n "$ok" ] || fail "after one member left the other does not own all 4 partitions"
}

# The CLI cannot abort a transaction it opened: the perf test commits
# transactions; kafka-transactions describes the state; a read_committed
# console consumer reads them.
sc_transactions() {
	local t; t=$(topic transactions)
	create "$t" 1
	local id=txn-$t
	tool org.apache.kafka.tools.ProducerPerformance --topic "$t" --num-records 100 --record-size 10 --throughput -1 \
		--transactional-id "$id" --transaction-duration-ms 100 --producer-props bootstrap.servers="$B" max.block.ms=15000 >/dev/null ||
		fail "kafka-producer-perf-test --transactional-id failed: $(errtail 2)"
	kafka_transactions describe --transactional-id "$id" | grep "CompleteCommit\|Empty" >/dev/null || fail "kafka-transactions describe does not show a committed transaction"
	local got; got=$(console_consumer "$t" --partition 0 --offset earliest --max-messages 100 --isolation-level read_committed | wc -l)
	[ "$got" = 100 ] || fail "read_committed console consumer read $got of 100 records"
}

kafka_share_groups() { tool org.apache.kafka.tools.consumer.group.ShareGroupCommand --bootstrap-server "$B" "$@"; }
console_share_consumer() { # TOPIC GROUP [args...]: prints "Delivery:N<TAB>key<TAB>value" lines
	local t=$1 g=$2; shift 2
	tool org.apache.kafka.tools.consumer.ConsoleShareConsumer --bootstrap-server "$B" --topic "$t" --group "$g" \
		--formatter-property print.key=true --formatter-property print.delivery=true "$@"
}

# share_group (KIP-932): 20 records; the group's share.auto.offset.reset is
# set with kafka-configs --entity-type groups; one console share consumer
# RELEASEs a record (--release --max-messages 1; closing releases the rest of
# what it acquired, counted as delivered); then two console share consumers
# (ACCEPT) run side by side: together they print every record exactly once,
# the first released one with delivery count 2, and kafka-share-groups
# --describe --members shows both. Afterwards --describe --offsets shows lag
# 0, --reset-offsets --to-latest --execute moves the start offsets to the
# ends (20 in all), --delete-offsets and --delete remove them and the group.
sc_share_group() {
	local t; t=$(topic share_group)
	local g=sg-$t
	create "$t" 2
	kafka_configs --alter --entity-type groups --entity-name "$g" --add-config share.auto.offset.reset=earliest >/dev/null ||
		fail "kafka-configs --entity-type groups --add-config share.auto.offset.reset=earliest failed: $(errtail 2)"
	gen v 20 | console_producer "$t" || fail "produce failed: $(errtail 2)"
	local rel; rel=$(console_share_consumer "$t" "$g" --release --max-messages 1 --command-property max.poll.records=1 --timeout-ms 20000) ||
		fail "releasing console share consumer failed: $(errtail 2)"
	grep -q "^Delivery:1	k" <<<"$rel" || fail "releasing consumer printed no first delivery: $rel"
	local key; key=$(cut -f2 <<<"$rel" | head -1)
	console_share_consumer "$t" "$g" --timeout-ms 8000 >"$TMP/share1" 2>>"$ERR" &
	local a=$!
	console_share_consumer "$t" "$g" --timeout-ms 8000 >"$TMP/share2" 2>>"$ERR" &
	local b=$!
	local ok=
	for _ in $(seq 60); do
		[ "$(kafka_share_groups --describe --group "$g" --members 2>/dev/null | grep -c "$g")" = 2 ] && { ok=1; break; }
		sleep 0.3
	done
	wait_pid $a 40 || fail "share consumer 1 did not exit"
	wait_pid $b 40 || fail "share consumer 2 did not exit"
	[ -n "$ok" ] || fail "kafka-share-groups --describe --members never showed two members"
	local all; all=$(cat "$TMP/share1" "$TMP/share2")
	[ "$(cut -f2 <<<"$all" | sort)" = "$(gen v 20 | cut -d: -f1 | sort)" ] ||
		fail "the two share consumers printed $(grep -c . <<<"$all") records, not each of the 20 once: $(cut -f2 <<<"$all" | sort | tr '\n' ' ')"
	grep -q "^Delivery:2	$key	" <<<"$all" || fail "released record $key not redelivered with delivery count 2: $(grep "	$key	" <<<"$all")"
	local d; d=$(kafka_share_groups --describe --group "$g" --offsets) || fail "kafka-share-groups --describe --offsets failed: $(errtail 2)"
	# GROUP TOPIC PARTITION START-OFFSET LAG
	[ "$(awk -v t="$t" '$2 == t && $5 == 0 { n++ } END { print n + 0 }' <<<"$d")" = 2 ] ||
		fail "kafka-share-groups --describe --offsets: lag not 0 on both partitions: $(tr -s ' \n' ' ' <<<"$d")"
	kafka_share_groups --reset-offsets --to-latest --execute --group "$g" --topic "$t" >/dev/null || fail "--reset-offsets --to-latest --execute failed: $(errtail 2)"
	d=$(kafka_share_groups --describe --group "$g" --offsets) || fail "--describe --offsets failed"
	[ "$(awk -v t="$t" '$2 == t { s += $4 } END { print s + 0 }' <<<"$d")" = 20 ] ||
		fail "start offsets after --reset-offsets --to-latest do not sum to 20: $(tr -s ' \n' ' ' <<<"$d")"
	kafka_share_groups --delete-offsets --group "$g" --topic "$t" >/dev/null || fail "--delete-offsets failed: $(errtail 2)"
	kafka_share_groups --delete --group "$g" >/dev/null || fail "--delete failed: $(errtail 2)"
	kafka_share_groups --list | grep -qx "$g" && fail "kafka-share-groups --list still lists $g after --delete"
	return 0
}

# log_dirs: kafka-log-dirs --describe lists the topic's 3 partitions with
# a size > 0 after producing 30 records.
sc_log_dirs() {
	local t; t=$(topic log_dirs)
	create "$t" 3
	gen v 30 | console_producer "$t" || fail "produce failed"
	local out; out=$(tool org.apache.kafka.tools.LogDirsCommand --bootstrap-server "$B" --describe --topic-list "$t") || fail "kafka-log-dirs failed: $(errtail 2)"
	grep '^{' <<<"$out" >"$TMP/logdirs.json"
	python3 - "$t" "$TMP/logdirs.json" >"$TMP/logdirs" 2>&1 <<'PY' || fail "kafka-log-dirs: $(tail -1 "$TMP/logdirs")"
import json, sys
t = sys.argv[1]
sizes = {}
for b in json.load(open(sys.argv[2]))["brokers"]:
    for d in b["logDirs"]:
        if d.get("error"):
            sys.exit("log dir %s: %s" % (d["logDir"], d["error"]))
        for p in d["partitions"]:
            topic, _, part = p["partition"].rpartition("-")
            if topic == t:
                sizes[part] = min(sizes.get(part, p["size"]), p["size"])
if len(sizes) != 3 or min(sizes.values()) <= 0:
    sys.exit("partition sizes %s, want 3 partitions with a size > 0" % sizes)
PY
}

# client_telemetry (KIP-714): kafka-client-metrics --alter makes a
# subscription for one client id (500 ms), --describe and --list show it;
# kafka-producer-perf-test runs 3 s as that client with the telemetry
# reporter's debug log on: the log must show our subscription (interval 500)
# and a push answered with success (PUSH_IN_PROGRESS -> PUSH_NEEDED, which
# only a successful PushTelemetry response does).
sc_client_telemetry() {
	local t; t=$(topic client_telemetry)
	create "$t" 1
	local cid=compat-telemetry-$RANDOM$RANDOM
	local sub=sub-$cid cm=(tool org.apache.kafka.tools.ClientMetricsCommand --bootstrap-server "$B")
	"${cm[@]}" --alter --name "$sub" --metrics org.apache.kafka.producer. --interval 500 --match "client_id=$cid" >/dev/null ||
		fail "kafka-client-metrics --alter failed: $(errtail 2)"
	"${cm[@]}" --describe --name "$sub" | grep -q "interval.ms=500" || fail "kafka-client-metrics --describe does not show interval.ms=500"
	"${cm[@]}" --list | grep -qx "$sub" || fail "kafka-client-metrics --list does not list $sub"
	# The tools' jars bring no SLF4J binding: slf4j-simple from the Streams
	# jars (setup.sh), at debug for the telemetry reporter only.
	local simple; simple=$(ls "$libs"/../../streams-4.4.0/slf4j-simple-*.jar 2>/dev/null | head -1)
	[ -n "$simple" ] || fail "slf4j-simple missing from .cache/streams-4.4.0: run tests/compat/setup.sh"
	java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dorg.slf4j.simpleLogger.defaultLogLevel=off \
		-Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.telemetry=debug -cp "$libs/*:$simple" \
		org.apache.kafka.tools.ProducerPerformance --topic "$t" --num-records 30 --record-size 10 --throughput 10 \
		--producer-props bootstrap.servers="$B" client.id="$cid" enable.metrics.push=true >/dev/null 2>"$TMP/telemetry.log" ||
		fail "kafka-producer-perf-test failed: $(tail -3 "$TMP/telemetry.log" | tr '\n' ' ')"
	cat "$TMP/telemetry.log" >>"$ERR"
	grep -q "Updating subscription - subscription: .*pushIntervalMs=500" "$TMP/telemetry.log" ||
		fail "the producer never got the subscription (interval 500 ms) from GetTelemetrySubscriptions"
	grep -q "Setting telemetry state from PUSH_IN_PROGRESS to PUSH_NEEDED" "$TMP/telemetry.log" ||
		fail "no PushTelemetry answered with success (telemetry states: $(grep -o 'from [A-Z_]* to [A-Z_]*' "$TMP/telemetry.log" | sort -u | tr '\n' ' '))"
	"${cm[@]}" --delete --name "$sub" >/dev/null 2>&1 || "${cm[@]}" --alter --name "$sub" --metrics "" >/dev/null 2>&1 || true
}

# features: kafka-features describe shows Kafka 4.4's finalized levels
# (group.version 1, transaction.version 2, share.version 1, streams.version
# 1, or higher), kafka-features upgrade --dry-run of group.version to its
# level succeeds (UpdateFeatures validate-only), kafka-metadata-quorum
# describe --status names a leader (DescribeQuorum).
sc_features() {
	local d; d=$(tool org.apache.kafka.tools.FeatureCommand --bootstrap-server "$B" describe) || fail "kafka-features describe failed: $(errtail 2)"
	local f want got
	for f in group.version:1 transaction.version:2 share.version:1 streams.version:1; do
		want=${f#*:}
		got=$(awk -v n="${f%:*}" '$2 == n { for (i = 3; i < NF; i++) if ($i == "FinalizedVersionLevel:") print $(i + 1) }' <<<"$d")
		[ -n "$got" ] && [ "$got" -ge "$want" ] 2>/dev/null || fail "kafka-features describe: ${f%:*} finalized at '${got}', want >= $want"
	done
	local g; g=$(awk '$2 == "group.version" { for (i = 3; i < NF; i++) if ($i == "FinalizedVersionLevel:") print $(i + 1) }' <<<"$d")
	tool org.apache.kafka.tools.FeatureCommand --bootstrap-server "$B" upgrade --feature "group.version=$g" --dry-run >/dev/null ||
		fail "kafka-features upgrade --feature group.version=$g --dry-run failed: $(errtail 2)"
	local q; q=$(tool org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$B" describe --status) || fail "kafka-metadata-quorum describe --status failed: $(errtail 2)"
	grep -Eq '^LeaderId: +[0-9]+$' <<<"$q" || fail "kafka-metadata-quorum: no leader: $(head -3 <<<"$q" | tr '\n' ' ')"
}

# streams_group_protocol: the CLI cannot run a Streams application; it
# describes one: a Kafka Streams app is the java-4.4 driver's, so here
# kafka-streams-groups --list must answer (ListGroups by type streams).
sc_streams_groups() {
	tool org.apache.kafka.tools.streams.StreamsGroupCommand --bootstrap-server "$B" --list >/dev/null ||
		fail "kafka-streams-groups --list failed: $(errtail 2)"
	na "the CLI cannot run a Kafka Streams application (kafka-streams-groups --list answered; the app is the java-4.4 driver's)"
}

run_scenario() {
	case $1 in
	metadata) sc_metadata ;;
	topics_admin) sc_topics_admin ;;
	configs) sc_configs ;;
	produce_none) produce_consume 50 ;;
	produce_gzip | produce_snappy | produce_lz4 | produce_zstd) produce_consume 50 compression.type="${1#produce_}" ;;
	acks_0) produce_consume 10 acks=0 enable.idempotence=false ;;
	acks_1) produce_consume 10 acks=1 enable.idempotence=false ;;
	acks_all) sc_perf ;;
	idempotent) produce_consume 100 enable.idempotence=true acks=all ;;
	roundtrip) na "kafka-console-producer cannot set a record's timestamp (it parses keys and headers only)" ;;
	consume_earliest) produce_consume 10 ;;
	consume_latest) sc_consume_latest ;;
	consume_timestamp) sc_consume_timestamp ;;
	group_commit_resume) group_commit_resume ;;
	group_two_members) sc_group_two_members ;;
	transactions_read_committed) sc_transactions ;;
	static_membership) group_commit_resume group.instance.id=static-1 ;;
	kip848) group_commit_resume group.protocol=consumer ;;
	produce_record_errors) na "kafka-console-producer stops at the first failed send; it reports no per-record errors (KIP-467)" ;;
	share_group) sc_share_group ;;
	streams_group_protocol) sc_streams_groups ;;
	client_telemetry) sc_client_telemetry ;;
	log_dirs) sc_log_dirs ;;
	features) sc_features ;;
	*) fail "unknown scenario" ;;
	esac
}

run_all
