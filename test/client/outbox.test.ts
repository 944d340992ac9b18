import t from 'tap'
import WebSocket from 'ws'
import { ChatClient, ChatError, type AckFrame, type ChatClientOptions, type MessageEvent } from '../../src/client/index.js'
import { FakeServer } from '../helpers/fake-server.js'
import { waitFor } from '../helpers/wait.js'

/** The part of a tap test the setup helper needs. */
type Test = { teardown(fn: () => unknown): void }
const DM = 'dm:alice:bob'

async function setup(t: Test, options: Partial<ChatClientOptions> = {}) {
  const server = await FakeServer.start()
  t.teardown(() => server.close())
  const client = new ChatClient({
    token: 'tok-alice', url: server.wsUrl, WebSocket, keepAliveMs: 0, backoff: { baseMs: 20, capMs: 200 }, inboxSeq: 0, ...options,
  })
  t.teardown(() => client.close())
  const messages: MessageEvent[] = []
  client.on('message', (m) => messages.push(m))
  return { server, client, messages }
}

t.test('an ack lost with the socket: the send is repeated with the same clientMsgId and acked once', async (t) => {
  const { server, client, messages } = await setup(t)
  await client.connect()
  // The first connection stores the message, then dies before the ack leaves.
  server.onFrame = (conn, frame) => {
    if (conn.id !== 1 || frame.op !== 'send') return false
    server.store(conn.user, frame)
    conn.socket.terminate()
    return true
  }
  const acks: AckFrame[] = []
  const ack = await client.send(DM, 'hello').then((a) => { acks.push(a); return a })
  const sends = server.framesOf('send')
  t.equal(sends.length, 2, 'the server saw the send twice')
  t.equal(sends[0]?.clientMsgId, sends[1]?.clientMsgId, 'with the same clientMsgId')
  t.equal(sends[0]?.clientMsgId, ack.clientMsgId)
  t.equal(server.messages(DM).length, 1, 'stored once')
  t.equal(ack.seq, 1, 'the ack carries the original seq')
  t.equal(acks.length, 1, 'the app got one ack')
  await waitFor(() => messages.length === 1, { what: 'the message event' })
  t.same(client.cachedMessages(DM).map((m) => [m.seq, m.text]), [[1, 'hello']], 'cached once')
  t.same(client.pendingSends(), [], 'the outbox is empty')
})

t.test('unacked sends are resent after reconnect in the original order, after the catch-up sync', async (t) => {
  const { server, client } = await setup(t)
  await client.connect()
  server.onFrame = (conn, frame) => conn.id === 1 && frame.op === 'send' // the first connection never acks
  const texts = ['one', 'two', 'three', 'four', 'five']
  const pending = texts.map((text, i) => client.send(i % 2 === 0 ? DM : 'dm:alice:carol', text))
  await waitFor(() => server.framesOf('send').length === 5)
  const firstIds = server.framesOf('send').map((f) => f.clientMsgId)
  t.same(client.pendingSends().map((p) => p.text), texts)
  server.dropAll()
  const acks = await Promise.all(pending)
  const second = server.frames.filter((f) => f.conn === 2).map((f) => f.frame)
  t.equal(second[0]?.op, 'sync', 'the new connection syncs first')
  const resent = second.filter((f) => f.op === 'send')
  t.same(resent.map((f) => f.op === 'send' && f.text), texts, 'resent in the order of the send calls')
  t.same(resent.map((f) => f.op === 'send' && f.clientMsgId), firstIds, 'with the same clientMsgIds')
  t.same(acks.map((a) => a.clientMsgId), firstIds)
})

t.test('sends made before connecting go out once connected, in order', async (t) => {
  const { server, client } = await setup(t)
  const pending = ['a', 'b', 'c'].map((text) => client.send(DM, text))
  await client.connect()
  const acks = await Promise.all(pending)
  t.same(acks.map((a) => a.seq), [1, 2, 3])
  t.same(server.messages(DM).map((m) => m.text), ['a', 'b', 'c'])
})

t.test('a non-retryable error rejects the send and drops it from the outbox', async (t) => {
  const { server, client } = await setup(t)
  await client.connect()
  server.onFrame = (conn, frame) => {
    if (frame.op !== 'send' || frame.channel !== 'g:closed') return false
    conn.send({ op: 'error', ref: frame.ref, code: 'FORBIDDEN', message: 'not a member' })
    return true
  }
  const err = await client.send('g:closed', 'hi').then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof ChatError && err.code === 'FORBIDDEN' && !err.retryable)
  t.same(client.pendingSends(), [])
  server.dropAll()
  await waitFor(() => server.accepted === 2 && server.framesOf('sync').length === 2, { what: 'reconnect and sync' })
  t.equal(await client.ping() >= 0, true)
  t.equal(server.framesOf('send').length, 1, 'not resent after the reconnect')
})

t.test('retryable errors (RATE_LIMITED, UNAVAILABLE) and timeouts are retried with the same id', async (t) => {
  const { server, client } = await setup(t, { requestTimeoutMs: 150 })
  await client.connect()
  let calls = 0
  server.onFrame = (conn, frame) => {
    if (frame.op !== 'send') return false
    calls++
    if (calls === 1) conn.send({ op: 'error', ref: frame.ref, code: 'RATE_LIMITED', message: 'slow down' })
    if (calls === 2) conn.send({ op: 'error', ref: frame.ref, code: 'UNAVAILABLE', message: 'try later' })
    return calls <= 3 // the third is swallowed: a timeout
  }
  const ack = await client.send(DM, 'persistent', { clientMsgId: 'fixed-id' })
  t.equal(ack.clientMsgId, 'fixed-id')
  t.same(server.framesOf('send').map((f) => f.clientMsgId), ['fixed-id', 'fixed-id', 'fixed-id', 'fixed-id'])
  t.equal(server.accepted, 1, 'no reconnect needed')
})

t.test('the same clientMsgId twice shares one send; bad input is rejected locally', async (t) => {
  const { server, client } = await setup(t)
  const a = client.send(DM, 'x', { clientMsgId: 'dup' })
  const b = client.send('dm:bob:alice', 'x', { clientMsgId: 'dup' })
  t.equal(a, b, 'one promise (the dm id is made canonical first)')
  await client.connect()
  await a
  t.equal(server.framesOf('send').length, 1)
  await t.rejects(client.send(DM, ''), { code: 'BAD_FRAME' })
  await t.rejects(client.send(DM, 'x', { clientMsgId: 'has space' }), { code: 'BAD_FRAME' })
  await t.rejects(client.send(DM, 'x'.repeat(100_001)), { code: 'MESSAGE_TOO_LARGE' })
  t.ok(await client.send(DM, '😀'.repeat(100_000)), '100000 code points (200000 UTF-16 units) are allowed')
})
