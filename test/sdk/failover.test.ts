/**
 * The SDK against a 3-node cluster in the test process (replicas 3): when the node a client is connected to is
 * killed, the client finds a live node through discovery, resends its unacknowledged sends
 * under the same ids, and syncs; nothing is lost and the application sees nothing twice.
 */
import t, { type Test } from 'tap'
import { InProcessCluster, type InProcessNode } from '../helpers/in-process.js'
import WebSocket from 'ws'
import {
  ChatClient, HttpApi, dmChannelId, type AckFrame, type InboxEvent, type MessageEvent, type StateChange,
} from '../../src/client/index.js'
import { login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'
import { AppRecorder } from '../helpers/app-recorder.js'

const cluster = await InProcessCluster.start(t, { nodes: 3, replicas: 3 })
/** Every node's HTTP address: the clients' discovery list, fixed for the whole file. */
const BASES = cluster.nodes.map((n) => n.url)

/** An application on the SDK (AppRecorder), plus a timed log for when sends never finish. */
class App extends AppRecorder {
  /** State changes and errors the client handled itself, timed: shown when sends never finish. */
  readonly log: string[] = []

  private constructor(user: string, client: ChatClient) {
    super(user, client)
    client.on('state', (state) => this.log.push(`${Date.now()} state ${JSON.stringify(state)}`))
    client.on('error', (err) => this.log.push(`${Date.now()} ${err.message}`))
  }

  /** Connects through discovery over all nodes, from the start of a fresh user's inbox. */
  static async open(t: Test, user: string): Promise<App> {
    // UNAVAILABLE (503) means "nothing stored, retry later": a cluster may answer it while owners settle.
    const token = await waitFor(() => login(cluster.url(), user), { timeout: 15_000, every: 200, what: `login of ${user}` })
    const client = new ChatClient({ token, discover: BASES, WebSocket, inboxSeq: 0, backoff: { baseMs: 50, capMs: 500 } })
    t.teardown(() => client.close())
    const app = new App(user, client)
    const synced = new Promise((resolve) => client.once('synced', resolve))
    await client.connect()
    await synced
    return app
  }

  get nodeId(): string {
    return this.client.ready!.node
  }

  textsIn(channel: string): string[] {
    return this.messages.filter((m) => m.channel === channel).map((m) => m.text)
  }
}

function nodeOf(app: App): InProcessNode {
  return cluster.node(app.nodeId)
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * `sender` sends `texts` as messages, spread over a few milliseconds, and `victim` is SIGKILLed
 * when the first ack arrives (the server stores a device's queued sends together, so acks come in
 * bursts). Resolves once every send is acknowledged; returns the acks and how many
 * sends were unacknowledged when the node died.
 */
async function sendThroughKill(sender: App, channel: string, texts: string[], victim: InProcessNode) {
  let killed: Promise<void> | undefined
  let pendingAtDeath = -1
  let acked = 0
  const sends: Array<Promise<AckFrame>> = []
  for (const [i, text] of texts.entries()) {
    // The SDK picks the clientMsgIds: a resend under a new id would show up twice in history.
    const send = sender.client.send(channel, text).then((ack) => {
      if (++acked === 1 && killed === undefined) {
        killed = victim.kill()
        void killed.then(() => { pendingAtDeath = sender.client.pendingSends().length })
      }
      return ack
    })
    send.catch(() => {}) // awaited below; this only keeps an early failure from going unhandled
    sends.push(send)
    if (i % 5 === 4) await new Promise((resolve) => setTimeout(resolve, 2))
  }
  await waitFor(() => killed !== undefined, { timeout: 10_000, what: 'the first ack' })
  await killed
  const acks = await within(Promise.all(sends), 30_000, 'every send acknowledged').catch((err: Error) => {
    // Distinct messages only: one refusal repeats once per pending send and per retry.
    const distinct = [...new Set(sender.log.map((line) => line.replace(/^\d+ /, '').replace(/^send \S+ to/, 'send to')))]
    throw new Error(`${err.message}; ${sender.client.pendingSends().length} pending; client log (distinct lines):\n${distinct.slice(0, 40).join('\n')}`)
  })
  return { acks, pendingAtDeath }
}

/** Checks the stored history and both applications after a failover. */
async function checkOutcome(t: Test, apps: App[], channel: string, texts: string[], acks: AckFrame[], base: string) {
  const token = await waitFor(() => login(base, apps[0]!.user), { timeout: 15_000, every: 200, what: 'login' })
  const api = new HttpApi({ baseUrl: base, token })
  const history = await api.history(channel, { after: 0, limit: 200 })
  t.same(history.map((m) => m.seq), history.map((_, i) => i + 1), 'seqs are contiguous from 1')
  t.same(history.map((m) => m.text).sort(), [...texts].sort(), 'history holds each message exactly once')
  const seqOf = new Map(history.map((m) => [m.clientMsgId, m.seq]))
  t.same(acks.map((ack) => seqOf.get(ack.clientMsgId)), acks.map((ack) => ack.seq), 'every ack names its stored seq')
  for (const app of apps) {
    // On a timeout the assertions below say what is missing.
    await waitFor(() => app.textsIn(channel).length >= texts.length, { timeout: 20_000 }).catch(() => {})
    t.same(app.problems, [], `${app.user}: each event once, in inboxSeq order`)
    t.same(app.textsIn(channel).sort(), [...texts].sort(), `${app.user}'s app showed each message exactly once`)
    const inbox = await app.client.request({ op: 'sync', since: 0, limit: 1000 })
    t.same(app.events.map((e) => e.inboxSeq), inbox.events.map((e) => e.inboxSeq), `${app.user}: the app saw every inboxSeq of the server's inbox`)
    t.same(app.events, inbox.events, `${app.user}: the app saw exactly the server's inbox`)
  }
}

/** Restarts any node an earlier test left down, so that each test starts from three live nodes. */
async function healed(): Promise<void> {
  for (const n of cluster.nodes) if (!cluster.running().includes(n)) await n.launch()
  await cluster.settled()
}

t.test('SIGKILL of the sender\'s node: it reconnects elsewhere, resends, syncs', async (t) => {
  await healed()
  const alice = await App.open(t, 'fo_alice')
  const bob = await App.open(t, 'fo_bob')
  const dm = dmChannelId(alice.user, bob.user)
  const victim = nodeOf(alice)
  const texts = Array.from({ length: 60 }, (_, i) => `sender-failover ${i}`)
  const { acks, pendingAtDeath } = await sendThroughKill(alice, dm, texts, victim)
  t.ok(pendingAtDeath > 0, `${pendingAtDeath} sends were unacknowledged when ${victim.id} died`)
  t.equal(acks.length, texts.length, 'every send resolved with an ack')
  t.not(alice.nodeId, victim.id, `alice moved from ${victim.id} to ${alice.nodeId}`)
  const live = cluster.running()[0]!.url
  await checkOutcome(t, [alice, bob], dm, texts, acks, live)
})

t.test('SIGKILL of the receiver\'s node while messages arrive: it reconnects and syncs', async (t) => {
  await healed()
  const carol = await App.open(t, 'fo_carol')
  const dave = await App.open(t, 'fo_dave')
  const dm = dmChannelId(carol.user, dave.user)
  const victim = nodeOf(dave)
  const texts = Array.from({ length: 60 }, (_, i) => `receiver-failover ${i}`)
  const { acks } = await sendThroughKill(carol, dm, texts, victim)
  t.equal(acks.length, texts.length, 'every send resolved with an ack')
  await waitFor(() => dave.client.state === 'open' && dave.nodeId !== victim.id, { timeout: 20_000, what: 'dave on a live node' })
  t.ok(dave.states.filter((s) => s.state === 'open').length >= 2, `dave reconnected, to ${dave.nodeId}`)
  await checkOutcome(t, [carol, dave], dm, texts, acks, cluster.running()[0]!.url)
})
