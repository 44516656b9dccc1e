# Shared by the shell drivers (kcat.sh, driver.sh). A scenario function runs
# in a subshell: `fail REASON` / `na REASON` end it; returning 0 is a pass.
# Each driver defines run_scenario NAME and $client, then calls run_all.
TMP=$(mktemp -d)
ERR=$TMP/stderr
trap 'rm -rf "$TMP"' EXIT
SCENARIO_TIMEOUT=${SCENARIO_TIMEOUT:-60}

fail() { echo "FAIL:$*" >"$TMP/result"; exit 1; }
na() { echo "NA:$*" >"$TMP/result"; exit 2; }
topic() { echo "compat-$1-$RANDOM$RANDOM"; }

# wait_pid PID SECONDS: wait for a background process, killing it on timeout.
wait_pid() {
	local pid=$1 left=$(($2 * 10))
	while kill -0 "$pid" 2>/dev/null; do
		# The scenario's subshell defers TERM while it waits for a foreground
		# child (say a consumer waiting for records that never come): stop
		# its children too, or they outlive the driver.
		((left-- > 0)) || { pkill -TERM -P "$pid" 2>/dev/null; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; return 1; }
		sleep 0.1
	done
	wait "$pid"
}

json_line() {
	python3 -c 'import json,sys; print(json.dumps({"client":sys.argv[1],"scenario":sys.argv[2],"result":sys.argv[3],"reason":sys.argv[4][:400]}))' "$@"
}

run_all() {
	local s result reason
	for s in "${SCENARIOS[@]}"; do
		rm -f "$TMP/result"
		: >"$ERR"
		(run_scenario "$s") 2>>"$ERR" &
		local pid=$!
		if wait_pid $pid "$SCENARIO_TIMEOUT"; then
			result=pass reason=
		else
			case $(cat "$TMP/result" 2>/dev/null) in
			NA:*) result=na reason=$(sed 's/^NA://' "$TMP/result") ;;
			FAIL:*) result=fail reason=$(sed 's/^FAIL://' "$TMP/result") ;;
			*) result=fail reason="scenario exited without a result or ran past ${SCENARIO_TIMEOUT}s; stderr: $(tail -c 200 "$ERR")" ;;
			esac
		fi
		sed "s/^/[$s] /" "$ERR" >&2
		json_line "$client" "$s" "$result" "$reason"
	done
}

# errtail N: the last N lines of the scenario's stderr, without SLF4J noise.
errtail() { grep -v '^SLF4J' "$ERR" | tail -"$1" | tr '\n' ' '; }
