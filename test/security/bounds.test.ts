/**
 * Resource bounds on one node: a history page (HTTP and WebSocket) and a sync page hold at most
 * 1 MiB of message text and say `more: true` when the size cut them short, and paging on from
 * there reaches every message; presence queries and requests for channels that do not exist
 * leave no actors behind; slow and idle HTTP connections are closed.
 */
import { connect } from 'node:net'
import t from 'tap'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const node = await NodeProcess.start(t, { args: ['--http-headers-timeout-ms', '1000', '--http-request-timeout-ms', '2000', '--http-keepalive-timeout-ms', '1000', '--passivate-after-ms', '600000'] })
const MiB = 1024 * 1024
const BIG = 100_000
const COUNT = 40

async function gauge(name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text()
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text)
  return m ? Number(m[1]) : NaN
}

t.test('history and sync pages hold at most 1 MiB of text, with more: true', async (t) => {
  const alice = await login(node.url, 'big_alice')
  const bob = await login(node.url, 'big_bob')
  const a = await Device.open(t, node.wsUrl, alice, 'a')
  for (let i = 0; i < COUNT; i++) t.equal((await a.send('dm:big_alice:big_bob', String(i % 10).repeat(BIG), `big-${i}`)).op, 'ack')
  const total = COUNT * BIG
  t.ok(total > 3 * MiB, 'the channel holds more than 3 MiB of text')

  const page = await api(node.url, 'GET', '/v1/channels/dm:big_alice:big_bob/messages?limit=200', undefined, bob)
  const bytes = (ms: any[]) => ms.reduce((n, m) => n + Buffer.byteLength(m.text), 0)
  t.equal(page.status, 200)
  t.ok(bytes(page.body.messages) <= MiB, `HTTP: at most 1 MiB of text (${bytes(page.body.messages)})`)
  t.ok(page.body.messages.length >= 10, 'as many messages as fit')
  t.equal(page.body.more, true, 'more: true')
  t.equal(page.body.messages.at(-1).seq, COUNT, 'the newest messages (no `before`/`after`)')
  // Page on backwards with `before` = the oldest seq returned.
  const seen = new Set<number>(page.body.messages.map((m: any) => m.seq))
  let before = page.body.messages[0].seq
  for (let i = 0; i < 20 && before > 1; i++) {
    const next = await api(node.url, 'GET', `/v1/channels/dm:big_alice:big_bob/messages?limit=200&before=${before}`, undefined, bob)
    t.ok(bytes(next.body.messages) <= MiB)
    for (const m of next.body.messages) seen.add(m.seq)
    before = next.body.messages[0].seq
  }
  t.equal(seen.size, COUNT, 'paging on from where it stopped reaches every message')
  const small = await api(node.url, 'GET', '/v1/channels/dm:big_alice:big_bob/messages?limit=3', undefined, bob)
  t.equal(small.body.more, undefined, 'a page cut by `limit` alone has no `more`')

  const ws = await a.request({ op: 'history', channel: 'dm:big_alice:big_bob', after: 0, limit: 200 })
  t.ok(bytes(ws.messages) <= MiB, `WebSocket history: at most 1 MiB (${bytes(ws.messages)})`)
  t.equal(ws.more, true, 'more: true')
  t.equal(ws.messages[0].seq, 1, '`after` pages start from the oldest')

  const sync = await a.request({ op: 'sync', since: 0, limit: 1000 })
  const syncBytes = sync.events.reduce((n: number, e: any) => n + (e.text ? Buffer.byteLength(e.text) : 0), 0)
  t.ok(syncBytes <= MiB, `sync: at most 1 MiB of text (${syncBytes})`)
  t.equal(sync.more, true, 'sync says more')
  const all = await a.syncAll(0)
  t.equal(all.filter((e) => e.op === 'message').length, COUNT, 'sync paging reaches every message')
  t.match(await (await fetch(`${node.url}/metrics`)).text(), /chat_bound_hits_total\{bound="history_bytes"\} [1-9]/, 'cut pages are counted')
})

t.test('presence queries and unknown channels leave no actors behind', async (t) => {
  const carol = await login(node.url, 'pres_carol')
  const c = await Device.open(t, node.wsUrl, carol, 'c')
  await waitFor(async () => (await gauge('chat_active_actors')) > 0, { what: 'actors gauge' })
  const before = await gauge('chat_active_actors')
  const names = Array.from({ length: 1000 }, (_, i) => `ghost_${i}`)
  const r = await c.request({ op: 'presence', users: names })
  t.same(r.presence, [], 'no entries for strangers')
  const http = await api(node.url, 'GET', `/v1/presence?users=${names.slice(0, 500).join(',')}`, undefined, carol)
  t.same(http.body.presence, [])
  for (let i = 0; i < 50; i++) {
    const h = await c.request({ op: 'history', channel: `g:nosuchgroup${i}` })
    t.equal(h.code, 'NOT_FOUND')
  }
  for (let i = 0; i < 20; i++) await c.request({ op: 'history', channel: `dm:pres_carol:ghost_${i}` })
  const after = await waitFor(async () => {
    const n = await gauge('chat_active_actors')
    return n <= before + 2 ? n : null
  }, { timeout: 5000, what: 'no actors kept for made-up names' })
  t.ok(after <= before + 2, `actors before ${before}, after ${after} (1,000 names and 70 made-up channels asked)`)
})

t.test('slow and idle HTTP connections are closed', async (t) => {
  const { hostname, port } = new URL(node.url)
  const closedAfter = (send: (s: ReturnType<typeof connect>) => void) => new Promise<number>((resolve) => {
    const started = Date.now()
    const s = connect(Number(port), hostname, () => send(s))
    s.on('data', () => {})
    s.on('error', () => {})
    s.on('close', () => resolve(Date.now() - started))
    setTimeout(() => s.destroy(), 15_000).unref()
  })
  const slowHeaders = await closedAfter((s) => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'))
  t.ok(slowHeaders < 5000, `headers never finished: closed after ${slowHeaders} ms`)
  const slowBody = await closedAfter((s) => s.write('POST /v1/users HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"user'))
  t.ok(slowBody < 6000, `body never finished: closed after ${slowBody} ms`)
  const idle = await closedAfter((s) => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'))
  t.ok(idle < 5000, `idle keep-alive connection closed after ${idle} ms`)
  const token = await login(node.url, 'timeout_tom')
  const d = await Device.open(t, node.wsUrl, token, 'ws')
  await new Promise((r) => setTimeout(r, 3000))
  t.match(await d.request({ op: 'ping' }), { op: 'pong' }, 'a WebSocket outlives the HTTP timeouts')
})
