/**
 * Group membership as the members see it: member_added and member_removed events reach the
 * affected member and everyone remaining, in the inbox order, and the rules of who may add and
 * remove whom hold over HTTP while the members watch over their sockets.
 */
import t from 'tap'
import { Device } from '../helpers/device.js'
import { InProcessNode } from '../helpers/in-process.js'
import { api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const node = await InProcessNode.start(t)
const users = ['alice', 'bob', 'carol', 'dave', 'eve'] as const
const tok = Object.fromEntries(await Promise.all(users.map(async (u) => [u, await login(node.url, u)] as const))) as Record<(typeof users)[number], string>

const membersOf = async (gid: string, as: string) =>
  ((await api(node.url, 'GET', '/v1/channels', undefined, as)).body.channels as any[]).find((c) => c.id === gid)?.members

t.test('adds and removes reach the member and the rest; the rules hold', async (t) => {
  const [a, b, c] = await Promise.all((['alice', 'bob', 'carol'] as const).map((u) => Device.open(t, node.wsUrl, tok[u], `${u}-1`)))
  const created = await api(node.url, 'POST', '/v1/groups', { name: 'club', members: ['bob', 'carol', 'bob', 'alice'] }, tok.alice)
  t.equal(created.status, 201)
  const gid: string = created.body.channel.id
  t.same(created.body.channel, { id: gid, kind: 'group', name: 'club', members: ['alice', 'bob', 'carol'] })

  for (const [d, u] of [[a, 'alice'], [b, 'bob'], [c, 'carol']] as const) {
    const ev = await d.waitPush((f) => f.op === 'member_added' && f.channel === gid, `${u} member_added`)
    t.match(ev, { user: u, by: 'alice' }, `${u} hears of their own joining`)
  }

  const byBob = await api(node.url, 'POST', `/v1/groups/${gid}/members`, { username: 'dave' }, tok.bob)
  t.equal(byBob.status, 200, 'any member may add')
  t.same(byBob.body.channel.members, ['alice', 'bob', 'carol', 'dave'])
  for (const d of [a, b, c]) {
    t.match(await d.waitPush((f) => f.op === 'member_added' && f.user === 'dave', 'dave added'), { channel: gid, by: 'bob' })
  }
  t.equal((await api(node.url, 'POST', `/v1/groups/${gid}/members`, { username: 'dave' }, tok.bob)).status, 200, 'adding a member twice is harmless')
  t.equal((await api(node.url, 'POST', `/v1/groups/${gid}/members`, { username: 'eve' }, tok.eve)).status, 403, 'a non-member may not add')
  t.equal((await api(node.url, 'POST', `/v1/groups/${gid}/members`, { username: 'nobody_x' }, tok.bob)).status, 404, 'an unknown user')
  t.equal((await api(node.url, 'DELETE', `/v1/groups/${gid}/members/bob`, undefined, tok.carol)).status, 403, 'only the creator removes others')
  t.equal((await api(node.url, 'DELETE', `/v1/groups/${gid}/members/alice`, undefined, tok.bob)).status, 403, 'even the creator')
  t.equal((await api(node.url, 'DELETE', `/v1/groups/${gid}/members/eve`, undefined, tok.alice)).status, 404, 'a non-member')
  t.equal((await api(node.url, 'DELETE', '/v1/groups/g:nothing/members/bob', undefined, tok.alice)).status, 404, 'no such group')
  t.equal((await api(node.url, 'DELETE', '/v1/groups/dm:alice:bob/members/bob', undefined, tok.alice)).status, 404, '1:1 channels have no membership changes')

  const removed = await api(node.url, 'DELETE', `/v1/groups/${gid}/members/carol`, undefined, tok.alice)
  t.equal(removed.status, 200, 'the creator removes anyone')
  t.same(removed.body.channel.members, ['alice', 'bob', 'dave'])
  for (const d of [a, b, c]) {
    t.match(await d.waitPush((f) => f.op === 'member_removed' && f.user === 'carol', 'carol removed'), { channel: gid, by: 'alice' },
      `${d.deviceId} is told`)
  }
  t.equal(await membersOf(gid, tok.carol), undefined, 'the group left carol\'s channel list')
  t.same(await membersOf(gid, tok.bob), ['alice', 'bob', 'dave'])

  t.match(await c.send(gid, 'still here?', 'carol-1'), { op: 'error', code: 'FORBIDDEN' }, 'a removed member cannot send')
  t.match(await c.request({ op: 'history', channel: gid }), { op: 'error', code: 'FORBIDDEN' }, 'nor read history')
  const ack = await a.send(gid, 'without carol', 'alice-1')
  t.equal(ack.seq, 1)
  await b.waitPush((f) => f.clientMsgId === 'alice-1', 'bob gets it')
  const barrier = await a.send('dm:alice:carol', 'barrier', 'alice-2')
  await c.waitPush((f) => f.clientMsgId === 'alice-2', 'carol gets the barrier')
  t.equal(c.messages(gid).length, 0, 'carol got nothing from the group after her removal')
  t.ok(barrier.seq >= 1)

  const left = await api(node.url, 'DELETE', `/v1/groups/${gid}/members/dave`, undefined, tok.dave)
  t.equal(left.status, 200, 'a member may leave')
  for (const d of [a, b]) t.match(await d.waitPush((f) => f.op === 'member_removed' && f.user === 'dave'), { by: 'dave' })

  // Dave was never online: his inbox holds his whole story with the group.
  const dave = await Device.open(t, node.wsUrl, tok.dave, 'dave-1')
  const storyOf = async () => (await dave.syncAll(0)).filter((e) => e.channel === gid).map((e) => [e.op, e.user ?? e.text, e.by ?? e.from])
  // Fan-out runs after the HTTP answer: wait for the last event to reach his inbox.
  const story = await waitFor(async () => {
    const s = await storyOf()
    return s.length >= 4 ? s : null
  }, { what: 'dave\'s inbox' })
  t.same(story, [['member_added', 'dave', 'bob'], ['member_removed', 'carol', 'alice'], ['message', 'without carol', 'alice'], ['member_removed', 'dave', 'dave']])

  const readdCarol = await api(node.url, 'POST', `/v1/groups/${gid}/members`, { username: 'carol' }, tok.bob)
  t.equal(readdCarol.status, 200)
  await c.waitPush((f) => f.op === 'member_added' && f.user === 'carol' && f.by === 'bob', 'carol re-added')
  const history = await c.request({ op: 'history', channel: gid })
  t.same(history.messages.map((m: any) => m.seq), [1], 'a re-added member reads the history')
  const events = await c.syncAll(c.ready.inboxSeq)
  const inbox = events.map((e) => e.inboxSeq)
  t.same(inbox, inbox.map((_, i) => c.ready.inboxSeq + 1 + i), 'carol\'s inbox has no gaps through it all')
  t.same(events, c.pushes.filter((f) => f.inboxSeq !== undefined), 'and matches what was pushed')
})
