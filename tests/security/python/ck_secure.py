"""confluent-kafka (librdkafka) against a secured Moldau listener.

python ck_secure.py CONFIG_JSON

CONFIG_JSON: {"conf": {librdkafka settings: bootstrap.servers, security.protocol, sasl.*, ssl.*},
              "topic": ..., "values": [...], "expect": "ok" | "auth_failure"}
With "ok" the values are produced to partition 0 and read back with an
assigned consumer; with "auth_failure" the producer must report librdkafka's
_AUTHENTICATION error within 15 s. Prints one JSON line: {"ok": bool, "detail": ...}.
"""
import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition


def round_trip(conf, topic, values):
    errors = []
    p = Producer(dict(conf, **{"error_cb": errors.append}))
    delivered = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered.append(msg.value().decode())

    for v in values:
        p.produce(topic, v.encode(), partition=0, on_delivery=on_delivery)
    left = p.flush(20)
    if left or len(delivered) != len(values):
        return False, "produced %d of %d (errors %s)" % (len(delivered), len(values), [str(e) for e in errors])

    c = Consumer(dict(conf, **{"group.id": "ck-secure", "enable.auto.commit": False, "error_cb": errors.append}))
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got = []
    deadline = time.time() + 20
    while len(got) < len(values) and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            errors.append(m.error())
            continue
        got.append(m.value().decode())
    c.close()
    if got != values:
        return False, "read back %s, want %s (errors %s)" % (got, values, [str(e) for e in errors])
    return True, "read back %d records" % len(got)


def auth_failure(conf, topic):
    errors = []
    p = Producer(dict(conf, **{"error_cb": errors.append}))
    p.produce(topic, b"must not be written", partition=0)
    deadline = time.time() + 15
    while time.time() < deadline:
        p.poll(0.2)
        for e in errors:
            if e.code() == KafkaError._AUTHENTICATION:
                return True, str(e)
    return False, "no authentication error within 15 s (errors %s)" % [str(e) for e in errors]


def main():
    cfg = json.loads(sys.argv[1])
    if cfg["expect"] == "ok":
        ok, detail = round_trip(cfg["conf"], cfg["topic"], cfg["values"])
    else:
        ok, detail = auth_failure(cfg["conf"], cfg["topic"])
    print(json.dumps({"ok": ok, "detail": detail}))


if __name__ == "__main__":
    main()
