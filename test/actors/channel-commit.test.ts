/**
 * The channel actor in one process, over a real LevelKv whose commits can be made to fail (a
 * cluster owner that lost its majority): a send answered from the batch's own new messages (a
 * client's retry queued behind its first attempt) shares their fate. Without that rule the retry
 * was acknowledged with a seq that was never stored (the partition bug), and the next message
 * took the same seq.
 */
import { systemClock } from '../../src/clock.js'
import { systemRandom } from '../../src/random.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import t from 'tap'
import { ChannelActor } from '../../src/actors/channel.js'
import { blockSizeOf } from '../../src/actors/search-index.js'
import { Actors, type ActorEnv, type Router } from '../../src/actors/env.js'
import type { ChannelRequest, SendAck } from '../../src/actors/messages.js'
import { ActorRuntime, type Settled } from '../../src/actors/runtime.js'
import { errors } from '../../src/errors.js'
import { PrefixedStore } from '../../src/storage/actor-store.js'
import type { KvOp } from '../../src/storage/kv.js'
import { LevelKv } from '../../src/storage/leveldb.js'
import { waitFor } from '../helpers/wait.js'

/** An actor store whose commits fail while `failing` is set, as an owner without a majority's do. */
class FlakyStore extends PrefixedStore {
  failing = false
  /** Set: this store's owner was deposed without knowing it, and `confirm` says so. */
  deposed = false
  confirms = 0
  /** The next commit waits for this before it runs (to hold a mailbox busy). */
  hold: Promise<void> | null = null

  override async confirm(): Promise<void> {
    this.confirms++
    if (this.deposed) throw errors.unavailable('a replica promised a newer epoch')
  }

  override async commit(ops: KvOp[]): Promise<void> {
    const hold = this.hold
    this.hold = null
    if (hold) await hold
    if (this.failing) throw errors.unavailable('no majority of the replicas stored the change in time')
    return super.commit(ops)
  }
}

/** Every actor call elsewhere (fan-out to members) succeeds at once. */
const router: Router = {
  call: async () => ({ cursor: 0 }),
  callMany: async (keys) => keys.map(() => ({ ok: true as const, value: { cursor: 0 } })),
}

async function setup(tt: { teardown(fn: () => unknown): void }, opts: { router?: Router; woken?: string[]; now?: () => number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'chat-channel-'))
  const kv = await LevelKv.open(dir)
  tt.teardown(async () => {
    await kv.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const store = new FlakyStore(kv, 'channel:g:test')
  const env: ActorEnv = {
    actors: new Actors(opts.router ?? router),
    pusher: { push: () => {} },
    notifier: { operatorWebhook: false, submit: () => {}, cancel: () => {} },
    wake: (key) => opts.woken?.push(key),
    config: { nodeId: 'n1', maxGroupSize: 100, maxDevices: 20 },
    log: pino({ level: 'silent' }),
    now: opts.now ?? (() => Date.now()),
    clock: systemClock,
    random: systemRandom,
  }
  const actor = new ChannelActor('g:test', store, env)
  await actor.activate()
  await actor.receive({ kind: 'create', name: 'test', by: 'ann', members: ['ann', 'bob'] })
  return { actor, store, kv, env }
}

const send = (clientMsgId: string, text = 'hi'): Extract<ChannelRequest, { kind: 'send' }> =>
  ({ kind: 'send', from: 'ann', clientMsgId, text })

function seqs(results: Array<Settled<unknown>>): Array<number | string> {
  return results.map((r) => (r.ok ? (r.value as SendAck).seq : r.error.code))
}

t.test('a failed commit fails a repeated clientMsgId in the same batch too', async (t) => {
  const { actor, store } = await setup(t)
  store.failing = true
  const results = await actor.receiveMany([send('m1'), send('m1'), send('m2'), send('m1')])
  t.same(seqs(results), ['UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE'], 'no answer of the batch is an ack')

  store.failing = false
  const again = await actor.receiveMany([send('m2'), send('m1'), send('m1')])
  t.same(seqs(again), [1, 2, 2], 'the retries are numbered afresh from the last stored seq, with no gap')
  const { messages: history } = await actor.receive({ kind: 'history', user: 'ann', limit: 50 }) as { messages: Array<{ seq: number; clientMsgId: string }> }
  t.same(history.map((m) => [m.seq, m.clientMsgId]), [[1, 'm2'], [2, 'm1']], 'history holds each message once')
})

t.test('a repeat of an already stored message stays acknowledged when the batch commit fails', async (t) => {
  const { actor, store } = await setup(t)
  t.same(seqs(await actor.receiveMany([send('old')])), [1])
  store.failing = true
  const results = await actor.receiveMany([send('old'), send('new'), send('old'), send('new')])
  t.same(seqs(results), [1, 'UNAVAILABLE', 1, 'UNAVAILABLE'], 'only answers taken from the failed batch fail')
})

t.test('through the runtime: a retry queued behind its first attempt is not acknowledged when the commit fails', async (t) => {
  const { actor, store } = await setup(t)
  const runtime = new ActorRuntime({ factory: () => actor, passivateAfterMs: 60_000 })
  t.teardown(() => runtime.stop())
  // Hold the mailbox with a first commit, so the two sends behind it are handed over as one batch.
  let release!: () => void
  store.hold = new Promise<void>((r) => (release = r))
  const first = runtime.call('channel:g:test', send('m0'))
  const attempt = runtime.call('channel:g:test', send('m1')).then((v) => v, (e) => e)
  const retry = runtime.call('channel:g:test', send('m1')).then((v) => v, (e) => e)
  store.failing = true
  release()
  await first.catch(() => {})
  const [a, b] = await Promise.all([attempt, retry])
  t.equal((a as { code?: string }).code, 'UNAVAILABLE', 'the first attempt fails with its commit')
  t.equal((b as { code?: string }).code, 'UNAVAILABLE', 'so does its retry in the same batch')
})

t.test('a channel deactivated with fan-out unfinished asks to be woken again; its next activation delivers', async (t) => {
  // Members cannot be reached (a partition): deliveries fail and are retried later.
  let reachable = false
  const delivered: number[] = []
  const flaky: Router = {
    call: async () => ({ cursor: 0 }),
    callMany: async (keys, req) => keys.map(() => {
      if (!reachable) return { ok: false as const, error: errors.unavailable('member unreachable') }
      const events = (req as { events?: Array<{ ev: number }> }).events ?? []
      for (const e of events) delivered.push(e.ev)
      return { ok: true as const, value: { cursor: 0 } }
    }),
  }
  const woken: string[] = []
  const { actor, store, kv } = await setup(t, { router: flaky, woken })
  t.same(seqs(await actor.receiveMany([send('m1')])), [1])
  await actor.deactivate()
  t.same(woken, ['channel:g:test'], 'the channel asked to be woken: a member has not got the message yet')

  reachable = true
  const env = (actor as unknown as { env: unknown }).env as ConstructorParameters<typeof ChannelActor>[2]
  const again = new ChannelActor('g:test', new PrefixedStore(kv, store.actorKey), env)
  await again.activate()
  const deadline = Date.now() + 5000
  while (!again.canPassivate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.ok(delivered.includes(3), 'the next activation delivered the message event (ev 3, after two member events)')
  t.ok(again.canPassivate(), 'and finished its fan-out')
  woken.length = 0
  await again.deactivate()
  t.same(woken, [], 'a channel with nothing pending does not ask to be woken')
})

t.test('a refusal decided on the channel\'s own state goes out only once that state is confirmed current', async (t) => {
  const { actor, store } = await setup(t)
  await actor.receive(send('m1'))
  // The owner still owns the channel: refusals stand.
  await t.rejects(actor.receive({ kind: 'edit', by: 'ann', seq: 7, text: 'x' }), { code: 'NOT_FOUND' }, 'no message 7')
  const [outsider] = await actor.receiveMany([{ kind: 'send', from: 'eve', clientMsgId: 'e1', text: 'hi' }])
  t.equal(outsider!.ok ? 'ok' : outsider!.error.code, 'FORBIDDEN', 'not a member')
  t.equal(store.confirms, 2, 'each refusal was confirmed first')
  // Deposed without knowing it (a newer owner may have stored message 7, or added eve): the
  // client hears UNAVAILABLE and retries where the channel lives now, not a wrong refusal.
  store.deposed = true
  await t.rejects(actor.receive({ kind: 'react', by: 'bob', seq: 7, emoji: 'x', on: true }), { code: 'UNAVAILABLE' }, 'the change is not refused')
  const [again] = await actor.receiveMany([{ kind: 'send', from: 'eve', clientMsgId: 'e2', text: 'hi' }])
  t.equal(again!.ok ? 'ok' : again!.error.code, 'UNAVAILABLE', 'the send is not refused')
  // Input errors need no confirmation.
  const before = store.confirms
  await t.rejects(actor.receive({ kind: 'edit', by: 'ann', seq: 1, text: '' }), { code: 'BAD_FRAME' })
  t.equal(store.confirms, before, 'a malformed change is refused at once')
})

t.test('a wake reaching an activation deposed without knowing it is refused, so the waker retries on a fresh one', async (t) => {
  const { actor, store } = await setup(t)
  t.equal(await actor.receive({ kind: 'wake' }), null, 'the current owner takes the wake')
  store.deposed = true
  // A newer owner elsewhere left fan-out this activation never saw: swallowing the wake would
  // leave it undelivered until the channel's next message.
  await t.rejects(actor.receive({ kind: 'wake' }), { code: 'UNAVAILABLE' }, 'the deposed one does not swallow it')
})

t.test("the sender's ack is answered before the channel's fan-out asks anything of other actors", async (t) => {
  const order: string[] = []
  const recording: Router = {
    call: async () => ({ cursor: 0 }),
    callMany: async (keys, req) => {
      const events = (req as { events?: Array<{ type: string }> }).events ?? []
      if (events.some((e) => e.type === 'message')) order.push(`deliver to ${keys.length}`)
      return keys.map(() => ({ ok: true as const, value: { cursor: 0 } }))
    },
  }
  const { actor } = await setup(t, { router: recording })
  const runtime = new ActorRuntime({ factory: () => actor, passivateAfterMs: 60_000 })
  t.teardown(() => runtime.stop())
  await runtime.call('channel:g:test', send('m1')).then(() => order.push('ack'))
  // Both members get the message, in one request or two (a member still busy with an earlier
  // delivery is asked apart).
  const delivered = () => order.filter((o) => o !== 'ack').reduce((n, o) => n + Number(o.split(' ').pop()), 0)
  await waitFor(() => delivered() >= 2, { timeout: 2000, what: 'the fan-out' })
  t.equal(order[0], 'ack', `the ack first: the reply leaves the node before the fan-out requests do (${order.join(', ')})`)
})

t.test("a channel's message times never go back, across a clock set back and a new activation", async (t) => {
  let clock = 10_000
  const { actor, store, env } = await setup(t, { now: () => clock })
  const ts = (results: Array<Settled<unknown>>) => results.map((r) => (r.ok ? (r.value as SendAck).ts : r.error.code))
  t.same(ts(await actor.receiveMany([send('a')])), [10_000])
  clock = 4_000
  t.same(ts(await actor.receiveMany([send('b'), send('c')])), [10_000, 10_000], 'a clock set back stamps the newest time again')
  // A new owner whose clock is behind: it reads the newest message's time first.
  const next = new ChannelActor('g:test', store, env)
  await next.activate()
  t.same(ts(await next.receiveMany([send('d')])), [10_000])
  clock = 12_000
  t.same(ts(await next.receiveMany([send('e')])), [12_000])
})

t.test('a channel writes its search postings in blocks, and a search finds messages on both sides of the mark', async (t) => {
  const { actor, kv } = await setup(t)
  const size = blockSizeOf('g:test')
  const total = size + 10
  for (let i = 0; i < total; i += 7) {
    const batch = Array.from({ length: Math.min(7, total - i) }, (_, k) => send(`m${i + k}`, `common word${i + k}`))
    t.ok((await actor.receiveMany(batch)).every((r) => r.ok))
  }
  const rows = await kv.range<unknown>({ gte: 'a\0channel:g:test\0x\0common\0', lt: 'a\0channel:g:test\0x\0common\0\xff' })
  t.equal(rows.length, 1, `one row holds the postings of "common" for the first ${size} or more messages`)
  t.ok(Array.isArray(rows[0]?.[1]) && (rows[0]![1] as number[]).length >= size * 3, 'a block of them')
  const found = await actor.receive({ kind: 'search', user: 'ann', words: ['common'], limit: 1000 }) as { found: Array<{ seq: number }> }
  t.same(found.found.map((f) => f.seq), Array.from({ length: total }, (_, i) => total - i), 'every message, newest first, once')
  const one = await actor.receive({ kind: 'search', user: 'ann', words: ['common', `word${total - 1}`], limit: 10 }) as { found: Array<{ seq: number }> }
  t.same(one.found.map((f) => f.seq), [total], 'a message past the mark, by two words')
  const old = await actor.receive({ kind: 'search', user: 'ann', words: ['word3'], limit: 10 }) as { found: Array<{ seq: number }> }
  t.same(old.found.map((f) => f.seq), [4], 'a message in a block')
})
