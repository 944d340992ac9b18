/**
 * The `typing` op (PROTOCOL.md 4.3) on one node: answered `ok` with its ref, forwarded to the
 * other members' live devices only, refused for non-members, throttled to one push per user and
 * channel every 2 s, and never stored.
 */
import t from 'tap'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'

const node = await NodeProcess.start(t)
const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((u) => login(node.url, u)))
const AB = 'dm:alice:bob'
const group = await api(node.url, 'POST', '/v1/groups', { name: 'trio', members: ['bob', 'carol'] }, alice)
const G = group.body.channel.id as string

const typings = (d: Device, channel?: string) => d.pushes.filter((f) => f.op === 'typing' && (channel === undefined || f.channel === channel))

t.test('typing is answered ok with its ref and reaches the other members\' devices only', async (t) => {
  const a1 = await Device.open(t, node.wsUrl, alice!, 'a1')
  const a2 = await Device.open(t, node.wsUrl, alice!, 'a2')
  const b1 = await Device.open(t, node.wsUrl, bob!, 'b1')
  const b2 = await Device.open(t, node.wsUrl, bob!, 'b2')
  const c1 = await Device.open(t, node.wsUrl, carol!, 'c1')

  t.same(await a1.request({ op: 'typing', channel: AB }), { op: 'ok', ref: 'r1' }, 'ok with the ref')
  for (const d of [b1, b2]) {
    const push = await d.waitPush((f) => f.op === 'typing', `typing at ${d.deviceId}`)
    t.same(push, { op: 'typing', channel: AB, user: 'alice' }, `${d.deviceId} is told alice types`)
  }
  t.same(await a1.request({ op: 'typing', channel: 'dm:bob:alice' }), { op: 'ok', ref: 'r2' }, 'a non-canonical 1:1 id is accepted')

  t.same(await c1.request({ op: 'typing', channel: G }), { op: 'ok', ref: 'r1' })
  for (const d of [a1, a2, b1, b2]) {
    t.same(await d.waitPush((f) => f.op === 'typing' && f.channel === G, `group typing at ${d.deviceId}`), { op: 'typing', channel: G, user: 'carol' })
  }
  // The group notice was asked for after the 1:1 ones: a forwarded repeat would be here by now.
  t.same(typings(a1, AB).concat(typings(a2, AB)), [], 'the typer\'s own devices are not told')
  t.same(typings(c1), [], 'carol, not in the 1:1, heard nothing of it; nor of her own typing')
  t.equal(typings(b1, AB).length, 1, 'the repeat within 2 s was not forwarded')
})

t.test('typing without a ref gets no reply but is forwarded', async (t) => {
  const c1 = await Device.open(t, node.wsUrl, carol!, 'c-noref')
  const b1 = await Device.open(t, node.wsUrl, bob!, 'b-noref')
  const dm = 'dm:bob:carol'
  c1.raw(JSON.stringify({ op: 'typing', channel: dm }))
  t.same(await b1.waitPush((f) => f.op === 'typing'), { op: 'typing', channel: dm, user: 'carol' })
  t.same(await c1.request({ op: 'ping' }), { op: 'pong', ref: 'r1' }, 'the next reply is the ping\'s')
  t.same(c1.pushes, [], 'nothing was sent for the typing')
})

t.test('errors: non-member FORBIDDEN, unknown channel NOT_FOUND, malformed BAD_FRAME', async (t) => {
  const c1 = await Device.open(t, node.wsUrl, carol!, 'c-err')
  t.match(await c1.request({ op: 'typing', channel: AB }), { op: 'error', code: 'FORBIDDEN', ref: 'r1' }, 'not a member of the 1:1')
  t.match(await c1.request({ op: 'typing', channel: 'g:doesnotexist' }), { op: 'error', code: 'NOT_FOUND' })
  t.match(await c1.request({ op: 'typing', channel: 'dm:carol:nobody_here' }), { op: 'error', code: 'NOT_FOUND' })
  t.match(await c1.request({ op: 'typing' }), { op: 'error', code: 'BAD_FRAME' }, 'no channel')
  t.match(await c1.request({ op: 'typing', channel: 'dm:carol:carol' }), { op: 'error', code: 'BAD_FRAME' })
  t.match(await c1.request({ op: 'typing', channel: 42 }), { op: 'error', code: 'BAD_FRAME' })
})

t.test('at most one push per user and channel every 2 s, however often the client types', async (t) => {
  const a1 = await Device.open(t, node.wsUrl, alice!, 'a-rate')
  const c1 = await Device.open(t, node.wsUrl, carol!, 'c-rate')
  const dm = 'dm:alice:carol'
  const started = Date.now()
  const arrivals: number[] = []
  // Types every 100 ms until carol has had two notices (bounded: 60 frames, about 6 s).
  for (let i = 0; i < 60 && arrivals.length < 2; i++) {
    t.equal((await a1.request({ op: 'typing', channel: dm })).op, 'ok')
    while (typings(c1, dm).length > arrivals.length) arrivals.push(Date.now())
    await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(arrivals.length, 2, 'the typing resumed after the window')
  t.ok(arrivals[1]! - arrivals[0]! >= 1800, `the second came ${arrivals[1]! - arrivals[0]!} ms after the first (2 s window)`)
  t.ok(arrivals[1]! - started < 4000, 'and not much later than 2 s')
})

t.test('typing is not stored: no inbox event, no history, no unread', async (t) => {
  const b = await Device.open(t, node.wsUrl, bob!, 'b-store')
  const events = await b.syncAll(0)
  t.same(events.filter((e) => e.op === 'typing'), [], 'sync returns no typing')
  const channels = await api(node.url, 'GET', '/v1/channels', undefined, bob)
  t.notOk(channels.body.channels.some((c: any) => c.id === AB), 'the 1:1 with only typing in it has no messages, so it is not in bob\'s list')
  const hist = await b.request({ op: 'history', channel: AB })
  t.same(hist.messages, [], 'nothing in the history')
})
