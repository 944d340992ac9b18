/**
 * A node's life on one data dir: a second process on the same dir is refused with a message that
 * names the lock while the first keeps serving; SIGTERM closes sockets with 1012 and exits 0;
 * after a restart users, friends, groups, messages, inboxes and read positions are all there and
 * tokens issued before still work; SIGINT exits 0 too.
 */
import { spawn } from 'node:child_process'
import t from 'tap'
import { Device } from '../helpers/device.js'
import { BIN, NodeProcess, api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const node = await NodeProcess.start(t, { id: 'life' })
const tok: Record<string, string> = {}
for (const u of ['alice', 'bob', 'carol']) tok[u] = await login(node.url, u, `${u}-web`)

/** Everything a user can read back, to compare before and after a restart. */
async function snapshot(user: string, channels: string[]) {
  const get = async (path: string) => {
    const res = await api(node.url, 'GET', path, undefined, tok[user])
    if (res.status !== 200) throw new Error(`${user} GET ${path}: ${res.status} ${res.text}`)
    return res.body
  }
  const history: Record<string, unknown> = {}
  for (const c of channels) history[c] = (await get(`/v1/channels/${c}/messages`)).messages
  const listed = (await get('/v1/channels')).channels as Array<{ id: string; readSeq: number }>
  const friends = (await get('/v1/friends')).friends as Array<Record<string, unknown>>
  return {
    me: await get('/v1/me'),
    // Presence moves with time; the relation is what must survive.
    friends: friends.map((f) => ({ username: f.username, displayName: f.displayName, state: f.state })),
    channels: [...listed].sort((a, b) => a.id.localeCompare(b.id)),
    history,
  }
}

const DM = 'dm:alice:bob'
let group = ''
let before: Record<string, Awaited<ReturnType<typeof snapshot>>> = {}
let bobEvents: unknown[] = []

t.test('write users, friends, groups and messages', async (t) => {
  await api(node.url, 'PATCH', '/v1/me', { displayName: 'Alice Before Restart' }, tok.alice)
  t.same((await api(node.url, 'POST', '/v1/friends', { username: 'bob' }, tok.alice)).body.state, 'requested')
  t.same((await api(node.url, 'POST', '/v1/friends', { username: 'alice' }, tok.bob)).body.state, 'friends')
  await api(node.url, 'POST', '/v1/friends', { username: 'alice' }, tok.carol)
  group = (await api(node.url, 'POST', '/v1/groups', { name: 'survivors', members: ['bob', 'carol'] }, tok.alice)).body.channel.id
  t.equal((await api(node.url, 'DELETE', `/v1/groups/${group}/members/carol`, undefined, tok.alice)).status, 200)

  const alice = await Device.open(t, node.wsUrl, tok.alice!, 'alice-phone')
  for (let i = 1; i <= 3; i++) t.equal((await alice.send(DM, `dm ${i}`, `dm-${i}`)).seq, i)
  for (let i = 1; i <= 2; i++) t.equal((await alice.send(group, `group ${i}`, `g-${i}`)).seq, i)
  const bob = await Device.open(t, node.wsUrl, tok.bob!, 'bob-phone')
  // Fan-out runs after the acks: wait until every inbox holds all it will get, so that the
  // snapshot below is final. Two member events each (added, carol removed), five messages.
  const carol = await Device.open(t, node.wsUrl, tok.carol!, 'carol-tablet')
  for (const [who, d, n] of [['alice', alice, 7], ['bob', bob, 7], ['carol', carol, 2]] as const) {
    await waitFor(async () => (await d.syncAll(0)).length >= n, { timeout: 15_000, what: `${who}'s inbox of ${n} events` })
  }
  t.same((await bob.request({ op: 'read', channel: DM, seq: 2 })).op, 'ok')
  bobEvents = await bob.syncAll(0)

  before = {
    alice: await snapshot('alice', [DM, group]),
    bob: await snapshot('bob', [DM, group]),
    carol: await snapshot('carol', []),
  }
  t.equal(before.bob!.channels.find((c) => c.id === DM)?.readSeq, 2)
  t.equal(before.carol!.channels.length, 0, 'carol left the group')
  t.same(before.carol!.friends, [{ username: 'alice', displayName: 'Alice Before Restart', state: 'requested' }])
})

t.test('a second process on the same data dir is refused; the first keeps serving', async (t) => {
  // `env -u NODE_OPTIONS` keeps the test runner's loader hooks out of the binary (exec, same pid).
  const args = ['-u', 'NODE_OPTIONS', process.execPath, BIN, '--port', '0', '--grpc-port', '0', '--data-dir', node.dataDir]
  const second = spawn('env', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (second.exitCode === null && second.signalCode === null) second.kill('SIGKILL')
  })
  let stderr = ''
  second.stderr!.on('data', (c: Buffer) => (stderr += c.toString()))
  const timer = setTimeout(() => second.kill('SIGKILL'), 15_000)
  const code = await new Promise<number | null>((r) => second.once('exit', (c) => r(c)))
  clearTimeout(timer)
  t.not(code, 0, `exits non-zero (${code})`)
  t.not(code, null, 'exits by itself, not killed')
  t.match(stderr, /lock/i, 'the message names the lock')
  t.match(stderr, node.dataDir, 'and the data dir')
  t.equal((await fetch(`${node.url}/healthz`)).status, 200, 'the first node still serves')
  t.same(await snapshot('alice', [DM, group]), before.alice, 'with its data untouched')
})

t.test('SIGTERM closes sockets with 1012 and exits 0', async (t) => {
  const carol = await Device.open(t, node.wsUrl, tok.carol!, 'carol-phone')
  const status = await node.stop()
  t.same(status, { code: 0, signal: null }, 'exit code 0')
  await waitFor(() => carol.closed, { timeout: 15_000, what: 'the socket to close' })
  t.equal(carol.closed!.code, 1012, 'close code 1012 (service restart)')
  t.match(node.log, /"msg":"stopped"/, 'the node logged its stop')
})

t.test('after a restart everything is still there', async (t) => {
  await node.launch()
  t.equal((await fetch(`${node.url}/healthz`)).status, 200)
  for (const user of ['alice', 'bob', 'carol']) {
    t.same(await snapshot(user, user === 'carol' ? [] : [DM, group]), before[user], `${user} reads what they read before, with the old token`)
  }
  t.equal((await api(node.url, 'POST', '/v1/sessions', { username: 'alice', password: 'password-123' })).status, 200, 'the password still works')
  t.equal((await api(node.url, 'POST', '/v1/users', { username: 'bob', password: 'password-123' })).body.error.code, 'USERNAME_TAKEN')

  const bob = await Device.open(t, node.wsUrl, tok.bob!, 'bob-phone')
  t.same(await bob.syncAll(0), bobEvents, 'bob\'s inbox is intact')
  t.equal(bob.ready.inboxSeq, (bobEvents.at(-1) as { inboxSeq: number }).inboxSeq, 'ready reports the same inboxSeq')
  const alice = await Device.open(t, node.wsUrl, tok.alice!, 'alice-phone')
  t.equal((await alice.send(DM, 'dm 1 again', 'dm-1')).seq, 1, 'a resend from before the restart is still recognised')
  t.equal((await alice.send(DM, 'dm 4', 'dm-4')).seq, 4, 'seq goes on without a gap')
  const pushed = await bob.waitPush((f) => f.op === 'message' && f.seq === 4)
  t.equal(pushed.inboxSeq, (bobEvents.at(-1) as { inboxSeq: number }).inboxSeq + 1, 'and so does bob\'s inboxSeq')
})

t.test('SIGINT exits 0 and keeps what was written', async (t) => {
  node.signal('SIGINT')
  t.same(await node.exited, { code: 0, signal: null })
  await node.launch()
  const messages = (await api(node.url, 'GET', `/v1/channels/${DM}/messages`, undefined, tok.bob)).body.messages as Array<{ seq: number; text: string }>
  t.same(messages.map((m) => m.seq), [1, 2, 3, 4])
  t.equal(messages[3]!.text, 'dm 4')
})
