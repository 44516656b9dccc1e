"""Records written by confluent-kafka's real serializers, for the console.

Run by tests/console_decode_clients_test.go with one JSON argument:
  {"bootstrap": HOST:PORT, "registry": URL, "prefix": P, "gen": DIR}
where DIR holds the _pb2 modules grpc_tools.protoc generated from
tests/restproxy/proto. For each topic it writes, it prints one JSON line
  {"topic": T, "format": F, "records": [{"offset": N, "schema_id": ID,
    "indexes": [..], "value": V, "key": K, "key_schema_id": ID}]}
where V (and K) is the JSON form Confluent's converters give the value --
Avro: Avro's JSON encoding (fastavro's json_writer: unions wrapped as
{"full.name": value}, bytes as ISO-8859-1 strings); Protobuf:
json_format.MessageToJson with the fields without presence always printed
(Confluent's JsonFormat.printer().includingDefaultValueFields()); JSON
Schema: the document -- and the last line is {"ok": bool, "detail": str}.
"""

import datetime
import decimal
import io
import json
import sys
import traceback

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
import fastavro
from google.protobuf import json_format

cfg = json.loads(sys.argv[1])
sys.path.insert(0, cfg["gen"])
from interop import common_pb2, shop_pb2  # noqa: E402  (generated at test time)

BOOTSTRAP, PREFIX = cfg["bootstrap"], cfg["prefix"]
client = SchemaRegistryClient({"url": cfg["registry"]})
failures = []


def create_topics(*names):
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    for f in admin.create_topics([NewTopic(n, num_partitions=1, replication_factor=1) for n in names]).values():
        f.result(timeout=30)


def produce(topic, pairs):
    """Writes (key, value) byte pairs in order; returns their offsets."""
    offsets = [None] * len(pairs)
    p = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
    for i, (k, v) in enumerate(pairs):
        def done(err, msg, i=i):
            if err is not None:
                raise RuntimeError("record %d: %s" % (i, err))
            offsets[i] = msg.offset()
        p.produce(topic, key=k, value=v, on_delivery=done)
    if p.flush(30):
        raise RuntimeError("records not delivered")
    return offsets


def framing(b):
    if b is None:
        return None
    if len(b) < 5 or b[0] != 0:
        raise AssertionError("not Confluent's wire format: %r" % b[:8])
    return int.from_bytes(b[1:5], "big")


def zigzag_varints(b, n):
    """Reads n zigzag varints from b; returns them and the rest."""
    out = []
    for _ in range(n):
        shift = result = 0
        while True:
            c = b[0]
            b = b[1:]
            result |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                break
        out.append((result >> 1) ^ -(result & 1))
    return out, b


def message_indexes(b):
    (count,), rest = zigzag_varints(b[5:], 1)
    if count == 0:
        return [0]
    idx, _ = zigzag_varints(rest, count)
    return idx


def emit(topic, fmt, offsets, framed, values, keys=None):
    records = []
    for i, (off, b, v) in enumerate(zip(offsets, framed, values)):
        r = {"offset": off, "schema_id": framing(b), "value": v}
        if fmt == "protobuf":
            r["indexes"] = message_indexes(b)
        if keys is not None:
            r["key"], r["key_schema_id"] = keys[i]
        records.append(r)
    print(json.dumps({"topic": topic, "format": fmt, "records": records}), flush=True)


def step(fn):
    try:
        fn()
    except Exception as e:  # one failed format does not hide the others
        failures.append("%s: %s: %s\n%s" % (fn.__name__, type(e).__name__, e, traceback.format_exc()))
    return fn


PAYMENT = {
    "type": "record", "name": "Payment", "namespace": "moldau.interop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "ratio", "type": "float"},
        {"name": "ok", "type": "boolean"},
        {"name": "small", "type": "int"},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "addr", "type": ["null", {"type": "record", "name": "Address", "fields": [
            {"name": "street", "type": "string"}, {"name": "zip", "type": "int"}]}], "default": None},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "DONE"]}},
        {"name": "raw", "type": "bytes"},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
        {"name": "choice", "type": ["int", "string", {"type": "array", "items": "int"},
                                    {"type": "map", "values": "string"}]},
        {"name": "created", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
        {"name": "other", "type": ["null", {"type": "record", "name": "Inner", "namespace": "moldau.other",
                                            "fields": [{"name": "x", "type": "int"}]}], "default": None},
    ],
}

UTC = datetime.timezone.utc


def payments():
    yield {"id": 1, "name": "plain", "amount": 12.5, "ratio": 0.1, "ok": True, "small": -3,
           "tags": ["a", "b"], "attrs": {"x": 1, "y": -(2 ** 40)}, "note": None, "addr": None,
           "status": "NEW", "raw": b"", "hash": b"abcd", "choice": 7,
           "created": datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC),
           "day": datetime.date(2024, 2, 29), "price": decimal.Decimal("123.45"), "other": None}
    yield {"id": 2 ** 53 + 1, "name": "na\u00efve \u2603 \U0001F600 \"quoted\"\n", "amount": -0.0001, "ratio": 3.5,
           "ok": False, "small": 2 ** 31 - 1, "tags": [], "attrs": {}, "note": "a note",
           "addr": {"street": "Main St 1", "zip": 10115}, "status": "DONE",
           "raw": b"\x00\x7f\x80\xff", "hash": b"\x00\x01\xfe\xff", "choice": "text",
           "created": datetime.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
           "day": datetime.date(1970, 1, 1), "price": decimal.Decimal("-0.07"),
           "other": {"x": 42}}
    yield {"id": -1, "name": "", "amount": 1e300, "ratio": -2.0, "ok": True, "small": 0,
           "tags": ["only"], "attrs": {"k": 0}, "note": "", "addr": {"street": "", "zip": 0},
           "status": "NEW", "raw": b"bin", "hash": b"zzzz", "choice": [1, 2, 3],
           "created": datetime.datetime(2030, 1, 1, tzinfo=UTC), "day": datetime.date(2000, 1, 1),
           "price": decimal.Decimal("0.00"), "other": None}
    yield {"id": 0, "name": "map branch", "amount": 0.0, "ratio": 0.0, "ok": False, "small": -(2 ** 31),
           "tags": ["x"], "attrs": {"m": 5}, "note": None, "addr": None, "status": "DONE",
           "raw": b"\xc3\xa9", "hash": b"    ", "choice": {"k": "v"},
           "created": datetime.datetime(2024, 1, 1, tzinfo=UTC), "day": datetime.date(2024, 1, 1),
           "price": decimal.Decimal("9999999.99"), "other": None}


def avro_json(schema, record):
    """Avro's JSON encoding of record, as fastavro's json_writer writes it."""
    out = io.StringIO()
    fastavro.json_writer(out, schema, [record])
    return json.loads(out.getvalue())


@step
def avro():
    topic = PREFIX + "-avro"
    create_topics(topic)
    ctx = SerializationContext(topic, MessageField.VALUE)
    kctx = SerializationContext(topic, MessageField.KEY)
    ser = AvroSerializer(client, json.dumps(PAYMENT), conf={"auto.register.schemas": True})
    kser = AvroSerializer(client, json.dumps("string"), conf={"auto.register.schemas": True})
    parsed = fastavro.parse_schema(PAYMENT)
    values = list(payments())
    framed = [ser(v, ctx) for v in values]
    keys = [kser("key-%d" % v["id"], kctx) for v in values]
    offsets = produce(topic, list(zip(keys, framed)))
    emit(topic, "avro", offsets, framed, [avro_json(parsed, v) for v in values],
         keys=[("key-%d" % v["id"], framing(k)) for v, k in zip(values, keys)])


def orders():
    Order = shop_pb2.Order
    full = Order(id=2 ** 62, customer_name="Zo\u00eb \U0001F600", status=Order.STATUS_SHIPPED,
                 lines=[Order.Line(sku="A-1", quantity=2, price=9.99), Order.Line(sku="B-2")],
                 ship_to=common_pb2.Address(street="Main St 1", city="Berlin", zip=10115),
                 labels={"gift": "yes", "prio": "high"}, blob=b"\x00\xff\x10A", gift=True,
                 big_count=2 ** 64 - 1, ratio=0.1, card="4111-1111", note="", tier=common_pb2.TIER_GOLD)
    full.created_at.FromDatetime(datetime.datetime(2024, 5, 6, 7, 8, 9, 123456))
    yield full
    yield Order()  # every field at its default
    yield Order(id=-5, voucher=0, lines=[Order.Line()])  # a oneof set to its default


def print_json(msg):
    try:
        text = json_format.MessageToJson(msg, always_print_fields_with_no_presence=True)
    except TypeError:  # protobuf < 5.26 names it so
        text = json_format.MessageToJson(msg, including_default_value_fields=True)
    return json.loads(text)


@step
def protobuf():
    topic = PREFIX + "-proto"
    create_topics(topic)
    ctx = SerializationContext(topic, MessageField.VALUE)
    conf = {"auto.register.schemas": True}
    msgs = list(orders())
    Shipment = shop_pb2.Shipment
    msgs.append(Shipment(order_ref="o-1", parcels=[Shipment.Parcel(tracking_id="T1", weight_kg=1.25, contents=["a"])],
                         destination=common_pb2.Address(city="Wien"), delta=-7, checksum=4294967295))
    msgs.append(Shipment.Parcel(tracking_id="T2", contents=["x", "y"]))
    msgs.append(Shipment())
    sers = {}
    framed = []
    for m in msgs:
        ser = sers.setdefault(type(m), ProtobufSerializer(type(m), client, conf))
        framed.append(ser(m, ctx))
    want = [[0], [0], [0], [1], [1, 0], [1]]
    got = [message_indexes(b) for b in framed]
    if got != want:
        raise AssertionError("message indexes %r, want %r" % (got, want))
    reg = client.get_latest_version(topic + "-value")
    refs = sorted(r.name for r in (reg.schema.references or []))
    if refs != ["interop/common.proto"]:
        raise AssertionError("%s-value references %r, want interop/common.proto (google/protobuf is built in)" % (topic, refs))
    offsets = produce(topic, [(None, b) for b in framed])
    emit(topic, "protobuf", offsets, framed, [print_json(m) for m in msgs])


ORDER_JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Order", "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "customer": {"type": "string"},
        "amount": {"type": "number"},
        "paid": {"type": "boolean"},
        "note": {"type": ["string", "null"]},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "sku": {"type": "string"}, "qty": {"type": "integer"}}}},
        "address": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
    "required": ["id", "customer"],
}


@step
def jsonschema():
    topic = PREFIX + "-json"
    create_topics(topic)
    ctx = SerializationContext(topic, MessageField.VALUE)
    ser = JSONSerializer(json.dumps(ORDER_JSON_SCHEMA), client, conf={"auto.register.schemas": True})
    values = [
        {"id": 1, "customer": "c1", "amount": 2.25, "paid": True, "note": None,
         "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}], "address": {"city": "K\u00f6ln"}},
        {"id": 2 ** 53 + 1, "customer": "\U0001F600 \"q\" \\ \u2028", "amount": 1e-7, "items": []},
        {"id": 0, "customer": ""},
    ]
    framed = [ser(v, ctx) for v in values]
    offsets = produce(topic, [(None, b) for b in framed])
    emit(topic, "jsonschema", offsets, framed, values)


print(json.dumps({"ok": not failures, "detail": "\n".join(failures) or "all written"}), flush=True)
