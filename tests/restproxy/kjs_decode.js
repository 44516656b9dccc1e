// @kafkajs/confluent-schema-registry decoding records the REST Proxy wrote.
//
// Run by tests/restproxy_clients_test.go with one JSON argument
//   {"registry": URL, "records": [base64 of a record value, ...]}
// and NODE_PATH pointing at the modules tests/schemaregistry/setup.sh
// installs. SchemaRegistry.decode fetches each record's writer schema by
// the id in its framing and decodes it with avsc (unions wrapped, as Avro's
// JSON encoding writes them). It prints one line per record
//   {"value": the decoded value, bytes and fixed as ISO-8859-1 strings}
// and last {"ok": bool, "detail": str}.
'use strict'

const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry')

const cfg = JSON.parse(process.argv[2])
const registry = new SchemaRegistry({ host: cfg.registry }, { [SchemaType.AVRO]: { wrapUnions: true } })

// plain turns avsc's values into Avro's JSON encoding: Buffers (bytes,
// fixed) become one character per byte; records lose their classes.
function plain(v) {
  if (Buffer.isBuffer(v)) return v.toString('latin1')
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object') {
    const out = {}
    for (const k of Object.keys(v)) out[k] = plain(v[k])
    return out
  }
  return v
}

async function main() {
  for (const b64 of cfg.records) {
    const value = await registry.decode(Buffer.from(b64, 'base64'))
    console.log(JSON.stringify({ value: plain(value) }))
  }
}

main().then(
  () => console.log(JSON.stringify({ ok: true, detail: `${cfg.records.length} records decoded` })),
  (e) => console.log(JSON.stringify({ ok: false, detail: String(e && e.stack || e) })),
)
