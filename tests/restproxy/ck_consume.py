"""Records the REST Proxy wrote, read with confluent-kafka's real deserializers.

Run by tests/restproxy_clients_test.go with one JSON argument:
  {"bootstrap": HOST:PORT, "registry": URL, "gen": DIR, "checks": [
     {"name": N, "topic": T, "format": "avro"|"protobuf"|"jsonschema",
      "message": "interop.shop_pb2.Order" (protobuf: the generated class),
      "values": [JSON text sent to the proxy, ...], "keys": [JSON text or null, ...] (avro keys)}]}
DIR holds the _pb2 modules generated from tests/restproxy/proto. For each
check it reads len(values) records of partition 0 of T from the start,
deserializes each value (and key) with AvroDeserializer, ProtobufDeserializer
or JSONDeserializer (all with the registry's client: the writer schema is
fetched by the id in the record) and compares it with the JSON text the proxy
was given, read by an independent reader of the same JSON form: fastavro's
json_reader (Avro's JSON encoding) with the writer schema,
google.protobuf.json_format.Parse into the generated class, json.loads.
It prints one line per check
  {"check": N, "ok": bool, "detail": str, "ids": [schema id of each record], "key_ids": [...]}
and last {"ok": bool, "detail": str}.
"""

import importlib
import io
import json
import sys
import traceback

from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
import fastavro
from google.protobuf import json_format

cfg = json.loads(sys.argv[1])
sys.path.insert(0, cfg["gen"])
client = SchemaRegistryClient({"url": cfg["registry"]})
results = []


def consume(topic, n):
    c = Consumer({"bootstrap.servers": cfg["bootstrap"], "group.id": "ck-consume-" + topic,
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out = []
    try:
        for _ in range(600):
            if len(out) == n:
                break
            m = c.poll(0.1)
            if m is None:
                continue
            if m.error():
                raise RuntimeError(str(m.error()))
            out.append(m)
    finally:
        c.close()
    if len(out) != n:
        raise RuntimeError("consumed %d of %d records of %s" % (len(out), n, topic))
    return out


def schema_id(b):
    if b is None:
        return None
    if len(b) < 5 or b[0] != 0:
        raise AssertionError("not Confluent's wire format: %r" % b[:8])
    return int.from_bytes(b[1:5], "big")


def avro_reference(text, sid):
    """The JSON text read as Avro's JSON encoding with the writer schema."""
    writer = fastavro.parse_schema(json.loads(client.get_schema(sid).schema_str))
    record = next(iter(fastavro.json_reader(io.StringIO(text), writer)))
    # Through Avro's binary form and back, so a float is the float32 it
    # becomes on the wire (0.1 reads back as 0.10000000149011612).
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, writer, record)
    buf.seek(0)
    return fastavro.schemaless_reader(buf, writer, None)


def message_class(path):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def run(check):
    topic, fmt = check["topic"], check["format"]
    ctx = SerializationContext(topic, MessageField.VALUE)
    kctx = SerializationContext(topic, MessageField.KEY)
    msgs = consume(topic, len(check["values"]))
    ids, key_ids, mismatches = [], [], []
    if fmt == "avro":
        de = AvroDeserializer(client)
    elif fmt == "protobuf":
        cls = message_class(check["message"])
        de = ProtobufDeserializer(cls, {"use.deprecated.format": False}, schema_registry_client=client)
    elif fmt == "jsonschema":
        de = JSONDeserializer(None, schema_registry_client=client)
    else:
        raise ValueError("format %r" % fmt)
    keys = check.get("keys") or [None] * len(msgs)
    for i, (m, text, ktext) in enumerate(zip(msgs, check["values"], keys)):
        sid = schema_id(m.value())
        ids.append(sid)
        got = de(m.value(), ctx)
        if fmt == "avro":
            want = avro_reference(text, sid)
        elif fmt == "protobuf":
            want = json_format.Parse(text, cls())
        else:
            want = json.loads(text)
        if got != want:
            mismatches.append("record %d (offset %d, schema %d): deserialized %r, sent %s (read as %r)"
                              % (i, m.offset(), sid, got, text, want))
        if ktext is not None:
            kid = schema_id(m.key())
            key_ids.append(kid)
            kgot = AvroDeserializer(client)(m.key(), kctx)
            kwant = avro_reference(ktext, kid)
            if kgot != kwant:
                mismatches.append("record %d key: deserialized %r, sent %s" % (i, kgot, ktext))
    if mismatches:
        raise AssertionError("\n".join(mismatches))
    return ids, key_ids, "%d records of %s deserialized as sent (schema ids %s)" % (len(msgs), topic, sorted(set(ids)))


for check in cfg["checks"]:
    try:
        ids, key_ids, detail = run(check)
        line = {"check": check["name"], "ok": True, "detail": detail, "ids": ids, "key_ids": key_ids}
    except Exception as e:  # a failed check is reported, the others still run
        line = {"check": check["name"], "ok": False, "detail": "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())}
    results.append(line)
    print(json.dumps(line), flush=True)

print(json.dumps({"ok": bool(results) and all(r["ok"] for r in results),
                  "detail": "%d of %d checks passed" % (sum(r["ok"] for r in results), len(results))}), flush=True)
