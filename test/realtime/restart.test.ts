/**
 * Durability of one node across restarts: an acknowledged message survives SIGKILL, and history,
 * inboxes, read positions, presence and de-duplication all survive a restart, with seq and
 * inboxSeq continuing without gaps.
 */
import t from 'tap'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const node = await NodeProcess.start(t)
const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((u) => login(node.url, u)))
const AB = 'dm:alice:bob'
const group = await api(node.url, 'POST', '/v1/groups', { name: 'durable', members: ['bob', 'carol'] }, alice)
const G: string = group.body.channel.id

const history = async (channel: string, as = bob) =>
  (await api(node.url, 'GET', `/v1/channels/${channel}/messages?after=0&limit=200`, undefined, as)).body.messages as any[]

t.test('an acknowledged message survives SIGKILL; retries after the restart are de-duplicated', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a1')
  const acked = new Map<string, any>()
  const COUNT = 30
  // The node dies the moment the 10th ack reaches us, with later sends still in flight.
  a.ws.on('message', (data) => {
    const f = JSON.parse(String(data))
    if (f.op !== 'ack') return
    acked.set(f.clientMsgId, f)
    if (acked.size === 10) node.proc!.kill('SIGKILL')
  })
  const ids = Array.from({ length: COUNT }, (_, i) => `kill-${i}`)
  // Raw frames: replies that will never come must leave no timers behind.
  for (const [i, id] of ids.entries()) a.raw(JSON.stringify({ op: 'send', channel: i % 2 ? AB : G, text: `survives ${i}`, clientMsgId: id }))
  await node.exited
  await a.waitPush(() => a.closed !== null, 'the socket is gone')
  t.ok(acked.size >= 10, `${acked.size} acks before the kill`)
  await node.launch()

  const stored = new Map([...(await history(AB)), ...(await history(G))].map((m) => [m.clientMsgId, m]))
  for (const [id, ack] of acked) {
    t.match(stored.get(id), { seq: ack.seq, ts: ack.ts, channel: ack.channel }, `${id} was acked, so it is stored`)
  }

  // Bob was offline throughout: his inbox comes to hold every stored message, before anyone sends
  // again (a fan-out cut short by the kill resumes when its channel is next active).
  const b = await Device.open(t, node.wsUrl, bob!, 'b1')
  const missing = async () => {
    const inbox = new Set((await b.syncAll(0)).filter((e) => e.op === 'message').map((e) => e.clientMsgId))
    return [...stored.keys()].filter((id) => !inbox.has(id))
  }
  await waitFor(async () => (await missing()).length === 0, { timeout: 10_000, what: 'stored messages in the inbox' }).catch(() => {})
  t.same(await missing(), [], 'every stored message reached the inbox')

  // The client resends everything it has no ack for, and re-sends some acked ones too.
  const a2 = await Device.open(t, node.wsUrl, alice!, 'a2')
  for (const [i, id] of ids.entries()) {
    const ack = await a2.send(i % 2 ? AB : G, `survives ${i}`, id)
    t.equal(ack.op, 'ack')
    if (acked.has(id)) t.same([ack.seq, ack.ts], [acked.get(id).seq, acked.get(id).ts], `${id}: the first seq and ts`)
    else if (stored.has(id)) t.equal(ack.seq, stored.get(id).seq, `${id}: stored before the kill, not acked; same seq`)
  }
  for (const channel of [AB, G]) {
    const all = await history(channel)
    t.same(all.map((m) => m.seq), all.map((_, i) => i + 1), `${channel}: seq 1..n without gaps`)
    t.equal(new Set(all.map((m) => m.clientMsgId)).size, all.length, `${channel}: each clientMsgId once`)
    t.equal(all.length, COUNT / 2)
  }
  const after = await waitFor(async () => {
    const events = await b.syncAll(0)
    return events.filter((e) => e.op === 'message').length >= COUNT ? events : null
  }, { what: 'bob\'s inbox after the resends' })
  t.same(after.map((e) => e.inboxSeq), after.map((_, i) => i + 1), 'bob\'s inbox: no gaps')
  t.equal(after.filter((e) => e.op === 'message').length, COUNT, 'and each message once')
})

t.test('a restart keeps history, inbox, read positions, presence and de-duplication', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a3')
  const c = await Device.open(t, node.wsUrl, carol!, 'c3')
  const first = await a.send('dm:alice:carol', 'before the restart', 'restart-1')
  await c.waitPush((f) => f.clientMsgId === 'restart-1', 'carol gets it')
  t.match(await c.request({ op: 'read', channel: 'dm:alice:carol', seq: first.seq }), { op: 'ok' })
  const inboxBefore = await c.syncAll(0)
  const channelsBefore = (await api(node.url, 'GET', '/v1/channels', undefined, carol)).body.channels
  c.close()
  await c.waitPush(() => c.closed !== null, 'carol closed')
  const presenceBefore = await api(node.url, 'GET', '/v1/presence?users=carol', undefined, alice)

  const status = await node.stop()
  t.same(status, { code: 0, signal: null }, 'SIGTERM: a graceful exit')
  t.equal(a.closed?.code, 1012, 'open sockets are closed with 1012')
  await node.launch()

  const presenceAfter = await api(node.url, 'GET', '/v1/presence?users=carol', undefined, alice)
  t.same(presenceAfter.body.presence, presenceBefore.body.presence, 'presence and lastActiveAt kept')
  t.equal(presenceAfter.body.presence[0].status, 'offline')
  const byId = (list: any[]) => [...list].sort((x, y) => x.id.localeCompare(y.id))
  t.same(byId((await api(node.url, 'GET', '/v1/channels', undefined, carol)).body.channels), byId(channelsBefore), 'channels, lastSeq and readSeq kept')
  const c2 = await Device.open(t, node.wsUrl, carol!, 'c4')
  t.equal(c2.ready.inboxSeq, inboxBefore.at(-1).inboxSeq, 'ready names the same newest event')
  t.same(await c2.syncAll(0), inboxBefore, 'the inbox is the same, bodies included')

  const a2 = await Device.open(t, node.wsUrl, alice!, 'a4')
  const again = await a2.send('dm:alice:carol', 'before the restart', 'restart-1')
  t.same([again.seq, again.ts], [first.seq, first.ts], 'a retry after the restart gets the first seq')
  const next = await a2.send('dm:alice:carol', 'after the restart', 'restart-2')
  t.equal(next.seq, first.seq + 1, 'seq continues')
  const pushed = await c2.waitPush((f) => f.clientMsgId === 'restart-2', 'pushed after the restart')
  t.equal(pushed.inboxSeq, inboxBefore.at(-1).inboxSeq + 1, 'inboxSeq continues without a gap')
  t.equal(c2.messages().filter((m) => m.clientMsgId === 'restart-1').length, 0, 'the retry pushed nothing')
})
