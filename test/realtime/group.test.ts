/**
 * A full group: 100 members, each with a live device on one node. Several members send at once;
 * every member's device must receive every message, in seq order, with gap-free inboxSeq.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Device } from '../helpers/device.js'
import { InProcessNode } from '../helpers/in-process.js'
import { api } from '../helpers/node-process.js'
import { tokenFor as forgeToken } from '../helpers/tokens.js'
import { waitFor } from '../helpers/wait.js'

const MEMBERS = 100
const SENDERS = 5
const PER_SENDER = 5
const TOTAL = SENDERS * PER_SENDER

// 101 sign-ups (slow password work) and 100 sockets on both ends of one process: room for a busy machine.
t.setTimeout(240_000)

const SECRET = 'realtime-group-secret-0123456789'
const node = await InProcessNode.start(t, { args: ['--secret', SECRET] })
const names = Array.from({ length: MEMBERS }, (_, i) => `member_${String(i).padStart(3, '0')}`)

/** A token as the node issues them. Logging in 101 users would double the slow password work. */
function tokenFor(user: string, device: string): string {
  return forgeToken(SECRET, user, device)
}

/** Signs everyone up, a few at a time (password hashing is deliberately slow). */
async function signupAll(users: string[]): Promise<string[]> {
  let next = 0
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < users.length) {
      const user = users[next++]!
      const r = await api(node.url, 'POST', '/v1/users', { username: user, password: 'password-123' })
      if (r.status !== 201) throw new Error(`signup ${user}: ${r.status} ${r.text}`)
    }
  }))
  return users.map((u, i) => tokenFor(u, `dev-${i}`))
}

function diskUsage(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    total += entry.isDirectory() ? diskUsage(path) : statSync(path).size
  }
  return total
}

const tokens = await signupAll([...names, 'outsider'])
const outsider = tokens.pop()!

t.test('100 members all receive every message, in order', async (t) => {
  const devices = await Promise.all(names.map((u, i) => Device.open(t, node.wsUrl, tokens[i]!, `dev-${i}`)))
  const created = await api(node.url, 'POST', '/v1/groups', { name: 'everyone', members: names.slice(1) }, tokens[0])
  t.equal(created.status, 201)
  const gid: string = created.body.channel.id
  t.match(gid, /^g:/)
  t.equal(created.body.channel.members.length, MEMBERS)
  t.same([...created.body.channel.members].sort(), names, 'creator folded in')

  await Promise.all(devices.map((d) => d.waitPush((f) => f.op === 'member_added' && f.channel === gid, 'member_added')))
  const added = devices.map((d) => d.pushes.find((f) => f.op === 'member_added'))
  t.ok(added.every((f, i) => f.user === names[i] && f.by === names[0]), 'each member hears of their own joining, by the creator')

  const senders = devices.slice(0, SENDERS * 19).filter((_, i) => i % 19 === 0)
  t.equal(senders.length, SENDERS)
  const acks = await Promise.all(senders.map(async (d, s) => {
    const mine: any[] = []
    // Each sender sends in order; senders interleave with each other.
    for (let k = 0; k < PER_SENDER; k++) mine.push(await d.send(gid, `from ${s}, #${k}`, `g-${s}-${k}`))
    return mine
  }))
  const allAcks = acks.flat()
  t.ok(allAcks.every((a) => a.op === 'ack'), 'every send acknowledged')
  t.same(allAcks.map((a) => a.seq).sort((x, y) => x - y), Array.from({ length: TOTAL }, (_, i) => i + 1), 'seq 1..25, no gaps, no repeats')
  for (const mine of acks) t.ok(mine.every((a, k) => k === 0 || a.seq > mine[k - 1].seq), 'a sender\'s messages keep their order')

  await waitFor(() => devices.every((d) => d.messages(gid).length >= TOTAL), { timeout: 30_000, what: 'all messages on all devices' })
  let inOrder = 0
  let exact = 0
  for (const [i, d] of devices.entries()) {
    const got = d.messages(gid)
    if (got.map((m) => m.seq).every((s, k) => s === k + 1)) inOrder++
    const first = added[i].inboxSeq
    if (got.length === TOTAL && got.every((m, k) => m.inboxSeq === first + 1 + k)) exact++
  }
  t.equal(inOrder, MEMBERS, 'every member got seq 1..25 in order')
  t.equal(exact, MEMBERS, 'every member got each exactly once, inboxSeq without gaps')
  const bySeq = new Map(allAcks.map((a, i) => [a.seq, `from ${Math.floor(i / PER_SENDER)}, #${i % PER_SENDER}`]))
  t.ok(devices[MEMBERS - 1]!.messages(gid).every((m) => m.text === bySeq.get(m.seq)), 'bodies match their seq')

  const synced = await devices[50]!.syncAll(0)
  t.same(synced.filter((e) => e.op === 'message'), devices[50]!.messages(gid), 'sync agrees with the pushes')

  // Inboxes hold pointers: 100 members receiving big incompressible messages cost the node about
  // one copy of each body, not one per member.
  const before = diskUsage(node.dataDir)
  const BIG = 3
  const bodies = Array.from({ length: BIG }, () => randomBytes(67_500).toString('base64'))
  for (const [k, text] of bodies.entries()) t.equal((await senders[k]!.send(gid, text, `big-${k}`)).op, 'ack')
  await waitFor(() => devices.every((d) => d.messages(gid).length === TOTAL + BIG), { timeout: 30_000, what: 'big messages everywhere' })
  t.ok(devices.every((d) => d.messages(gid).slice(TOTAL).every((m, k) => m.text === bodies[k])), 'every member got the bodies')
  const grown = diskUsage(node.dataDir) - before
  const oneCopy = BIG * bodies[0]!.length
  t.ok(grown < oneCopy * 10, `storage grew ${grown} bytes for ${oneCopy} bytes of bodies sent to ${MEMBERS} members`)

  const outsiderDevice = await Device.open(t, node.wsUrl, outsider, 'o')
  t.match(await outsiderDevice.send(gid, 'hi', 'o-1'), { op: 'error', code: 'FORBIDDEN' }, 'a non-member cannot send')
  t.match(await outsiderDevice.request({ op: 'history', channel: gid }), { op: 'error', code: 'FORBIDDEN' }, 'nor read history')

  const full = await api(node.url, 'POST', `/v1/groups/${gid}/members`, { username: 'outsider' }, tokens[3])
  t.equal(full.status, 422, 'the 101st member does not fit')
  t.equal(full.body.error.code, 'GROUP_FULL')
  const tooBig = await api(node.url, 'POST', '/v1/groups', { name: 'too big', members: [...names.slice(1), 'outsider'] }, tokens[0])
  t.equal(tooBig.status, 422, 'nor a new group of 101')
  t.equal(tooBig.body.error.code, 'GROUP_FULL')
  const withDuplicates = await api(node.url, 'POST', '/v1/groups', { name: 'dups', members: [...names, ...names] }, tokens[0])
  t.equal(withDuplicates.status, 201, 'duplicates and the creator count once')
})
