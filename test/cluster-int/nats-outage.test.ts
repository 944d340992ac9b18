/**
 * NATS dies (SIGKILL) for 2.5 times the dead-after timeout and comes back. Meanwhile nobody may
 * be declared dead (liveness is frozen, not guessed), chat in channels that are already served
 * keeps working across nodes, and after NATS returns chat works as before.
 */
import t from 'tap'
import { TestCluster } from '../helpers/cluster.js'
import { Device } from '../helpers/device.js'
import { api } from '../helpers/node-process.js'
import { apiRetrying, clusterView, fullHistory, usersOn, workload } from '../helpers/traffic.js'

t.setTimeout(90_000)

const DEAD_AFTER_MS = 1000
const OUTAGE_MS = 2.5 * DEAD_AFTER_MS
const cluster = await TestCluster.start(t, {
  nodes: 3, replicas: 3, heartbeatMs: 200, deadAfterMs: DEAD_AFTER_MS, args: ['--log-level', 'warn', '--presence-timeout-ms', '20000'],
})
const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => cluster.node(id)) as [ReturnType<typeof cluster.node>, ReturnType<typeof cluster.node>, ReturnType<typeof cluster.node>]
const users = usersOn(await clusterView(n1.url), ['n1', 'n2', 'n3'], 'nt') as [string, string, string]
const [a, b, c] = users
const { tokens, channels } = await workload([n1.url, n2.url, n3.url], users, [[c, a, b]], [[a, b]])
const [groupId, dmId] = [...channels.keys()] as [string, string]
// Each device on a node that does not own its user.
const devA = await Device.open(t, n2.wsUrl, tokens.get(a)!, 'a', 1000)
const devB = await Device.open(t, n3.wsUrl, tokens.get(b)!, 'b', 1000)
const devC = await Device.open(t, n1.wsUrl, tokens.get(c)!, 'c', 1000)
const devices: Array<[Device, string]> = [[devA, a], [devB, b], [devC, c]]

let counter = 0
/**
 * Sends one message and waits until every other member device has it pushed. `retries` resends
 * after UNAVAILABLE (nothing stored), as a client would; none are allowed during the outage.
 */
async function exchange(channel: string, from: Device, to: Device[], retries = 3): Promise<any> {
  const id = `m${++counter}`
  let ack = await from.send(channel, `text ${id}`, id)
  for (let i = 0; ack.code === 'UNAVAILABLE' && i < retries; i++) ack = await from.send(channel, `text ${id}`, id)
  if (ack.op !== 'ack') throw new Error(`send ${id} in ${channel}: ${JSON.stringify(ack)}`)
  await Promise.all(to.map((d) => d.waitPush((f) => f.op === 'message' && f.clientMsgId === id, `push of ${id}`, 10_000)))
  return ack
}

t.test('chat works across nodes before the outage', async (t) => {
  t.equal((await exchange(dmId, devA, [devB])).seq, 1)
  t.equal((await exchange(groupId, devC, [devA, devB])).seq, 1)
})

t.test('NATS down for 2.5x dead-after: nobody declared dead, chat continues', async (t) => {
  const acks: any[] = []
  await cluster.nats.kill()
  const until = Date.now() + OUTAGE_MS
  let samples = 0
  let round = 0
  while (Date.now() < until) {
    const views = await Promise.all(cluster.running().map((n) => clusterView(n.url)))
    samples++
    const notLive = views.flatMap((v) => v.members.filter((m) => !m.live).map((m) => `${v.self} sees ${m.id} down`))
    if (notLive.length > 0) t.fail(`during the outage: ${notLive.join(', ')}`)
    const dm = round % 2 === 0 ? [devA, devB] : [devB, devA]
    acks.push(await exchange(dmId, dm[0]!, [dm[1]!], 0))
    acks.push(await exchange(groupId, devices[round % 3]![0], devices.filter((_, i) => i !== round % 3).map(([d]) => d), 0))
    round++
  }
  t.ok(samples >= 3, `the cluster view was sampled ${samples} times during the outage, every member live each time`)
  t.ok(round >= 3, `${acks.length} messages acknowledged and pushed across nodes during the outage`)
  const healthy = await Promise.all(cluster.running().map((n) => api(n.url, 'GET', '/healthz')))
  t.same(healthy.map((h) => h.status), [200, 200, 200], 'every node still healthy at the end of the outage')
  t.same(devices.map(([d]) => d.closed), [null, null, null], 'no device was dropped')

  await cluster.nats.restart()
  await cluster.settled(['n1', 'n2', 'n3'], 20_000)
})

t.test('after NATS is back: chat works, in old and new channels', async (t) => {
  const dmAck = await exchange(dmId, devB, [devA])
  const before = (await fullHistory(n1.url, dmId, tokens.get(a)!)).length
  t.equal(dmAck.seq, before, 'the 1:1 continues at the next seq')
  await exchange(groupId, devA, [devB, devC])
  const r = await apiRetrying(n2.url, 'POST', '/v1/groups', { name: 'after', members: [a, c] }, tokens.get(b))
  t.equal(r.status, 201, 'a new group can be created')
  const fresh = r.body.channel.id
  for (const [d] of devices) await d.waitPush((f) => f.op === 'member_added' && f.channel === fresh, 'member_added of the new group')
  const first = await exchange(fresh, devC, [devA, devB])
  t.equal(first.seq, 1, 'the new group starts at seq 1')
  const ca = `dm:${[c, a].sort().join(':')}`
  t.equal((await exchange(ca, devC, [devA])).seq, 1, 'a new 1:1 works')

  for (const [d, user] of devices) {
    const events = await d.syncAll(0)
    t.same(events.map((e) => e.inboxSeq), events.map((_, i) => i + 1), `${user}: inboxSeq 1..${events.length} with no gap`)
    const pushed = d.pushes.filter((f) => typeof f.inboxSeq === 'number').map((f) => f.inboxSeq)
    t.same(pushed, events.map((e) => e.inboxSeq).filter((s) => s > d.ready.inboxSeq), `${user}: every event since connecting was pushed live, in order`)
  }
  for (const channel of [dmId, groupId]) {
    const h = await fullHistory(n3.url, channel, tokens.get(a)!)
    t.same(h.map((m) => m.seq), h.map((_, i) => i + 1), `${channel}: seqs 1..${h.length} with no gap`)
  }
})
