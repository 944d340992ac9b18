/**
 * GET /v1/channels/:id/messages on a node in the test process (its real gateway on a socket): every history window of the contract, limits,
 * 1:1 ids in either order, and its errors (400 for malformed ids and query values, 403 for
 * non-members, 404 for channels that do not exist); lastSeq and readSeq in GET /v1/channels.
 */
import t, { type Test } from 'tap'
import { InProcessNode } from '../helpers/in-process.js'
import { Device } from '../helpers/device.js'
import { api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const node = await InProcessNode.start(t)
const base = node.url
const tokens: Record<string, string> = {}
for (const u of ['alice', 'bob', 'carol']) tokens[u] = await login(base, u, `${u}-web`)
const DM = 'dm:alice:bob'

const alice = await Device.open(t, node.wsUrl, tokens.alice!, 'alice-phone')
for (let i = 1; i <= 7; i++) {
  const ack = await alice.send(i % 2 ? DM : 'dm:bob:alice', `hello ${i}`, `m-${i}`)
  if (ack.op !== 'ack' || ack.seq !== i) throw new Error(`send ${i}: ${JSON.stringify(ack)}`)
}
const group = (await api(base, 'POST', '/v1/groups', { name: 'ac', members: ['carol'] }, tokens.alice)).body.channel.id as string
await alice.send(group, 'group hello', 'g-1')

function error(t: Test, res: { status: number; body: any }, status: number, code: string, what: string): void {
  t.equal(res.status, status, `${what}: status ${status}`)
  t.equal(res.body?.error?.code, code, `${what}: code ${code}`)
}

const history = (user: string, channel: string, query = '') =>
  api(base, 'GET', `/v1/channels/${encodeURIComponent(channel)}/messages${query}`, undefined, tokens[user])
const seqs = async (query: string, user = 'bob', channel = DM) => {
  const res = await history(user, channel, query)
  if (res.status !== 200) throw new Error(`${query}: ${res.status} ${res.text}`)
  return (res.body.messages as any[]).map((m) => m.seq)
}

t.test('messages have the contract\'s shape', async (t) => {
  const res = await history('bob', DM, '?limit=1')
  t.equal(res.status, 200)
  t.same(Object.keys(res.body), ['messages'])
  const [m] = res.body.messages
  t.same(Object.keys(m).sort(), ['channel', 'clientMsgId', 'from', 'seq', 'text', 'ts'])
  t.match(m, { channel: DM, seq: 7, from: 'alice', text: 'hello 7', clientMsgId: 'm-7' })
  t.ok(Math.abs(m.ts - Date.now()) < 60_000, 'ts is the server time in ms')
})

t.test('history windows', async (t) => {
  const cases: Array<[string, number[]]> = [
    ['', [1, 2, 3, 4, 5, 6, 7]],
    ['?limit=3', [5, 6, 7]],
    ['?before=5', [1, 2, 3, 4]],
    ['?before=5&limit=2', [3, 4]],
    ['?after=2', [3, 4, 5, 6, 7]],
    ['?after=2&limit=2', [3, 4]],
    ['?after=2&before=6', [3, 4, 5]],
    ['?after=2&before=6&limit=2', [3, 4]],
    ['?after=7', []],
    ['?before=1', []],
    ['?after=0', [1, 2, 3, 4, 5, 6, 7]],
    ['?before=100', [1, 2, 3, 4, 5, 6, 7]],
    ['?limit=200', [1, 2, 3, 4, 5, 6, 7]],
    ['?limit=9999', [1, 2, 3, 4, 5, 6, 7]],
  ]
  for (const [query, want] of cases) t.same(await seqs(query), want, `GET ${query || '(no query)'}`)
  t.same(await seqs('?before=4', 'alice'), [1, 2, 3], 'the sender reads the same history')
})

t.test('1:1 ids in either order answer with the canonical id', async (t) => {
  const res = await history('bob', 'dm:bob:alice', '?limit=2')
  t.equal(res.status, 200)
  t.same(res.body.messages.map((m: any) => m.channel), [DM, DM])
  t.same(await seqs('', 'bob', 'dm:bob:carol'), [], 'a pair that never talked: an empty history')
  t.same(await seqs('', 'carol', group), [1], 'a group member reads the group')
})

t.test('history errors', async (t) => {
  for (const id of ['dm:alice:alice', 'dm:alice', 'dm:alice:bob:carol', 'dm:Alice:bob', 'garbage', 'g:', 'g:bad id']) {
    error(t, await history('alice', id), 400, 'BAD_FRAME', `malformed id ${id}`)
  }
  error(t, await history('carol', DM), 403, 'FORBIDDEN', 'a 1:1 channel of others')
  error(t, await history('bob', group), 403, 'FORBIDDEN', 'a group the caller is not in')
  error(t, await history('alice', 'dm:alice:ghost'), 404, 'NOT_FOUND', 'a 1:1 channel with a user that does not exist')
  error(t, await history('alice', 'g:doesNotExist'), 404, 'NOT_FOUND', 'a group that does not exist')
  for (const query of ['?limit=0', '?limit=abc', '?limit=-1', '?limit=10000', '?before=-1', '?before=1.5', '?after=x', '?after=', '?before=1e3', '?limit=1&limit=2']) {
    error(t, await history('bob', DM, query), 400, 'BAD_REQUEST', `query ${query}`)
  }
  error(t, await api(base, 'GET', `/v1/channels/${DM}/messages`), 401, 'UNAUTHORIZED', 'no token')
  error(t, await api(base, 'GET', `/v1/channels/${DM}/messages`, undefined, 'v1.x.y'), 401, 'UNAUTHORIZED', 'a bad token')
})

t.test('GET /v1/channels carries lastSeq and readSeq', async (t) => {
  const listed = async (user: string) => (await api(base, 'GET', '/v1/channels', undefined, tokens[user])).body.channels as any[]
  const dm = await waitFor(async () => (await listed('bob')).find((c) => c.id === DM), { timeout: 15_000, what: 'the 1:1 channel in bob\'s list' })
  t.same(dm, { id: DM, kind: 'dm', name: dm.name, members: ['alice', 'bob'], lastSeq: 7, readSeq: 0 })
  t.type(dm.name, 'string')
  t.notOk((await listed('bob')).some((c) => c.id === group), 'bob is not in the group')

  const bob = await Device.open(t, node.wsUrl, tokens.bob!, 'bob-phone')
  t.same(await bob.request({ op: 'read', channel: 'dm:bob:alice', seq: 5 }), { op: 'ok', ref: 'r1' })
  t.equal((await listed('bob')).find((c) => c.id === DM).readSeq, 5, 'a read moves readSeq')
  await bob.request({ op: 'read', channel: DM, seq: 3 })
  t.equal((await listed('bob')).find((c) => c.id === DM).readSeq, 5, 'readSeq only moves forward')
  await bob.request({ op: 'read', channel: DM, seq: 100 })
  t.equal((await listed('bob')).find((c) => c.id === DM).readSeq, 7, 'readSeq is capped at lastSeq')
  t.equal((await listed('alice')).find((c) => c.id === DM).readSeq, 0, 'read positions are per user')
  t.match((await listed('carol')).find((c) => c.id === group), { kind: 'group', lastSeq: 1, readSeq: 0 })
})
