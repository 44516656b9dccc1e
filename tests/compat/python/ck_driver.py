"""Compat driver for confluent-kafka (librdkafka): python ck_driver.py BOOTSTRAP SCENARIOS."""
import threading
import time

from confluent_kafka import (OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions, NewTopic, ResourceType)

import common
from common import NA, Fail


class Adapter:
    NA_REASONS = {
        "streams_group_protocol": "Kafka Streams (KIP-1071) is a Java library: no Python client has it",
        "log_dirs": "confluent-kafka's AdminClient has no describe_log_dirs (librdkafka has no DescribeLogDirs)",
        "features": "confluent-kafka's AdminClient has no describe_features, update_features or DescribeQuorum",
    }

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def close(self):
        pass

    def conf(self, **extra):
        c = {"bootstrap.servers": self.bootstrap, "client.id": "compat-confluent-kafka-python"}
        c.update(extra)
        return c

    def create_topic(self, t, parts, cfg):
        for f in self.admin.create_topics([NewTopic(t, num_partitions=parts, replication_factor=common.RF, config=cfg)]).values():
            f.result(20)

    def metadata(self, t):
        md = self.admin.list_topics(topic=t, timeout=10)
        tm = md.topics.get(t)
        if tm is None or tm.error is not None:
            raise Fail("metadata for %s: %s" % (t, tm.error if tm else "missing"))
        return len(md.brokers), [(p.id, p.leader) for p in tm.partitions.values()]

    def list_topics(self):
        return list(self.admin.list_topics(timeout=10).topics)

    def create_partitions(self, t, total):
        for f in self.admin.create_partitions([NewPartitions(t, total)]).values():
            f.result(20)

    def delete_topic(self, t):
        for f in self.admin.delete_topics([t]).values():
            f.result(20)

    def describe_config(self, t, key):
        for f in self.admin.describe_configs([ConfigResource(ResourceType.TOPIC, t)]).values():
            return f.result(20)[key].value

    def alter_config(self, t, key, value):
        res = ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)])
        for f in self.admin.incremental_alter_configs([res]).values():
            f.result(20)

    def _send(self, p, t, recs):
        errs = []

        def cb(err, _msg):
            if err is not None:
                errs.append(err)
        for r in recs:
            kw = {"partition": 0, "on_delivery": cb}
            if r["headers"]:
                kw["headers"] = r["headers"]
            if r["ts"] is not None:
                kw["timestamp"] = r["ts"]
            p.produce(t, value=r["value"], key=r["key"], **kw)
        left = p.flush(20)
        if left:
            raise Fail("%d records not delivered" % left)
        if errs:
            raise Fail("delivery: %s" % errs[0])

    def produce(self, t, recs, codec, acks, idempotent):
        p = Producer(self.conf(**{"compression.type": codec, "acks": acks, "enable.idempotence": idempotent,
                                  "linger.ms": 5}))
        self._send(p, t, recs)

    def produce_each(self, t, recs):
        """One batch (linger 1 s); per record None or its error's name.
        librdkafka 2.4+ names the records listed in RecordErrors
        INVALID_RECORD and the rest _INVALID_DIFFERENT_RECORD."""
        p = Producer(self.conf(**{"acks": "all", "enable.idempotence": False, "linger.ms": 1000,
                                  "batch.num.messages": 1000}))
        errs = [None] * len(recs)

        def cb(i):
            def done(err, _msg):
                if err is not None:
                    errs[i] = err.name()
            return done
        for i, r in enumerate(recs):
            p.produce(t, value=r["value"], key=r["key"], partition=0, on_delivery=cb(i))
        left = p.flush(20)
        if left:
            raise Fail("%d delivery reports missing" % left)
        return errs

    @staticmethod
    def _rec(m):
        r = common.rec(m.key(), m.value(), [(k, v) for k, v in (m.headers() or [])], m.timestamp()[1])
        r["offset"] = m.offset()
        return r

    def _read(self, c, n, timeout=20):
        out = []
        deadline = time.time() + timeout
        while len(out) < n:
            if time.time() > deadline:
                raise Fail("read %d of %d records" % (len(out), n))
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    continue
                raise Fail("consume: %s" % m.error())
            out.append(self._rec(m))
        return out

    def consume(self, t, start, n, positioned=None):
        off = {"earliest": OFFSET_BEGINNING, "latest": OFFSET_END}.get(start, start)
        c = Consumer(self.conf(**{"group.id": "compat-unused", "enable.auto.commit": False}))
        try:
            c.assign([TopicPartition(t, 0, off)])
            if positioned:
                # The first fetches resolve the end offset; nothing arrives.
                deadline = time.time() + 1.5
                while time.time() < deadline:
                    m = c.poll(0.1)
                    if m is not None and not m.error():
                        raise Fail("consumer at latest returned an old record")
                positioned()
            return self._read(c, n)
        finally:
            c.close()

    def offset_for_time(self, t, ms):
        c = Consumer(self.conf(**{"group.id": "compat-unused"}))
        try:
            return c.offsets_for_times([TopicPartition(t, 0, ms)], timeout=10)[0].offset
        finally:
            c.close()

    def group_consume(self, group, t, n, commit_at, instance, kip848):
        conf = {"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
        if instance:
            conf["group.instance.id"] = instance
        if kip848:
            conf["group.protocol"] = "consumer"
        c = Consumer(self.conf(**conf))
        try:
            c.subscribe([t])
            out = self._read(c, n)
            c.commit(offsets=[TopicPartition(t, 0, commit_at)], asynchronous=False)
            return out[:n]
        finally:
            c.close()

    def two_members(self, group, t, n):
        owned = [set(), set()]
        stop = [threading.Event(), threading.Event()]
        errors = []

        def member(i):
            try:
                c = Consumer(self.conf(**{"group.id": group, "session.timeout.ms": 10000}))
                c.subscribe([t], on_assign=lambda _c, ps: owned[i].update(p.partition for p in ps),
                            on_revoke=lambda _c, ps: owned[i].difference_update(p.partition for p in ps))
                while not stop[i].is_set():
                    c.poll(0.1)
                c.close()
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        ths = [threading.Thread(target=member, args=(i,), daemon=True) for i in range(2)]
        for th in ths:
            th.start()
        try:
            def leave():
                stop[1].set()
                ths[1].join(10)
            common.wait_split(owned[0], owned[1], n, leave)
        finally:
            stop[0].set()
            stop[1].set()
        if errors:
            raise errors[0]

    def txn_produce(self, t, txn_id, batches):
        p = Producer(self.conf(**{"transactional.id": txn_id}))
        p.init_transactions(15)
        for recs, commit in batches:
            p.begin_transaction()
            self._send(p, t, recs)
            if commit:
                p.commit_transaction(15)
            else:
                p.abort_transaction(15)

    def read_committed(self, t, n):
        c = Consumer(self.conf(**{"group.id": "compat-unused", "isolation.level": "read_committed",
                                  "enable.auto.commit": False}))
        try:
            c.assign([TopicPartition(t, 0, OFFSET_BEGINNING)])
            return self._read(c, n)
        finally:
            c.close()


    def share_group(self):
        """KIP-932 with confluent-kafka's ShareConsumer (explicit
        acknowledgements). confluent-kafka has no share-group describe or
        offsets admin API: the group is checked through ListGroups by type
        only where the client can, so this covers 76/78/79 (heartbeat, fetch,
        acknowledge) and the GROUP config resource."""
        from confluent_kafka import AcknowledgeType, ShareConsumer
        n = 20
        t = common.topic("share_group")
        g = "sg-" + t
        common.create_topic(self, t, 2)
        res = ConfigResource(ResourceType.GROUP, g, incremental_configs=[
            ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)])
        for f in self.admin.incremental_alter_configs([res]).values():
            f.result(20)
        p = Producer(self.conf(acks="all"))
        for i in range(n):
            p.produce(t, key=b"k%d" % i, value=b"v%d" % i, partition=i % 2)
        check_left = p.flush(20)
        if check_left:
            raise Fail("%d records not delivered" % check_left)
        st = {"accepted": {}, "released": False, "k0": -1, "err": None}
        lock = threading.Lock()
        stop = threading.Event()

        def member(i):
            try:
                c = ShareConsumer(self.conf(**{"group.id": g, "share.acknowledgement.mode": "explicit",
                                               "client.id": "compat-confluent-kafka-python-share-%d" % i}))
            except Exception as e:  # noqa: BLE001
                st["err"] = st["err"] or "member %d: %s" % (i, e)
                return
            try:
                c.subscribe([t])
                while not stop.is_set():
                    got = False
                    for m in c.poll(0.2):
                        if m.error():
                            with lock:
                                st["err"] = st["err"] or "member %d poll: %s" % (i, m.error())
                            continue
                        got = True
                        k, dc = m.key().decode(), m.delivery_count()
                        with lock:
                            if k == "k0" and dc == 1 and not st["released"]:
                                st["released"] = True
                                c.acknowledge(m, AcknowledgeType.RELEASE)
                                continue
                            if k == "k0":
                                st["k0"] = dc
                            st["accepted"][k] = st["accepted"].get(k, 0) + 1
                        c.acknowledge(m, AcknowledgeType.ACCEPT)
                    if got:
                        for tp, e in (c.commit_sync(20) or {}).items():
                            if e is not None:
                                with lock:
                                    st["err"] = st["err"] or "commit_sync %s: %s" % (tp, e)
            except Exception as e:  # noqa: BLE001
                st["err"] = st["err"] or "member %d: %s" % (i, e)
            finally:
                c.close()
        threads = [threading.Thread(target=member, args=(i,), daemon=True) for i in range(2)]
        for th in threads:
            th.start()
        try:
            def done():
                if st["err"]:
                    raise Fail(st["err"])
                return len(st["accepted"]) == n and st["k0"] >= 0
            try:
                common.wait_for("share consumers", done, 60)
            except Fail as e:
                raise Fail("%s: accepted %d of %d records" % (e, len(st["accepted"]), n))
        finally:
            stop.set()
            for th in threads:
                th.join(20)
        dup = {k: v for k, v in st["accepted"].items() if v != 1}
        common.check(not dup, "records accepted more than once: %s" % dup)
        common.check(st["k0"] == 2, "released record k0 accepted with delivery count %s, want 2" % st["k0"])

    def client_telemetry(self):
        """KIP-714: librdkafka pushes client metrics by itself once the
        broker has a subscription for it. confluent-kafka's admin API cannot
        name the CLIENT_METRICS config resource, so the subscription (this
        client id, interval 500 ms) is made with kafka-python's
        IncrementalAlterConfigs from the same venv; librdkafka's telemetry
        debug log must show GetTelemetrySubscriptions answering with the
        500 ms interval and a PushTelemetryRequest that succeeded (zstd- or
        otherwise compressed OTLP, as librdkafka chooses)."""
        import logging
        import random

        from kafka import KafkaAdminClient
        from kafka.admin import ConfigResource as KPConfigResource
        from kafka.admin import ConfigResourceType
        cid = "compat-telemetry-%d" % random.getrandbits(31)
        sub = "sub-" + cid
        kp = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="compat-confluent-kafka-python-admin")
        try:
            res = kp.alter_configs([KPConfigResource(ConfigResourceType.CLIENT_METRICS, sub, configs={
                "metrics": "org.apache.kafka.producer.", "interval.ms": "500", "match": "client_id=" + cid})],
                raise_on_unknown=False)
            got = res.get("client_metrics", {}).get(sub)
            common.check(got == "OK", "client-metrics subscription (kafka-python IncrementalAlterConfigs): %s" % (got or res))
            lines = []

            class Capture(logging.Handler):
                def emit(self, record):
                    lines.append(record.getMessage())
            lg = logging.getLogger("ck-telemetry-" + cid)
            lg.setLevel(logging.DEBUG)
            lg.propagate = False
            lg.addHandler(Capture())
            p = Producer(self.conf(**{"client.id": cid, "debug": "telemetry", "logger": lg}))
            try:
                def pushed():
                    p.poll(0.1)
                    return any("PushTelemetryRequest succeeded" in ln for ln in lines)
                try:
                    common.wait_for("no PushTelemetryRequest succeeded", pushed, 20)
                except Fail:
                    tail = [ln for ln in lines if "GETSUBSCRIPTIONS" in ln or "PUSH" in ln][-4:]
                    raise Fail("librdkafka never logged a successful PushTelemetryRequest (last telemetry lines: %s)" % tail)
                common.check(any("Parsing: push interval 500" in ln for ln in lines),
                             "GetTelemetrySubscriptions did not return our subscription (interval 500 ms)")
            finally:
                p.flush(5)
        finally:
            try:
                kp.alter_configs([KPConfigResource(ConfigResourceType.CLIENT_METRICS, sub, configs={
                    "metrics": "", "interval.ms": "300000", "match": ""})], raise_on_unknown=False)
            except Exception:  # noqa: BLE001 - cleanup only
                pass
            kp.close()


if __name__ == "__main__":
    common.main(Adapter, "confluent-kafka-python")
