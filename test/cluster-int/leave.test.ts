/**
 * A graceful leave under load: while writers send continuously with at-least-once retries, one of
 * four nodes gets SIGTERM. It must exit 0, close its clients with 1012, leave the ring record, and
 * lose nothing: every acknowledged message is in history once at its seq, seqs and every member's
 * inboxSeq run 1..N.
 */
import t from 'tap'
import { InProcessCluster } from '../helpers/in-process.js'
import { Device } from '../helpers/device.js'
import { Traffic, clusterView, judgeSettled, ownerOf, usersOn, workload } from '../helpers/traffic.js'

t.setTimeout(90_000)

const VICTIM = 'n3'
const cluster = await InProcessCluster.start(t, { nodes: 4, replicas: 3, args: ['--log-level', 'warn', '--rate-limit', '1000'] })
const view = await clusterView(cluster.node('n1').url)
// Two users on every node, so the victim owns user actors (and, by the same hash, some channels).
const users = usersOn(view, ['n1', 'n2', 'n3', 'n4', 'n1', 'n2', 'n3', 'n4'], 'lv')
const u = (i: number) => users[i]!
const bases = cluster.running().map((n) => n.url)
const { tokens, channels } = await workload(bases, users,
  [[u(0), u(1), u(2), u(3)], [u(4), u(5), u(6), u(7)], [u(2), u(3), u(6), u(7)]],
  [[u(0), u(6)], [u(1), u(2)], [u(3), u(4)]])
const nodes = () => cluster.running().map((n) => ({ id: n.id, url: n.url }))

t.test('SIGTERM of one node under load: exit 0, clients closed with 1012, nothing lost', async (t) => {
  const victim = cluster.node(VICTIM)
  const owned = [...users.map((x) => `user:${x}`), ...[...channels.keys()].map((c) => `channel:${c}`)].filter((k) => ownerOf(view, k) === VICTIM)
  t.ok(owned.length >= 2, `the victim owns keys of the workload (${owned.join(', ')})`)
  // A device that only listens, on the victim.
  const listener = await Device.open(t, victim.wsUrl, tokens.get(u(0))!, 'listener')

  const traffic = new Traffic({ tokens, channels, nodes })
  await traffic.progress(60)
  t.ok(traffic.connectedNodes().has(VICTIM), 'writers are connected to the victim')

  const status = await victim.stop(30_000)
  t.same(status, { code: 0, signal: null }, 'the leaving node exits 0')
  await traffic.progress(60, 30_000)
  await traffic.stop()

  t.equal(listener.closed?.code, 1012, 'the listening device was closed with 1012')
  const fromVictim = traffic.closes.filter((c) => c.node === VICTIM)
  t.ok(fromVictim.length >= 1, `writers on the victim saw their socket closed (${fromVictim.length})`)
  t.same(fromVictim.filter((c) => c.code !== 1012), [], 'every close by the victim was 1012')
  t.same(traffic.closes.filter((c) => c.node !== VICTIM), [], 'no other node closed a socket')

  await cluster.settled(['n1', 'n2', 'n4'], 20_000)
  const views = await Promise.all(cluster.running().map((n) => clusterView(n.url)))
  for (const v of views) {
    t.same(v.members.map((m) => m.id).sort(), ['n1', 'n2', 'n4'], `${v.self}: the victim is gone from the ring record`)
    t.ok(v.members.every((m) => m.live), `${v.self}: every remaining member is live`)
  }
  t.equal(new Set(views.map((v) => v.ringVersion)).size, 1, 'one ring version everywhere')
  t.ok(views[0]!.ringVersion > view.ringVersion, 'the ring version moved forward')

  const acked = traffic.acked().length
  t.ok(acked >= 120, `enough acknowledged messages to judge (${acked} of ${traffic.sent.length})`)
  const found = await judgeSettled(traffic.sent, tokens, channels, nodes())
  t.same(found.slice(0, 20), [], 'every acknowledged message kept once at its seq; seqs and inboxSeqs contiguous')
  t.comment(`sent ${traffic.sent.length}, acked ${acked}, retried ${traffic.sent.filter((s) => s.attempts > 1).length}`)
})
