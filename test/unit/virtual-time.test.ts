/**
 * Virtual time itself (timers in order, paused owners held and released in order, halted owners
 * silent for good), and timeouts and backoffs of the node on it, without waiting for any of them:
 * fan-out retries to an unreachable member, the router's deadline for an owner that never answers,
 * and membership declaring a silent peer down.
 */
import pino from 'pino'
import t from 'tap'
import { Actors, type Router } from '../../src/actors/env.js'
import { Fanout, type Refill } from '../../src/actors/fanout.js'
import type { ChannelEvent } from '../../src/actors/messages.js'
import type { ActorRuntime } from '../../src/actors/runtime.js'
import { VirtualTime } from '../../src/clock-virtual.js'
import { MemoryBus, MemoryMembership } from '../../src/cluster/membership-memory.js'
import { ClusterRouter } from '../../src/cluster/router.js'
import { MemoryNetwork, MemoryTransport } from '../../src/cluster/transport-memory.js'
import type { ClusterView } from '../../src/cluster/view.js'
import { errors } from '../../src/errors.js'
import { SeededRandom } from '../../src/random.js'

const log = pino({ level: 'silent' })

t.test('timers run in time order, ties in the order they were set; paused owners wait, halted ones never run', async (t) => {
  const time = new VirtualTime()
  const ran: string[] = []
  const a = time.clock('a')
  const b = time.clock('b')
  a.setTimeout(() => ran.push('a20'), 20)
  b.setTimeout(() => ran.push('b10'), 10)
  a.setTimeout(() => ran.push('a10'), 10)
  a.setImmediate(() => ran.push('a0'))
  const every = b.setInterval(() => ran.push(`tick${time.now() - start}`), 15)
  const start = time.now()
  await time.advance(31)
  t.same(ran, ['a0', 'b10', 'a10', 'tick15', 'a20', 'tick30'])
  b.clearInterval(every)

  ran.length = 0
  time.pause('a')
  a.setTimeout(() => ran.push('first'), 5)
  a.setTimeout(() => ran.push('second'), 10)
  b.setTimeout(() => ran.push('b'), 20)
  await time.advance(100)
  t.same(ran, ['b'], 'a paused owner runs nothing')
  time.resume('a')
  await time.advance(0)
  t.same(ran, ['b', 'first', 'second'], 'on resume, what fell due runs at once, in order')

  time.halt('b')
  b.setTimeout(() => ran.push('never'), 1)
  await time.advance(1000)
  t.same(ran, ['b', 'first', 'second'], 'a halted owner never runs again')
})

t.test('fan-out retries an unreachable member with doubling backoff, capped at 5 s, then delivers', async (t) => {
  const time = new VirtualTime()
  const start = time.now()
  const attempts: number[] = []
  let failures = 8
  const router: Router = {
    call: async () => null,
    callMany: async (keys) => {
      attempts.push(time.now() - start)
      const ok = failures-- <= 0
      return keys.map(() => (ok ? { ok: true as const, value: { cursor: 1 } } : { ok: false as const, error: errors.unavailable() }))
    },
  }
  // One event never spills to the log, so nothing is ever read back from it.
  const noRefill: Refill = async () => { throw new Error('nothing was spilled to read back') }
  const fanout = new Fanout('g:x', new Actors(router), log, time.clock(), 0, noRefill)
  const event: ChannelEvent = { ev: 1, type: 'member_added', channel: 'g:x', user: 'bob', by: 'alice', ts: 0 }
  fanout.enqueue(event, ['bob'])
  await time.advance(60_000)
  const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!)
  t.same(gaps, [50, 100, 200, 400, 800, 1600, 3200, 5000], 'waits double from 50 ms and stop growing at 5 s')
  t.equal(fanout.pending, 0, 'delivered in the end')
  t.equal(fanout.done, 1)
})

t.test('a call to an owner that never answers is UNAVAILABLE after the 10 s deadline, not a hang', async (t) => {
  const time = new VirtualTime()
  const network = new MemoryNetwork()
  // A peer that takes every call and never answers (a stuck node).
  const stuck = new MemoryTransport(network, time.clock('stuck'))
  const port = await stuck.listen('mem', 0, { call: () => new Promise(() => {}), callMany: () => new Promise(() => {}), push: async () => {}, peer: () => new Promise(() => {}) })
  const view = {
    self: 'n1', version: 1, owner: () => 'n2', address: () => `mem:${port}`, isLive: () => true,
    membership: { refresh: async () => ({ version: 1, members: [] }) },
  } as unknown as ClusterView
  const router = new ClusterRouter(view, {} as ActorRuntime, new MemoryTransport(network, time.clock('n1')), log, time.clock('n1'), new SeededRandom(1))
  const start = time.now()
  let settled: { code?: string; at: number } | null = null
  router.call('user:z', { kind: 'profile' }).catch((err) => { settled = { code: err.code, at: time.now() - start } })
  await time.advance(9_999)
  t.equal(settled, null, 'still waiting just before the deadline')
  await time.advance(2)
  t.match(settled, { code: 'UNAVAILABLE', at: 10_000 }, 'refused at the deadline')
})

t.test('membership declares a silent peer down after dead-after, and the bus cut freezes the cut node instead', async (t) => {
  const time = new VirtualTime()
  const bus = new MemoryBus({ detectMs: 2000 })
  const make = (id: string) => new MemoryMembership({
    bus, cluster: 'vt', self: { id }, heartbeatMs: 250, deadAfterMs: 1000, clock: time.clock(id), random: new SeededRandom(id.charCodeAt(1)),
  })
  const [a, b, c] = [make('a'), make('b'), make('c')]
  let started = false
  void Promise.all([a.start({ http: 'x', grpc: 'a:1' }), b.start({ http: 'x', grpc: 'b:1' }), c.start({ http: 'x', grpc: 'c:1' })]).then(() => { started = true })
  await time.advance(2000)
  t.ok(started, 'joined')
  t.ok(a.isLive('c') && b.isLive('c'), 'c is live to everyone')
  time.pause('c')
  await time.advance(900)
  t.ok(a.isLive('c'), 'not yet down before dead-after')
  await time.advance(600)
  t.notOk(a.isLive('c'), 'down once silent past dead-after (1 s, swept every 250 ms)')
  time.resume('c')
  await time.advance(500)
  t.ok(a.isLive('c'), 'up again once it speaks')

  bus.setCut('a', true)
  await time.advance(5000)
  t.notOk(b.isLive('a'), 'the others see the cut node down')
  t.ok(a.isLive('b') && a.isLive('c'), 'the cut node declares nobody dead: its view froze')
  bus.setCut('a', false)
  await time.advance(1000)
  t.ok(b.isLive('a') && a.isLive('b'), 'healed')
  for (const m of [a, b, c]) await m.stop()
})
