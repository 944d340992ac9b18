/**
 * The operator commands against a live cluster: `chat-node members` lists the ring record with
 * liveness; `chat-node remove ID` takes a stopped node out of the ring record (and refuses a live
 * one), after which every node runs on the smaller ring and the data is still all there.
 */
import { execFile } from 'node:child_process'
import t from 'tap'
import { TestCluster } from '../helpers/cluster.js'
import { Device } from '../helpers/device.js'
import { BIN, ROOT } from '../helpers/node-process.js'
import { clusterView, fullHistory, signIn } from '../helpers/traffic.js'
import { waitFor } from '../helpers/wait.js'

t.setTimeout(90_000)

const cluster = await TestCluster.start(t, { nodes: 4, replicas: 3, args: ['--log-level', 'warn'] })
const n1 = cluster.node('n1')

interface Run { code: number | null; stdout: string; stderr: string }

function admin(...args: string[]): Promise<Run> {
  // As in node-process.ts: `env -u` keeps the test runner's loader hooks away from the command under test.
  const argv = ['-u', 'NODE_OPTIONS', process.execPath, BIN, ...args, '--nats', cluster.nats.url, '--cluster', 'chat']
  return new Promise((resolve) => {
    execFile('env', argv, { cwd: ROOT, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : null) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

/** The liveness column of `members` for each node id listed (one row per member, id first). */
function liveness(out: string): Map<string, string> {
  const rows = new Map<string, string>()
  for (const line of out.split('\n')) {
    const [id, live] = line.split('\t')
    if (id && live && /^n\d$/.test(id)) rows.set(id, live)
  }
  return rows
}

const token = await signIn(n1.url, 'operator_friend')
const other = await signIn(cluster.node('n2').url, 'operator_peer')
const dm = 'dm:operator_friend:operator_peer'

t.test('members lists every ring member as live, with the ring version', async (t) => {
  const run = await admin('members')
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr.trim()})`)
  const rows = liveness(run.stdout)
  t.same([...rows.keys()].sort(), ['n1', 'n2', 'n3', 'n4'], 'one row per member')
  t.same([...rows.values()], ['yes', 'yes', 'yes', 'yes'], 'all live')
  const v = await clusterView(n1.url)
  t.match(run.stdout, new RegExp(`ring version ${v.ringVersion}\\b`), 'the ring version the nodes use')
})

t.test('a killed node is listed as not live; remove refuses a live node and removes the stopped one', async (t) => {
  const dev = await Device.open(t, cluster.node('n2').wsUrl, token, 'phone')
  for (let i = 1; i <= 10; i++) {
    let ack = await dev.send(dm, `before ${i}`, `before-${i}`)
    // The first write takes the new channel's replicas over; a client retries UNAVAILABLE.
    for (let retry = 0; ack.code === 'UNAVAILABLE' && retry < 3; retry++) ack = await dev.send(dm, `before ${i}`, `before-${i}`)
    t.equal(ack.seq, i, `message ${i} acknowledged`)
  }
  const before = await clusterView(n1.url)

  await cluster.node('n4').kill()
  await waitFor(async () => (await clusterView(n1.url)).members.find((m) => m.id === 'n4')?.live === false, { timeout: 10_000, what: 'n4 seen down' })
  const listed = await admin('members')
  t.equal(listed.code, 0)
  t.same(Object.fromEntries(liveness(listed.stdout)), { n1: 'yes', n2: 'yes', n3: 'yes', n4: 'NO' }, 'the killed node is listed, not live')

  const refused = await admin('remove', 'n2')
  t.not(refused.code, 0, `removing a live node is refused (${refused.stderr.trim()})`)
  t.same((await clusterView(n1.url)).members.map((m) => m.id).sort(), ['n1', 'n2', 'n3', 'n4'], 'and the ring record is unchanged')

  const removed = await admin('remove', 'n4')
  t.equal(removed.code, 0, `remove n4 exits 0 (${removed.stdout.trim()}${removed.stderr.trim()})`)
  await cluster.settled(['n1', 'n2', 'n3'], 15_000)
  const views = await Promise.all(cluster.running().map((n) => clusterView(n.url)))
  for (const v of views) t.same(v.members.map((m) => m.id).sort(), ['n1', 'n2', 'n3'], `${v.self}: n4 is gone from the ring`)
  t.equal(new Set(views.map((v) => v.ringVersion)).size, 1, 'one ring version everywhere')
  t.ok(views[0]!.ringVersion > before.ringVersion, 'a newer one')
  t.same([...liveness((await admin('members')).stdout).keys()].sort(), ['n1', 'n2', 'n3'], 'members no longer lists n4')

  const again = await admin('remove', 'n4')
  t.not(again.code, 0, `removing it again is an error (${again.stderr.trim()})`)

  for (const n of cluster.running()) {
    const h = await fullHistory(n.url, dm, other)
    t.same(h.map((m) => m.clientMsgId), Array.from({ length: 10 }, (_, i) => `before-${i + 1}`), `${n.id} serves the whole history after the removal`)
  }
  const peer = await Device.open(t, cluster.node('n3').wsUrl, other, 'peer')
  const ack = await dev.send(dm, 'after', 'after-1')
  t.equal(ack.seq, 11, 'chat continues at the next seq')
  await peer.waitPush((f) => f.op === 'message' && f.clientMsgId === 'after-1', 'push of the new message')
})
