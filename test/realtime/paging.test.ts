/**
 * An offline user catches up by `sync` alone, page by page, and history windows answer exactly as
 * the contract says, over the WebSocket and over HTTP. One node, one backlog of 1,050 messages.
 */
import t from 'tap'
import { Device } from '../helpers/device.js'
import { InProcessNode } from '../helpers/in-process.js'
import { api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

// Generous send limits: this file measures paging, not the rate limiter.
const node = await InProcessNode.start(t, { args: ['--rate-limit', '100000', '--rate-burst', '100000'] })
const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((u) => login(node.url, u)))
const AB = 'dm:alice:bob'
const BC = 'dm:bob:carol'
const FROM_ALICE = 600
const FROM_CAROL = 450
const TOTAL = FROM_ALICE + FROM_CAROL

/** Sends `count` messages, `inFlight` at a time, and checks every ack. */
async function sendMany(d: Device, channel: string, count: number, inFlight = 100): Promise<void> {
  for (let start = 1; start <= count; start += inFlight) {
    const batch: Array<Promise<any>> = []
    for (let i = start; i < Math.min(count + 1, start + inFlight); i++) batch.push(d.send(channel, `${channel} #${i}`, `p-${i}`))
    for (const ack of await Promise.all(batch)) if (ack.op !== 'ack') throw new Error(`send failed: ${JSON.stringify(ack)}`)
  }
}

t.before(async () => {
  // Bob is offline while the backlog builds: everything waits in his inbox.
  const a = await Device.open(t, node.wsUrl, alice!, 'a')
  const c = await Device.open(t, node.wsUrl, carol!, 'c')
  await Promise.all([sendMany(a, AB, FROM_ALICE), sendMany(c, BC, FROM_CAROL)])
  a.close()
  c.close()
  // Fan-out follows the acks; let it finish so that the tests below start from a settled inbox.
  const probe = await Device.open(t, node.wsUrl, bob!, 'probe')
  await waitFor(async () => (await probe.request({ op: 'sync', since: TOTAL - 1 })).next === TOTAL, { timeout: 30_000, what: 'the backlog in bob\'s inbox' })
  probe.close()
})

t.test('an offline user gets everything by sync, in order, each once', async (t) => {
  const b = await Device.open(t, node.wsUrl, bob!, 'b')
  t.equal(b.ready.inboxSeq, TOTAL, 'ready names the newest inbox event')
  t.same(b.pushes, [], 'nothing is pushed for what happened before the connection')

  const events: any[] = []
  let cursor = 0
  for (let page = 0; page < 100; page++) {
    const r = await b.request({ op: 'sync', since: cursor, limit: 97 })
    t.ok(r.events.length <= 97)
    events.push(...r.events)
    t.equal(r.next, r.events.length > 0 ? r.events[r.events.length - 1].inboxSeq : cursor, 'next is the last returned inboxSeq')
    cursor = r.next
    if (!r.more) break
  }
  t.equal(events.length, TOTAL)
  t.ok(events.every((e, i) => e.inboxSeq === i + 1), 'inboxSeq 1, 2, 3... with no gaps')
  for (const [channel, count] of [[AB, FROM_ALICE], [BC, FROM_CAROL]] as const) {
    const mine = events.filter((e) => e.channel === channel)
    t.equal(mine.length, count, `${channel}: every message`)
    t.ok(mine.every((e, i) => e.seq === i + 1 && e.text === `${channel} #${i + 1}` && e.op === 'message'),
      `${channel}: in seq order, with their bodies`)
  }
  t.match(await b.request({ op: 'sync', since: TOTAL }), { events: [], next: TOTAL, more: false }, 'nothing past the end')
  t.match(await b.request({ op: 'sync', since: TOTAL + 50 }), { events: [], next: TOTAL + 50, more: false })
})

t.test('sync pages: 200 by default, at most 1000', async (t) => {
  const b = await Device.open(t, node.wsUrl, bob!, 'b2')
  const byDefault = await b.request({ op: 'sync', since: 0 })
  t.equal(byDefault.events.length, 200)
  t.match(byDefault, { next: 200, more: true })
  const capped = await b.request({ op: 'sync', since: 10, limit: 5000 }, 30_000)
  t.equal(capped.events.length, 1000, 'a larger limit is capped at 1000')
  t.match(capped, { next: 1010, more: true })
  const tail = await b.request({ op: 'sync', since: 1010, limit: 1000 })
  t.match(tail, { next: TOTAL, more: false })
  t.equal(tail.events.length, TOTAL - 1010)
  for (const limit of [0, -1, 1.5, '10']) {
    t.match(await b.request({ op: 'sync', since: 0, limit }), { op: 'error', code: 'BAD_FRAME' }, `limit ${JSON.stringify(limit)}`)
  }
  for (const since of [-1, 'x', null]) {
    t.match(await b.request({ op: 'sync', since }), { op: 'error', code: 'BAD_FRAME' }, `since ${JSON.stringify(since)}`)
  }
  t.match(await b.request({ op: 'sync' }), { op: 'error', code: 'BAD_FRAME' }, 'since is required')
})

/** Every window of the contract, as [query, expected first seq, expected last seq] (0, 0 = empty). */
const WINDOWS: Array<[Record<string, number>, number, number, string]> = [
  [{}, 551, 600, 'neither: the newest 50'],
  [{ limit: 10 }, 591, 600, 'neither, limit 10'],
  [{ limit: 500 }, 401, 600, 'limit is capped at 200'],
  [{ before: 100 }, 50, 99, 'before alone: the newest 50 below it'],
  [{ before: 100, limit: 10 }, 90, 99, 'before alone, limit 10'],
  [{ before: 30 }, 1, 29, 'before near the start'],
  [{ after: 100 }, 101, 150, 'after alone: the oldest 50 above it'],
  [{ after: 100, limit: 1000 }, 101, 300, 'after alone, limit capped at 200'],
  [{ after: 580 }, 581, 600, 'after near the end'],
  [{ after: 100, before: 110 }, 101, 109, 'both: strictly between'],
  [{ after: 100, before: 300, limit: 20 }, 101, 120, 'both: the oldest `limit` between'],
  [{ before: 1 }, 0, 0, 'nothing below 1'],
  [{ after: 600 }, 0, 0, 'nothing above the last'],
  [{ after: 50, before: 51 }, 0, 0, 'an empty range'],
]

const seqRange = (first: number, last: number) => (first === 0 ? [] : Array.from({ length: last - first + 1 }, (_, i) => first + i))

t.test('history windows over the WebSocket', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a2')
  for (const [query, first, last, what] of WINDOWS) {
    const r = await a.request({ op: 'history', channel: AB, ...query })
    t.same(r.messages.map((m: any) => m.seq), seqRange(first, last), what)
  }
  for (const bad of [{ limit: 0 }, { limit: -5 }, { before: '5' }, { after: 1.5 }]) {
    t.match(await a.request({ op: 'history', channel: AB, ...bad }), { op: 'error', code: 'BAD_FRAME' }, JSON.stringify(bad))
  }
})

t.test('history windows over HTTP', async (t) => {
  for (const [query, first, last, what] of WINDOWS) {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))
    const r = await api(node.url, 'GET', `/v1/channels/${AB}/messages?${qs}`, undefined, bob)
    t.equal(r.status, 200)
    t.same(r.body.messages.map((m: any) => m.seq), seqRange(first, last), what)
  }
  for (const bad of ['limit=0', 'limit=abc', 'before=-1', 'after=1.5']) {
    const r = await api(node.url, 'GET', `/v1/channels/${AB}/messages?${bad}`, undefined, bob)
    t.equal(r.status, 400, bad)
    t.equal(r.body.error.code, 'BAD_REQUEST')
  }
  t.equal((await api(node.url, 'GET', `/v1/channels/${AB}/messages`, undefined, carol)).status, 403, 'not a member')
  t.equal((await api(node.url, 'GET', `/v1/channels/${AB}/messages`)).status, 401, 'no token')
  t.equal((await api(node.url, 'GET', '/v1/channels/g:nothing/messages', undefined, bob)).status, 404, 'no such group')
})
