"""Compat driver for kafka-python: python kp_driver.py BOOTSTRAP SCENARIOS."""
import threading
import time

import kafka.errors as Errors
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

import common
from common import NA, Fail


class Adapter:
    NA_REASONS = {
        "share_group": "kafka-python has no share consumer (KIP-932)",
        "streams_group_protocol": "Kafka Streams (KIP-1071) is a Java library: no Python client has it",
        "client_telemetry": "kafka-python does not implement client metrics push (KIP-714)",
    }

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap.split(",")  # one address, or every broker's
        self._admin = None

    @property
    def admin(self):
        if self._admin is None:
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="compat-kafka-python")
        return self._admin

    def close(self):
        if self._admin is not None:
            self._admin.close()

    def create_topic(self, t, parts, cfg):
        self.admin.create_topics([NewTopic(t, parts, common.RF, topic_configs=cfg)])

    def metadata(self, t):
        cluster = self.admin.describe_cluster()
        (td,) = self.admin.describe_topics([t])
        if td["error_code"] != 0:
            raise Fail("describe topic: error code %d" % td["error_code"])
        return len(cluster["brokers"]), [(p["partition_index"], p["leader_id"]) for p in td["partitions"]]

    def list_topics(self):
        return self.admin.list_topics()

    def create_partitions(self, t, total):
        self.admin.create_partitions({t: total})

    def delete_topic(self, t):
        self.admin.delete_topics([t])

    def describe_config(self, t, key):
        res = self.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t, [key])])
        return res["topic"][t][key]["value"]

    def alter_config(self, t, key, value):
        res = self.admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, t, {key: value})])
        check = res["topic"][t]
        if check != "OK":
            raise Fail("alter configs: %s" % check)

    def _producer(self, **kw):
        return KafkaProducer(bootstrap_servers=self.bootstrap, client_id="compat-kafka-python", linger_ms=5, **kw)

    def produce(self, t, recs, codec, acks, idempotent):
        acks = {"0": 0, "1": 1, "all": "all"}[acks]
        p = self._producer(compression_type=None if codec == "none" else codec, acks=acks,
                           enable_idempotence=idempotent)
        try:
            fs = [p.send(t, value=r["value"], key=r["key"], headers=r["headers"] or None, partition=0,
                         timestamp_ms=r["ts"]) for r in recs]
            p.flush(20)
            for f in fs:
                f.get(20)
        finally:
            p.close(5)

    def produce_each(self, t, recs):
        """One batch (linger 1 s); per record None or its error: kafka-python
        fails the records listed in RecordErrors with InvalidRecordError and
        the rest of the batch with a plain KafkaError."""
        p = KafkaProducer(bootstrap_servers=self.bootstrap, client_id="compat-kafka-python", linger_ms=1000,
                          batch_size=1 << 20, acks="all", enable_idempotence=False)
        try:
            fs = [p.send(t, value=r["value"], key=r["key"], partition=0) for r in recs]
            p.flush(20)
            errs = []
            for f in fs:
                e = f.exception if f.is_done else Fail("not completed")
                errs.append(None if e is None else
                            "INVALID_RECORD" if isinstance(e, Errors.InvalidRecordError) else type(e).__name__)
            return errs
        finally:
            p.close(5)

    def _consumer(self, **kw):
        kw.setdefault("enable_auto_commit", False)
        kw.setdefault("auto_offset_reset", "earliest")
        return KafkaConsumer(bootstrap_servers=self.bootstrap, client_id="compat-kafka-python", **kw)

    @staticmethod
    def _read(c, n, timeout=20):
        out = []
        deadline = time.time() + timeout
        while len(out) < n:
            if time.time() > deadline:
                raise Fail("read %d of %d records" % (len(out), n))
            for recs in c.poll(timeout_ms=200).values():
                for m in recs:
                    r = common.rec(m.key, m.value, list(m.headers or []), m.timestamp)
                    r["offset"] = m.offset
                    out.append(r)
        return out

    def consume(self, t, start, n, positioned=None):
        c = self._consumer()
        try:
            tp = TopicPartition(t, 0)
            c.assign([tp])
            if start == "earliest":
                c.seek_to_beginning(tp)
            elif start == "latest":
                c.seek_to_end(tp)
            else:
                c.seek(tp, start)
            c.position(tp)  # resolve now
            if positioned:
                positioned()
            return self._read(c, n)
        finally:
            c.close()

    def offset_for_time(self, t, ms):
        c = self._consumer()
        try:
            tp = TopicPartition(t, 0)
            ot = c.offsets_for_times({tp: ms})[tp]
            return ot.offset if ot else None
        finally:
            c.close()

    def group_consume(self, group, t, n, commit_at, instance, kip848):
        if kip848:
            raise NA("kafka-python implements only the classic consumer group protocol")
        kw = {"group_id": group}
        if instance:
            kw["group_instance_id"] = instance
        c = self._consumer(**kw)
        try:
            c.subscribe([t])
            out = self._read(c, n)
            c.commit({TopicPartition(t, 0): OffsetAndMetadata(commit_at, "", -1)})
            return out[:n]
        finally:
            c.close()

    def two_members(self, group, t, n):
        owned = [set(), set()]
        stop = [threading.Event(), threading.Event()]
        errors = []

        class Listener(ConsumerRebalanceListener):
            def __init__(self, i):
                self.i = i

            def on_partitions_revoked(self, revoked):
                owned[self.i].difference_update(tp.partition for tp in revoked)

            def on_partitions_assigned(self, assigned):
                owned[self.i].update(tp.partition for tp in assigned)

        def member(i):
            try:
                # A member that misses a rebalance is dropped after the
                # rebalance timeout (max.poll.interval.ms, 5 min by
                # default) and then rejoins: keep it short.
                c = self._consumer(group_id=group, max_poll_interval_ms=10000,
                                   session_timeout_ms=10000, heartbeat_interval_ms=1000)
                c.subscribe([t], listener=Listener(i))
                while not stop[i].is_set():
                    c.poll(timeout_ms=100)
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
        p = self._producer(transactional_id=txn_id, max_block_ms=15000)
        try:
            p.init_transactions()
            for recs, commit in batches:
                p.begin_transaction()
                for f in [p.send(t, value=r["value"], key=r["key"], partition=0) for r in recs]:
                    f.get(15)
                if commit:
                    p.commit_transaction()
                else:
                    p.abort_transaction()
        finally:
            p.close(5)

    def read_committed(self, t, n):
        c = self._consumer(isolation_level="read_committed")
        try:
            tp = TopicPartition(t, 0)
            c.assign([tp])
            c.seek_to_beginning(tp)
            return self._read(c, n)
        finally:
            c.close()


    def log_dir_sizes(self, t):
        """KafkaAdminClient.describe_log_dirs over every broker: partition ->
        size (the smallest over replicas)."""
        sizes = {}
        for broker in self.admin.describe_log_dirs(topic_partitions=[t]):
            for d in broker["log_dirs"]:
                if d["error_code"]:
                    raise Fail("broker %s log dir %s: error code %d" % (broker["broker"], d["log_dir"], d["error_code"]))
                for tp in d["topics"]:
                    if tp["name"] != t:
                        continue
                    for p in tp["partitions"]:
                        i = p["partition_index"]
                        sizes[i] = min(sizes.get(i, p["partition_size"]), p["partition_size"])
        return sizes


    def finalized_features(self):
        """describe_features: name -> finalized max level. (kafka-python has
        no DescribeQuorum: the features scenario's quorum check is the
        other clients'.)"""
        out = {}
        for name, f in self.admin.describe_features().items():
            if "finalized" in f:
                out[name] = f["finalized"][1]
        return out

    def validate_feature_upgrade(self, name, level):
        res = self.admin.update_features({name: ("UPGRADE", level)}, validate_only=True)
        if res.get(name) != "OK":
            raise Fail("update_features (validate only) %s=%d: %s" % (name, level, res))


if __name__ == "__main__":
    common.main(Adapter, "kafka-python")
