/**
 * The actor runtime with a tiny counter actor over a real LevelKv: mailbox order under many
 * concurrent callers, keys running beside each other, read-only messages beside the mailbox,
 * passivation (on virtual time: minutes pass at once) and reactivation with state intact, and a
 * draining stop().
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { type Actor, ActorRuntime, type RuntimeOptions } from '../../src/actors/runtime.js'
import { VirtualTime } from '../../src/clock-virtual.js'
import { ChatError, errors } from '../../src/errors.js'
import { LocalActorStorage, type ActorStore } from '../../src/storage/actor-store.js'
import { LevelKv } from '../../src/storage/leveldb.js'
import { waitFor } from '../helpers/wait.js'

type Req =
  | { kind: 'add'; n: number; gate?: Promise<void> }
  | { kind: 'get' }
  | { kind: 'fail'; chat: boolean }

/** Counts activations, handlers in flight and the order messages ran in, per key. */
class Probe {
  activations = new Map<string, number>()
  deactivations = new Map<string, number>()
  order = new Map<string, number[]>()
  inFlight = new Map<string, number>()
  maxInFlight = 0
  canPassivateCalls = 0
  pinned = new Set<string>()

  bump(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1)
  }
}

/** Keeps a running total in storage; every write is committed before it is acknowledged. */
class CounterActor implements Actor<Req> {
  private total = 0

  constructor(private readonly key: string, private readonly store: ActorStore, private readonly probe: Probe) {}

  async activate(): Promise<void> {
    this.probe.bump(this.probe.activations, this.key)
    this.total = (await this.store.get<number>('total')) ?? 0
  }

  isReadOnly(req: Req): boolean {
    return req.kind === 'get'
  }

  canPassivate(): boolean {
    this.probe.canPassivateCalls++
    return !this.probe.pinned.has(this.key)
  }

  async deactivate(): Promise<void> {
    this.probe.bump(this.probe.deactivations, this.key)
  }

  async receive(req: Req): Promise<unknown> {
    switch (req.kind) {
      case 'get': return this.total
      case 'add': return this.handleAdd(req)
      case 'fail': throw req.chat ? errors.forbidden('no') : new TypeError('bug')
      default: {
        const never: never = req
        throw new Error(`unknown ${(never as Req).kind}`)
      }
    }
  }

  private async handleAdd(req: Extract<Req, { kind: 'add' }>): Promise<number> {
    const p = this.probe
    p.bump(p.inFlight, this.key)
    p.maxInFlight = Math.max(p.maxInFlight, p.inFlight.get(this.key)!)
    try {
      if (req.gate) await req.gate
      const total = this.total + req.n
      await this.store.commit([{ type: 'put', key: 'total', value: total }])
      this.total = total
      const order = p.order.get(this.key) ?? []
      order.push(req.n)
      p.order.set(this.key, order)
      return total
    } finally {
      p.inFlight.set(this.key, p.inFlight.get(this.key)! - 1)
    }
  }
}

interface Teardown { teardown(fn: () => unknown): void }

async function setup(t: Teardown, options: Partial<RuntimeOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'chat-runtime-'))
  const kv = await LevelKv.open(dir)
  const probe = new Probe()
  const storage = new LocalActorStorage(kv)
  const bugs: Array<[string, unknown]> = []
  const runtime = new ActorRuntime({
    factory: async (key) => new CounterActor(key, await storage.open(key), probe) as Actor,
    passivateAfterMs: 60_000,
    onError: (key, err) => bugs.push([key, err]),
    ...options,
  })
  t.teardown(async () => {
    await runtime.stop().catch(() => {})
    await kv.close().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })
  return { runtime, probe, kv, bugs }
}

/** A typed call: the runtime takes any ActorRequest, this test sends only counter requests. */
function call(runtime: ActorRuntime, key: string, req: Req): Promise<unknown> {
  return runtime.call(key, req)
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void
  const wait = new Promise<void>((r) => (open = r))
  return { wait, open }
}

t.test('one key serves 200 concurrent callers in call order while other keys run', async (t) => {
  const { runtime, probe } = await setup(t)
  const blocked = gate()
  // `slow` is held inside its handler until `fast` has finished its own work: this only ends if
  // different keys really run at the same time.
  const slow = call(runtime, 'k:slow', { kind: 'add', n: 1, gate: blocked.wait })
  const calls = Array.from({ length: 200 }, (_, i) => call(runtime, 'k:hot', { kind: 'add', n: i }))
  const others = Array.from({ length: 20 }, (_, i) => call(runtime, `k:other-${i}`, { kind: 'add', n: i }))
  const totals = await Promise.all(calls)
  await Promise.all(others)
  t.equal(probe.order.get('k:slow'), undefined, 'the slow key is still in its handler')
  blocked.open()
  t.equal(await slow, 1)

  t.same(probe.order.get('k:hot'), Array.from({ length: 200 }, (_, i) => i), 'messages ran in the order call() was invoked')
  let running = 0
  t.same(totals, Array.from({ length: 200 }, (_, i) => (running += i)), 'each caller got the reply to its own message')
  t.equal(probe.maxInFlight, 1, 'never two handlers of one key at once')
  t.equal(probe.activations.get('k:hot'), 1, 'concurrent first calls activate the key once')
  t.equal(runtime.size, 22)
  t.ok(runtime.isActive('k:hot'))
  t.same(runtime.keys().sort().slice(0, 2), ['k:hot', 'k:other-0'])
})

t.test('read-only messages run beside a busy mailbox and see committed state', async (t) => {
  const { runtime } = await setup(t)
  await call(runtime, 'k', { kind: 'add', n: 5 })
  const held = gate()
  const write = call(runtime, 'k', { kind: 'add', n: 10, gate: held.wait })
  const queued = call(runtime, 'k', { kind: 'add', n: 100 })
  t.equal(await call(runtime, 'k', { kind: 'get' }), 5, 'a read completes while a write is in the handler')
  held.open()
  t.equal(await write, 15)
  t.equal(await queued, 115)
  t.equal(await call(runtime, 'k', { kind: 'get' }), 115)
})

t.test('errors reach the caller without stopping the mailbox; only bugs are reported', async (t) => {
  const { runtime, bugs } = await setup(t)
  const results = await Promise.allSettled([
    call(runtime, 'k', { kind: 'add', n: 1 }),
    call(runtime, 'k', { kind: 'fail', chat: true }),
    call(runtime, 'k', { kind: 'fail', chat: false }),
    call(runtime, 'k', { kind: 'add', n: 2 }),
  ])
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled'])
  const chat = (results[1] as PromiseRejectedResult).reason
  t.ok(chat instanceof ChatError && chat.code === 'FORBIDDEN', 'a ChatError reaches the caller as is')
  t.equal(bugs.length, 1, 'only the non-ChatError is reported')
  t.equal(bugs[0]![0], 'k')
  t.equal(await call(runtime, 'k', { kind: 'get' }), 3)
})

t.test('a failed activation fails its callers and the next call activates afresh', async (t) => {
  let attempts = 0
  const { runtime } = await setup(t, {
    factory: async () => {
      attempts++
      if (attempts === 1) throw errors.unavailable('storage not ready')
      return { activate: async () => {}, receive: async () => 'ok', isReadOnly: () => false, canPassivate: () => true, deactivate: async () => {} }
    },
  })
  const first = await Promise.allSettled([call(runtime, 'k', { kind: 'get' }), call(runtime, 'k', { kind: 'get' })])
  t.same(first.map((r) => r.status), ['rejected', 'rejected'], 'both callers of the failed activation fail')
  t.equal(runtime.size, 0, 'nothing half-activated is kept')
  t.equal(await call(runtime, 'k', { kind: 'get' }), 'ok')
  t.equal(attempts, 2)
})

t.test('an idle actor is passivated after a minute (virtual) and reactivated with its state intact', async (t) => {
  const time = new VirtualTime()
  const { runtime, probe } = await setup(t, { passivateAfterMs: 60_000, clock: time.clock() })
  for (let i = 1; i <= 5; i++) await call(runtime, 'user:p', { kind: 'add', n: i })
  await time.advance(50_000)
  t.ok(runtime.isActive('user:p'), 'still active after 50 s idle')
  await time.advance(40_000)
  t.notOk(runtime.isActive('user:p'), 'passivated once idle past a minute')
  t.equal(runtime.size, 0)
  t.equal(probe.deactivations.get('user:p'), 1, 'deactivate ran once')
  t.equal(await call(runtime, 'user:p', { kind: 'get' }), 15, 'the state came back from storage')
  t.equal(probe.activations.get('user:p'), 2, 'a second activation loaded it')
  t.equal(await call(runtime, 'user:p', { kind: 'add', n: 100 }), 115, 'and keeps counting from there')
})

t.test('canPassivate false keeps an idle actor in memory (virtual time)', async (t) => {
  const time = new VirtualTime()
  const { runtime, probe } = await setup(t, { passivateAfterMs: 60_000, clock: time.clock() })
  probe.pinned.add('user:pinned')
  await call(runtime, 'user:pinned', { kind: 'add', n: 7 })
  await call(runtime, 'user:free', { kind: 'add', n: 1 })
  await time.advance(91_000)
  t.notOk(runtime.isActive('user:free'), 'the unpinned actor passivated')
  const seen = probe.canPassivateCalls
  await time.advance(10 * 60_000)
  t.ok(probe.canPassivateCalls >= seen + 10, `asked at every sweep for ten minutes (${probe.canPassivateCalls - seen} times)`)
  t.ok(runtime.isActive('user:pinned'), 'the pinned actor survived them all')
  t.equal(probe.deactivations.get('user:pinned'), undefined)
  t.equal(probe.activations.get('user:pinned'), 1)
  probe.pinned.delete('user:pinned')
  await time.advance(31_000)
  t.notOk(runtime.isActive('user:pinned'), 'passivated at the first sweep once allowed')
})

t.test('deactivate(key) waits for the mailbox, then the key reactivates on demand', async (t) => {
  const { runtime, probe } = await setup(t)
  const held = gate()
  const write = call(runtime, 'k', { kind: 'add', n: 2, gate: held.wait })
  await waitFor(() => probe.inFlight.get('k') === 1, { what: 'the handler entered' })
  let gone = false
  const going = runtime.deactivate('k').then(() => (gone = true))
  await waitFor(() => !runtime.isActive('k'), { what: 'the key to start deactivating' })
  const late = call(runtime, 'k', { kind: 'add', n: 3 })
  t.equal(gone, false, 'deactivation waits for the handler in flight')
  held.open()
  await going
  t.equal(await write, 2, 'the message in the handler finished')
  t.equal(await late, 5, 'a call during deactivation went to a fresh activation with the stored state')
  t.equal(probe.activations.get('k'), 2)
  t.equal(probe.deactivations.get('k'), 1)
})

t.test('stop() drains every mailbox, then refuses new calls', async (t) => {
  const { runtime, probe } = await setup(t)
  const held = gate()
  const pending = [
    call(runtime, 'a', { kind: 'add', n: 1, gate: held.wait }),
    call(runtime, 'a', { kind: 'add', n: 2 }),
    call(runtime, 'a', { kind: 'add', n: 3 }),
    call(runtime, 'b', { kind: 'add', n: 10, gate: held.wait }),
  ]
  await waitFor(() => probe.inFlight.get('a') === 1 && probe.inFlight.get('b') === 1, { what: 'both handlers entered' })
  let stopped = false
  const stopping = runtime.stop().then(() => (stopped = true))
  await t.rejects(call(runtime, 'c', { kind: 'add', n: 1 }), { code: 'UNAVAILABLE' }, 'no new calls while stopping')
  t.equal(stopped, false, 'stop waits for the handlers in flight')
  held.open()
  await stopping
  t.same(await Promise.all(pending), [1, 3, 6, 10], 'everything queued before stop() was handled')
  t.same(probe.order.get('a'), [1, 2, 3])
  t.equal(probe.deactivations.get('a'), 1)
  t.equal(probe.deactivations.get('b'), 1)
  t.equal(runtime.size, 0)
  await t.rejects(call(runtime, 'a', { kind: 'get' }), { code: 'UNAVAILABLE' })
})
