/**
 * Discovery over a cluster with regions (n1 and n2 in eu, n3 in us): every node answers with a
 * live node's WebSocket URL, in the asked region when it has a live node, the least loaded one
 * by open sockets, and the answer follows the load as sockets open, and liveness as nodes die.
 */
import t from 'tap'
import { MemoryBus } from '../../src/cluster/membership-memory.js'
import { MemoryNetwork } from '../../src/cluster/transport-memory.js'
import { Device } from '../helpers/device.js'
import { InProcessNode } from '../helpers/in-process.js'
import { api } from '../helpers/node-process.js'
import { clusterView, signIn } from '../helpers/traffic.js'
import { waitFor } from '../helpers/wait.js'

t.setTimeout(90_000)

const medium = { bus: new MemoryBus(), network: new MemoryNetwork() }
const REGIONS: Record<string, string> = { n1: 'eu', n2: 'eu', n3: 'us' }
const nodes: InProcessNode[] = []
for (const [id, region] of Object.entries(REGIONS)) {
  nodes.push(await InProcessNode.start(t, {
    id, cluster: medium,
    args: ['--replicas', '3', '--heartbeat-ms', '200', '--dead-after-ms', '1000', '--region', region, '--log-level', 'warn'],
  }))
}
const [n1, n2, n3] = nodes as [InProcessNode, InProcessNode, InProcessNode]
await waitFor(async () => {
  const views = await Promise.all(nodes.map((n) => clusterView(n.url)))
  return views.every((v) => v.members.length === 3 && v.members.every((m) => m.live) && v.ringVersion === views[0]!.ringVersion)
}, { timeout: 20_000, what: 'three live members everywhere' })
const token = await signIn(n1.url, 'discoverer')

async function discover(from: InProcessNode, region?: string): Promise<{ url: string; nodeId: string }> {
  const r = await api(from.url, 'GET', `/v1/discover${region ? `?region=${region}` : ''}`)
  if (r.status !== 200) throw new Error(`discover from ${from.id}: ${r.status} ${r.text}`)
  return r.body
}

/** Waits until every live node answers `want` for `region`. */
async function everyoneSays(region: string | undefined, want: string, among = nodes): Promise<void> {
  await waitFor(async () => (await Promise.all(among.map((n) => discover(n, region)))).every((d) => d.nodeId === want), {
    timeout: 10_000, what: `every node to answer ${want} for region ${region ?? '(none)'}`,
  })
}

t.test('the answer is a live node\'s WebSocket URL that a client can use', async (t) => {
  for (const from of nodes) {
    const d = await discover(from)
    const target = nodes.find((n) => n.id === d.nodeId)
    t.ok(target, `${from.id} names a cluster node (${d.nodeId})`)
    t.equal(d.url, target!.wsUrl, 'its ws URL')
    const dev = await Device.open(t, d.url, token, `via-${from.id}`)
    t.equal(dev.ready.node, d.nodeId, 'a device connecting there lands on that node')
    dev.close()
  }
  const regions = (await clusterView(n3.url)).members.map((m) => `${m.id}:${m.region}`).sort()
  t.same(regions, ['n1:eu', 'n2:eu', 'n3:us'], '/v1/cluster shows each node\'s region')
})

t.test('the asked region is preferred, and within it the least loaded node', async (t) => {
  await everyoneSays('us', 'n3')
  t.pass('region us: n3 from every node, although other nodes are as idle')
  // Load n1: the eu answer must move to n2, the us answer must stay.
  const onN1 = await Promise.all(Array.from({ length: 4 }, (_, i) => Device.open(t, n1.wsUrl, token, `load-n1-${i}`, 300)))
  await everyoneSays('eu', 'n2')
  t.pass('eu with n1 loaded: n2 from every node')
  await everyoneSays('us', 'n3')
  // Load n2 more than n1: the eu answer moves back.
  const onN2 = await Promise.all(Array.from({ length: 8 }, (_, i) => Device.open(t, n2.wsUrl, token, `load-n2-${i}`, 300)))
  // Loads travel with heartbeats: until n2's full load is heard, n1 and n2 may look equal.
  await waitFor(async () => (await Promise.all(nodes.map((n) => clusterView(n.url)))).every((v) => v.members.find((m) => m.id === 'n2')!.connections >= 8), {
    timeout: 10_000, what: 'n2\'s load heard everywhere',
  })
  await everyoneSays('eu', 'n1')
  t.pass('eu with n2 loaded more: n1 from every node')
  // Without a region, the idle us node wins; an unknown region is no region.
  await everyoneSays(undefined, 'n3')
  await everyoneSays('mars', 'n3')
  t.pass('no region or an unknown one: the least loaded node overall (n3)')
  const counts = new Map((await clusterView(n3.url)).members.map((m) => [m.id, m.connections]))
  t.ok(counts.get('n1')! >= 4 && counts.get('n2')! >= 8, `the load behind the answers is visible (${[...counts].map(([k, v]) => `${k}=${v}`).join(' ')})`)
  for (const d of [...onN1, ...onN2]) d.close()
})

t.test('a dead node is never named; its region falls back to the others', async (t) => {
  await n3.kill()
  const alive = [n1, n2]
  await waitFor(async () => (await Promise.all(alive.map((n) => clusterView(n.url)))).every((v) => v.members.find((m) => m.id === 'n3')?.live === false), {
    timeout: 10_000, what: 'n3 seen down',
  })
  for (const from of alive) {
    const us = await discover(from, 'us')
    t.not(us.nodeId, 'n3', `${from.id}: us falls back to a live node (${us.nodeId})`)
    t.ok(['n1', 'n2'].includes(us.nodeId))
    const any = await discover(from)
    t.not(any.nodeId, 'n3', `${from.id}: no region: a live node (${any.nodeId})`)
  }
})
