// Compat driver for kafkajs: node driver.js BOOTSTRAP scenario[,scenario...]
// Prints one JSON line per scenario (tests/compat/README.md). kafkajs has no
// assign-mode consumer: every consume goes through a fresh consumer group.
'use strict'
const { Kafka, CompressionTypes, CompressionCodecs, ConfigResourceTypes, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec

const [bootstrap, scenarioList] = process.argv.slice(2)
// Replication factor of created topics: $COMPAT_RF (3 against a cluster, -cluster), else 1.
const rf = parseInt(process.env.COMPAT_RF || '1', 10)
// Broker count Metadata must list: $COMPAT_BROKERS (1, or 3 with -cluster); 0: at least one.
const wantBrokers = parseInt(process.env.COMPAT_BROKERS || '0', 10)
const client = 'kafkajs'
const kafka = new Kafka({ clientId: 'compat-kafkajs', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } })

class NA extends Error {}
class Fail extends Error {}
const check = (ok, msg) => { if (!ok) throw new Fail(msg) }
const sleep = ms => new Promise(r => setTimeout(r, ms))
const topicName = s => `compat-${s}-${Math.floor(Math.random() * 2 ** 32)}`
const values = (prefix, n) => Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`${prefix}${i}`) }))
const eq = (a, b) => (a == null && b == null) || (a != null && b != null && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0)

function sameKV (got, want) {
  check(got.length === want.length, `got ${got.length} records, want ${want.length}`)
  want.forEach((w, i) => check(eq(got[i].key, w.key) && eq(got[i].value, w.value),
    `record ${i}: got ${got[i].key}=${got[i].value}, want ${w.key}=${w.value}`))
}

async function waitFor (what, cond, ms = 20000) {
  const deadline = Date.now() + ms
  let last
  while (Date.now() < deadline) {
    try { if (await cond()) return } catch (e) { last = e }
    await sleep(200)
  }
  throw new Fail(what + (last ? `: ${last.message}` : ''))
}

async function withAdmin (fn) {
  const admin = kafka.admin()
  await admin.connect()
  try { return await fn(admin) } finally { await admin.disconnect() }
}

async function createTopic (t, numPartitions, configs = {}) {
  await withAdmin(async admin => {
    const configEntries = Object.entries(configs).map(([name, value]) => ({ name, value }))
    await admin.createTopics({ topics: [{ topic: t, numPartitions, replicationFactor: rf, configEntries }], waitForLeaders: true })
    await waitFor('topic not in metadata after create', async () => {
      const md = await admin.fetchTopicMetadata({ topics: [t] })
      const ps = md.topics[0].partitions
      return ps.length === numPartitions && ps.every(p => p.leader >= 0)
    }, 15000)
  })
}

const codecs = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }

function toMessage (r) {
  const m = { key: r.key, value: r.value, partition: 0 }
  if (r.ts != null) m.timestamp = String(r.ts)
  if (r.headers) {
    m.headers = {}
    for (const [k, v] of r.headers) {
      if (k in m.headers) m.headers[k] = [].concat(m.headers[k], v)
      else m.headers[k] = v
    }
  }
  return m
}

async function produce (t, recs, { codec = 'none', acks = -1, idempotent = false } = {}) {
  if (codec === 'lz4') throw new NA('kafkajs ships no lz4 codec; the plug-in kafkajs-lz4 needs the native module lz4@0.6 (node-gyp), not built here')
  if (codec === 'zstd') throw new NA('kafkajs ships no zstd codec; the plug-in @kafkajs/zstd needs the native cppzst, which fails to compile against Node 20 headers')
  const p = kafka.producer({ idempotent, maxInFlightRequests: idempotent ? 1 : undefined, allowAutoTopicCreation: false })
  await p.connect()
  try {
    await p.send({ topic: t, acks, compression: codecs[codec], messages: recs.map(toMessage) })
  } finally { await p.disconnect() }
}

function fromMessage (m) {
  const headers = []
  for (const [k, v] of Object.entries(m.headers || {})) {
    for (const x of [].concat(v)) headers.push([k, x])
  }
  return { key: m.key, value: m.value, ts: Number(m.timestamp), offset: Number(m.offset), headers }
}

// consume: through a fresh group (kafkajs has no assign mode). start is
// 'earliest', 'latest' or an offset.
async function consume (t, start, n, positioned, opts = {}) {
  const c = kafka.consumer({ groupId: `compat-read-${t}-${Math.random()}`, maxWaitTimeInMs: 200, ...opts })
  await c.connect()
  const out = []
  try {
    let joined
    const join = new Promise(resolve => { joined = resolve })
    c.on(c.events.GROUP_JOIN, () => joined())
    await c.subscribe({ topics: [t], fromBeginning: start !== 'latest' })
    let done
    const finished = new Promise(resolve => { done = resolve })
    await c.run({ autoCommit: false, eachMessage: async ({ message }) => { out.push(fromMessage(message)); if (out.length >= n) done() } })
    if (typeof start === 'number') c.seek({ topic: t, partition: 0, offset: String(start) })
    await join
    if (positioned) {
      await sleep(1500) // the first fetch resolves the end offset
      check(out.length === 0, `consumer at latest returned ${out.length} old records`)
      await positioned()
    }
    await Promise.race([finished, sleep(20000).then(() => { throw new Fail(`read ${out.length} of ${n} records`) })])
    return out.slice(0, n)
  } finally { await c.disconnect() }
}

async function produceConsume (n, opts) {
  const t = topicName('produce')
  await createTopic(t, 1)
  const want = values('v', n)
  await produce(t, want, opts)
  const got = await consume(t, 'earliest', n)
  sameKV(got, want)
  got.forEach((r, i) => check(r.offset === i, `record ${i} at offset ${r.offset}`))
}

async function metadata () {
  const t = topicName('metadata')
  await createTopic(t, 3)
  await withAdmin(async admin => {
    const cl = await admin.describeCluster()
    check(cl.brokers.length >= 1 && (wantBrokers === 0 || cl.brokers.length === wantBrokers),
      `${cl.brokers.length} brokers, want ${Math.max(wantBrokers, 1)}`)
    const md = await admin.fetchTopicMetadata({ topics: [t] })
    check(md.topics[0].partitions.length === 3, `${md.topics[0].partitions.length} partitions, want 3`)
  })
}

async function topicsAdmin () {
  const t = topicName('topics_admin')
  await createTopic(t, 2)
  await withAdmin(async admin => {
    check((await admin.listTopics()).includes(t), 'listTopics does not include the new topic')
    await admin.createPartitions({ topicPartitions: [{ topic: t, count: 3 }] })
    await waitFor('not 3 partitions after createPartitions', async () => (await admin.fetchTopicMetadata({ topics: [t] })).topics[0].partitions.length === 3)
    await admin.deleteTopics({ topics: [t] })
    await waitFor('topic still listed after delete', async () => !(await admin.listTopics()).includes(t))
  })
}

async function configs () {
  const t = topicName('configs')
  await createTopic(t, 1, { 'retention.ms': '3600000' })
  await withAdmin(async admin => {
    const describe = async () => {
      const r = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: t, configNames: ['retention.ms'] }], includeSynonyms: false })
      return r.resources[0].configEntries.find(e => e.configName === 'retention.ms').configValue
    }
    const v = await describe()
    check(v === '3600000', `retention.ms = ${v} after create`)
    // kafkajs has only AlterConfigs (not incremental).
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: t, configEntries: [{ name: 'retention.ms', value: '7200000' }] }] })
    await waitFor('retention.ms not 7200000 after alter', async () => (await describe()) === '7200000')
  })
}

async function roundtrip () {
  const t = topicName('roundtrip')
  await createTopic(t, 1)
  const base = 1700000000123
  const want = [
    { key: Buffer.from('key-1'), value: Buffer.from([...Array(256).keys()]), ts: base, headers: [['h1', Buffer.from('v1')], ['h1', Buffer.from('v2')], ['empty', Buffer.alloc(0)], ['bin', Buffer.from([0, 0xff, 0x80])]] },
    { key: null, value: Buffer.from('no key'), ts: base + 1000, headers: [] },
    { key: Buffer.from([0, 1, 2, 0xfe]), value: Buffer.from('ünïcödé ✓'), ts: base - 3600000, headers: [['ключ', Buffer.from('значение')]] }
  ]
  await produce(t, want)
  const got = await consume(t, 'earliest', 3)
  sameKV(got, want)
  want.forEach((w, i) => {
    const g = got[i]
    check((g.key == null) === (w.key == null), `record ${i}: null key not preserved`)
    check(g.ts === w.ts, `record ${i}: timestamp ${g.ts}, want ${w.ts}`)
    check(g.headers.length === w.headers.length, `record ${i}: ${g.headers.length} headers, want ${w.headers.length}`)
    w.headers.forEach(([k, v], j) => check(g.headers[j][0] === k && eq(g.headers[j][1], v), `record ${i} header ${j} differs`))
  })
}

async function consumeLatest () {
  const t = topicName('consume_latest')
  await createTopic(t, 1)
  await produce(t, values('old', 5))
  const want = values('new', 5)
  const got = await consume(t, 'latest', 5, () => produce(t, want))
  sameKV(got, want)
  check(got[0].offset === 5, `first record at offset ${got[0].offset}, want 5`)
}

async function consumeTimestamp () {
  const t = topicName('consume_timestamp')
  await createTopic(t, 1)
  const base = Date.now() - 3600000
  const recs = values('v', 10).map((r, i) => ({ ...r, ts: base + i * 1000 }))
  await produce(t, recs)
  const offs = await withAdmin(admin => admin.fetchTopicOffsetsByTimestamp(t, base + 4500))
  const off = Number(offs.find(p => p.partition === 0).offset)
  check(off === 5, `offset for time = ${off}, want 5`)
  sameKV(await consume(t, off, 5), recs.slice(5))
}

async function groupConsume (group, t, n, commitAt) {
  const c = kafka.consumer({ groupId: group, maxWaitTimeInMs: 200 })
  await c.connect()
  const out = []
  try {
    await c.subscribe({ topics: [t], fromBeginning: true })
    let done
    const finished = new Promise(resolve => { done = resolve })
    await c.run({ autoCommit: false, eachMessage: async ({ message }) => { out.push(fromMessage(message)); if (out.length >= n) done() } })
    await Promise.race([finished, sleep(20000).then(() => { throw new Fail(`read ${out.length} of ${n} records`) })])
    await c.commitOffsets([{ topic: t, partition: 0, offset: String(commitAt) }])
    return out.slice(0, n)
  } finally { await c.disconnect() }
}

async function groupCommitResume () {
  const t = topicName('group')
  await createTopic(t, 1)
  const recs = values('v', 10)
  await produce(t, recs)
  const g = `g-${t}`
  sameKV(await groupConsume(g, t, 10, 6), recs)
  try { sameKV(await groupConsume(g, t, 4, 10), recs.slice(6)) } catch (e) { throw new Fail(`second member did not resume at the committed offset 6: ${e.message}`) }
}

async function twoMembers () {
  const t = topicName('group_two_members')
  await createTopic(t, 4)
  const g = `g-${t}`
  const owned = [[], []]
  const members = [0, 1].map(i => {
    const c = kafka.consumer({ groupId: g, maxWaitTimeInMs: 200, sessionTimeout: 10000, rebalanceTimeout: 10000 })
    c.on(c.events.GROUP_JOIN, e => { owned[i] = (e.payload.memberAssignment[t] || []) })
    return c
  })
  try {
    for (const c of members) {
      await c.connect()
      await c.subscribe({ topics: [t] })
      await c.run({ eachMessage: async () => {} })
    }
    await waitFor(`two members never split the partitions (own ${owned[0]} and ${owned[1]})`,
      () => owned[0].length > 0 && owned[1].length > 0 && owned[0].length + owned[1].length === 4, 25000)
    await members[1].disconnect()
    await waitFor('after one member left the other does not own all 4 partitions', () => owned[0].length === 4, 25000)
  } finally { for (const c of members) await c.disconnect() }
}

async function transactions () {
  const t = topicName('transactions')
  await createTopic(t, 1)
  const [a, b, c] = [values('committed-a', 3), values('aborted-b', 3), values('committed-c', 3)]
  const p = kafka.producer({ transactionalId: `txn-${t}`, idempotent: true, maxInFlightRequests: 1 })
  await p.connect()
  try {
    for (const [recs, commit] of [[a, true], [b, false], [c, true]]) {
      const txn = await p.transaction()
      await txn.send({ topic: t, messages: recs.map(toMessage) })
      if (commit) await txn.commit(); else await txn.abort()
    }
  } finally { await p.disconnect() }
  sameKV(await consume(t, 'earliest', 6, null, { readUncommitted: false }), [...a, ...c])
}

const scenarios = {
  metadata,
  topics_admin: topicsAdmin,
  configs,
  produce_none: () => produceConsume(50, { codec: 'none' }),
  produce_gzip: () => produceConsume(50, { codec: 'gzip' }),
  produce_snappy: () => produceConsume(50, { codec: 'snappy' }),
  produce_lz4: () => produceConsume(50, { codec: 'lz4' }),
  produce_zstd: () => produceConsume(50, { codec: 'zstd' }),
  acks_0: () => produceConsume(10, { acks: 0 }),
  acks_1: () => produceConsume(10, { acks: 1 }),
  acks_all: () => produceConsume(10, { acks: -1 }),
  idempotent: () => produceConsume(100, { idempotent: true }),
  roundtrip,
  consume_earliest: () => produceConsume(10, {}),
  consume_latest: consumeLatest,
  consume_timestamp: consumeTimestamp,
  group_commit_resume: groupCommitResume,
  group_two_members: twoMembers,
  transactions_read_committed: transactions,
  static_membership: async () => { throw new NA('kafkajs has no static membership (group.instance.id)') },
  kip848: async () => { throw new NA('kafkajs implements only the classic consumer group protocol') },
  produce_record_errors: async () => { throw new NA('kafkajs speaks Produce up to v7, before per-record errors (v8, KIP-467): every record of a refused batch fails with the partition error') },
  share_group: async () => { throw new NA('kafkajs has no share consumer (KIP-932)') },
  streams_group_protocol: async () => { throw new NA('Kafka Streams (KIP-1071) is a Java library: no JavaScript client has it') },
  client_telemetry: async () => { throw new NA('kafkajs does not implement client metrics push (KIP-714)') },
  log_dirs: async () => { throw new NA('kafkajs 2.2.4 lists DescribeLogDirs as not implemented (no admin method, no request encoder)') },
  features: async () => { throw new NA('kafkajs has no UpdateFeatures, DescribeQuorum or finalized-feature API') }
}

async function main () {
  for (const name of scenarioList.split(',')) {
    let result = 'pass'; let reason = ''
    try {
      const fn = scenarios[name]
      if (!fn) throw new Fail('unknown scenario')
      await Promise.race([fn(), sleep(40000).then(() => { throw new Fail('scenario did not finish within 40s') })])
    } catch (e) {
      if (e instanceof NA) { result = 'na'; reason = e.message } else { result = 'fail'; reason = `${e.name}: ${e.message}`; console.error(name, e) }
    }
    process.stdout.write(JSON.stringify({ client, scenario: name, result, reason: reason.slice(0, 400) }) + '\n')
  }
  process.exit(0)
}
main()
