#!/usr/bin/env node
// Push notifier throughput: how many notifications one node's notifier sends per second to a
// local receiver on 127.0.0.1, for signed webhooks and for Web Push (RFC 8291 encryption and a
// VAPID signature per request), with the default concurrency. Reports figures; asserts nothing.
//
//   npm run build && node bench/push.mjs [--count 2000] [--concurrency 64]
import { createECDH, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import pino from 'pino'
import { Registry } from 'prom-client'
import webpush from 'web-push'
import { PushDispatcher } from '../dist/push/dispatcher.js'
import { PushMetrics } from '../dist/push/metrics.js'

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const COUNT = arg('count', 2000)
const CONCURRENCY = arg('concurrency', 64)

const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => res.writeHead(201).end())
})
await new Promise((r) => server.listen(0, '127.0.0.1', r))
const url = `http://127.0.0.1:${server.address().port}`
const vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:bench@chat.invalid' }
const browser = createECDH('prime256v1')
const keys = { p256dh: browser.generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') }

async function run(kind) {
  const done = []
  let finish
  const all = new Promise((r) => (finish = r))
  const d = new PushDispatcher({
    concurrency: CONCURRENCY, maxQueued: COUNT + 1, retry: { baseMs: 1000, maxMs: 60_000 }, giveUpMs: 3_600_000,
    timeoutMs: 10_000, ttlSeconds: 86_400, vapid: () => vapid, operator: null,
    metrics: new PushMetrics(new Registry(), () => 0, () => 0), log: pino({ level: 'silent' }), now: Date.now, random: Math.random,
    report: async (_user, results) => {
      done.push(...results)
      if (done.length >= COUNT) finish()
      return { removed: [] }
    },
  })
  const target = kind === 'webpush'
    ? { id: 's1', kind, deviceId: 'd', createdAt: 0, endpoint: `${url}/wp`, keys }
    : { id: 's1', kind, deviceId: 'd', createdAt: 0, url: `${url}/wh`, secret: 'bench-secret' }
  const jobs = Array.from({ length: COUNT }, (_, i) => ({
    user: `u${i % 500}`, createdAt: Date.now(), target,
    body: { id: `${kind}-${i}`, user: `u${i % 500}`, channel: 'dm:a:b', from: 'a', preview: 'x'.repeat(64), inboxSeq: i, count: 1, ts: Date.now() },
  }))
  const started = process.hrtime.bigint()
  const cpu = process.cpuUsage()
  d.submit(jobs)
  await all
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const used = process.cpuUsage(cpu)
  d.stop()
  const ok = done.filter((r) => r.outcome === 'delivered').length
  return { kind, notifications: COUNT, delivered: ok, seconds: +seconds.toFixed(2), perSecond: Math.round(COUNT / seconds), cpuMsPerNotification: +((used.user + used.system) / 1000 / COUNT).toFixed(3) }
}

const rows = [await run('webhook'), await run('webpush')]
server.close()
console.table(rows)
