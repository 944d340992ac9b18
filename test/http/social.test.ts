/**
 * Friends and presence over HTTP on a node in the test process (its real gateway on a socket): a request, then friends once both asked,
 * the three states as each side sees them, every error the contract lists, and presence that
 * only friends and channel peers can see.
 */
import t, { type Test } from 'tap'
import { InProcessNode } from '../helpers/in-process.js'
import { Device } from '../helpers/device.js'
import { api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const node = await InProcessNode.start(t)
const base = node.url
const tokens: Record<string, string> = {}
for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) tokens[u] = await login(base, u, `${u}-web`)
await api(base, 'PATCH', '/v1/me', { displayName: 'Bob B.' }, tokens.bob)

function error(t: Test, res: { status: number; body: any }, status: number, code: string, what: string): void {
  t.equal(res.status, status, `${what}: status ${status}`)
  t.equal(res.body?.error?.code, code, `${what}: code ${code}`)
}

const befriend = (from: string, to: unknown) => api(base, 'POST', '/v1/friends', { username: to }, tokens[from])
const friendsOf = async (user: string) => (await api(base, 'GET', '/v1/friends', undefined, tokens[user])).body.friends as any[]

t.test('a request, then friends once both asked', async (t) => {
  const asked = await befriend('alice', 'bob')
  t.equal(asked.status, 200)
  t.same(asked.body, { username: 'bob', state: 'requested' })
  t.same(await friendsOf('alice'), [{ username: 'bob', displayName: 'Bob B.', state: 'requested' }], 'alice asked: requested, no presence')
  t.same(await friendsOf('bob'), [{ username: 'alice', displayName: 'alice', state: 'pending' }], 'bob was asked: pending, no presence')
  t.same((await befriend('alice', 'bob')).body, { username: 'bob', state: 'requested' }, 'asking again changes nothing')

  const accepted = await befriend('bob', 'alice')
  t.same(accepted.body, { username: 'alice', state: 'friends' })
  for (const [user, other] of [['alice', 'bob'], ['bob', 'alice']] as const) {
    const [f] = await friendsOf(user)
    t.match(f, { username: other, state: 'friends', status: 'offline' }, `${user} sees ${other} as a friend with a status`)
    t.ok('lastActiveAt' in f, 'friends carry lastActiveAt')
  }
  t.same((await befriend('alice', 'bob')).body, { username: 'bob', state: 'friends' }, 'asking a friend again keeps friends')
})

t.test('each user sees only their own relations', async (t) => {
  await befriend('carol', 'alice')
  await befriend('alice', 'carol')
  await befriend('dave', 'alice')
  const alice = await friendsOf('alice')
  t.same(alice.map((f) => `${f.username}:${f.state}`).sort(), ['bob:friends', 'carol:friends', 'dave:pending'])
  t.same((await friendsOf('dave')).map((f) => `${f.username}:${f.state}`), ['alice:requested'])
  t.same(await friendsOf('erin'), [], 'no relations: an empty list')
  t.notOk((await friendsOf('dave'))[0].status, 'a request carries no presence')
})

t.test('friend errors', async (t) => {
  error(t, await befriend('alice', 'ghost'), 404, 'NOT_FOUND', 'a user that does not exist')
  error(t, await befriend('alice', 'Not A Name'), 404, 'NOT_FOUND', 'a name no user can have')
  error(t, await befriend('alice', 'alice'), 400, 'BAD_REQUEST', 'yourself')
  error(t, await befriend('alice', 42), 400, 'BAD_REQUEST', 'a number')
  error(t, await befriend('alice', ['bob']), 400, 'BAD_REQUEST', 'an array')
  error(t, await api(base, 'POST', '/v1/friends', {}, tokens.alice), 400, 'BAD_REQUEST', 'no username')
  error(t, await api(base, 'POST', '/v1/friends', 'bob', tokens.alice), 400, 'BAD_REQUEST', 'a string body')
  error(t, await api(base, 'POST', '/v1/friends', { username: 'bob' }), 401, 'UNAUTHORIZED', 'POST without a token')
  error(t, await api(base, 'GET', '/v1/friends'), 401, 'UNAUTHORIZED', 'GET without a token')
  error(t, await api(base, 'GET', '/v1/friends', undefined, 'v1.bad.token'), 401, 'UNAUTHORIZED', 'GET with a bad token')
  t.notOk((await friendsOf('alice')).some((f) => f.username === 'ghost'), 'no failed request left a trace')
})

t.test('GET /v1/presence shows friends, hides strangers', async (t) => {
  const get = async (user: string, query: string) => api(base, 'GET', `/v1/presence${query}`, undefined, tokens[user])
  const before = await get('alice', '?users=bob,erin,ghost,Not-Valid')
  t.equal(before.status, 200)
  t.same(before.body.presence, [{ user: 'bob', status: 'offline', lastActiveAt: null }], 'only the friend; strangers and unknowns get no entry')
  t.same((await get('alice', '')).body, { presence: [] }, 'no users asked: an empty list')
  t.same((await get('erin', '?users=alice,bob')).body.presence, [], 'erin is nobody\'s friend')
  t.same((await get('dave', '?users=alice')).body.presence, [], 'a pending request does not show presence')

  const phone = await Device.open(t, node.wsUrl, tokens.bob, 'bob-phone')
  t.equal(phone.ready.user, 'bob')
  const online = await waitFor(async () => {
    const p = (await get('alice', '?users=bob')).body.presence[0]
    return p?.status === 'online' ? p : null
  }, { timeout: 15_000, what: 'bob online for alice' })
  t.type(online.lastActiveAt, 'number', 'online with a lastActiveAt')
  t.match((await friendsOf('alice')).find((f) => f.username === 'bob'), { status: 'online' }, 'GET /v1/friends agrees')
  t.same((await get('erin', '?users=bob')).body.presence, [], 'still hidden from a stranger')

  error(t, await api(base, 'GET', '/v1/presence?users=bob'), 401, 'UNAUTHORIZED', 'presence without a token')
  error(t, await api(base, 'GET', '/v1/presence?users=bob&users=carol', undefined, tokens.alice), 400, 'BAD_REQUEST', 'users given twice (an array)')
})
