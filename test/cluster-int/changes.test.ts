/**
 * Edits, deletes and reactions across a crash: three real nodes and a nats-server; a group whose
 * members' user actors live on three different nodes. Changes are made, then the node that owns
 * the group is SIGKILLed the moment the first of a burst of changes is answered, and clients
 * retry every change until it is `ok` (they are idempotent), then make more. Afterwards every
 * surviving node serves the same history with every change applied, every member's inbox holds
 * each change exactly once with no gap in inboxSeq, and search agrees.
 */
import t from 'tap'
import { TestCluster } from '../helpers/cluster.js'
import { Device } from '../helpers/device.js'
import { apiRetrying, clusterView, fullHistory, fullInbox, ownerOf, signIn, usersOn } from '../helpers/traffic.js'
import { waitFor } from '../helpers/wait.js'

t.setTimeout(110_000)

const cluster = await TestCluster.start(t, { nodes: 3, replicas: 3, args: ['--log-level', 'warn'] })
const view = await clusterView(cluster.url(0))
const users = usersOn(view, ['n1', 'n2', 'n3'], 'chg') as [string, string, string]
const [a, b, c] = users
const tok = new Map<string, string>()
for (const u of users) tok.set(u, await signIn(cluster.url(0), u))
const created = await apiRetrying(cluster.url(1), 'POST', '/v1/groups', { name: 'survivors', members: [b, c] }, tok.get(a))
const G: string = created.body.channel.id
const ownerId = ownerOf(view, `channel:${G}`)!
const others = cluster.nodes.filter((n) => n.id !== ownerId)
// Every device is on a node that survives; the members' user actors are spread over all three.
const dev = new Map<string, Device>()
for (const [i, u] of users.entries()) dev.set(u, await Device.open(t, others[i % 2]!.wsUrl, tok.get(u)!, `${u}-live`))

/** Sends a change until it is answered ok, as a client would (UNAVAILABLE and timeouts retried). */
async function until(user: string, frame: Record<string, unknown>): Promise<any> {
  return waitFor(async () => {
    const r = await dev.get(user)!.request(frame, 5000).catch(() => null)
    if (r?.op === 'ok' || r?.op === 'ack') return r
    if (r && r.code !== 'UNAVAILABLE') throw new Error(`${JSON.stringify(frame)} refused: ${JSON.stringify(r)}`)
    return null
  }, { timeout: 40_000, every: 200, what: `${String(frame.op)} answered` })
}

let ids = 0
const send = async (user: string, text: string) => (await until(user, { op: 'send', channel: G, text, clientMsgId: `${user}-${++ids}` })).seq as number

t.test('changes survive the SIGKILL of the channel\'s owner and reach every member once', async (t) => {
  t.not(ownerId, undefined)
  const seqs: number[] = []
  for (const [i, u] of [a, b, c, a, b, c, a].entries()) seqs.push(await send(u, `message ${i} from ${u} about tigers`))
  const [m1, m2, m3, m4, m5, m6, m7] = seqs as [number, number, number, number, number, number, number]
  // Before the crash.
  await until(a, { op: 'edit', channel: G, seq: m1, text: 'message 0, edited before the crash, about lions' })
  await until(b, { op: 'react', channel: G, seq: m1, emoji: '🦁', on: true })
  await until(c, { op: 'delete', channel: G, seq: m3 })

  // A burst of changes that do not depend on each other; the owner dies when the first is answered.
  const burst: Array<[string, Record<string, unknown>]> = [
    [a, { op: 'edit', channel: G, seq: m4, text: 'message 3, edited in the crash, about bears' }],
    [b, { op: 'react', channel: G, seq: m4, emoji: '🐻', on: true }],
    [c, { op: 'react', channel: G, seq: m4, emoji: '🐻', on: true }],
    [b, { op: 'delete', channel: G, seq: m5 }],
    [c, { op: 'edit', channel: G, seq: m6, text: 'message 5, edited in the crash, about wolves' }],
  ]
  let killed: Promise<void> | null = null
  const firstTries = burst.map(([u, frame]) => dev.get(u)!.request(frame, 5000).catch(() => null).then((r) => {
    killed ??= cluster.node(ownerId).kill()
    return r
  }))
  await Promise.all(firstTries)
  await killed
  t.pass(`the owner ${ownerId} was killed with the burst in flight`)
  // Retried in order per member until ok: repeats of what was stored change nothing.
  for (const [u, frame] of burst) await until(u, frame)

  // After the failover: the message edited in the crash is deleted by the group's creator.
  await until(a, { op: 'delete', channel: G, seq: m6 })
  await until(a, { op: 'edit', channel: G, seq: m1, text: 'message 0, edited after the crash, about lions and tigers' })
  await until(b, { op: 'react', channel: G, seq: m1, emoji: '🦁', on: false })
  await until(a, { op: 'delete', channel: G, seq: m2 })
  await until(c, { op: 'react', channel: G, seq: m7, emoji: '🐯', on: true })

  // One shape for every row, so the optional fields are typed rather than inferred per literal.
  type Brief = { seq: number; text?: string; deleted?: true; edited?: true; reactions?: Record<string, string[]> }
  const expected: Brief[] = [
    { seq: m1, text: 'message 0, edited after the crash, about lions and tigers', edited: true },
    { seq: m2, deleted: true },
    { seq: m3, deleted: true },
    { seq: m4, text: 'message 3, edited in the crash, about bears', edited: true, reactions: { '🐻': [b, c] } },
    { seq: m5, deleted: true },
    { seq: m6, deleted: true },
    { seq: m7, text: `message 6 from ${a} about tigers`, reactions: { '🐯': [c] } },
  ]
  // Reaction lists sorted: the two 🐻 reactions were in flight together and may be stored in either order.
  const sorted = (r: Record<string, string[]>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, [...v].sort()]))
  const brief = (m: any) => ({
    seq: m.seq, ...(m.deleted ? { deleted: true } : { text: m.text }), ...(m.editedAt ? { edited: true } : {}), ...(m.reactions ? { reactions: sorted(m.reactions) } : {}),
  })
  const want = JSON.stringify(expected.map((m) => (m.reactions ? { ...m, reactions: sorted(m.reactions) } : m)))
  for (const n of others) {
    const read = async () => (await fullHistory(n.url, G, tok.get(a)!)).map(brief)
    await waitFor(async () => JSON.stringify(await read()) === want, { timeout: 20_000, what: `history from ${n.id}` }).catch(() => {})
    t.same(await read(), JSON.parse(want), `history from ${n.id}: every change applied, once`)
  }

  // Each change that changed something is one inbox event for every member, whatever was retried.
  const changes = 3 + burst.length + 5
  for (const [i, u] of users.entries()) {
    const inbox = await waitFor(async () => {
      const events = await fullInbox(others[i % 2]!.url, tok.get(u)!, `${u}-check`)
      return events.filter((e) => e.channel === G && ['edit', 'delete', 'reaction'].includes(e.op)).length >= changes ? events : null
    }, { timeout: 30_000, what: `${u}'s inbox complete` })
    t.same(inbox.map((e) => e.inboxSeq), inbox.map((_, k) => k + 1), `${u}: inboxSeq 1..${inbox.length}, no gap`)
    const mine = inbox.filter((e) => e.channel === G && e.op !== 'member_added')
    // A duplicate delivery repeats an event whole; the count of change events below catches a change applied twice.
    const key = (e: any) => `${e.op} ${e.seq} ${e.ts} ${e.user ?? ''} ${e.emoji ?? ''} ${e.on ?? ''}`
    const counts = new Map<string, number>()
    for (const e of mine) counts.set(key(e), (counts.get(key(e)) ?? 0) + 1)
    t.same([...counts].filter(([, n]) => n !== 1), [], `${u}: every message and change once`)
    t.equal(mine.filter((e) => e.op !== 'message').length, changes, `${u}: ${changes} change events`)
    t.notOk(JSON.stringify(inbox).includes('wolves'), `${u}: the text of a message deleted in the crash is not in sync`)
    const live = dev.get(u)!.pushes.filter((f) => typeof f.inboxSeq === 'number')
    t.equal(new Set(live.map((f) => f.inboxSeq)).size, live.length, `${u}: no push twice on the live device`)
  }

  const found = await apiRetrying(others[0]!.url, 'GET', '/v1/search?q=tigers&limit=100', undefined, tok.get(b))
  t.same(found.body.messages.map((m: any) => m.seq), [m7, m1], 'search finds the live and edited messages, newest first; the deleted ones never')
  const wolves = await apiRetrying(others[1]!.url, 'GET', '/v1/search?q=wolves', undefined, tok.get(c))
  t.same(wolves.body.messages, [], 'nor the text of a message edited and deleted in the crash')
})
