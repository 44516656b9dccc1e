// scenario.mjs: a newcomer's first minutes with Moldau's web console, in
// headless Chromium (Debian's, never a downloaded build) driven by
// playwright-core. Run by tests/console_browser_test.go against the real
// moldau binary; it uses only the UI contract of broker/console/API.md
// (hash routes and data-testids), never the JSON API.
//
// Environment:
//   CONSOLE_URL      the console, e.g. http://127.0.0.1:PORT
//   ARTIFACTS        directory for the PNG screenshots (created)
//   CHROMIUM         the browser (default /usr/bin/chromium)
//   NODE_PATH        where tests/console/setup.sh installed playwright-core
//   BURST            how many records the Go test produces into "clicks"
//                    after the signal produce-burst (default 2000)
//   AVRO_TOPIC, AVRO_SUBJECT, AVRO_VALUE
//                    the topic the Go test filled with one Avro record
//                    (Confluent framing), its value subject, and the
//                    record's value as JSON
//
// The Go test acts between the steps: the scenario prints a line
// "@@signal NAME" (produce-burst, group-watch) and then watches, without
// reloading the page, what the Go side does. Steps print "scenario: ...";
// the exit status is 0 only when every step passed. On failure the page is
// saved as failure.png and its text as failure.txt.

import { createRequire } from 'node:module'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'

// playwright-core is resolved through NODE_PATH (ES module imports ignore
// it; CommonJS require honours it).
const require = createRequire(import.meta.url)
const { chromium } = require('playwright-core')

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback
  if (v === undefined || v === '') throw new Error(`scenario: ${name} is not set`)
  return v
}
const consoleURL = env('CONSOLE_URL').replace(/\/$/, '')
const artifacts = env('ARTIFACTS')
const executablePath = env('CHROMIUM', '/usr/bin/chromium')
const burst = Number(env('BURST', '2000'))
const avroTopic = env('AVRO_TOPIC')
const avroSubject = env('AVRO_SUBJECT')
const avroValue = JSON.parse(env('AVRO_VALUE'))

const topic = 'clicks'
const group = 'readers'
const k1Value = { page: '/welcome', user: 'newcomer', n: 1 }

mkdirSync(artifacts, { recursive: true })

const log = (...args) => console.log('scenario:', ...args)
const signal = (name) => console.log(`@@signal ${name}`)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function fail(msg) {
  throw new Error(msg)
}

// canonical is JSON with sorted keys, for comparing documents.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`
  }
  return JSON.stringify(v)
}

// count parses a number the UI shows ("2001", "2,001", "2 001").
function count(text, what) {
  const digits = (text ?? '').replace(/[\s,.\u00a0\u202f']/g, '')
  if (!/^-?\d+$/.test(digits)) fail(`${what}: ${JSON.stringify(text)} is not a number`)
  return Number(digits)
}

const launchArgs = ['--disable-dev-shm-usage']
// Chromium refuses to run as root with its sandbox on (CI runs as root).
if (typeof process.getuid === 'function' && process.getuid() === 0) launchArgs.push('--no-sandbox')

const browser = await chromium.launch({ executablePath, headless: true, args: launchArgs })
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
// The message browser's copy buttons write to the clipboard; the scenario
// reads it back.
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: consoleURL })
const page = await context.newPage()
page.setDefaultTimeout(20_000)
const tid = (id) => page.getByTestId(id)

// The console is a single-page app: after the first load, every step must
// happen without the page loading again (pages refresh their data
// themselves every 2 s).
let loads = 0
page.on('load', () => { loads++ })
const pageErrors = []
page.on('pageerror', (err) => {
  pageErrors.push(String(err))
  log('uncaught error in the page:', String(err))
})
// A Content-Security-Policy violation is the console's own headers
// blocking the console's own page (a broken icon, style or script): a
// defect, like an uncaught error. Other console errors are logged.
page.on('console', (m) => {
  if (m.type() !== 'error') return
  log('browser console error:', m.text())
  if (m.text().includes('Content Security Policy')) pageErrors.push(m.text())
})

const shots = []
async function screenshot(name) {
  const file = path.join(artifacts, name)
  await page.screenshot({ path: file, fullPage: true })
  shots.push(file)
  log('screenshot', file)
}

// setField fills an input or chooses an option of a select.
async function setField(id, value) {
  const el = tid(id)
  if ((await el.evaluate((e) => e.tagName)) === 'SELECT') await el.selectOption(value)
  else await el.fill(value)
}

function assertNoReload(what) {
  if (loads !== 1) fail(`${what}: the page loaded ${loads} times; the console must update without a reload`)
}

async function assertNoErrorBanner(what) {
  if (await tid('error-banner').isVisible()) {
    fail(`${what}: error banner shows ${JSON.stringify(await tid('error-banner').innerText())}`)
  }
}

// waitText polls a locator's text until pred(text) holds.
async function waitText(locator, what, pred, timeout = 20_000) {
  const deadline = Date.now() + timeout
  let last
  for (;;) {
    try {
      last = (await locator.innerText({ timeout: 1_000 })).trim()
      if (pred(last)) return last
    } catch (err) {
      last = `(${err.message.split('\n')[0]})`
    }
    if (Date.now() > deadline) fail(`${what}: timed out after ${timeout} ms; last ${JSON.stringify(last)}`)
    await sleep(200)
  }
}

// watchCount polls a number the page refreshes by itself until it equals
// want, checking that it only moves in one direction and that intermediate
// values were shown on the way (real time: no reload in between). onMid
// runs at each intermediate value (a screenshot: the last one stays).
async function watchCount(locator, what, { from, want, direction, timeout, onMid }) {
  const seen = [from]
  const deadline = Date.now() + timeout
  for (;;) {
    const n = count(await locator.innerText(), what)
    const prev = seen[seen.length - 1]
    if (n !== prev) {
      if ((n - prev) * direction < 0) fail(`${what}: went from ${prev} to ${n}; values seen ${seen.join(' → ')}`)
      seen.push(n)
      log(`${what}: ${n}`)
      if (n !== want && onMid) await onMid(n)
    }
    if (n === want) break
    if (Date.now() > deadline) fail(`${what}: not ${want} after ${timeout} ms; values seen ${seen.join(' → ')}`)
    await sleep(150)
  }
  const intermediate = seen.slice(1, -1)
  // At least two values strictly between the start and the end: the page
  // showed the change as it happened, over several of its refreshes.
  if (intermediate.length < 2) {
    fail(`${what}: only ${intermediate.length} intermediate values between ${from} and ${want} (${seen.join(' → ')}); the page does not refresh itself`)
  }
  assertNoReload(what)
  return seen
}

const steps = []
async function step(name, fn) {
  const start = Date.now()
  log(`step ${steps.length + 1}: ${name}`)
  await fn()
  steps.push(name)
  log(`ok ${name} (${Date.now() - start} ms)`)
}

let failed = false
try {
  await step('overview shows one broker', async () => {
    await page.goto(`${consoleURL}/#/`)
    await waitText(tid('overview-brokers'), 'overview-brokers', (t) => count(t, 'overview-brokers') === 1)
    await tid('overview-topics').waitFor()
    await tid('overview-partitions').waitFor()
    await assertNoErrorBanner('overview')
    await screenshot('01-overview.png')
  })

  await step(`create topic ${topic} with 3 partitions through the form`, async () => {
    await tid('nav-topics').click()
    await tid('create-topic-open').click()
    await setField('create-topic-name', topic)
    await setField('create-topic-partitions', '3')
    await setField('create-topic-replication', '1')
    await tid('create-topic-submit').click()
    const row = page.locator(`[data-testid="topic-row"][data-topic="${topic}"]`)
    await row.waitFor()
    await assertNoErrorBanner('create topic')
    await row.getByTestId('topic-link').click()
    await waitText(tid('topic-title'), 'topic-title', (t) => t.includes(topic))
    await tid('tab-partitions').click()
    await page.locator('[data-testid="partition-row"]').nth(2).waitFor()
    const n = await page.locator('[data-testid="partition-row"]').count()
    if (n !== 3) fail(`topic ${topic} shows ${n} partition rows, want 3`)
    assertNoReload('create topic')
  })

  await step('produce key k1 with a JSON value through the Produce tab', async () => {
    await tid('tab-produce').click()
    await setField('produce-key', 'k1')
    await setField('produce-value', JSON.stringify(k1Value))
    await tid('produce-value-format').selectOption('json')
    await tid('produce-submit').click()
    await waitText(tid('produce-result'), 'produce-result', (t) => /offset\s+\d+/.test(t))
    if (await tid('produce-error').isVisible()) fail(`produce-error: ${await tid('produce-error').innerText()}`)
  })

  await step('the message browser shows k1 with its decoded JSON value', async () => {
    await tid('tab-messages').click()
    await tid('browse-start').selectOption('earliest')
    await tid('browse-submit').click()
    const row = page.locator('[data-testid="message-row"]').filter({
      has: page.locator('[data-testid="message-key"]', { hasText: 'k1' }),
    })
    await row.first().waitFor()
    const value = (await row.first().getByTestId('message-value').innerText()).trim()
    let doc
    try {
      doc = JSON.parse(value)
    } catch {
      fail(`message-value ${JSON.stringify(value)} is not the decoded JSON document`)
    }
    if (canonical(doc) !== canonical(k1Value)) fail(`message-value ${value}, want ${JSON.stringify(k1Value)}`)
    const format = (await row.first().getByTestId('message-format').innerText()).toLowerCase()
    if (!format.includes('json')) fail(`message-format ${JSON.stringify(format)}, want json`)
    await waitText(tid('topic-messages-count'), 'topic-messages-count', (t) => count(t, 'topic-messages-count') === 1)
    await screenshot('02-message-browser.png')
    assertNoReload('message browser')
  })

  await step('the record opens in full and its value copies to the clipboard', async () => {
    const row = page.locator('[data-testid="message-row"]').filter({
      has: page.locator('[data-testid="message-key"]', { hasText: 'k1' }),
    }).first()
    await row.getByTestId('message-expand').click()
    const detail = tid('message-detail')
    await detail.waitFor()
    await detail.getByTestId('message-copy-value').click()
    await waitText(detail.getByTestId('message-copy-value'), 'message-copy-value', (t) => t === 'Copied', 5_000)
    const copied = await page.evaluate(() => navigator.clipboard.readText())
    let doc
    try {
      doc = JSON.parse(copied)
    } catch {
      fail(`the clipboard holds ${JSON.stringify(copied)}, not the value's JSON`)
    }
    if (canonical(doc) !== canonical(k1Value)) fail(`copied value ${copied}, want ${JSON.stringify(k1Value)}`)
    await row.getByTestId('message-expand').click()
    await detail.waitFor({ state: 'detached' })
    // Back to the newest records, the view in which the next step's burst
    // shows up as "N new records".
    await tid('browse-start').selectOption('latest')
    await tid('browse-submit').click()
    await page.locator('[data-testid="message-row"]').first().waitFor()
    assertNoReload('record detail')
  })

  await step(`the message count rises in real time while ${burst} records arrive`, async () => {
    await tid('topic-sparkline').waitFor()
    signal('produce-burst')
    await watchCount(tid('topic-messages-count'), 'topic-messages-count', {
      from: 1,
      want: 1 + burst,
      direction: 1,
      timeout: 90_000,
      onMid: () => screenshot('03-topic-filling.png'),
    })
    await assertNoErrorBanner('topic filling')
  })

  await step(`the message browser offers the ${burst} new records and shows them on request`, async () => {
    // The list still shows what it showed before the burst (auto-refresh
    // is off); the hint counts what arrived since.
    if (await tid('browse-live').isChecked()) fail('browse-live is on; the new-records hint needs it off')
    await waitText(tid('browse-new-count'), 'browse-new-count', (t) => count(t, 'browse-new-count') === burst)
    await screenshot('03b-new-records-hint.png')
    await tid('browse-new-refresh').click()
    await tid('browse-new-messages').waitFor({ state: 'detached' })
    const rows = page.locator('[data-testid="message-row"]')
    await waitText(tid('browse-summary'), 'browse-summary', (t) => /\b50\b/.test(t))
    const n = await rows.count()
    if (n !== 50) fail(`after showing the newest records: ${n} message rows, want 50 (the default limit)`)
    const keys = []
    for (let i = 0; i < n; i++) keys.push((await rows.nth(i).getByTestId('message-key').innerText()).trim())
    if (keys.includes('k1')) fail('the newest 50 records still include k1, the record from before the burst')
    assertNoReload('new records')
  })

  await step(`group ${group}'s total lag falls to 0 while it consumes`, async () => {
    await tid('nav-groups').click()
    const row = page.locator(`[data-testid="group-row"][data-group="${group}"]`)
    await row.waitFor({ timeout: 60_000 })
    await waitText(row.getByTestId('group-lag'), 'group-lag', (t) => count(t, 'group-lag') === 1 + burst, 30_000)
    await row.getByTestId('group-link').click()
    await waitText(tid('group-title'), 'group-title', (t) => t.includes(group))
    await waitText(tid('group-total-lag'), 'group-total-lag', (t) => count(t, 'group-total-lag') === 1 + burst)
    signal('group-watch')
    await watchCount(tid('group-total-lag'), 'group-total-lag', {
      from: 1 + burst,
      want: 0,
      direction: -1,
      timeout: 120_000,
      onMid: () => screenshot('04-group-lag.png'),
    })
    const lagRows = page.locator('[data-testid="group-lag-row"]')
    const n = await lagRows.count()
    if (n !== 3) fail(`group ${group} shows ${n} lag rows, want 3 (one per partition of ${topic})`)
    for (let i = 0; i < n; i++) {
      const lag = count(await lagRows.nth(i).getByTestId('lag-value').innerText(), 'lag-value')
      if (lag !== 0) fail(`group-lag-row ${i}: lag ${lag}, want 0`)
    }
    await screenshot('05-group-caught-up.png')
  })

  await step(`an Avro value in ${avroTopic} shows decoded as JSON`, async () => {
    await tid('nav-topics').click()
    await page.locator(`[data-testid="topic-row"][data-topic="${avroTopic}"]`).getByTestId('topic-link').click()
    await waitText(tid('topic-title'), 'topic-title', (t) => t.includes(avroTopic))
    await tid('tab-messages').click()
    await tid('browse-start').selectOption('earliest')
    await tid('browse-submit').click()
    const row = page.locator('[data-testid="message-row"]').first()
    await row.waitFor()
    const format = (await row.getByTestId('message-format').innerText()).toLowerCase()
    if (!format.includes('avro')) fail(`message-format ${JSON.stringify(format)}, want avro`)
    const value = (await row.getByTestId('message-value').innerText()).trim()
    let doc
    try {
      doc = JSON.parse(value)
    } catch {
      fail(`message-value ${JSON.stringify(value)} is not the Avro record as JSON`)
    }
    if (canonical(doc) !== canonical(avroValue)) fail(`message-value ${value}, want ${JSON.stringify(avroValue)}`)
    await screenshot('06-avro-message.png')
  })

  await step(`the Schemas page lists ${avroSubject}`, async () => {
    await tid('nav-schemas').click()
    const row = page.locator(`[data-testid="subject-row"][data-subject="${avroSubject}"]`)
    await row.waitFor()
    const links = row.getByRole('link')
    if ((await links.count()) > 0) {
      await links.first().click()
    } else {
      await row.click()
    }
    await waitText(tid('schema-text'), 'schema-text', (t) => t.includes('PageView'))
    await screenshot('07-schema.png')
    assertNoReload('schemas')
  })

  await step('an unknown topic says so, without an error banner', async () => {
    await page.evaluate(() => {
      location.hash = '#/topics/no-such-topic'
    })
    await tid('topic-not-found').waitFor()
    await sleep(2_500) // a refresh later, still no banner
    await assertNoErrorBanner('unknown topic')
    await tid('nav-topics').click()
    await page.locator('[data-testid="topic-row"]').first().waitFor()
    assertNoReload('unknown topic')
  })

  if (pageErrors.length > 0) fail(`the page had ${pageErrors.length} uncaught errors or CSP violations: ${pageErrors.join('; ')}`)
} catch (err) {
  failed = true
  log('FAILED:', err.message)
  try {
    await page.screenshot({ path: path.join(artifacts, 'failure.png'), fullPage: true })
    writeFileSync(path.join(artifacts, 'failure.txt'), `${page.url()}\n\n${await page.locator('body').innerText()}\n`)
    log('page at failure saved:', path.join(artifacts, 'failure.png'), path.join(artifacts, 'failure.txt'))
  } catch (err2) {
    log('could not save the failing page:', err2.message)
  }
} finally {
  await browser.close()
}
log(`${steps.length} steps passed${failed ? ', then one failed' : ''}; screenshots in ${artifacts}`)
process.exit(failed ? 1 : 0)
