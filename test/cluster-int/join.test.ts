/**
 * A node joins under load: while writers send continuously with at-least-once retries, a fourth
 * node starts. Every node must then show it in one ring version, it must take over keys, and
 * nothing may be lost or duplicated on the way.
 */
import t from 'tap'
import { InProcessCluster } from '../helpers/in-process.js'
import { Traffic, clusterView, judgeSettled, ownerOf, usersOn, workload } from '../helpers/traffic.js'
import { waitFor } from '../helpers/wait.js'

t.setTimeout(90_000)

const cluster = await InProcessCluster.start(t, { nodes: 3, replicas: 3, args: ['--log-level', 'warn', '--rate-limit', '1000'] })
const view = await clusterView(cluster.node('n1').url)
// Two users whose actors the ring will move to n4 once it joins (placement only reads member ids).
const future = { ...view, members: [...view.members, { ...view.members[0]!, id: 'n4' }] }
const users = [...usersOn(view, ['n1', 'n2', 'n3', 'n1', 'n2', 'n3'], 'jn'), ...usersOn(future, ['n4', 'n4'], 'jf')]
const u = (i: number) => users[i]!
const { tokens, channels } = await workload(cluster.running().map((n) => n.url), users,
  [[u(0), u(1), u(2), u(3)], [u(4), u(5), u(6), u(7)], [u(1), u(3), u(5), u(7)]],
  [[u(0), u(7)], [u(2), u(5)]])
const nodes = () => cluster.running().map((n) => ({ id: n.id, url: n.url }))

t.test('n4 joins under load: one ring everywhere, it owns keys, nothing lost', async (t) => {
  const traffic = new Traffic({ tokens, channels, nodes })
  await traffic.progress(50)

  const n4 = await cluster.add('n4')
  t.equal(n4.ready?.nodeId, 'n4', 'the new node is ready')
  await cluster.settled(['n1', 'n2', 'n3', 'n4'], 20_000)
  const views = await Promise.all(cluster.running().map((n) => clusterView(n.url)))
  for (const v of views) t.same(v.members.map((m) => m.id).sort(), ['n1', 'n2', 'n3', 'n4'], `${v.self} lists n4 in the ring`)
  t.equal(new Set(views.map((v) => v.ringVersion)).size, 1, `one ring version everywhere (${views.map((v) => `${v.self}:${v.ringVersion}`).join(' ')})`)
  t.ok(views[0]!.ringVersion > view.ringVersion, 'the ring version moved forward')

  // Writers find the new node too: new connections are spread over every running node.
  await traffic.progress(60, 30_000)

  // By the ring, n4 now owns a fair share of keys; it activates the ones it is asked for.
  const after = views[0]!
  const sample = Array.from({ length: 400 }, (_, i) => `user:someone${i}`)
  const share = sample.filter((k) => ownerOf(after, k) === 'n4').length / sample.length
  t.ok(share > 0.1 && share < 0.45, `n4 owns about a quarter of keys by the ring (${(share * 100).toFixed(0)}%)`)
  const movers = [u(6), u(7)]
  t.same(movers.map((x) => ownerOf(after, `user:${x}`)), ['n4', 'n4'], 'the ring moved the chosen users to n4')
  const actors = await waitFor(async () => (await clusterView(n4.url)).members.find((m) => m.id === 'n4')!.actors, { timeout: 10_000, what: 'n4 hosting actors' })
  t.ok(actors >= 2, `n4 hosts actors (${actors})`)
  for (const n of cluster.running()) {
    const seen = (await clusterView(n.url)).members.find((m) => m.id === 'n4')!
    t.ok(seen.live, `${n.id} sees n4 live`)
  }
  await traffic.stop()

  const acked = traffic.acked().length
  t.ok(acked >= 100, `enough acknowledged messages to judge (${acked} of ${traffic.sent.length})`)
  const found = await judgeSettled(traffic.sent, tokens, channels, nodes())
  t.same(found.slice(0, 20), [], 'every acknowledged message kept once at its seq; seqs and inboxSeqs contiguous')
  t.same(traffic.closes, [], 'no socket was closed by a node')
  t.comment(`sent ${traffic.sent.length}, acked ${acked}, retried ${traffic.sent.filter((s) => s.attempts > 1).length}`)
})
