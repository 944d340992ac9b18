/**
 * `typing` across a 3-node cluster (PROTOCOL.md 4.3): three users whose user actors live on three
 * different nodes, each with a device on yet another node. A typing notice goes device -> gateway
 * -> channel actor (wherever it lives) -> the other members' user actors -> their devices' nodes.
 * And the web app, which types through the SDK, is served by every node.
 */
import t from 'tap'
import { TestCluster } from '../helpers/cluster.js'
import { Device } from '../helpers/device.js'
import { apiRetrying, clusterView, signIn, usersOn } from '../helpers/traffic.js'

t.setTimeout(90_000)

const cluster = await TestCluster.start(t, { nodes: 3, replicas: 3, args: ['--log-level', 'warn'] })
const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => cluster.node(id))
const view = await clusterView(n1!.url)
const [a, b, c] = usersOn(view, ['n1', 'n2', 'n3'], 'typ') as [string, string, string]
const tokA = await signIn(n2!.url, a)
const tokB = await signIn(n3!.url, b)
const tokC = await signIn(n1!.url, c)
const devA = await Device.open(t, n2!.wsUrl, tokA, 'a-dev')
const devA2 = await Device.open(t, n1!.wsUrl, tokA, 'a-dev2')
const devB = await Device.open(t, n3!.wsUrl, tokB, 'b-dev')
const devC = await Device.open(t, n1!.wsUrl, tokC, 'c-dev')
const dm = `dm:${[a, b].sort().join(':')}`

t.test('typing in a 1:1 reaches the other side on another node, not the typer\'s devices', async (t) => {
  t.same(await devA.request({ op: 'typing', channel: dm }), { op: 'ok', ref: 'r1' })
  t.same(await devB.waitPush((f) => f.op === 'typing'), { op: 'typing', channel: dm, user: a })
  t.match(await devC.request({ op: 'typing', channel: dm }), { op: 'error', code: 'FORBIDDEN' }, 'a non-member is refused')
})

t.test('typing in a group reaches every other member, each on a different node', async (t) => {
  const g = await apiRetrying(n3!.url, 'POST', '/v1/groups', { name: 'spread', members: [b, c] }, tokA)
  t.equal(g.status, 201)
  const id = g.body.channel.id as string
  t.same(await devC.request({ op: 'typing', channel: id }), { op: 'ok', ref: 'r2' })
  for (const d of [devA, devA2, devB]) {
    t.same(await d.waitPush((f) => f.op === 'typing' && f.channel === id, `group typing at ${d.deviceId}`), { op: 'typing', channel: id, user: c })
  }
  t.same(devC.pushes.filter((f) => f.op === 'typing'), [], 'the typer hears nothing of it')
  t.same(devA2.pushes.filter((f) => f.op === 'typing' && f.channel === dm), [], 'a\'s other device never heard of a\'s own 1:1 typing')
})

t.test('every node of the cluster serves the web app', async (t) => {
  for (const n of [n1!, n2!, n3!]) {
    const res = await fetch(`${n.url}/`)
    t.equal(res.status, 200, `${n.id} serves /`)
    t.match(res.headers.get('content-security-policy'), /script-src 'self'/, `${n.id} with its CSP`)
    t.match(await res.text(), /<div id="app">/, `${n.id} serves the app's page`)
  }
})
