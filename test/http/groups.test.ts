/**
 * Groups on a node in the test process (its real gateway on a socket) started with --max-group-size 3: creation with the creator and
 * duplicates folded in, the size limit, who may add and remove whom (the contract's "Group
 * rules"), the member events each member gets (read back with a WebSocket `sync`), and
 * GET /v1/channels.
 */
import t, { type Test } from 'tap'
import { InProcessNode } from '../helpers/in-process.js'
import { Device } from '../helpers/device.js'
import { api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const node = await InProcessNode.start(t, { args: ['--max-group-size', '3'] })
const base = node.url
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'] as const
type User = (typeof USERS)[number]
const tokens = {} as Record<User, string>
for (const u of USERS) tokens[u] = await login(base, u, `${u}-web`)

function error(t: Test, res: { status: number; body: any }, status: number, code: string, what: string): void {
  t.equal(res.status, status, `${what}: status ${status}`)
  t.equal(res.body?.error?.code, code, `${what}: code ${code}`)
}

const create = (by: User, body: unknown) => api(base, 'POST', '/v1/groups', body, tokens[by])
const add = (by: User, id: string, username: unknown) => api(base, 'POST', `/v1/groups/${encodeURIComponent(id)}/members`, { username }, tokens[by])
const remove = (by: User, id: string, username: string) => api(base, 'DELETE', `/v1/groups/${encodeURIComponent(id)}/members/${username}`, undefined, tokens[by])
const channelsOf = async (user: User) => (await api(base, 'GET', '/v1/channels', undefined, tokens[user])).body.channels as any[]

/** One device per user for the whole file, opened on first use, to read inbox events with `sync`. */
const devices = new Map<User, Device>()
async function memberEvents(user: User, channel: string): Promise<string[]> {
  let d = devices.get(user)
  if (!d) {
    d = await Device.open(t, node.wsUrl, tokens[user], `${user}-sync`)
    devices.set(user, d)
  }
  const events = await d.syncAll(0)
  return events.filter((e) => e.channel === channel).map((e) => `${e.op}:${e.user}:${e.by}`)
}

/** Waits until `user` holds `want.length` events of `channel`, then checks them exactly. */
async function expectEvents(t: Test, user: User, channel: string, want: string[]): Promise<void> {
  await waitFor(async () => (await memberEvents(user, channel)).length >= want.length, { timeout: 15_000, what: `${want.length} events for ${user}` })
  t.same(await memberEvents(user, channel), want, `${user}'s events of the group`)
}

let trio = ''
let duo = ''

t.test('POST /v1/groups folds in the creator and duplicates', async (t) => {
  const solo = await create('alice', { name: 'just me', members: [] })
  t.equal(solo.status, 201)
  t.match(solo.body.channel.id, /^g:[A-Za-z0-9_-]+$/)
  t.same(solo.body.channel, { id: solo.body.channel.id, kind: 'group', name: 'just me', members: ['alice'] }, 'members may be empty: the creator alone')
  t.same((await create('alice', { name: 'no list' })).body.channel.members, ['alice'], 'members may be left out')

  const pair = await create('alice', { name: 'pair', members: ['bob', 'bob', 'alice'] })
  t.equal(pair.status, 201)
  t.same(pair.body.channel.members, ['alice', 'bob'], 'duplicates and the creator are folded in')
  duo = pair.body.channel.id

  const three = await create('alice', { name: 'three', members: ['bob', 'carol', 'carol', 'alice', 'bob'] })
  t.equal(three.status, 201, 'three distinct members fit a limit of 3')
  t.same(three.body.channel.members, ['alice', 'bob', 'carol'])
  trio = three.body.channel.id
  t.not(trio, duo, 'every group gets its own id')
})

t.test('POST /v1/groups errors', async (t) => {
  error(t, await create('alice', { name: 'four', members: ['bob', 'carol', 'dave'] }), 422, 'GROUP_FULL', 'four distinct members')
  error(t, await create('erin', { name: 'four', members: ['alice', 'bob', 'carol', 'erin'] }), 422, 'GROUP_FULL', 'four with the creator listed')
  error(t, await create('alice', { name: 'ghosts', members: ['bob', 'ghost'] }), 404, 'NOT_FOUND', 'a member that does not exist')
  error(t, await create('alice', { name: 'bad', members: ['Not Valid'] }), 404, 'NOT_FOUND', 'a member name no user can have')
  const bad: Array<[unknown, string]> = [
    [{ members: ['bob'] }, 'no name'], [{ name: '' }, 'an empty name'], [{ name: 5 }, 'a numeric name'],
    [{ name: 'x', members: 'bob' }, 'members a string'], [{ name: 'x', members: [1, 2] }, 'members of numbers'],
    [{ name: 'x', members: [null] }, 'a null member'], [[{ name: 'x' }], 'an array body'], [{ name: 'x'.repeat(201) }, 'a name too long'],
  ]
  for (const [body, what] of bad) error(t, await create('alice', body), 400, 'BAD_REQUEST', what)
  error(t, await api(base, 'POST', '/v1/groups', { name: 'x', members: [] }), 401, 'UNAUTHORIZED', 'no token')
  await waitFor(async () => (await channelsOf('alice')).length >= 4, { timeout: 15_000, what: 'alice\'s four groups listed' })
  t.equal((await channelsOf('alice')).length, 4, 'no failed creation made a group')
  t.same(await channelsOf('dave'), [], 'nor listed one for anyone else')
})

t.test('each member of a new group gets one member_added event', async (t) => {
  for (const u of ['alice', 'bob', 'carol'] as const) await expectEvents(t, u, trio, [`member_added:${u}:alice`])
  t.same(await memberEvents('dave', trio), [], 'a non-member gets nothing')
  const raw = (await devices.get('bob')!.syncAll(0)).find((e) => e.channel === trio)
  t.match(raw, { op: 'member_added', channel: trio, user: 'bob', by: 'alice', inboxSeq: Number, ts: Number }, 'the event has the contract\'s fields')
})

t.test('any member may add; the limit counts everyone', async (t) => {
  const added = await add('bob', duo, 'carol')
  t.equal(added.status, 200, 'a member who is not the creator adds')
  t.same(added.body.channel, { id: duo, kind: 'group', name: 'pair', members: ['alice', 'bob', 'carol'] })
  error(t, await add('alice', duo, 'dave'), 422, 'GROUP_FULL', 'a fourth member')
  t.same((await add('bob', duo, 'alice')).body.channel.members, ['alice', 'bob', 'carol'], 'adding a member again is a no-op, even when full')
  error(t, await add('dave', trio, 'erin'), 403, 'FORBIDDEN', 'a non-member adds')
  error(t, await add('alice', trio, 'ghost'), 404, 'NOT_FOUND', 'adding a user that does not exist')
  error(t, await add('alice', 'g:doesNotExist', 'bob'), 404, 'NOT_FOUND', 'a group that does not exist')
  error(t, await add('alice', 'dm:alice:bob', 'carol'), 404, 'NOT_FOUND', 'a 1:1 channel is not a group')
  error(t, await add('alice', 'not-an-id', 'carol'), 404, 'NOT_FOUND', 'a malformed id')
  error(t, await add('alice', duo, 5), 400, 'BAD_REQUEST', 'username a number')
  error(t, await api(base, 'POST', `/v1/groups/${duo}/members`, {}, tokens.alice), 400, 'BAD_REQUEST', 'no username')
  error(t, await api(base, 'POST', `/v1/groups/${duo}/members`, { username: 'dave' }), 401, 'UNAUTHORIZED', 'no token')
})

t.test('a member may leave; the creator may remove anyone; others are FORBIDDEN', async (t) => {
  error(t, await remove('bob', duo, 'carol'), 403, 'FORBIDDEN', 'a member removes another')
  error(t, await remove('dave', duo, 'bob'), 403, 'FORBIDDEN', 'a non-member removes a member')
  error(t, await remove('dave', duo, 'dave'), 403, 'FORBIDDEN', 'a non-member "leaves"')
  const left = await remove('carol', duo, 'carol')
  t.equal(left.status, 200, 'a member leaves')
  t.same(left.body.channel.members, ['alice', 'bob'])
  error(t, await add('carol', duo, 'dave'), 403, 'FORBIDDEN', 'who left may not add')
  t.same((await remove('alice', duo, 'bob')).body.channel.members, ['alice'], 'the creator removes a member')
  error(t, await remove('alice', duo, 'erin'), 404, 'NOT_FOUND', 'removing someone who is not a member')
  error(t, await remove('alice', 'g:doesNotExist', 'bob'), 404, 'NOT_FOUND', 'a group that does not exist')
  error(t, await api(base, 'DELETE', `/v1/groups/${duo}/members/bob`), 401, 'UNAUTHORIZED', 'no token')
  t.same((await add('alice', duo, 'bob')).body.channel.members, ['alice', 'bob'], 'a removed member can be added back')

  await expectEvents(t, 'bob', duo, ['member_added:bob:alice', 'member_added:carol:bob', 'member_removed:carol:carol', 'member_removed:bob:alice', 'member_added:bob:alice'])
  await expectEvents(t, 'carol', duo, ['member_added:carol:bob', 'member_removed:carol:carol'])
  await expectEvents(t, 'alice', duo, ['member_added:alice:alice', 'member_added:carol:bob', 'member_removed:carol:carol', 'member_removed:bob:alice', 'member_added:bob:alice'])
})

t.test('GET /v1/channels lists the caller\'s channels', async (t) => {
  const summary = (c: any) => `${c.name}:${c.members.join('+')}`
  await waitFor(async () => (await channelsOf('carol')).length === 1, { timeout: 15_000, what: 'carol\'s list without the group she left' })
  const carol = await channelsOf('carol')
  t.same(carol, [{ id: trio, kind: 'group', name: 'three', members: ['alice', 'bob', 'carol'], lastSeq: 0, readSeq: 0 }], 'every field of the contract')
  await waitFor(async () => (await channelsOf('bob')).length === 2, { timeout: 15_000, what: 'bob back in the pair' })
  t.same((await channelsOf('bob')).map(summary).sort(), ['pair:alice+bob', 'three:alice+bob+carol'])
  t.same((await channelsOf('alice')).map(summary).sort(), ['just me:alice', 'no list:alice', 'pair:alice+bob', 'three:alice+bob+carol'])
  error(t, await api(base, 'GET', '/v1/channels'), 401, 'UNAUTHORIZED', 'no token')
})

