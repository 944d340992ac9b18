/**
 * Bad input and overload: every malformed frame is answered with an error on a socket that stays
 * open, oversized frames are handled as the contract allows, the per-device send rate limit
 * answers RATE_LIMITED, and none of it slows down or disturbs another user.
 */
import { spawn } from 'node:child_process'
import t from 'tap'
import { Device } from '../helpers/device.js'
import { NodeProcess, ROOT, api, login } from '../helpers/node-process.js'

const RATE = 5
const node = await NodeProcess.start(t, { args: ['--rate-limit', String(RATE), '--rate-burst', String(RATE), '--max-group-size', '3'] })
const [alice, bob, carol, dave] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map((u) => login(node.url, u)))
const AB = 'dm:alice:bob'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

/** Sends a raw frame and waits for the next error push; the socket must still answer a ping after. */
async function answerTo(t: Test, d: Device, data: string | Buffer, binary = false): Promise<any> {
  const from = d.pushes.length
  d.raw(data, binary)
  const err = await d.waitPush((f) => f.op === 'error', `error for ${String(data).slice(0, 40)}`, 10_000, from)
  t.match(await d.request({ op: 'ping' }), { op: 'pong' }, 'the socket still answers')
  return err
}

t.test('malformed frames get BAD_FRAME and the socket stays open', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a1')
  const garbage: Array<[string, string]> = [
    ['not json', 'hello'], ['truncated json', '{"op":"ping"'], ['empty frame', ''], ['a number', '42'], ['an array', '[]'],
    ['null', 'null'], ['a string', '"ping"'], ['no op', '{}'], ['op not a string', '{"op":1}'], ['unknown op', '{"op":"shout"}'],
    ['op from the server side', '{"op":"ack"}'], ['a ref of the wrong type', '{"op":"ping","ref":{"x":1}}'],
  ]
  for (const [what, data] of garbage) {
    const err = await answerTo(t, a, data)
    t.match(err, { op: 'error', code: 'BAD_FRAME' }, what)
    t.equal(err.ref, undefined, `${what}: no ref to echo`)
    t.type(err.message, 'string')
  }
  const binary = await answerTo(t, a, Buffer.from(JSON.stringify({ op: 'ping' })), true)
  t.match(binary, { code: 'BAD_FRAME' }, 'binary frames are refused, even holding JSON')

  const fields: Array<[string, Record<string, unknown>]> = [
    ['send without channel', { op: 'send', clientMsgId: 'x', text: 'x' }],
    ['send without text', { op: 'send', channel: AB, clientMsgId: 'x' }],
    ['send with a numeric channel', { op: 'send', channel: 5, clientMsgId: 'x', text: 'x' }],
    ['send with an object text', { op: 'send', channel: AB, clientMsgId: 'x', text: { a: 1 } }],
    ['sync without since', { op: 'sync' }],
    ['sync with a string since', { op: 'sync', since: '0' }],
    ['history without channel', { op: 'history' }],
    ['history with a fractional before', { op: 'history', channel: AB, before: 2.5 }],
    ['read without seq', { op: 'read', channel: AB }],
    ['read with a string seq', { op: 'read', channel: AB, seq: '1' }],
    ['presence without users', { op: 'presence' }],
    ['presence with a string', { op: 'presence', users: 'bob' }],
    ['presence with numbers', { op: 'presence', users: [1, 2] }],
    ['presence with too many', { op: 'presence', users: Array.from({ length: 1001 }, (_, i) => `user_${i}`) }],
  ]
  for (const [what, frame] of fields) {
    const err = await answerTo(t, a, JSON.stringify({ ...frame, ref: what }))
    t.match(err, { op: 'error', code: 'BAD_FRAME', ref: what }, `${what}, echoing ref`)
  }
  t.equal(a.closed, null, 'never closed')
})

t.test('frames up to 2 MiB are read; a larger one closes the socket with 1009', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a2')
  const b = await Device.open(t, node.wsUrl, bob!, 'b2')
  const nearLimit = JSON.stringify({ op: 'send', channel: AB, clientMsgId: 'near', text: 'x'.repeat(2 * 1024 * 1024 - 100) })
  t.ok(Buffer.byteLength(nearLimit) <= 2 * 1024 * 1024)
  const err = await answerTo(t, a, nearLimit)
  t.match(err, { code: 'MESSAGE_TOO_LARGE' }, 'a frame just under 2 MiB is read and answered')
  const nearJunk = await answerTo(t, a, '{' + ' '.repeat(2 * 1024 * 1024 - 10))
  t.match(nearJunk, { code: 'BAD_FRAME' }, 'even as junk')

  a.raw(JSON.stringify({ op: 'send', channel: AB, clientMsgId: 'over', text: 'x'.repeat(2 * 1024 * 1024 + 10) }))
  await a.waitPush(() => a.closed !== null, 'the oversized frame closes the socket')
  t.equal(a.closed!.code, 1009, 'closed with 1009')
  t.match(await b.request({ op: 'ping' }), { op: 'pong' }, 'another user is unaffected')
  t.equal((await api(node.url, 'GET', `/v1/channels/${AB}/messages`, undefined, bob)).body.messages.length, 0, 'nothing was stored')
})

t.test('the send rate limit is per device and answers RATE_LIMITED', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a3')
  const other = await Device.open(t, node.wsUrl, alice!, 'a4')
  const replies = await Promise.all(Array.from({ length: 4 * RATE }, (_, i) => a.send('dm:alice:carol', `burst ${i}`, `burst-${i}`)))
  const acked = replies.filter((r) => r.op === 'ack')
  const limited = replies.filter((r) => r.op === 'error')
  t.ok(acked.length >= RATE && acked.length < 2 * RATE, `the burst passes (${acked.length} acked)`)
  t.ok(limited.length > 0 && limited.every((r) => r.code === 'RATE_LIMITED' && typeof r.ref === 'string'), 'the rest: RATE_LIMITED, with ref')
  t.equal((await other.send('dm:alice:carol', 'other device', 'other-dev')).op, 'ack', 'another device has its own budget')
  const pings = await Promise.all(Array.from({ length: 50 }, () => a.request({ op: 'ping' })))
  t.ok(pings.every((p) => p.op === 'pong'), 'other ops are not rate limited')

  const history = await api(node.url, 'GET', '/v1/channels/dm:alice:carol/messages?limit=200', undefined, carol)
  t.equal(history.body.messages.length, acked.length + 1, 'refused sends stored nothing')
  // The bucket refills at RATE per second: a client that backs off gets through.
  let reply = limited[0]
  const deadline = Date.now() + 5000
  while (reply.op !== 'ack' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000 / RATE))
    reply = await a.send('dm:alice:carol', 'retry', 'retry-1')
  }
  t.equal(reply.op, 'ack', 'a retry after a pause succeeds')
})

t.test('the other error codes of the contract', async (t) => {
  const c = await Device.open(t, node.wsUrl, carol!, 'c1')
  t.match(await c.send(AB, 'x', 'f-1'), { code: 'FORBIDDEN' })
  t.match(await c.send('g:missing', 'x', 'n-1'), { code: 'NOT_FOUND' })
  t.match(await c.send('dm:carol:ghost_user', 'x', 'n-2'), { code: 'NOT_FOUND' })
  t.match(await c.send('dm:carol:dave', 'x'.repeat(100_001), 'm-1'), { code: 'MESSAGE_TOO_LARGE' })
  const full = await api(node.url, 'POST', '/v1/groups', { name: 'four', members: ['alice', 'bob', 'dave'] }, carol)
  t.same([full.status, full.body.error.code], [422, 'GROUP_FULL'])
  const three = await api(node.url, 'POST', '/v1/groups', { name: 'three', members: ['alice', 'bob'] }, carol)
  t.equal(three.status, 201)
  const fourth = await api(node.url, 'POST', `/v1/groups/${three.body.channel.id}/members`, { username: 'dave' }, carol)
  t.same([fourth.status, fourth.body.error.code], [422, 'GROUP_FULL'])
  const noToken = await api(node.url, 'GET', '/v1/channels')
  t.same([noToken.status, noToken.body.error.code], [401, 'UNAUTHORIZED'])
})

/**
 * A client in a process of its own that sends junk as fast as it can and reads its replies, so
 * that the node, not this test process, is what the flood loads.
 */
const FLOODER = `
const WebSocket = require('ws')
const [url, token] = process.argv.slice(1)
const ws = new WebSocket(url + '?deviceId=flood&token=' + token)
const junk = ['{', '[]', '{"op":"nope"}', '{"op":"sync","since":0,"limit":1000}', '{"op":"send","channel":"dm:bob:dave","clientMsgId":"f","text":"spam"}']
let sent = 0
ws.on('message', () => {})
ws.on('close', () => process.exit(0))
ws.on('open', function loop() {
  // Keep the pipe to the node full, without growing this process's own buffer without bound.
  if (ws.bufferedAmount < 4 * 1024 * 1024) {
    for (let i = 0; i < 200; i++) { ws.send(junk[i % junk.length]); ws.send(Buffer.alloc(1000, 1), { binary: true }) }
    sent += 400
    if (sent === 20000) process.stdout.write('flooding\\n')
  }
  setTimeout(loop, ws.bufferedAmount < 4 * 1024 * 1024 ? 0 : 5)
})
`

t.test('a flood from one client neither crashes the node nor slows another user', async (t) => {
  const flooder = spawn(process.execPath, ['-e', FLOODER, node.wsUrl, dave!], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { flooder.kill('SIGKILL') })
  await new Promise<void>((resolve, reject) => {
    flooder.stdout!.on('data', (chunk) => String(chunk).includes('flooding') && resolve())
    flooder.once('exit', (code) => reject(new Error(`flooder exited ${code}`)))
  })
  const a = await Device.open(t, node.wsUrl, alice!, 'a5')
  const b = await Device.open(t, node.wsUrl, bob!, 'b5')
  const times: number[] = []
  for (let i = 0; i < 10; i++) {
    const t0 = Date.now()
    const ack = await a.send(AB, `during the flood ${i}`, `flood-${i}`)
    t.equal(ack.op, 'ack')
    await b.waitPush((f) => f.clientMsgId === `flood-${i}`, 'delivered during the flood')
    times.push(Date.now() - t0)
    // Stay under this node's small send rate.
    await new Promise((r) => setTimeout(r, 1000 / RATE))
  }
  t.equal(flooder.exitCode, null, 'the flood went on all along')
  // The median resists a loaded test machine; without the node's frame budget it was over a second.
  const median = [...times].sort((x, y) => x - y)[times.length >> 1]!
  t.ok(median < 500 && Math.max(...times) < 5000, `another user's send-to-delivery stays fast (${times.join(', ')} ms)`)
  t.equal((await api(node.url, 'GET', '/healthz')).status, 200, 'the node answers HTTP')
  flooder.kill('SIGKILL')
  t.equal((await api(node.url, 'GET', '/healthz')).status, 200, 'and is fine after')
  t.equal(node.proc?.exitCode, null)
})
