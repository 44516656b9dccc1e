// kafkajs with @kafkajs/confluent-schema-registry against Moldau's registry.
//
// Run by tests/schemaregistry_clients_test.go with one JSON argument
//   {"bootstrap": HOST:PORT, "registry": URL, "prefix": P}
// and NODE_PATH pointing at the modules tests/schemaregistry/setup.sh
// installs. Each check prints one JSON line
//   {"check": NAME, "ok": bool, "detail": str, "topic": T, "subject": S, "id": N, "records": R}
// and the last line is {"ok": all passed, "detail": summary}.
'use strict'

const { Kafka, logLevel } = require('kafkajs')
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry')

const cfg = JSON.parse(process.argv[2])
const kafka = new Kafka({ clientId: 'moldau-sr-test', brokers: [cfg.bootstrap], logLevel: logLevel.NOTHING })
const registry = new SchemaRegistry({ host: cfg.registry })
const results = []

function report(check, ok, detail, extra) {
  const line = Object.assign({ check, ok, detail }, extra || {})
  results.push(line)
  console.log(JSON.stringify(line))
}

async function createTopic(topic) {
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
}

async function produceConsume(topic, buffers) {
  const producer = kafka.producer({ idempotent: true })
  await producer.connect()
  await producer.send({ topic, messages: buffers.map((value) => ({ value })) })
  await producer.disconnect()
  const consumer = kafka.consumer({ groupId: `${cfg.prefix}-${topic}` })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const got = []
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed ${got.length} of ${buffers.length} records in 60 s`)), 60000)
    consumer.run({
      eachMessage: async ({ message }) => {
        got.push(message.value)
        if (got.length === buffers.length) {
          clearTimeout(timer)
          resolve()
        }
      },
    }).catch(reject)
  })
  await consumer.disconnect()
  return got
}

function equal(a, b) {
  return JSON.stringify(a) === JSON.stringify(b)
}

async function roundTrip(name, kind, schema, values, toPlain) {
  const topic = `${cfg.prefix}-${kind}`
  const subject = `${topic}-value`
  await createTopic(topic)
  const { id } = await registry.register(schema, { subject })
  const encoded = await Promise.all(values.map((v) => registry.encode(id, v)))
  const consumed = await produceConsume(topic, encoded)
  const decoded = await Promise.all(consumed.map((b) => registry.decode(b)))
  const plain = decoded.map(toPlain || ((x) => x))
  if (!equal(plain, values)) {
    throw new Error(`decoded ${JSON.stringify(plain)}, produced ${JSON.stringify(values)}`)
  }
  const latest = await registry.getLatestSchemaId(subject)
  if (latest !== id) {
    throw new Error(`getLatestSchemaId(${subject}) = ${latest}, registered ${id}`)
  }
  const fetched = await registry.getSchema(id) // GET /schemas/ids/{id}, uncached by a fresh client
  if (!fetched) throw new Error(`no schema for id ${id}`)
  report(name, true, `${values.length} records through ${topic}; ${subject} id ${id}`, { topic, subject, id, records: values.length })
}

const avroV1 = {
  type: 'record', name: 'Payment', namespace: 'moldau.srtest',
  fields: [{ name: 'id', type: 'string' }, { name: 'amount', type: 'double' }],
}

const checks = [
  ['avro register, encode, produce, consume, decode', () => roundTrip('avro register, encode, produce, consume, decode', 'avro',
    { type: SchemaType.AVRO, schema: JSON.stringify(avroV1) },
    [0, 1, 2, 3, 4].map((i) => ({ id: `p${i}`, amount: i * 1.25 })))],
  ['json schema register, encode, produce, consume, decode', () => roundTrip('json schema register, encode, produce, consume, decode', 'json',
    { type: SchemaType.JSON, schema: JSON.stringify({
      $schema: 'http://json-schema.org/draft-07/schema#', title: 'Payment', type: 'object',
      properties: { id: { type: 'string' }, amount: { type: 'number' } }, required: ['id'],
    }) },
    [0, 1, 2, 3, 4].map((i) => ({ id: `j${i}`, amount: i * 2.5 })))],
  ['protobuf register, encode, produce, consume, decode', () => roundTrip('protobuf register, encode, produce, consume, decode', 'proto',
    { type: SchemaType.PROTOBUF, schema: 'syntax = "proto3";\npackage moldau.srtest;\n\nmessage Payment {\n  string id = 1;\n  double amount = 2;\n}\n' },
    [0, 1, 2, 3, 4].map((i) => ({ id: `b${i}`, amount: i * 0.5 + 1 })),
    (m) => ({ id: m.id, amount: m.amount }))],
  ['incompatible avro evolution refused with 409', async (name) => {
    const subject = `${cfg.prefix}-avro-value`
    const v2 = Object.assign({}, avroV1, { fields: avroV1.fields.concat([{ name: 'currency', type: 'string' }]) })
    try {
      await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject })
    } catch (e) {
      if (e.status !== 409) throw new Error(`status ${e.status}: ${e.message}; want 409`)
      report(name, true, e.message)
      return
    }
    throw new Error('a new required field without a default was registered under BACKWARD')
  }],
  ['compatible avro evolution (optional field with a default) registered as version 2', async (name) => {
    const subject = `${cfg.prefix}-avro-value`
    const v2 = Object.assign({}, avroV1, { fields: avroV1.fields.concat([{ name: 'currency', type: ['null', 'string'], default: null }]) })
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject })
    const v2id = await registry.getRegistryId(subject, 2)
    if (v2id !== id) throw new Error(`version 2 has id ${v2id}, registered ${id}`)
    const encoded = await registry.encode(id, { id: 'x', amount: 1, currency: 'EUR' })
    const decoded = await registry.decode(encoded)
    if (decoded.currency !== 'EUR') throw new Error(`decoded ${JSON.stringify(decoded)}`)
    report(name, true, `${subject} v2 id ${id}`)
  }],
]

;(async () => {
  for (const [name, fn] of checks) {
    try {
      await fn(name)
    } catch (e) {
      report(name, false, `${e.name}: ${e.message}\n${e.stack}`)
    }
  }
  console.log(JSON.stringify({ ok: results.length > 0 && results.every((r) => r.ok), detail: `${results.filter((r) => r.ok).length} of ${results.length} checks passed` }))
  process.exit(0)
})()
