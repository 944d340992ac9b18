/**
 * A device that stops reading is cut off once its queue passes --max-queued-bytes (close code
 * 1013) while another member of the same group keeps receiving promptly; on reconnect it syncs
 * from its cursor and ends with every message exactly once.
 */
import t from 'tap'
import { Device } from '../helpers/device.js'
import { InProcessNode } from '../helpers/in-process.js'
import { api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const MAX_QUEUED = 64 * 1024
const node = await InProcessNode.start(t, { args: ['--max-queued-bytes', String(MAX_QUEUED), '--rate-limit', '1000', '--rate-burst', '1000'] })
const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((u) => login(node.url, u)))
const created = await api(node.url, 'POST', '/v1/groups', { name: 'busy', members: ['bob', 'carol'] }, alice)
const G: string = created.body.channel.id

const slowCloses = async () => {
  const text = (await api(node.url, 'GET', '/metrics')).text
  return Number(/^chat_slow_consumer_closes_total (\d+)/m.exec(text)?.[1] ?? 0)
}

t.test('a slow consumer is closed with 1013, others are not slowed, nothing is lost', async (t) => {
  const slow = await Device.open(t, node.wsUrl, bob!, 'slow')
  const fast = await Device.open(t, node.wsUrl, carol!, 'fast')
  const a = await Device.open(t, node.wsUrl, alice!, 'sender')
  // The group was created before it connected: its cursor starts at ready.
  const cursorAtPause = slow.ready.inboxSeq
  // The slow device stops reading: from here on the node's pushes to it pile up.
  ;(slow.ws as any)._socket.pause()

  const COUNT = 150
  const body = (i: number) => `${i} `.padEnd(60_000, 'x')
  const lags: number[] = []
  for (let i = 0; i < COUNT; i++) {
    const sentAt = Date.now()
    const ack = await a.send(G, body(i), `big-${i}`)
    t.equal(ack.op, 'ack', `send ${i}`)
    await fast.waitPush((f) => f.clientMsgId === `big-${i}`, `fast device gets ${i}`, 5000)
    lags.push(Date.now() - sentAt)
  }
  const median = [...lags].sort((x, y) => x - y)[lags.length >> 1]!
  t.ok(median < 300 && Math.max(...lags) < 5000, `the fast device got each message promptly (median ${median}, worst ${Math.max(...lags)} ms)`)
  t.same(fast.messages(G).map((m) => m.seq), Array.from({ length: COUNT }, (_, i) => i + 1), 'in order, each once')
  await waitFor(async () => (await slowCloses()) >= 1, { what: 'the node gave up on the slow device' })

  // Reading again, the slow device finds what was queued before the cut, then the close.
  ;(slow.ws as any)._socket.resume()
  await waitFor(() => slow.closed, { timeout: 20_000, what: 'the close frame' })
  t.equal(slow.closed!.code, 1013, 'closed with 1013: reconnect and sync')
  const beforeCut = slow.messages(G)
  t.ok(beforeCut.length < COUNT, `it had received ${beforeCut.length} of ${COUNT} before the cut`)

  const applied = new Map<number, any>()
  for (const e of beforeCut) applied.set(e.inboxSeq, e)
  let cursor = cursorAtPause
  while (applied.has(cursor + 1)) cursor++
  await slow.connect()
  const reconnectAt = slow.pushes.length
  const apply = (events: any[]) => {
    for (const e of events) if (!applied.has(e.inboxSeq)) applied.set(e.inboxSeq, e)
    while (applied.has(cursor + 1)) cursor++
  }
  apply(await slow.syncAll(cursor))
  apply(slow.pushes.slice(reconnectAt))
  t.equal(slow.closed, null, 'a sync page larger than the queue bound still gets through')
  const got = [...applied.values()].filter((e) => e.channel === G && e.op === 'message').sort((x, y) => x.inboxSeq - y.inboxSeq)
  t.same(got.map((m) => m.seq), Array.from({ length: COUNT }, (_, i) => i + 1), 'after sync it has every message, in order')
  t.ok(got.every((m, i) => m.text === body(i)), 'with the right bodies')
  const inbox = [...applied.keys()].filter((k) => k > cursorAtPause).sort((x, y) => x - y)
  t.same(inbox, inbox.map((_, i) => cursorAtPause + 1 + i), 'and its inbox positions have no gaps')
  t.equal(slow.closed, null, 'the new connection stays open')
  t.match(await slow.request({ op: 'ping' }), { op: 'pong' })
})
