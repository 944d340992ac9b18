/**
 * The user actor's push decisions, in one process over a real LevelKv: which inbox events become
 * notifications (none for the user's own messages or while a device is live), how a burst is
 * folded (per subscription and conversation, newest fields, count), that a pending notification
 * is stored with the actor's wake flag before it is handed over, and what a settled outcome or a
 * device coming online removes.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import t from 'tap'
import { Actors, type ActorEnv } from '../../src/actors/env.js'
import { actorFactory } from '../../src/actors/factory.js'
import { LocalRouter } from '../../src/actors/local-router.js'
import type { ChannelEvent, UserRequest } from '../../src/actors/messages.js'
import { ActorRuntime } from '../../src/actors/runtime.js'
import { systemClock } from '../../src/clock.js'
import type { Notifier, PushJob, PushOp } from '../../src/push/types.js'
import { LocalActorStorage } from '../../src/storage/actor-store.js'
import { wakeIndexKey } from '../../src/storage/keys.js'
import { LevelKv } from '../../src/storage/leveldb.js'
import { systemRandom } from '../../src/random.js'
import { waitFor } from '../helpers/wait.js'

class RecordingNotifier implements Notifier {
  operatorWebhook = false
  readonly jobs: PushJob[] = []
  readonly cancelled: string[] = []
  submit(jobs: PushJob[]): void { this.jobs.push(...jobs) }
  cancel(ids: readonly string[]): void { this.cancelled.push(...ids) }
}

async function setup(tt: { teardown(fn: () => unknown): void }, coalesceMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'chat-push-'))
  const kv = await LevelKv.open(dir)
  const notifier = new RecordingNotifier()
  let runtime: ActorRuntime | null = null
  const router = new LocalRouter({ call: (k: string, r: unknown) => runtime!.call(k, r as UserRequest) } as unknown as ActorRuntime)
  const env: ActorEnv = {
    // Only channel actors ask to be woken again; this runtime holds user actors.
    actors: new Actors(router), pusher: { push: () => {} }, notifier, wake: () => {},
    config: { nodeId: 'n1', maxGroupSize: 100, maxDevices: 20, push: { maxSubscriptions: 10, coalesceMs } },
    log: pino({ level: 'silent' }), now: Date.now, clock: systemClock, random: systemRandom,
  }
  runtime = new ActorRuntime({ factory: actorFactory(new LocalActorStorage(kv), env), passivateAfterMs: 60_000 })
  tt.teardown(async () => {
    await runtime!.stop()
    await kv.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const call = (user: string, req: UserRequest) => runtime!.call(`user:${user}`, req)
  const push = (user: string, op: PushOp) => call(user, { kind: 'push', op }) as Promise<any>
  await call('bob', { kind: 'signup', passwordHash: 'x', displayName: 'Bob' })
  const hook = await push('bob', { kind: 'subscribe', deviceId: 'bob-phone', sub: { kind: 'webhook', url: 'http://127.0.0.1:9/hook' } })
  let ev = 0
  let seq = 0
  const deliver = (channel: string, from: string, text: string) => {
    const e: ChannelEvent = { ev: ++ev, type: 'message', message: { channel, seq: ++seq, from, text, ts: Date.now(), clientMsgId: `c${seq}` } }
    return call('bob', { kind: 'deliver', channel, events: [e] })
  }
  const pendingKeys = async () => (await kv.range<unknown>({ gt: 'a\0user:bob\0n\0', lt: 'a\0user:bob\0n\0\xff' })).length
  const woken = async () => (await kv.get(wakeIndexKey('user:bob'))) !== undefined
  return { kv, notifier, call, push, deliver, hook, pendingKeys, woken }
}

t.test('own messages are never notified; others are, after the coalescing window, stored first', async (t) => {
  const s = await setup(t, 1000)
  await s.deliver('dm:alice:bob', 'bob', 'my own words')
  await s.deliver('dm:alice:bob', 'alice', 'hi bob')
  t.equal(await s.pendingKeys(), 1, 'one pending notification stored with the inbox (none for bob\'s own message)')
  t.ok(await s.woken(), 'the wake flag is set while it is pending')
  t.equal(s.notifier.jobs.length, 0, 'not handed over during the window')
  await waitFor(() => s.notifier.jobs.length === 1, { timeout: 15_000, what: 'hand-over after the window' })
  const job = s.notifier.jobs[0]!
  t.match(job, { user: 'bob', target: { id: s.hook.id, kind: 'webhook' }, body: { user: 'bob', from: 'alice', preview: 'hi bob', count: 1, channel: 'dm:alice:bob' } })
  t.equal(job.body.inboxSeq, 2, 'the inboxSeq of alice\'s message')
  await s.push('bob', { kind: 'settled', results: [{ id: job.body.id, sub: s.hook.id, outcome: 'delivered' }] })
  t.equal(await s.pendingKeys(), 0, 'settled: removed from storage')
  t.notOk(await s.woken(), 'and the wake flag with it')
})

t.test('a burst is folded per conversation: count and the newest fields', async (t) => {
  const s = await setup(t, 1000)
  await s.deliver('dm:alice:bob', 'alice', 'one')
  await s.deliver('g:team', 'carol', 'in the group')
  await s.deliver('dm:alice:bob', 'alice', 'two')
  await s.deliver('dm:alice:bob', 'alice', 'three')
  await waitFor(() => s.notifier.jobs.length === 2, { timeout: 15_000, what: 'two notifications' })
  const dm = s.notifier.jobs.find((j) => j.body.channel === 'dm:alice:bob')!
  const group = s.notifier.jobs.find((j) => j.body.channel === 'g:team')!
  t.match(dm.body, { count: 3, preview: 'three', inboxSeq: 4 })
  t.match(group.body, { count: 1, preview: 'in the group', from: 'carol' })
  // Once handed over, a notification is not changed: the next message starts a new one.
  await s.deliver('dm:alice:bob', 'alice', 'four')
  await waitFor(() => s.notifier.jobs.length === 3, { timeout: 15_000, what: 'a new notification after the hand-over' })
  t.match(s.notifier.jobs[2]!.body, { count: 1, preview: 'four' })
  t.not(s.notifier.jobs[2]!.body.id, dm.body.id)
})

t.test('a live device: nothing is notified, and what was pending is withdrawn', async (t) => {
  const s = await setup(t, 10_000)
  await s.deliver('dm:alice:bob', 'alice', 'while away')
  t.equal(await s.pendingKeys(), 1)
  await s.call('bob', { kind: 'connect', device: { sessionId: 's1', deviceId: 'bob-phone', node: 'n1' }, at: Date.now() })
  t.equal(await s.pendingKeys(), 0, 'withdrawn when a device came online')
  t.notOk(await s.woken())
  await s.deliver('dm:alice:bob', 'alice', 'while here')
  t.equal(await s.pendingKeys(), 0, 'nothing while online')
  // The device goes silent past the presence timeout: offline again, so notified again.
  await s.call('bob', { kind: 'activity', sessionId: 's1', live: false, at: Date.now() })
  await s.deliver('dm:alice:bob', 'alice', 'idle device')
  t.equal(await s.pendingKeys(), 1, 'a connected but idle device does not count as online')
  t.equal(s.notifier.jobs.length, 0)
})

t.test('a gone subscription is removed with its pending notifications; deleting one cancels its jobs', async (t) => {
  const s = await setup(t, 0)
  const second = await s.push('bob', { kind: 'subscribe', deviceId: 'bob-tablet', sub: { kind: 'webhook', url: 'http://127.0.0.1:9/other' } })
  await s.deliver('dm:alice:bob', 'alice', 'hello')
  await waitFor(() => s.notifier.jobs.length === 2, { timeout: 15_000, what: 'one job per subscription' })
  const [a, b] = s.notifier.jobs as [PushJob, PushJob]
  const reply = await s.push('bob', { kind: 'settled', results: [{ id: a.body.id, sub: a.target.id, outcome: 'gone' }] })
  t.same(reply.removed, [a.target.id], 'the actor says which subscription it removed')
  const list = await s.push('bob', { kind: 'list' })
  t.same(list.map((x: any) => x.id), [b.target.id], 'the gone one is no longer listed')
  await s.push('bob', { kind: 'unsubscribe', id: b.target.id })
  t.same(s.notifier.cancelled, [b.body.id], 'its job in the notifier is cancelled')
  t.equal(await s.pendingKeys(), 0)
  t.notOk(await s.woken())
  t.ok(second.id)
})

t.test('subscriptions: at most 10, re-subscribing replaces, secrets rotate', async (t) => {
  const s = await setup(t, 0)
  for (let i = 2; i <= 10; i++) await s.push('bob', { kind: 'subscribe', deviceId: 'd', sub: { kind: 'webhook', url: `http://127.0.0.1:9/h${i}` } })
  await t.rejects(s.push('bob', { kind: 'subscribe', deviceId: 'd', sub: { kind: 'webhook', url: 'http://127.0.0.1:9/h11' } }), { code: 'LIMIT_REACHED' })
  const again = await s.push('bob', { kind: 'subscribe', deviceId: 'bob-phone', sub: { kind: 'webhook', url: 'http://127.0.0.1:9/hook' } })
  t.equal(again.id, s.hook.id, 'the same URL from the same device keeps its id')
  t.not(again.secret, s.hook.secret, 'and gets a new secret')
  await t.rejects(s.push('bob', { kind: 'unsubscribe', id: 'nope' }), { code: 'NOT_FOUND' })
})
