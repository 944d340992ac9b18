/**
 * Blocks (PROTOCOL.md 4.2): a user someone blocks cannot send in their 1:1 channel, add them to a
 * group, befriend them or see their presence (FORBIDDEN, or no presence entry); the block list is
 * the caller's; unblocking restores everything.
 */
import t from 'tap'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'

const node = await NodeProcess.start(t)
const [alice, bob, carol] = await Promise.all(['blk_alice', 'blk_bob', 'blk_carol'].map((u) => login(node.url, u)))
const AB = 'dm:blk_alice:blk_bob'

t.test('POST, GET and DELETE /v1/blocks', async (t) => {
  t.same((await api(node.url, 'GET', '/v1/blocks', undefined, alice)).body, { blocks: [] }, 'empty at first')
  const res = await api(node.url, 'POST', '/v1/blocks', { username: 'blk_bob' }, alice)
  t.equal(res.status, 200)
  t.same(res.body, { blocks: ['blk_bob'] })
  t.same((await api(node.url, 'POST', '/v1/blocks', { username: 'blk_bob' }, alice)).body, { blocks: ['blk_bob'] }, 'blocking twice is harmless')
  t.same((await api(node.url, 'GET', '/v1/blocks', undefined, alice)).body, { blocks: ['blk_bob'] })
  t.same((await api(node.url, 'GET', '/v1/blocks', undefined, bob)).body, { blocks: [] }, "the blocked user's own list is unchanged")
  t.equal((await api(node.url, 'POST', '/v1/blocks', { username: 'blk_nobody' }, alice)).status, 404, 'an unknown user is 404')
  t.equal((await api(node.url, 'POST', '/v1/blocks', { username: 'blk_alice' }, alice)).status, 400, 'yourself is 400')
  t.equal((await api(node.url, 'POST', '/v1/blocks', { username: 'blk_bob' })).status, 401, 'needs a token')
  t.equal((await api(node.url, 'POST', '/v1/blocks', { username: 5 }, alice)).status, 400, 'a wrong type is 400')
  const un = await api(node.url, 'DELETE', '/v1/blocks/blk_bob', undefined, alice)
  t.same([un.status, un.body], [200, { blocks: [] }], 'unblocked')
  t.same((await api(node.url, 'DELETE', '/v1/blocks/blk_bob', undefined, alice)).body, { blocks: [] }, 'unblocking twice is harmless')
})

t.test('a blocked user cannot message, add, befriend or see the blocker', async (t) => {
  // Friends first, with a DM: everything works before the block.
  await api(node.url, 'POST', '/v1/friends', { username: 'blk_bob' }, alice)
  t.equal((await api(node.url, 'POST', '/v1/friends', { username: 'blk_alice' }, bob)).body.state, 'friends')
  const a = await Device.open(t, node.wsUrl, alice, 'a')
  const b = await Device.open(t, node.wsUrl, bob, 'b')
  t.equal((await b.send(AB, 'hi before', 'pre-1')).op, 'ack')
  const seen = await b.request({ op: 'presence', users: ['blk_alice'] })
  t.equal(seen.presence.length, 1, 'bob sees alice while friends')

  t.equal((await api(node.url, 'POST', '/v1/blocks', { username: 'blk_bob' }, alice)).status, 200)
  const refused = await b.send(AB, 'hello?', 'blocked-1')
  t.match(refused, { op: 'error', code: 'FORBIDDEN' }, 'bob cannot send in the 1:1 channel')
  t.equal((await a.send(AB, 'still me', 'a-1')).op, 'ack', 'alice, the blocker, still can')
  const hist = await api(node.url, 'GET', `/v1/channels/${AB}/messages`, undefined, alice)
  t.notOk(hist.body.messages.some((m: any) => m.clientMsgId === 'blocked-1'), 'nothing of bob was stored')

  const group = await api(node.url, 'POST', '/v1/groups', { name: 'g', members: ['blk_alice', 'blk_carol'] }, bob)
  t.equal(group.status, 403, 'bob cannot create a group with alice in it')
  t.equal(group.body.error.code, 'FORBIDDEN')
  const g2 = await api(node.url, 'POST', '/v1/groups', { name: 'g2', members: ['blk_carol'] }, bob)
  t.equal(g2.status, 201)
  t.equal((await api(node.url, 'POST', `/v1/groups/${g2.body.channel.id}/members`, { username: 'blk_alice' }, bob)).status, 403, 'nor add her to one')
  t.equal((await api(node.url, 'POST', `/v1/groups/${g2.body.channel.id}/members`, { username: 'blk_alice' }, carol)).status, 200, 'carol may')

  t.equal((await api(node.url, 'POST', '/v1/friends', { username: 'blk_alice' }, bob)).status, 403, 'bob cannot befriend alice')
  const p = await b.request({ op: 'presence', users: ['blk_alice'] })
  t.same(p.presence, [], 'bob gets no presence entry for alice')
  const friends = await api(node.url, 'GET', '/v1/friends', undefined, bob)
  const aliceRow = friends.body.friends.find((f: any) => f.username === 'blk_alice')
  t.equal(aliceRow?.status, undefined, "alice's status is not in bob's friend list")

  const from = b.pushes.length
  a.close()
  await new Promise((r) => setTimeout(r, 500))
  t.notOk(b.pushes.slice(from).some((f) => f.op === 'presence' && f.user === 'blk_alice'), 'no presence push about alice reaches bob')

  t.equal((await api(node.url, 'DELETE', '/v1/blocks/blk_bob', undefined, alice)).status, 200)
  t.equal((await b.send(AB, 'friends again?', 'after-1')).op, 'ack', 'after unblocking bob may send again')
  t.equal((await b.request({ op: 'presence', users: ['blk_alice'] })).presence.length, 1, 'and sees her presence')
})
