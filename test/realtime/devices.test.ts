/**
 * One user, several devices: every event reaches every live device (the sender's other devices
 * included), read positions travel between devices, and a device that follows the client rules
 * (apply pushes, sync from its last inboxSeq after each connect, drop what it has by inboxSeq)
 * ends up with everything exactly once however often its connection drops.
 */
import t from 'tap'
import { Device } from '../helpers/device.js'
import { InProcessNode } from '../helpers/in-process.js'
import { api, login } from '../helpers/node-process.js'

const node = await InProcessNode.start(t)
const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((u) => login(node.url, u)))
const AB = 'dm:alice:bob'

t.test('every device of the user gets every event, the sender\'s own included', async (t) => {
  const phone = await Device.open(t, node.wsUrl, alice!, 'phone')
  const laptop = await Device.open(t, node.wsUrl, alice!, 'laptop')
  const tablet = await Device.open(t, node.wsUrl, alice!, 'tablet')
  const b = await Device.open(t, node.wsUrl, bob!, 'bob-phone')
  const fromBob = await b.send(AB, 'to all of alice', 'multi-1')
  const fromPhone = await phone.send(AB, 'from the phone', 'multi-2')
  for (const d of [phone, laptop, tablet, b]) {
    await d.waitPush(() => d.messages(AB).length === 2, `${d.deviceId} gets both`)
    t.same(d.messages(AB).map((m) => [m.seq, m.clientMsgId]), [[fromBob.seq, 'multi-1'], [fromPhone.seq, 'multi-2']], d.deviceId)
  }
  const inboxSeqs = [phone, laptop, tablet].map((d) => d.messages(AB).map((m) => m.inboxSeq))
  t.same(inboxSeqs[1], inboxSeqs[0], 'the devices of one user share one inbox numbering')
  t.same(inboxSeqs[2], inboxSeqs[0])
})

t.test('read positions: forward only, capped at lastSeq, told to the other devices', async (t) => {
  const phone = await Device.open(t, node.wsUrl, alice!, 'phone-r')
  const laptop = await Device.open(t, node.wsUrl, alice!, 'laptop-r')
  const b = await Device.open(t, node.wsUrl, bob!, 'bob-r')
  let last = 0
  for (let i = 0; i < 3; i++) last = (await b.send(AB, `to read ${i}`, `read-${i}`)).seq
  const readSeq = async () => ((await api(node.url, 'GET', '/v1/channels', undefined, alice)).body.channels as any[]).find((c) => c.id === AB).readSeq

  t.match(await phone.request({ op: 'read', channel: AB, seq: last - 1 }), { op: 'ok' })
  t.same(await laptop.waitPush((f) => f.op === 'read'), { op: 'read', channel: AB, seq: last - 1 }, 'the other device is told')
  t.equal(await readSeq(), last - 1, 'GET /v1/channels reports it as readSeq')

  t.equal((await phone.request({ op: 'read', channel: AB, seq: 1 })).op, 'ok', 'moving back is accepted...')
  t.equal(await readSeq(), last - 1, '...and changes nothing')
  t.equal((await phone.request({ op: 'read', channel: 'dm:bob:alice', seq: last + 1000 })).op, 'ok')
  t.equal(await readSeq(), last, 'beyond the end is capped at lastSeq')
  const pushed = laptop.pushes.filter((f) => f.op === 'read')
  t.same(pushed.map((f) => f.seq), [last - 1, last], 'only real moves are told, with the canonical id')
  t.ok(pushed.every((f) => f.channel === AB))
  t.notOk(phone.pushes.some((f) => f.op === 'read'), 'never to the device that moved it')

  const bobs = ((await api(node.url, 'GET', '/v1/channels', undefined, bob)).body.channels as any[]).find((c) => c.id === AB)
  t.match(bobs, { id: AB, kind: 'dm', members: ['alice', 'bob'], readSeq: 0 }, 'read positions are per user')
  t.ok(bobs.lastSeq >= last)

  const c = await Device.open(t, node.wsUrl, carol!, 'carol-r')
  const notMine = await c.request({ op: 'read', channel: AB, seq: 1 })
  t.equal(notMine.op, 'error', 'a channel the user is not in')
  t.ok(['NOT_FOUND', 'FORBIDDEN'].includes(notMine.code), notMine.code)
  t.match(await c.request({ op: 'read', channel: 'nope', seq: 1 }), { code: 'BAD_FRAME' })
  t.match(await c.request({ op: 'read', channel: AB, seq: -1 }), { code: 'BAD_FRAME' })
  t.match(await c.request({ op: 'read', channel: AB }), { code: 'BAD_FRAME' })
})

/** The client rules of docs/PROTOCOL.md: apply by inboxSeq, keep the highest contiguous one as the cursor. */
class Replica {
  readonly applied = new Map<number, any>()
  cursor = 0
  apply(events: any[]): void {
    for (const e of events) if (!this.applied.has(e.inboxSeq)) this.applied.set(e.inboxSeq, e)
    while (this.applied.has(this.cursor + 1)) this.cursor++
  }
}

t.test('a device that drops and reconnects misses nothing and sees nothing twice', async (t) => {
  const steady = await Device.open(t, node.wsUrl, carol!, 'carol-steady')
  const flaky = await Device.open(t, node.wsUrl, carol!, 'carol-flaky')
  const b = await Device.open(t, node.wsUrl, bob!, 'bob-sender')
  const replica = new Replica()
  replica.cursor = flaky.ready.inboxSeq
  const start = flaky.ready.inboxSeq
  const ROUNDS = 8
  const PER_ROUND = 6
  const strictlyIncreasing: boolean[] = []

  let sent = 0
  for (let round = 0; round < ROUNDS; round++) {
    const from = flaky.pushes.length
    const acks: Array<Promise<any>> = []
    for (let k = 0; k < PER_ROUND; k++) acks.push(b.send('dm:bob:carol', `round ${round} #${k}`, `flaky-${sent++}`))
    // The connection dies while messages are in flight, at a different point each round.
    await acks[round % PER_ROUND]
    flaky.terminate()
    await Promise.all(acks)
    const seen = flaky.pushes.slice(from).filter((f) => f.inboxSeq !== undefined)
    strictlyIncreasing.push(seen.every((f, i) => i === 0 || f.inboxSeq > seen[i - 1].inboxSeq))
    replica.apply(seen)

    await flaky.connect()
    const reconnectAt = flaky.pushes.length
    replica.apply(await flaky.syncAll(replica.cursor))
    replica.apply(flaky.pushes.slice(reconnectAt).filter((f) => f.inboxSeq !== undefined))
  }
  t.ok(strictlyIncreasing.every(Boolean), 'within one connection pushes arrive in inboxSeq order, none twice')
  const total = ROUNDS * PER_ROUND
  t.equal(replica.cursor, start + total, 'the cursor reached the newest event')
  const got = [...replica.applied.values()].filter((e) => e.inboxSeq > start).sort((x, y) => x.inboxSeq - y.inboxSeq)
  t.same(got.map((e) => e.clientMsgId), Array.from({ length: total }, (_, i) => `flaky-${i}`), 'every message once, in order')
  await steady.waitPush(() => steady.messages('dm:bob:carol').length === total, 'the steady device got all')
  t.same(steady.messages('dm:bob:carol').map((m) => m.inboxSeq), got.map((e) => e.inboxSeq), 'and the steady device agrees')
})
