/**
 * The parts of push that need no node: backoff and Retry-After, the webhook signature, the Topic,
 * the preview, the classification of answers, subscription checks, and the notifier against a
 * local receiver: bounded concurrency, the per-node queue bound, cancellation, give-up.
 */
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { Registry } from 'prom-client'
import t from 'tap'
import { parseRetryAfter, retryDelay } from '../../src/push/backoff.js'
import { PushDispatcher } from '../../src/push/dispatcher.js'
import { PushMetrics } from '../../src/push/metrics.js'
import { classify, signature, topicOf } from '../../src/push/send.js'
import { type PushJob, type PushResult, previewOf } from '../../src/push/types.js'
import { checkSubscription } from '../../src/push/validate.js'
import { checkPair } from '../../src/push/vapid.js'
import { BrowserKeys, verifyWebhookSignature } from '../helpers/push-receiver.js'
import { waitFor } from '../helpers/wait.js'

t.test('backoff grows with jitter, stays within the maximum, honours Retry-After up to it', async (t) => {
  const policy = { baseMs: 1000, maxMs: 60_000 }
  for (let attempt = 1; attempt <= 40; attempt++) {
    for (const r of [0, 0.5, 0.999]) {
      const d = retryDelay(policy, attempt, () => r)
      t.ok(d <= 60_000, `attempt ${attempt}: at most a minute`)
      t.ok(d >= Math.min(60_000, 1000 * 2 ** (attempt - 1)) / 2 - 1, `attempt ${attempt}: at least half its step`)
    }
  }
  t.ok(retryDelay(policy, 5, () => 0) > retryDelay(policy, 1, () => 0.999), 'later attempts wait longer')
  t.not(retryDelay(policy, 3, () => 0), retryDelay(policy, 3, () => 0.9), 'jitter spreads retries')
  t.equal(retryDelay(policy, 1, () => 0, 30_000), 30_000, 'Retry-After longer than the backoff wins')
  t.equal(retryDelay(policy, 1, () => 0, 600_000), 60_000, 'but never past the maximum')
  t.equal(parseRetryAfter('7', 0), 7000)
  t.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4000), 6000, 'an HTTP date')
  t.equal(parseRetryAfter('soon', 0), undefined)
  t.equal(parseRetryAfter(null, 0), undefined)
})

t.test('answers: 2xx delivered, 404/410 gone, 408/429/5xx retried, other 4xx rejected', async (t) => {
  const cases: Array<[number, string]> = [[200, 'delivered'], [201, 'delivered'], [204, 'delivered'], [404, 'gone'], [410, 'gone'],
    [408, 'retry'], [429, 'retry'], [500, 'retry'], [503, 'retry'], [400, 'rejected'], [401, 'rejected'], [403, 'rejected'], [413, 'rejected'], [301, 'rejected']]
  for (const [status, kind] of cases) t.equal(classify(status, null, 0).kind, kind, `${status}: ${kind}`)
  t.match(classify(429, '3', 0), { kind: 'retry', retryAfterMs: 3000 })
})

t.test('the webhook signature, the Topic, the preview', async (t) => {
  const raw = '{"id":"x"}'
  const header = signature('s3cret', raw, 1700000000123)
  t.match(header, /^t=1700000000123,v1=[0-9a-f]{64}$/)
  t.same(verifyWebhookSignature(header, 's3cret', Buffer.from(raw)), { t: 1700000000123 }, 'verifies with the receiver-side check')
  t.throws(() => verifyWebhookSignature(header, 's3cret', Buffer.from('{"id":"y"}')), 'not for another body')
  const topic = topicOf('dm:alice:bob')
  t.match(topic, /^[A-Za-z0-9_-]{32}$/)
  t.equal(topicOf('dm:alice:bob'), topic, 'stable per channel')
  t.not(topicOf('g:team'), topic)
  t.equal(previewOf('short'), 'short')
  t.equal([...previewOf('é'.repeat(50) + '😀'.repeat(80))].length, 100, '100 code points, not UTF-16 units')
  t.equal(previewOf('😀'.repeat(120)), '😀'.repeat(100), 'no broken surrogate pair')
})

t.test('subscription checks', async (t) => {
  const keys = new BrowserKeys()
  const sub = keys.subscription('https://push.example/abc')
  t.same(checkSubscription({ kind: 'webpush', subscription: sub }, true), { kind: 'webpush', ...sub })
  const padded = { ...sub, keys: { p256dh: keys.publicKey.toString('base64'), auth: keys.auth.toString('base64') } }
  const stored = checkSubscription({ kind: 'webpush', subscription: padded }, false)
  t.same('keys' in stored ? stored.keys : undefined, sub.keys, 'plain base64 with padding is accepted and stored as base64url')
  t.throws(() => checkSubscription({ kind: 'webhook', url: 'http://127.0.0.1/x' }, true), { code: 'BAD_REQUEST' }, 'https only when the operator says so')
  t.same(checkSubscription({ kind: 'webhook', url: 'http://127.0.0.1/x' }, false), { kind: 'webhook', url: 'http://127.0.0.1/x' })
  t.throws(() => checkSubscription({ kind: 'webhook', url: 'javascript:alert(1)' }, false), { code: 'BAD_REQUEST' })
  t.throws(() => checkPair({ publicKey: keys.publicKey.toString('base64url'), privateKey: Buffer.alloc(32, 7).toString('base64url') }), /does not belong/, 'a VAPID pair must match')
})

/** A receiver that holds every request until the test releases it, counting how many it holds at once. */
async function holdingReceiver(t: { teardown(fn: () => unknown): void }) {
  const held: ServerResponse[] = []
  const seen: string[] = []
  let most = 0
  const server = createServer((req, res) => {
    seen.push(String(req.headers['x-chat-notification-id']))
    req.resume()
    held.push(res)
    most = Math.max(most, held.length)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen, held: () => held.length, most: () => most,
    release(status = 200) { for (const res of held.splice(0)) res.writeHead(status).end() },
  }
}

function dispatcher(overrides: Partial<ConstructorParameters<typeof PushDispatcher>[0]> = {}) {
  const reports: Array<{ user: string; results: PushResult[] }> = []
  const registry = new Registry()
  let d: PushDispatcher | null = null
  const metrics = new PushMetrics(registry, () => d?.queued ?? 0, () => d?.inFlight ?? 0)
  d = new PushDispatcher({
    concurrency: 4, maxQueued: 100, retry: { baseMs: 20, maxMs: 50 }, giveUpMs: 60_000, timeoutMs: 5000, ttlSeconds: 60,
    vapid: () => null, operator: null, metrics, log: pino({ level: 'silent' }), now: Date.now, random: Math.random,
    report: async (user, results) => { reports.push({ user, results }); return { removed: [] } },
    ...overrides,
  })
  return { d, reports, registry }
}

const job = (url: string, n: number, user = 'bob'): PushJob => ({
  user, createdAt: Date.now(),
  target: { id: `s${n % 3}`, kind: 'webhook', deviceId: 'd', createdAt: 0, url, secret: 'k' },
  body: { id: `n${n}`, user, channel: 'dm:alice:bob', from: 'alice', preview: 'hi', inboxSeq: n, count: 1, ts: 0 },
})

t.test('the notifier sends many at once, never more than its concurrency, and reports each outcome', async (t) => {
  const rx = await holdingReceiver(t)
  const { d, reports } = dispatcher()
  t.teardown(() => d.stop())
  d.submit(Array.from({ length: 20 }, (_, i) => job(rx.url, i, i % 2 ? 'bob' : 'carol')))
  await waitFor(() => rx.held() === 4, { timeout: 15_000, what: 'four requests in flight' })
  t.equal(d.inFlight, 4)
  t.equal(d.queued, 20, 'the rest wait in the queue')
  while (reports.flatMap((r) => r.results).length < 20) {
    rx.release()
    await waitFor(() => rx.held() > 0 || reports.flatMap((r) => r.results).length === 20, { timeout: 15_000, what: 'next requests' })
  }
  t.equal(rx.most(), 4, 'at most 4 at once')
  t.same(new Set(rx.seen).size, 20, 'each sent once')
  const results = reports.flatMap((r) => r.results.map((x) => ({ ...x, user: r.user })))
  t.ok(results.every((r) => r.outcome === 'delivered'))
  t.same(results.filter((r) => r.user === 'bob').length, 10, 'reported to the right user')
  t.ok(reports.length < 20, `outcomes are batched per user (${reports.length} reports for 20)`)
  t.equal(d.queued, 0)
})

t.test('the per-node queue bound drops and counts; a queued job can be cancelled; a repeat id is ignored', async (t) => {
  const rx = await holdingReceiver(t)
  const { d, reports, registry } = dispatcher({ concurrency: 1, maxQueued: 3 })
  t.teardown(() => d.stop())
  d.submit([job(rx.url, 1), job(rx.url, 2), job(rx.url, 3), job(rx.url, 4), job(rx.url, 5)])
  d.submit([job(rx.url, 2)])
  await waitFor(() => reports.flatMap((r) => r.results).length === 2, { timeout: 15_000, what: 'drop reports' })
  t.same(reports.flatMap((r) => r.results).map((r) => `${r.id}:${r.outcome}`), ['n4:dropped', 'n5:dropped'])
  t.match(await registry.getSingleMetricAsString('chat_push_dropped_total'), /chat_push_dropped_total\{reason="queue_full"\} 2/)
  d.cancel(['n3'])
  await waitFor(() => rx.held() === 1, { timeout: 15_000, what: 'first request' })
  rx.release()
  await waitFor(() => rx.seen.length === 2, { timeout: 15_000, what: 'second request' })
  rx.release()
  await waitFor(() => reports.flatMap((r) => r.results).length === 4, { timeout: 15_000, what: 'outcomes' })
  t.same(rx.seen, ['n1', 'n2'], 'the cancelled job was never sent; the repeat of n2 went once')
  t.equal(d.queued, 0)
})

t.test('failures are retried until the give-up time, then dropped as expired', async (t) => {
  const rx = await holdingReceiver(t)
  const { d, reports, registry } = dispatcher({ giveUpMs: 400, retry: { baseMs: 30, maxMs: 60 } })
  t.teardown(() => d.stop())
  d.submit([job(rx.url, 1)])
  const answer = setInterval(() => rx.release(503), 5)
  t.teardown(() => clearInterval(answer))
  await waitFor(() => reports.length === 1, { timeout: 5000, what: 'expiry' })
  t.same(reports[0]!.results, [{ id: 'n1', sub: 's1', outcome: 'expired' }])
  t.ok(rx.seen.length >= 3, `retried (${rx.seen.length} attempts)`)
  t.match(await registry.getSingleMetricAsString('chat_push_dropped_total'), /reason="expired"\} 1/)
  t.match(await registry.getSingleMetricAsString('chat_push_retries_total'), /kind="webhook"\} \d+/)
})
