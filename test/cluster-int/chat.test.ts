/**
 * Chat across nodes: three users whose user actors live on three different nodes, each with
 * devices connected to nodes that do not own them, chat 1:1 and in a group. Every member device
 * must get every message pushed, in seq order with no gap, and a new device must get the same
 * events through sync.
 */
import t, { type Test } from 'tap'
import { TestCluster } from '../helpers/cluster.js'
import { Device } from '../helpers/device.js'
import { api } from '../helpers/node-process.js'
import { apiRetrying, clusterView, fullHistory, ownerOf, signIn, usersOn } from '../helpers/traffic.js'
import { waitFor } from '../helpers/wait.js'

t.setTimeout(90_000)

const cluster = await TestCluster.start(t, { nodes: 3, replicas: 3, args: ['--log-level', 'warn'] })
const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => cluster.node(id))
const view = await clusterView(n1!.url)
// a lives on n1, b on n2, c on n3; each signs up and connects through a node that is not its own.
const [a, b, c] = usersOn(view, ['n1', 'n2', 'n3'], 'usr') as [string, string, string]
const tok = {
  [a]: await signIn(n2!.url, a),
  [b]: await signIn(n3!.url, b),
  [c]: await signIn(n1!.url, c),
}
const devA1 = await Device.open(t, n2!.wsUrl, tok[a]!, 'a-phone')
const devA2 = await Device.open(t, n3!.wsUrl, tok[a]!, 'a-laptop')
const devB = await Device.open(t, n3!.wsUrl, tok[b]!, 'b-phone')
const devC = await Device.open(t, n1!.wsUrl, tok[c]!, 'c-phone')

t.test('the users live on different nodes and their devices on others', async (t) => {
  for (const id of ['n1', 'n2', 'n3']) {
    const v = await clusterView(cluster.node(id).url)
    t.same([a, b, c].map((u) => ownerOf(v, `user:${u}`)), ['n1', 'n2', 'n3'], `owners as seen from ${id}`)
  }
  t.same([devA1, devA2, devB, devC].map((d) => d.ready.node), ['n2', 'n3', 'n3', 'n1'], 'each device is on the node it dialled')
})

/** Each sender sends `count` messages one after another; all senders at once. */
async function sendAll(channel: string, senders: Array<[Device, string]>, count: number): Promise<any[]> {
  const acks = await Promise.all(senders.map(async ([dev, user]) => {
    const out: any[] = []
    for (let i = 1; i <= count; i++) {
      // As a client would: UNAVAILABLE (nothing stored) is retried with the same clientMsgId.
      let r = await dev.send(channel, `${user} says ${i}`, `${user}-${channel.replace(/:/g, '_')}-${i}`)
      for (let retry = 0; r.code === 'UNAVAILABLE' && retry < 3; retry++) r = await dev.send(channel, `${user} says ${i}`, `${user}-${channel.replace(/:/g, '_')}-${i}`)
      if (r.op !== 'ack') throw new Error(`send ${user} ${i}: ${JSON.stringify(r)}`)
      out.push({ ...r, from: user, text: `${user} says ${i}` })
    }
    return out
  }))
  return acks.flat().sort((x, y) => x.seq - y.seq)
}

/** Waits for `n` message pushes of `channel` on `dev` and checks they came as seq 1..n, in order. */
async function deliveredInOrder(t: Test, dev: Device, who: string, channel: string, acks: any[]): Promise<void> {
  const n = acks.length
  await waitFor(() => dev.messages(channel).length >= n, { timeout: 20_000, what: `${n} pushes of ${channel} to ${who}` })
    .catch((err) => {
      t.comment(`${who} got seqs ${dev.messages(channel).map((m) => m.seq).join(',')}; socket closed: ${JSON.stringify(dev.closed)}`)
      throw err
    })
  const got = dev.messages(channel)
  t.same(got.map((m) => m.seq), acks.map((_, i) => i + 1), `${who} got seq 1..${n} in order`)
  t.same(got.map((m) => `${m.from}|${m.text}|${m.clientMsgId}`), acks.map((x) => `${x.from}|${x.text}|${x.clientMsgId}`), `${who} got the acknowledged messages`)
  const inbox = got.map((m) => m.inboxSeq)
  t.ok(inbox.every((s, i) => i === 0 || s > inbox[i - 1]!), `${who}: inboxSeq increases along the pushes`)
}

const dm = [a, b].sort().join(':')
const dmId = `dm:${dm}`

t.test('1:1 between users on different nodes: ordered pushes on every device of both', async (t) => {
  const acks = await sendAll(dmId, [[devA1, a], [devB, b]], 12)
  t.same(acks.map((x) => x.seq), Array.from({ length: 24 }, (_, i) => i + 1), 'acks carry seq 1..24, each once')
  await deliveredInOrder(t, devA1, `${a} on n2`, dmId, acks)
  await deliveredInOrder(t, devA2, `${a}'s second device on n3`, dmId, acks)
  await deliveredInOrder(t, devB, `${b} on n3`, dmId, acks)
  t.same(devC.messages(dmId), [], 'the third user got nothing of it')
  for (const id of ['n1', 'n2', 'n3']) {
    const h = await fullHistory(cluster.node(id).url, dmId, tok[a]!)
    t.same(h.map((m) => m.clientMsgId), acks.map((x) => x.clientMsgId), `history from ${id} holds the messages in seq order`)
  }
  const stranger = await api(n1!.url, 'GET', `/v1/channels/${dmId}/messages`, undefined, tok[c])
  t.equal(stranger.status, 403, 'a non-member cannot read the 1:1 from any node')
})

let groupId = ''
let groupAcks: any[] = []

t.test('a group across three nodes: member events and ordered pushes for every member', async (t) => {
  const r = await apiRetrying(n2!.url, 'POST', '/v1/groups', { name: 'trio', members: [a, b] }, tok[c])
  t.equal(r.status, 201, 'group created through a node that owns none of the members')
  groupId = r.body.channel.id
  t.same([...r.body.channel.members].sort(), [a, b, c].sort())
  for (const [dev, who] of [[devA1, a], [devA2, a], [devB, b], [devC, c]] as const) {
    const added = await dev.waitPush((f) => f.op === 'member_added' && f.channel === groupId && f.user === who, `member_added for ${who}`)
    t.equal(added.by, c, `${who} told who created the group`)
  }
  groupAcks = await sendAll(groupId, [[devA2, a], [devB, b], [devC, c]], 8)
  t.same(groupAcks.map((x) => x.seq), Array.from({ length: 24 }, (_, i) => i + 1), 'concurrent senders got seq 1..24, each once')
  await deliveredInOrder(t, devA1, `${a} on n2`, groupId, groupAcks)
  await deliveredInOrder(t, devA2, `${a} on n3`, groupId, groupAcks)
  await deliveredInOrder(t, devB, `${b} on n3`, groupId, groupAcks)
  await deliveredInOrder(t, devC, `${c} on n1`, groupId, groupAcks)
})

t.test('a new device on another node syncs everything the live devices were pushed', async (t) => {
  for (const [user, live, node] of [[a, devA1, n1!], [b, devB, n2!], [c, devC, n3!]] as const) {
    const fresh = await Device.open(t, node.wsUrl, tok[user]!, `${user}-fresh`)
    const events = await fresh.syncAll(0)
    t.same(events.map((e) => e.inboxSeq), events.map((_, i) => i + 1), `${user}: inboxSeq 1..${events.length} with no gap`)
    t.equal(fresh.ready.inboxSeq, events.length, `${user}: ready.inboxSeq is the newest event`)
    const pushed = live.pushes.filter((f) => typeof f.inboxSeq === 'number')
    const bySeq = new Map(events.map((e) => [e.inboxSeq, e]))
    t.same(pushed.filter((p) => !sameEvent(bySeq.get(p.inboxSeq), p)), [], `${user}: every push equals the synced event of its inboxSeq`)
    t.equal(events.filter((e) => e.op === 'message' && e.channel === groupId).length, groupAcks.length, `${user}: every group message is in the inbox once`)
    const dmCount = events.filter((e) => e.op === 'message' && e.channel === dmId).length
    t.equal(dmCount, user === c ? 0 : 24, `${user}: the 1:1 messages are in the inbox iff a member`)
    const tail = await fresh.syncAll(events.length)
    t.same(tail, [], 'sync from the newest inboxSeq returns nothing')
    fresh.close()
  }
})

function sameEvent(x: any, y: any): boolean {
  const keys = (o: any) => Object.keys(o ?? {}).sort()
  return keys(x).join() === keys(y).join() && keys(x).every((k) => x[k] === y[k])
}
