"""Scenario logic shared by the Python drivers (tests/compat/scenarios).

A driver module defines an adapter class with the operations below and calls
main(adapter_factory, client_name). Each scenario prints one JSON line:
{"client", "scenario", "result": pass|fail|na, "reason"}. An operation the
client cannot express raises NA(reason).
"""
import json
import os
import random
import sys
import threading
import time
import traceback

# Replication factor of the topics the scenarios create: $COMPAT_RF (the
# runner sets 3 against a three-broker cluster, -cluster), else 1.
RF = int(os.environ.get("COMPAT_RF") or "1")
# Broker count Metadata must list: $COMPAT_BROKERS (1, or 3 with -cluster);
# 0 when unset (then at least one).
BROKERS = int(os.environ.get("COMPAT_BROKERS") or "0")


class NA(Exception):
    pass


class Fail(Exception):
    pass


def check(ok, msg):
    if not ok:
        raise Fail(msg)


def rec(key, value, headers=None, ts=None):
    return {"key": key, "value": value, "headers": headers or [], "ts": ts, "offset": -1}


def values(prefix, n):
    return [rec(b"k%d" % i, (prefix + str(i)).encode()) for i in range(n)]


def topic(scenario):
    return "compat-%s-%d" % (scenario, random.getrandbits(32))


def same_kv(got, want):
    check(len(got) == len(want), "got %d records, want %d" % (len(got), len(want)))
    for i, (g, w) in enumerate(zip(got, want)):
        check(g["key"] == w["key"] and g["value"] == w["value"],
              "record %d: got %r=%r, want %r=%r" % (i, g["key"], g["value"], w["key"], w["value"]))


def wait_for(what, cond, timeout=20):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if cond():
                return
        except NA:
            raise
        except Exception as e:  # noqa: BLE001 - keep retrying, report the last
            last = e
        time.sleep(0.2)
    raise Fail(what + (": %s" % last if last else ""))


def create_topic(a, t, parts, cfg=None):
    a.create_topic(t, parts, cfg or {})

    def ready():
        brokers, ps = a.metadata(t)
        return len(ps) == parts and all(leader >= 0 for _, leader in ps)
    wait_for("topic not in metadata with %d partitions after create" % parts, ready, 15)


def sc_metadata(a):
    t = topic("metadata")
    create_topic(a, t, 3)
    brokers, ps = a.metadata(t)
    check(brokers >= 1 and BROKERS in (0, brokers), "metadata lists %d brokers, want %d" % (brokers, max(BROKERS, 1)))
    check(len(ps) == 3, "%d partitions, want 3" % len(ps))


def sc_topics_admin(a):
    t = topic("topics_admin")
    create_topic(a, t, 2)
    check(t in a.list_topics(), "list topics does not include the new topic")
    a.create_partitions(t, 3)
    wait_for("not 3 partitions after create partitions", lambda: len(a.metadata(t)[1]) == 3)
    a.delete_topic(t)
    wait_for("topic still listed after delete", lambda: t not in a.list_topics())


def sc_configs(a):
    t = topic("configs")
    create_topic(a, t, 1, {"retention.ms": "3600000"})
    v = a.describe_config(t, "retention.ms")
    check(v == "3600000", "retention.ms = %r after create" % v)
    a.alter_config(t, "retention.ms", "7200000")
    wait_for("retention.ms not 7200000 after alter", lambda: a.describe_config(t, "retention.ms") == "7200000")


def produce_consume(a, n, codec="none", acks="all", idempotent=False):
    t = topic("produce")
    create_topic(a, t, 1)
    want = values("v", n)
    a.produce(t, want, codec, acks, idempotent)
    got = a.consume(t, "earliest", n)
    same_kv(got, want)
    for i, r in enumerate(got):
        check(r["offset"] == i, "record %d at offset %d" % (i, r["offset"]))


def roundtrip_records():
    base = 1700000000123
    return [
        rec(b"key-1", bytes(range(256)), [("h1", b"v1"), ("h1", b"v2"), ("empty", b""), ("bin", b"\x00\xff\x80")], base),
        rec(None, b"no key", [], base + 1000),
        rec(b"\x00\x01\x02\xfe", "ünïcödé ✓".encode(), [("ключ", "значение".encode())], base - 3600000),
    ]


def sc_roundtrip(a):
    t = topic("roundtrip")
    create_topic(a, t, 1)
    want = roundtrip_records()
    a.produce(t, want, "none", "all", False)
    got = a.consume(t, "earliest", len(want))
    same_kv(got, want)
    for i, (g, w) in enumerate(zip(got, want)):
        check((g["key"] is None) == (w["key"] is None), "record %d: null key not preserved" % i)
        check(g["ts"] == w["ts"], "record %d: timestamp %r, want %r" % (i, g["ts"], w["ts"]))
        gh = [(k, bytes(v) if v is not None else b"") for k, v in g["headers"]]
        check(gh == w["headers"], "record %d: headers %r, want %r" % (i, gh, w["headers"]))


def sc_consume_latest(a):
    t = topic("consume_latest")
    create_topic(a, t, 1)
    a.produce(t, values("old", 5), "none", "all", False)
    want = values("new", 5)
    got = a.consume(t, "latest", 5, positioned=lambda: a.produce(t, want, "none", "all", False))
    same_kv(got, want)
    check(got[0]["offset"] == 5, "first record at offset %d, want 5" % got[0]["offset"])


def sc_consume_timestamp(a):
    t = topic("consume_timestamp")
    create_topic(a, t, 1)
    base = int(time.time() * 1000) - 3600000
    recs = values("v", 10)
    for i, r in enumerate(recs):
        r["ts"] = base + i * 1000
    a.produce(t, recs, "none", "all", False)
    off = a.offset_for_time(t, base + 4500)
    check(off == 5, "offset for time = %r, want 5" % off)
    same_kv(a.consume(t, off, 5), recs[5:])


def group_commit_resume(a, instance=None, kip848=False):
    t = topic("group")
    create_topic(a, t, 1)
    recs = values("v", 10)
    a.produce(t, recs, "none", "all", False)
    g = "g-" + t
    same_kv(a.group_consume(g, t, 10, 6, instance, kip848), recs)
    got = a.group_consume(g, t, 4, 10, instance, kip848)
    try:
        same_kv(got, recs[6:])
    except Fail as f:
        raise Fail("second member did not resume at the committed offset 6: %s" % f)


def sc_two_members(a):
    t = topic("group_two_members")
    create_topic(a, t, 4)
    a.two_members("g-" + t, t, 4)


def wait_split(owned_a, owned_b, n, leave):
    # 60 s: kafka-python against Apache Kafka 4.4 once took over 25 s to
    # settle the first rebalance (a CI run on 2026-11-27); the wait ends as
    # soon as the split is seen.
    wait_for("two members never split the partitions",
             lambda: owned_a and owned_b and len(owned_a) + len(owned_b) == n, 60)
    leave()
    wait_for("after one member left the other does not own all partitions", lambda: len(owned_a) == n, 60)


def sc_transactions(a):
    t = topic("transactions")
    create_topic(a, t, 1)
    ra, rb, rc = values("committed-a", 3), values("aborted-b", 3), values("committed-c", 3)
    a.txn_produce(t, "txn-" + t, [(ra, True), (rb, False), (rc, True)])
    same_kv(a.read_committed(t, 6), ra + rc)


KEYLESS = [i for i in range(100) if i % 10 == 3]


def sc_record_errors(a):
    """KIP-467: one batch of 100 records to a compacted topic, 10 of them
    (batch index 3, 13, ..., 93) without a key. The broker refuses the batch
    listing exactly those 10; the client fails them with INVALID_RECORD and
    the other 90 with another error."""
    t = topic("record_errors")
    create_topic(a, t, 1, {"cleanup.policy": "compact"})
    recs = [rec(None if i in KEYLESS else b"k%d" % i, b"v%d" % i) for i in range(100)]
    errs = a.produce_each(t, recs)
    delivered = [i for i, e in enumerate(errs) if e is None]
    check(not delivered, "records %s were delivered" % delivered)
    invalid = [i for i, e in enumerate(errs) if e == "INVALID_RECORD"]
    check(invalid == KEYLESS, "records failed as INVALID_RECORD: %s, want %s (record 0: %s)" % (invalid, KEYLESS, errs[0]))


def _need(a, method, scenario):
    """The adapter's method for an issue #17 scenario, or NA with the
    adapter's reason (its NA_REASONS) when the client cannot express it."""
    fn = getattr(a, method, None)
    if fn is None:
        raise NA(getattr(a, "NA_REASONS", {}).get(scenario, "the client cannot express " + scenario))
    return fn


def sc_share_group(a):
    """KIP-932: 20 records on two partitions, two share consumers accept each
    once; the first delivery of k0 is released and comes back with delivery
    count 2 (the adapter runs it: share consumers differ too much)."""
    _need(a, "share_group", "share_group")()


def sc_client_telemetry(a):
    """KIP-714: a client-metrics subscription for this client, which gets it
    (GetTelemetrySubscriptions) and pushes (PushTelemetry)."""
    _need(a, "client_telemetry", "client_telemetry")()


def sc_log_dirs(a):
    """DescribeLogDirs lists the topic's partition with a size > 0 after 10
    records were produced."""
    sizes_of = _need(a, "log_dir_sizes", "log_dirs")
    t = topic("log_dirs")
    create_topic(a, t, 1)
    a.produce(t, values("v", 10), "none", "all", False)
    got = {}

    def ok():
        got.clear()
        got.update(sizes_of(t))
        return len(got) == 1 and all(v > 0 for v in got.values())
    try:
        wait_for("DescribeLogDirs", ok)
    except Fail as e:
        raise Fail("%s: sizes of %s's partitions %s, want partition 0 with a size > 0" % (e, t, got))


# The finalized feature levels the features scenario requires (Apache Kafka
# 4.4 finalizes these or higher).
WANT_FINALIZED = {"group.version": 1, "transaction.version": 2, "share.version": 1, "streams.version": 1}


def sc_features(a):
    """Finalized features at Kafka 4.4's levels, UpdateFeatures validate-only
    upgrading group.version to its finalized level (the adapter returns the
    finalized max levels and runs the update), DescribeQuorum where the
    client has it."""
    fin = _need(a, "finalized_features", "features")()
    for name, want in sorted(WANT_FINALIZED.items()):
        check(fin.get(name, -1) >= want, "finalized %s = %s, want >= %d (finalized: %s)" % (name, fin.get(name), want, fin))
    a.validate_feature_upgrade("group.version", fin["group.version"])


SCENARIOS = {
    "metadata": sc_metadata,
    "topics_admin": sc_topics_admin,
    "configs": sc_configs,
    "produce_none": lambda a: produce_consume(a, 50, "none"),
    "produce_gzip": lambda a: produce_consume(a, 50, "gzip"),
    "produce_snappy": lambda a: produce_consume(a, 50, "snappy"),
    "produce_lz4": lambda a: produce_consume(a, 50, "lz4"),
    "produce_zstd": lambda a: produce_consume(a, 50, "zstd"),
    "acks_0": lambda a: produce_consume(a, 10, acks="0"),
    "acks_1": lambda a: produce_consume(a, 10, acks="1"),
    "acks_all": lambda a: produce_consume(a, 10, acks="all"),
    "idempotent": lambda a: produce_consume(a, 100, idempotent=True),
    "roundtrip": sc_roundtrip,
    "consume_earliest": lambda a: produce_consume(a, 10),
    "consume_latest": sc_consume_latest,
    "consume_timestamp": sc_consume_timestamp,
    "group_commit_resume": lambda a: group_commit_resume(a),
    "group_two_members": sc_two_members,
    "transactions_read_committed": sc_transactions,
    "static_membership": lambda a: group_commit_resume(a, instance="static-1"),
    "kip848": lambda a: group_commit_resume(a, kip848=True),
    "produce_record_errors": sc_record_errors,
    "share_group": sc_share_group,
    "streams_group_protocol": lambda a: _need(a, "streams_group", "streams_group_protocol")(),
    "client_telemetry": sc_client_telemetry,
    "log_dirs": sc_log_dirs,
    "features": sc_features,
}


def main(factory, client, timeout=90):
    bootstrap, names = sys.argv[1], sys.argv[2].split(",")
    for name in names:
        result, reason = "pass", ""
        box = {}

        def run():
            try:
                adapter = factory(bootstrap)
                try:
                    SCENARIOS[name](adapter)
                finally:
                    adapter.close()
            except BaseException as e:  # noqa: BLE001 - reported as the result
                box["err"] = e
                traceback.print_exc(file=sys.stderr)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        th.join(timeout)
        if th.is_alive():
            result, reason = "fail", "scenario did not finish within %ds" % timeout
        elif isinstance(box.get("err"), NA):
            result, reason = "na", str(box["err"])
        elif "err" in box:
            e = box["err"]
            result, reason = "fail", "%s: %s" % (type(e).__name__, e)
        print(json.dumps({"client": client, "scenario": name, "result": result, "reason": reason[:400]}), flush=True)
    sys.stdout.flush()
    import os
    os._exit(0)
