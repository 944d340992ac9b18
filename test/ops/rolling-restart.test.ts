/**
 * A rolling restart of a 3-node cluster (replicas 3) under at-least-once traffic, as an operator
 * does it for an upgrade (docs/OPERATIONS.md): each node in turn gets SIGTERM, exits 0, and is
 * started again on its data dir; the next waits until the ring is whole again and writes flow.
 * Nothing acknowledged is lost, and the test reports the longest time a channel refused writes
 * (the longest any acknowledged send waited, from its first attempt to its ack, retries included).
 */
import t from 'tap'
import { TestCluster } from '../helpers/cluster.js'
import { Traffic, clusterView, judgeSettled, usersOn, workload } from '../helpers/traffic.js'

t.setTimeout(240_000)

const cluster = await TestCluster.start(t, {
  nodes: 3, replicas: 3,
  args: ['--log-level', 'warn', '--rate-limit', '1000', '--repair-interval-ms', '1000', '--compact-interval-ms', '2000', '--compact-max-lag', '10'],
})
const view = await clusterView(cluster.node('n1').url)
const users = usersOn(view, ['n1', 'n2', 'n3', 'n1', 'n2', 'n3'], 'rr')
const u = (i: number) => users[i]!
const { tokens, channels } = await workload(cluster.running().map((n) => n.url), users,
  [[u(0), u(1), u(2)], [u(3), u(4), u(5)]], [[u(0), u(4)], [u(1), u(5)], [u(2), u(3)]])
const nodes = () => cluster.running().map((n) => ({ id: n.id, url: n.url }))

t.test('every node restarted in turn under load: exit 0 each time, nothing acknowledged lost', async (t) => {
  const traffic = new Traffic({ tokens, channels, nodes, pauseMs: 20 })
  t.teardown(() => traffic.stop(5000))
  await traffic.progress(40, 30_000)
  const restarts: string[] = []
  for (const id of ['n1', 'n2', 'n3']) {
    const node = cluster.node(id)
    const began = Date.now()
    const status = await node.stop(30_000)
    t.same(status, { code: 0, signal: null }, `${id} left gracefully`)
    await node.launch(30_000)
    await cluster.settled(['n1', 'n2', 'n3'], 30_000)
    await traffic.progress(30, 60_000)
    restarts.push(`${id} ${((Date.now() - began) / 1000).toFixed(1)} s`)
  }
  await traffic.stop()
  t.comment(`restarts (stop to writes flowing again): ${restarts.join(', ')}`)

  const acked = traffic.acked()
  t.ok(acked.length >= 150, `enough acknowledged messages to judge (${acked.length} of ${traffic.sent.length})`)
  // Fan-out to members runs after the ack and backs off (up to 5 s) while a member's user actor
  // moves back to its restarted node: a missing inbox entry is final only once that has settled.
  const found = await judgeSettled(traffic.sent, tokens, channels, nodes())
  t.same(found.slice(0, 20), [], '0 acknowledged messages lost; seqs and inboxSeqs contiguous')

  // How long a channel refused writes: the longest any acknowledged send waited, retries included.
  const waits = new Map<string, number>()
  for (const s of acked) waits.set(s.channel, Math.max(waits.get(s.channel) ?? 0, s.ackedAt! - s.sentAt))
  const longest = Math.max(...waits.values())
  const sorted = acked.map((s) => s.ackedAt! - s.sentAt).sort((a, b) => a - b)
  t.comment(`longest write refusal per channel (ms): ${[...waits].map(([c, ms]) => `${c.slice(0, 12)} ${ms}`).join(', ')}`)
  t.comment(`longest time any channel refused writes: ${(longest / 1000).toFixed(2)} s; send-to-ack p50 ${sorted[Math.floor(sorted.length / 2)]} ms, p99 ${sorted[Math.floor(sorted.length * 0.99)]} ms; ${traffic.sent.filter((s) => s.attempts > 1).length} sends retried`)
  t.ok(longest < 60_000, 'every channel took writes again within a minute')
})
