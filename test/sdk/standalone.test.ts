/**
 * The SDK against a standalone node in the test process: 1:1 chat both ways, an exactly-once inbox, sends that
 * survive a graceful restart and a crash of the node, history paging, the local cache, the
 * small request ops, and authentication failures.
 */
import t, { type Test } from 'tap'
import { InProcessNode } from '../helpers/in-process.js'
import WebSocket from 'ws'
import {
  ChatClient, ChatError, HttpApi, dmChannelId, type AckFrame, type ChatClientOptions, type InboxEvent,
  type MessageEvent, type ReadPushFrame, type StateChange,
} from '../../src/client/index.js'
import { login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'
import { AppRecorder } from '../helpers/app-recorder.js'

const node = await InProcessNode.start(t)
/** Captured once: `node.url` is unavailable while the node restarts, and the port stays the same. */
const BASE = node.url
const WS_URL = node.wsUrl

/** An application on the SDK (AppRecorder), opened against the test's node. */
class App extends AppRecorder {

  static async open(t: Test, user: string, options: Partial<ChatClientOptions> = {}): Promise<App> {
    const token = await login(BASE, user, options.deviceId)
    const client = new ChatClient({
      token, discover: BASE, WebSocket, inboxSeq: 0, backoff: { baseMs: 50, capMs: 500 }, ...options,
    })
    t.teardown(() => client.close())
    const app = new App(user, client)
    const synced = new Promise((resolve) => client.once('synced', resolve))
    await client.connect()
    await synced
    return app
  }

  /** The message events of one channel, in the order the app saw them. */
  received(channel: string): MessageEvent[] {
    return this.messages.filter((m) => m.channel === channel)
  }

  /** Deleted messages have no clientMsgId: they show as undefined. */
  receivedIds(channel: string): (string | undefined)[] {
    return this.received(channel).map((m) => m.clientMsgId)
  }

  /** The server's whole inbox of this user, read with a raw `sync` (not through the delivery path). */
  async serverInbox(t: Test): Promise<InboxEvent[]> {
    const reply = await this.client.request({ op: 'sync', since: 0, limit: 1000 })
    t.notOk(reply.more, 'the inbox fits one sync page')
    return reply.events
  }
}

/** Distinct usernames per test, so tests sharing the node do not see each other's events. */
function names(tag: string): [string, string] {
  return [`${tag}_a`, `${tag}_b`]
}

async function allHistory(token: string, channel: string) {
  const api = new HttpApi({ baseUrl: BASE, token })
  return await api.history(channel, { after: 0, limit: 200 })
}

/** Fails the test instead of hanging it when a promise does not settle. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

t.test('two clients chat 1:1 both ways; each app sees its inbox once, in order', async (t) => {
  const [a, b] = names('chat')
  const alice = await App.open(t, a)
  const bob = await App.open(t, b, { url: WS_URL, discover: undefined })
  const dm = dmChannelId(a, b)
  const acks: AckFrame[] = []
  for (let i = 0; i < 10; i++) {
    const [from, to] = i % 2 === 0 ? [alice, bob] : [bob, alice]
    acks.push(await from.client.send(dm, `${from.user} says ${i}`, { clientMsgId: `c${i}` }))
    await waitFor(() => to.receivedIds(dm).includes(`c${i}`), { what: `${to.user} receives c${i}` })
  }
  t.same(acks.map((ack) => ack.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'acks carry seq 1..10')
  for (const app of [alice, bob]) {
    // The sender's own devices get their messages too.
    await waitFor(() => app.events.length === 10, { what: `${app.user} has 10 events` })
    t.same(app.problems, [], `${app.user}: no duplicate, gap or reordering`)
    t.same(app.events.map((e) => e.inboxSeq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    const inbox = await app.serverInbox(t)
    t.same(app.events, inbox, `${app.user}: the app saw exactly the server's inbox`)
    t.same(app.messages.map((m) => m.text), acks.map((_, i) => `${i % 2 === 0 ? a : b} says ${i}`))
    t.equal(app.client.inboxSeq, 10, 'the cursor is the last applied event')
  }
  t.same(alice.states.map((s) => s.state), ['connecting', 'open'], 'one connection, no reconnects')
})

for (const how of ['SIGTERM', 'SIGKILL'] as const) {
  t.test(`a burst of 50 sends survives a ${how} restart of the node`, async (t) => {
    const [a, b] = names(how === 'SIGTERM' ? 'term' : 'kill')
    const alice = await App.open(t, a)
    const bob = await App.open(t, b, { url: WS_URL, discover: undefined })
    const dm = dmChannelId(a, b)
    const texts = Array.from({ length: 50 }, (_, i) => `${how} burst ${i}`)
    const ackedAt = new Map<string, 'before' | 'after'>()
    let phase: 'before' | 'after' = 'before'
    let pendingAtDeath = -1
    let down: Promise<{ code: number | null } | void> | undefined

    // The SDK picks the clientMsgIds: a resend under a new id would show up twice in history.
    const sends: Array<Promise<AckFrame>> = []
    for (const [i, text] of texts.entries()) {
      sends.push(alice.client.send(dm, text).then((ack) => {
        ackedAt.set(ack.clientMsgId, phase)
        // The node goes down the moment the first ack arrives, with the rest of the burst behind it
        // (the server stores a device's queued sends together, so acks come in bursts).
        if (ackedAt.size === 1 && down === undefined) {
          down = how === 'SIGTERM' ? node.stop() : node.kill()
          void down.then(() => { pendingAtDeath = alice.client.pendingSends().length })
        }
        return ack
      }))
      sends.at(-1)!.catch(() => {}) // awaited below; this only keeps an early failure from going unhandled
      // Spread the burst over a few milliseconds so that acks interleave with sends.
      if (i % 5 === 4) await new Promise((resolve) => setTimeout(resolve, 2))
    }
    await waitFor(() => down !== undefined, { what: 'the first ack' })
    const status = await down
    if (how === 'SIGTERM') t.match(status, { code: 0 }, 'a graceful stop exits 0')
    t.ok(pendingAtDeath > 0, `${pendingAtDeath} sends were unacknowledged when the node died`)
    phase = 'after'
    await node.launch()

    const acks = await within(Promise.all(sends), 30_000, 'every send')
    t.equal(acks.length, 50, 'every send resolved with an ack')
    t.ok([...ackedAt.values()].includes('after'), 'some sends were acknowledged only after the restart (resent)')
    t.same(alice.client.pendingSends(), [], 'the outbox is empty')

    const token = await login(BASE, a)
    const history = await allHistory(token, dm)
    t.same(history.map((m) => m.seq), history.map((_, i) => i + 1), 'seqs are contiguous from 1')
    const ids = acks.map((ack) => ack.clientMsgId)
    t.equal(new Set(ids).size, 50, 'fifty distinct clientMsgIds')
    t.same(history.map((m) => m.text).sort(), [...texts].sort(), 'history holds each message exactly once')
    t.same(history.map((m) => m.clientMsgId).sort(), [...ids].sort(), 'under the ids the acks name')
    const seqOf = new Map(history.map((m) => [m.clientMsgId, m.seq]))
    t.same(acks.map((ack) => ack.seq), acks.map((ack) => seqOf.get(ack.clientMsgId)), 'each ack names the stored seq')

    for (const app of [alice, bob]) {
      // On a timeout the assertions below say what is missing.
      await waitFor(() => app.received(dm).length >= 50, { timeout: 15_000 }).catch(() => {})
      t.same(app.problems, [], `${app.user}: each event once, in inboxSeq order`)
      t.same(app.receivedIds(dm).sort(), [...ids].sort(), `${app.user}'s app saw each message once`)
      t.same(app.events, await app.serverInbox(t), `${app.user}: the app saw exactly the server's inbox`)
      t.ok(app.states.filter((s) => s.state === 'open').length >= 2, `${app.user} reconnected`)
    }
    if (how === 'SIGTERM') {
      t.ok(alice.states.some((s) => s.state === 'connecting' && s.closeCode === 1012), 'the graceful stop closed with 1012')
    }
  })
}

t.test('olderMessages pages back through history to the beginning', async (t) => {
  const [a, b] = names('page')
  const alice = await App.open(t, a)
  const dm = dmChannelId(a, b)
  await login(BASE, b)
  for (let i = 1; i <= 25; i++) await alice.client.send(dm, `old ${i}`, { clientMsgId: `p${i}` })

  // A second device of bob with a 5-message cache: pages beyond the cache must still move back.
  const bob = await App.open(t, b, { inboxSeq: undefined, cacheSize: 5 })
  t.equal(bob.events.length, 0, 'without a cursor the client starts at the newest event')
  t.same(bob.client.cachedMessages(dm), [], 'nothing cached yet')
  const pages: number[][] = []
  for (let i = 0; i < 5; i++) pages.push((await bob.client.olderMessages(dm, 10)).map((m) => m.seq))
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
  t.same(pages, [range(16, 25), range(6, 15), range(1, 5), [], []], 'newest page first, then older, then nothing')
  t.same(bob.client.cachedMessages(dm).map((m) => m.seq), range(21, 25), 'the cache keeps the newest 5')
})

t.test('the local cache holds pushed, acked and fetched messages once each, ascending', async (t) => {
  const [a, b] = names('cache')
  const alice = await App.open(t, a, { cacheSize: 8 })
  const bob = await App.open(t, b)
  const dm = dmChannelId(a, b)
  for (let i = 1; i <= 12; i++) await (i % 3 === 0 ? bob : alice).client.send(dm, `m${i}`, { clientMsgId: `k${i}` })
  await waitFor(() => alice.events.length === 12 && bob.events.length === 12, { what: 'all pushes' })
  t.same(alice.client.cachedMessages(dm).map((m) => m.seq), [5, 6, 7, 8, 9, 10, 11, 12], 'newest 8 only')
  t.same(bob.client.cachedMessages(`dm:${b}:${a}`).map((m) => m.seq), Array.from({ length: 12 }, (_, i) => i + 1),
    'a non-canonical id reads the same channel')
  const cached = bob.client.cachedMessages(dm)
  t.same(cached.map((m) => m.text), Array.from({ length: 12 }, (_, i) => `m${i + 1}`))
  t.match(cached[0], { channel: dm, seq: 1, from: a, clientMsgId: 'k1' })
  // History overlapping the cache adds nothing twice.
  await bob.client.history(dm, { after: 0, limit: 12 })
  t.equal(bob.client.cachedMessages(dm).length, 12)
})

t.test('read, presence and ping round trips', async (t) => {
  const [a, b] = names('ops')
  const alice = await App.open(t, a, { deviceId: 'phone' })
  const aliceLaptop = await App.open(t, a, { deviceId: 'laptop' })
  const bob = await App.open(t, b)
  const dm = dmChannelId(a, b)
  const ack = await bob.client.send(dm, 'read me', { clientMsgId: 'r1' })
  await waitFor(() => alice.events.length === 1 && aliceLaptop.events.length === 1, { what: 'both devices got it' })

  const readPushes: ReadPushFrame[] = []
  aliceLaptop.client.on('read', (push) => readPushes.push(push))
  await alice.client.read(dm, ack.seq)
  await waitFor(() => readPushes.length === 1, { what: 'the read push on the other device' })
  t.same(readPushes, [{ op: 'read', channel: dm, seq: ack.seq }], 'the other device learns of the read')
  const api = new HttpApi({ baseUrl: BASE, token: await login(BASE, a) })
  t.match((await api.channels()).find((c) => c.id === dm), { readSeq: 1, lastSeq: 1 })

  // They share a 1:1 channel with a message, so each sees the other's presence.
  const presence = await alice.client.presence([b, 'nobody_here'])
  t.match(presence, [{ user: b, status: 'online' }], 'bob is online; unrelated users are left out')
  t.equal(presence.length, 1)
  const rtt = await alice.client.ping()
  t.ok(rtt >= 0 && rtt < 5000, `ping round trip ${rtt} ms`)
  const reply = await alice.client.request({ op: 'history', channel: `dm:${b}:${a}` })
  t.equal(reply.channel, dm, 'the server answers with the canonical id')
  await t.rejects(alice.client.request({ op: 'read', channel: 'g:does-not-exist', seq: 1 }), ChatError, 'an error frame rejects')
})

t.test('a token the node did not sign stops the client with auth_failed', async (t) => {
  // Another standalone node generates its own secret: its tokens are valid elsewhere, not here.
  const other = await InProcessNode.start(t)
  const foreign = await login(other.url, 'auth_a')
  const genuine = await login(BASE, 'auth_a')
  const [head, payload, signature] = genuine.split('.') as [string, string, string]
  const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.at(-1)
  const cases = { 'a token signed by another node': foreign, 'a tampered signature': `${head}.${payload}.${flipped}` }
  for (const [what, token] of Object.entries(cases)) {
    for (const target of [{ discover: BASE }, { url: WS_URL }]) {
      const client = new ChatClient({ token, WebSocket, backoff: { baseMs: 20, capMs: 100 }, ...target })
      t.teardown(() => client.close())
      const states: StateChange[] = []
      client.on('state', (s) => states.push(s))
      const failures: ChatError[] = []
      client.on('auth_failed', (err) => failures.push(err))
      const err = await within(client.connect().then(() => undefined, (e: unknown) => e), 10_000, what)
      t.match(err, { code: 'UNAUTHORIZED' }, `${what} (${Object.keys(target)[0]}): connect() rejects`)
      t.equal(failures.length, 1, 'auth_failed once')
      t.same(states.at(-1), { state: 'closed', reason: 'auth_failed' }, 'stopped for good')
      t.equal(states.filter((s) => s.state === 'connecting').length, 1, 'no reconnect attempts')
      t.equal(client.state, 'closed')
      await t.rejects(client.send(dmChannelId('auth_a', 'auth_b'), 'x'), { code: 'CLOSED' }, 'later sends reject')
    }
  }
})
