/**
 * Presence across nodes: friends whose user actors live on different nodes, with devices on yet
 * other nodes, are pushed each other's online and offline changes; a third node answers presence
 * queries for both; a stranger is told nothing.
 */
import t from 'tap'
import { InProcessCluster } from '../helpers/in-process.js'
import { Device } from '../helpers/device.js'
import { api } from '../helpers/node-process.js'
import { apiRetrying, clusterView, ownerOf, signIn, usersOn } from '../helpers/traffic.js'
import { waitFor } from '../helpers/wait.js'

t.setTimeout(120_000) // three nodes in one process, every signup and login a password hash: minutes on a busy 2-core machine

const PRESENCE_TIMEOUT_MS = 2000
const cluster = await InProcessCluster.start(t, { nodes: 3, replicas: 3, args: ['--log-level', 'warn', '--presence-timeout-ms', String(PRESENCE_TIMEOUT_MS)] })
const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => cluster.node(id)) as [ReturnType<typeof cluster.node>, ReturnType<typeof cluster.node>, ReturnType<typeof cluster.node>]
const view = await clusterView(n1.url)
// alice lives on n1, bob on n2, carol (friend of both) on n3, dave (nobody's friend) anywhere.
const [alice, bob, carol] = usersOn(view, ['n1', 'n2', 'n3'], 'pres') as [string, string, string]
const dave = 'stranger_dave'
const tok: Record<string, string> = {}
for (const [u, node] of [[alice, n3], [bob, n1], [carol, n2], [dave, n1]] as const) tok[u] = await signIn(node.url, u)

async function befriend(x: string, y: string): Promise<void> {
  for (const [from, to, node] of [[x, y, n1], [y, x, n2]] as const) {
    const r = await apiRetrying(node.url, 'POST', '/v1/friends', { username: to }, tok[from])
    if (r.status !== 200) throw new Error(`friend ${from} -> ${to}: ${r.status} ${r.text}`)
  }
}
await befriend(alice, bob)
await befriend(alice, carol)
await befriend(bob, carol)

const pushesAbout = (d: Device, user: string) => d.pushes.filter((f) => f.op === 'presence' && f.user === user)

t.test('the friends live on different nodes', async (t) => {
  t.same([alice, bob, carol].map((u) => ownerOf(view, `user:${u}`)), ['n1', 'n2', 'n3'])
  const friends = await api(n3.url, 'GET', '/v1/friends', undefined, tok[alice])
  t.same(friends.body.friends.map((f: any) => `${f.username}:${f.state}`).sort(), [`${bob}:friends`, `${carol}:friends`].sort(), 'friendship made across nodes')
})

t.test('online and offline pushes cross nodes; a third node answers queries', async (t) => {
  // bob's device is on n3: neither his own node nor alice's.
  const bobDev = await Device.open(t, n3.wsUrl, tok[bob]!, 'bob-phone', 300)
  const daveDev = await Device.open(t, n3.wsUrl, tok[dave]!, 'dave-phone', 300)
  const query = async (node: typeof n1, asker: string, users: string[]) => {
    const r = await api(node.url, 'GET', `/v1/presence?users=${users.join(',')}`, undefined, tok[asker])
    if (r.status !== 200) throw new Error(`presence from ${node.id}: ${r.status} ${r.text}`)
    return new Map<string, any>(r.body.presence.map((p: any) => [p.user, p]))
  }
  await waitFor(async () => (await query(n1, carol, [bob])).get(bob)?.status === 'online', { timeout: 10_000, what: 'bob online for carol' })

  // alice's device is on n2 (bob's node, not hers).
  const aliceDev = await Device.open(t, n2.wsUrl, tok[alice]!, 'alice-phone', 300)
  const online = await bobDev.waitPush((f) => f.op === 'presence' && f.user === alice && f.status === 'online', 'alice online, pushed to bob', 10_000)
  t.ok(Math.abs(online.lastActiveAt - Date.now()) < 10_000, 'with a recent lastActiveAt')
  t.ok(pushesAbout(aliceDev, bob).length === 0 || pushesAbout(aliceDev, bob).every((f) => f.status === 'online'), 'alice is told nothing false about bob')

  // carol asks through n1, which owns neither carol nor bob; alice is owned by n1.
  for (const node of [n1, n2, n3]) {
    const seen = await query(node, carol, [alice, bob, dave])
    t.equal(seen.get(alice)?.status, 'online', `alice online, asked through ${node.id}`)
    t.equal(seen.get(bob)?.status, 'online', `bob online, asked through ${node.id}`)
    t.notOk(seen.has(dave), `a stranger's presence is not answered through ${node.id}`)
  }
  const davesView = await query(n2, dave, [alice, bob])
  t.equal(davesView.size, 0, 'a stranger learns nothing about alice or bob')

  aliceDev.close()
  const offline = await bobDev.waitPush((f) => f.op === 'presence' && f.user === alice && f.status === 'offline', 'alice offline, pushed to bob', 10_000)
  t.ok(offline.lastActiveAt >= online.lastActiveAt, 'lastActiveAt does not go back')
  const after = await query(n3, carol, [alice])
  t.equal(after.get(alice)?.status, 'offline', 'the third node answers offline after the close')
  t.equal(after.get(alice)?.lastActiveAt, offline.lastActiveAt, 'with the lastActiveAt that was pushed')
  t.same(pushesAbout(daveDev, alice), [], 'nothing was pushed to the stranger')

  // Back online through yet another node; then silence past the timeout counts as offline.
  // The server's clock for the device starts at the upgrade, before `ready` reaches us.
  const openedAt = Date.now()
  const silent = await Device.open(t, n1.wsUrl, tok[alice]!, 'alice-silent')
  const again = await bobDev.waitPush((f) => f.op === 'presence' && f.user === alice && f.status === 'online', 'alice online again', 10_000, bobDev.pushes.indexOf(offline) + 1)
  const quiet = await bobDev.waitPush((f) => f.op === 'presence' && f.user === alice && f.status === 'offline', 'alice offline after silence', 5 * PRESENCE_TIMEOUT_MS, bobDev.pushes.indexOf(again) + 1)
  t.ok(Date.now() - openedAt >= PRESENCE_TIMEOUT_MS - 100, 'not before the presence timeout')
  t.ok(quiet.lastActiveAt >= openedAt && quiet.lastActiveAt < openedAt + PRESENCE_TIMEOUT_MS, 'lastActiveAt is when the socket opened')
  t.equal(silent.closed, null, 'the silent socket itself may stay open')
  t.same(pushesAbout(bobDev, alice).map((f) => f.status), ['online', 'offline', 'online', 'offline'], 'exactly one push per change')
})
