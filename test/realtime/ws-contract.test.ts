/**
 * The WebSocket contract of PROTOCOL.md section 3, frame by frame, against a node in the test process: how a
 * socket is admitted, the `ready` frame, the reply to every client op and the shape of every
 * server push, each with exactly the contract's fields.
 */
import { createHmac } from 'node:crypto'
import t from 'tap'
import WebSocket from 'ws'
import { Device } from '../helpers/device.js'
import { InProcessNode } from '../helpers/in-process.js'
import { api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const SECRET = 'realtime-contract-secret-0123456789'

const node = await InProcessNode.start(t, { args: ['--secret', SECRET] })
const alice = await login(node.url, 'alice', 'phone')
const bob = await login(node.url, 'bob', 'laptop')

const keys = (frame: object) => Object.keys(frame).sort()

/** A token in the node's own format, for a user the node has never seen. */
function forgeToken(user: string, device: string): string {
  const iat = Date.now()
  const payload = Buffer.from(JSON.stringify({ user, device, iat, exp: iat + 60_000, tid: 'forged', gen: 0 })).toString('base64url')
  return `v2.${payload}.${createHmac('sha256', SECRET).update(payload).digest('base64url')}`
}

/** Opens a raw socket and reports either the refused upgrade's status or the close code. */
function admission(url: string, headers: Record<string, string> = {}): Promise<{ status?: number; close?: number; first?: any }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers })
    let first: any
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode })
      ws.terminate()
    })
    ws.on('message', (data) => {
      first ??= JSON.parse(data.toString())
      ws.close()
    })
    ws.on('close', (code) => resolve({ close: code, first }))
    ws.on('error', () => {})
  })
}

t.test('admission: token from the query or a Bearer header, 401 or 4401 otherwise', async (t) => {
  const byQuery = await admission(`${node.wsUrl}?token=${encodeURIComponent(alice)}`)
  t.equal(byQuery.first?.op, 'ready', 'token in the query string')
  const byHeader = await admission(`${node.wsUrl}?deviceId=tablet`, { authorization: `Bearer ${alice}` })
  t.equal(byHeader.first?.op, 'ready', 'token as a Bearer header')
  t.equal(byHeader.first?.deviceId, 'tablet', 'deviceId from the query wins over the token\'s')

  t.same(await admission(node.wsUrl), { status: 401 }, 'no token at all')
  t.same(await admission(`${node.wsUrl}?token=v1.nonsense.sig`), { status: 401 }, 'a malformed token')
  const tampered = alice.slice(0, -2) + (alice.endsWith('AA') ? 'BB' : 'AA')
  t.same(await admission(`${node.wsUrl}?token=${tampered}`), { status: 401 }, 'a token with a bad signature')
  t.same(await admission(node.wsUrl, { authorization: 'Bearer nope' }), { status: 401 }, 'a bad Bearer header')

  // A well-signed token for a user that does not exist passes the upgrade; the session then refuses it.
  const ghost = await admission(`${node.wsUrl}?token=${forgeToken('ghost_user', 'g1')}`)
  t.equal(ghost.close, 4401, 'unknown user: closed with 4401')
  t.equal(ghost.first, undefined, 'and no ready frame before that')
})

t.test('an expired token is refused', async (t) => {
  const short = await InProcessNode.start(t, { args: ['--token-ttl-ms', '3000'] })
  const token = await login(short.url, 'carol')
  const fresh = await admission(`${short.wsUrl}?token=${token}`)
  t.equal(fresh.first?.op, 'ready', 'admitted while fresh')
  const { exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
  await waitFor(() => Date.now() > exp, { timeout: 5000, what: 'the token to expire' })
  t.same(await admission(`${short.wsUrl}?token=${token}`), { status: 401 }, 'refused once expired')
})

t.test('ready is the first frame and names user, device, node and inbox position', async (t) => {
  const d = await Device.open(t, node.wsUrl, alice, 'phone')
  t.same(keys(d.ready), ['deviceId', 'inboxSeq', 'node', 'op', 'user'])
  t.match(d.ready, { op: 'ready', user: 'alice', deviceId: 'phone', node: node.id })
  t.type(d.ready.inboxSeq, 'number')
  const loginDevice = await admission(`${node.wsUrl}?token=${bob}`)
  t.equal(loginDevice.first?.deviceId, 'laptop', 'without deviceId the device named at login is used')
  t.same(await admission(`${node.wsUrl}?token=${bob}&deviceId=${'x'.repeat(65)}`), { status: 400 }, 'a malformed deviceId is refused')
})

t.test('every client op has its reply, echoing ref', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice, 'phone')
  const b = await Device.open(t, node.wsUrl, bob, 'laptop')
  const start = a.ready.inboxSeq

  const ack = await a.send('dm:alice:bob', 'hello bob', 'contract-1')
  t.same(keys(ack), ['channel', 'clientMsgId', 'op', 'ref', 'seq', 'ts'])
  t.match(ack, { op: 'ack', channel: 'dm:alice:bob', clientMsgId: 'contract-1' })
  t.ok(Number.isSafeInteger(ack.seq) && ack.seq >= 1)
  t.ok(Math.abs(ack.ts - Date.now()) < 60_000, 'ts is the server clock in ms')
  // The ack may overtake the inbox delivery; both inboxes have it once it is pushed.
  await a.waitPush((f) => f.clientMsgId === 'contract-1', 'own message pushed')
  await b.waitPush((f) => f.clientMsgId === 'contract-1', 'message pushed to bob')

  const sync = await a.request({ op: 'sync', since: start })
  t.same(keys(sync), ['events', 'more', 'next', 'op', 'ref'])
  t.equal(sync.events.length, 1)
  t.same(keys(sync.events[0]), ['channel', 'clientMsgId', 'from', 'inboxSeq', 'op', 'seq', 'text', 'ts'])
  t.match(sync, { op: 'sync', next: start + 1, more: false })
  const empty = await a.request({ op: 'sync', since: start + 1 })
  t.match(empty, { events: [], next: start + 1, more: false }, 'next is since when nothing is newer')

  const history = await a.request({ op: 'history', channel: 'dm:alice:bob' })
  t.same(keys(history), ['channel', 'messages', 'op', 'ref'])
  t.same(keys(history.messages[0]), ['channel', 'clientMsgId', 'from', 'seq', 'text', 'ts'])
  t.match(history.messages[0], { channel: 'dm:alice:bob', seq: ack.seq, from: 'alice', text: 'hello bob', ts: ack.ts, clientMsgId: 'contract-1' })

  const ok = await a.request({ op: 'read', channel: 'dm:alice:bob', seq: ack.seq })
  t.same(keys(ok), ['op', 'ref'])
  t.equal(ok.op, 'ok')
  const presence = await a.request({ op: 'presence', users: ['bob'] })
  t.same(keys(presence), ['op', 'presence', 'ref'])
  t.same(keys(presence.presence[0]), ['lastActiveAt', 'status', 'user'])
  t.match(presence.presence[0], { user: 'bob', status: 'online' })

  a.raw(JSON.stringify({ op: 'ping', ref: 42 }))
  a.raw(JSON.stringify({ op: 'ping', ref: 'str-ref' }))
  a.raw(JSON.stringify({ op: 'ping' }))
  const bare = await a.waitPush((f) => f.op === 'pong' && f.ref === undefined, 'pong without ref')
  t.same(bare, { op: 'pong' }, 'a request without ref gets a reply without ref')
  t.same(a.pushes.filter((f) => f.op === 'pong' && f.ref !== undefined).map((f) => f.ref), [42, 'str-ref'],
    'ref is echoed with its type, in order')
  const pong = await a.request({ op: 'ping' })
  t.same(keys(pong), ['op', 'ref'])
})

t.test('pushes carry exactly the contract fields', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice, 'phone')
  const a2 = await Device.open(t, node.wsUrl, alice, 'desk')
  const b = await Device.open(t, node.wsUrl, bob, 'laptop')

  const ack = await b.send('dm:alice:bob', 'hi alice', 'contract-2')
  const msg = await a.waitPush((f) => f.op === 'message' && f.clientMsgId === 'contract-2', 'message push')
  t.same(keys(msg), ['channel', 'clientMsgId', 'from', 'inboxSeq', 'op', 'seq', 'text', 'ts'])
  t.match(msg, { op: 'message', channel: 'dm:alice:bob', seq: ack.seq, from: 'bob', text: 'hi alice', ts: ack.ts })

  t.ok(await a.request({ op: 'read', channel: 'dm:alice:bob', seq: ack.seq }))
  const read = await a2.waitPush((f) => f.op === 'read', 'read push on the other device')
  t.same(read, { op: 'read', channel: 'dm:alice:bob', seq: ack.seq })
  t.notOk(a.pushes.some((f) => f.op === 'read'), 'the device that moved the read position is not told')

  const created = await api(node.url, 'POST', '/v1/groups', { name: 'contract', members: ['bob'] }, alice)
  t.equal(created.status, 201)
  const gid = created.body.channel.id
  const added = await b.waitPush((f) => f.op === 'member_added' && f.channel === gid, 'member_added push')
  t.same(keys(added), ['by', 'channel', 'inboxSeq', 'op', 'ts', 'user'])
  t.match(added, { op: 'member_added', channel: gid, user: 'bob', by: 'alice' })
  const removed = await api(node.url, 'DELETE', `/v1/groups/${gid}/members/bob`, undefined, alice)
  t.equal(removed.status, 200)
  const gone = await b.waitPush((f) => f.op === 'member_removed' && f.channel === gid, 'member_removed push')
  t.same(keys(gone), ['by', 'channel', 'inboxSeq', 'op', 'ts', 'user'])
  t.match(gone, { op: 'member_removed', channel: gid, user: 'bob', by: 'alice' })
  t.equal(gone.inboxSeq, added.inboxSeq + 1, 'inbox events are numbered with no gaps')

  const err = await a.request({ op: 'send', channel: 'dm:alice:bob', clientMsgId: 'x' })
  t.same(keys(err), ['code', 'message', 'op', 'ref'])
  t.match(err, { op: 'error', code: 'BAD_FRAME' })
  t.type(err.message, 'string')
})
