// kafkajs against a secured Moldau listener, for tests/security_node_test.go:
//
//   node secure.js CONFIG_JSON
//
// CONFIG_JSON: {"brokers": [...], "ssl": {"ca": PEM} | null,
//   "sasl": {"mechanism": "plain"|"scram-sha-256"|"scram-sha-512", "username", "password"},
//   "topic", "values": [...], "expect": "ok"|"auth_failure"}
// With "ok" the values are produced to partition 0 and read back through a
// consumer group; with "auth_failure" connecting must fail with kafkajs's
// KafkaJSSASLAuthenticationError. Prints one JSON line {"ok", "detail"}.
'use strict'
const { Kafka, logLevel } = require('kafkajs')

const cfg = JSON.parse(process.argv[2])
const kafka = new Kafka({
  clientId: 'moldau-security-kafkajs',
  brokers: cfg.brokers,
  ssl: cfg.ssl || false,
  sasl: cfg.sasl,
  logLevel: logLevel.NOTHING,
  connectionTimeout: 5000,
  retry: { retries: cfg.expect === 'ok' ? 5 : 0, initialRetryTime: 100 }
})

async function roundTrip () {
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({ topic: cfg.topic, messages: cfg.values.map(v => ({ value: v, partition: 0 })) })
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: 'kafkajs-secure-' + cfg.topic, maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topic: cfg.topic, fromBeginning: true })
  const got = []
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${got.length} of ${cfg.values.length} records within 30 s`)), 30000)
    consumer.run({
      eachMessage: async ({ message }) => {
        got.push(message.value.toString())
        if (got.length >= cfg.values.length) { clearTimeout(timer); resolve() }
      }
    }).catch(reject)
  })
  await consumer.disconnect()
  if (JSON.stringify(got) !== JSON.stringify(cfg.values)) throw new Error(`read back ${JSON.stringify(got)}, want ${JSON.stringify(cfg.values)}`)
  return `read back ${got.length} records`
}

async function authFailure () {
  const producer = kafka.producer()
  try {
    await producer.connect()
  } catch (e) {
    if (e.name === 'KafkaJSSASLAuthenticationError') return `${e.name}: ${e.message}`
    throw new Error(`connect failed with ${e.name}: ${e.message}, want KafkaJSSASLAuthenticationError`)
  }
  await producer.disconnect()
  throw new Error('connected with a wrong password')
}

(cfg.expect === 'ok' ? roundTrip() : authFailure())
  .then(detail => { console.log(JSON.stringify({ ok: true, detail })); process.exit(0) })
  .catch(e => { console.log(JSON.stringify({ ok: false, detail: String(e && e.stack || e) })); process.exit(1) })
