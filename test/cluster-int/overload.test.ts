/**
 * Never silent under overload: a three-node cluster is driven past saturation by pipelining
 * senders, and one node is stalled (SIGSTOP) for longer than the push deadline between nodes but
 * shorter than failure detection, as a long pause of a busy process would. Every watching device
 * whose socket stayed open must have been pushed every event of its inbox; a device the cluster
 * may have left without an event must have been closed (1013) so that it reconnects and syncs.
 * Writes the cluster sheds (UNAVAILABLE) are retried with the same clientMsgId, as clients do.
 */
import t from 'tap'
import { TestCluster } from '../helpers/cluster.js'
import { Device } from '../helpers/device.js'
import { fullInbox, workload } from '../helpers/traffic.js'
import { waitFor } from '../helpers/wait.js'

// Sign-ups, the drive, the stall and the waits for pushes take a minute or more on a busy machine.
t.setTimeout(300_000)

const USERS = Array.from({ length: 12 }, (_, i) => `ov${i}`)
const PAIRS = Array.from({ length: 6 }, (_, i) => [USERS[2 * i]!, USERS[2 * i + 1]!] as [string, string])
const IN_FLIGHT = 16
const DRIVE_MS = 12_000
const STALL_AT_MS = 2_000
/** Longer than the 5 s push deadline between nodes, shorter than the dead-after below. */
const STALL_MS = 6_500

t.test('a saturated cluster with a stalled node leaves no live socket without its events', { timeout: 280_000 }, async (t) => {
  const cluster = await TestCluster.start(t, {
    nodes: 3, replicas: 3, heartbeatMs: 200, deadAfterMs: 15_000,
    args: ['--rate-limit', '100000', '--rate-burst', '100000', '--max-lag-ms', '200'],
  })
  const started = Date.now()
  const at = (what: string) => t.comment(`+${((Date.now() - started) / 1000).toFixed(1)} s ${what}`)
  const bases = cluster.nodes.map((n) => n.url)
  const { tokens } = await workload(bases, USERS, [], PAIRS)
  const wsUrl = (i: number) => cluster.nodes[i % 3]!.wsUrl

  // One watching device per user, spread over the nodes, and one sending device on another node.
  const watchers = await Promise.all(USERS.map((u, i) => Device.open(t, wsUrl(i), tokens.get(u)!, 'watch')))
  const senders = await Promise.all(USERS.map((u, i) => Device.open(t, wsUrl(i + 1), tokens.get(u)!, 'send')))

  let acked = 0
  let shed = 0
  let failed = 0
  at('sockets open')
  const until = Date.now() + DRIVE_MS
  async function lane(i: number, lane: number): Promise<void> {
    const me = USERS[i]!
    const peer = USERS[i ^ 1]!
    const channel = `dm:${[me, peer].sort().join(':')}`
    for (let n = 0; Date.now() < until && n < 100_000; n++) {
      const id = `${me}-${lane}-${n}`
      for (let attempt = 0; attempt < 200 && Date.now() < until + 30_000; attempt++) {
        const sender = senders[i]!
        if (sender.closed) return
        const r = await sender.send(channel, `message ${id}`, id).catch(() => null)
        if (r?.op === 'ack') { acked++; break }
        if (r?.code === 'UNAVAILABLE') shed++
        else failed++
        await new Promise((res) => setTimeout(res, 50 + 50 * Math.min(attempt, 10)))
      }
    }
  }
  const stalled = cluster.nodes[1]!
  const stall = (async () => {
    await new Promise((r) => setTimeout(r, STALL_AT_MS))
    stalled.signal('SIGSTOP')
    await new Promise((r) => setTimeout(r, STALL_MS))
    stalled.signal('SIGCONT')
  })()
  t.teardown(() => { try { stalled.signal('SIGCONT') } catch { /* gone */ } })
  await Promise.all([stall, ...USERS.flatMap((_, i) => Array.from({ length: IN_FLIGHT }, (_, l) => lane(i, l)))])
  at('drive over')
  t.ok(acked > 0, `${acked} sends acknowledged; ${shed} answers were UNAVAILABLE (shed or refused), ${failed} other failures, all retried`)

  // Each watcher: the events of its inbox after its ready, against what was pushed to it.
  let checked = 0
  let resynced = 0
  for (const [i, u] of USERS.entries()) {
    const w = watchers[i]!
    const inbox = (await fullInbox(cluster.nodes[0]!.url, tokens.get(u)!)).filter((e) => e.inboxSeq > w.ready.inboxSeq)
    const want = inbox.map((e) => e.inboxSeq as number)
    const pushedSeqs = () => new Set(w.pushes.filter((p) => typeof p.inboxSeq === 'number').map((p) => p.inboxSeq as number))
    // Pushes still on their way settle, or the node closes the socket for a resync.
    await waitFor(() => w.closed !== null || want.every((s) => pushedSeqs().has(s)), { timeout: 30_000, every: 100, what: `${u}: pushes or a close` })
      .catch(() => undefined)
    at(`${u} checked`)
    if (w.closed) {
      t.equal(w.closed.code, 1013, `${u}'s socket was closed with 1013 (reconnect and sync), not left silent`)
      resynced++
      continue
    }
    const missing = want.filter((s) => !pushedSeqs().has(s))
    t.same(missing, [], `${u}'s open socket (on ${cluster.nodes[i % 3]!.id}) was pushed all ${want.length} events of its inbox`)
    checked++
  }
  t.ok(checked + resynced === USERS.length, `${checked} open sockets had every event; ${resynced} were closed to resync`)
})
