import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import WebSocket from 'ws'
import {
  backoffCeiling, ChatClient, ChatError, type ChatClientOptions, type StateChange, type WebSocketConstructor,
} from '../../src/client/index.js'
import { FakeServer, type FakeServerOptions } from '../helpers/fake-server.js'
import { waitFor } from '../helpers/wait.js'

/** The part of a tap test the setup helper needs. */
type Test = { teardown(fn: () => unknown): void }

type ClientOverrides = Partial<ChatClientOptions> | ((server: FakeServer) => Partial<ChatClientOptions>)

async function setup(t: Test, serverOptions: FakeServerOptions = {}, overrides: ClientOverrides = {}) {
  const server = await FakeServer.start(serverOptions)
  t.teardown(() => server.close())
  const client = new ChatClient({
    token: 'tok-alice', url: server.wsUrl, WebSocket, keepAliveMs: 0, backoff: { baseMs: 20, capMs: 200 },
    ...(typeof overrides === 'function' ? overrides(server) : overrides),
  })
  t.teardown(() => client.close())
  const states: StateChange[] = []
  client.on('state', (s) => states.push(s))
  return { server, client, states }
}

/** Fails fast (instead of hanging the file) when a promise that should settle does not. */
function within<T>(promise: Promise<T>, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** A port with nothing listening: taken from the OS, then released. */
async function deadPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

t.test('connect resolves on ready and exposes it', async (t) => {
  const { server, client, states } = await setup(t)
  t.equal(client.state, 'closed', 'closed before connect()')
  const ready = await client.connect()
  t.same(ready, { user: 'alice', deviceId: 'dev1', node: 'fake-1', inboxSeq: 0 })
  t.same(client.ready, ready)
  t.equal(client.state, 'open')
  t.same(states.map((s) => s.state), ['connecting', 'open'])
  t.same(await client.connect(), ready, 'connect() on an open client resolves at once')
  t.equal(server.accepted, 1)
})

t.test('reconnects after the server drops the socket, as the same device', async (t) => {
  const { server, client, states } = await setup(t)
  const synced = new Promise((resolve) => client.once('synced', resolve))
  await client.connect()
  await synced // a connection counts as good once it caught up; only then does the backoff reset
  server.dropAll()
  await waitFor(() => server.accepted === 2 && client.state === 'open', { what: 'a second connection' })
  t.same([...server.conns].map((c) => c.deviceId), ['dev1'], 'the reconnect reuses the device id from ready')
  const reconnect = states.filter((s) => s.state === 'connecting')[1]
  t.ok(reconnect !== undefined && reconnect.state === 'connecting' && reconnect.attempt === 0 && reconnect.delayMs < 20,
    'a drop after a good connection waits at most the base delay')
  t.equal(client.ready?.deviceId, 'dev1')
})

t.test('a graceful restart (1012) is followed by a reconnect that reports the code', async (t) => {
  const { server, client, states } = await setup(t)
  await client.connect()
  server.closeAll(1012, 'restart')
  await waitFor(() => server.accepted === 2 && client.state === 'open')
  t.ok(states.some((s) => s.state === 'connecting' && s.closeCode === 1012))
})

t.test('discovery: asks /v1/discover before every connect and moves past a dead base', async (t) => {
  const dead = `http://127.0.0.1:${await deadPort()}`
  const { server, client } = await setup(t, {}, (server) => ({ url: undefined, discover: [dead, server.httpUrl] }))
  await client.connect()
  t.equal(server.discoverCalls, 1)
  server.dropAll()
  await waitFor(() => server.accepted === 2 && client.state === 'open')
  t.equal(server.discoverCalls, 2, 'asked again before the reconnect')
})

t.test('discovery by function', async (t) => {
  let calls = 0
  const { client } = await setup(t, {}, (server) => ({ url: undefined, discover: async () => { calls++; return server.wsUrl } }))
  await client.connect()
  t.equal(calls, 1)
})

for (const refuseUpgrade of [false, true]) {
  const how = refuseUpgrade ? 'an upgrade refused with HTTP 401' : 'close code 4401'
  t.test(`stops for good on ${how}, with auth_failed`, async (t) => {
    const { server, client, states } = await setup(t, { refuseUpgrade }, { token: 'tok-nobody' })
    const authFailures: ChatError[] = []
    client.on('auth_failed', (e) => authFailures.push(e))
    const err = await within(client.connect()).then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof ChatError && err.code === 'UNAUTHORIZED', 'connect() rejects with UNAUTHORIZED')
    t.equal(authFailures.length, 1)
    t.same(states.at(-1), { state: 'closed', reason: 'auth_failed' })
    t.equal(client.state, 'closed')
    // Proving that nothing happens needs a wait: ten times the largest backoff delay.
    await sleep(10 * 200)
    t.equal(server.accepted, refuseUpgrade ? 0 : 1, 'no further attempts')
    t.equal(states.filter((s) => s.state === 'connecting').length, 1)
  })
}

t.test('a refused upgrade is recognised without the HTTP status, as in browsers, by asking /v1/me', async (t) => {
  // Browsers give an error event without any text; strip what `ws` would say.
  const handler = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onerror') as PropertyDescriptor
  function BrowserLikeWebSocket(url: string): WebSocket {
    const socket = new WebSocket(url)
    Object.defineProperty(socket, 'onerror', {
      get: () => handler.get?.call(socket),
      set: (h: ((e: unknown) => void) | null) => handler.set?.call(socket, h === null ? null : () => h({ type: 'error' })),
    })
    return socket
  }
  const { client } = await setup(t, { refuseUpgrade: true }, {
    token: 'tok-nobody', WebSocket: BrowserLikeWebSocket as unknown as WebSocketConstructor,
  })
  const failures: ChatError[] = []
  client.on('auth_failed', (e) => failures.push(e))
  await t.rejects(within(client.connect()), { code: 'UNAUTHORIZED' })
  t.match(failures[0]?.message, /\/v1\/me/, 'found out through the HTTP API')
})

t.test('4401 on an established connection stops it; unsent messages are readable in auth_failed', async (t) => {
  const { server, client } = await setup(t)
  await client.connect()
  server.onFrame = (_conn, frame) => frame.op === 'send' // never acked
  const pending = client.send('dm:alice:bob', 'lost?', { clientMsgId: 'keep-me' })
  await waitFor(() => server.framesOf('send').length === 1)
  let unsent: unknown
  client.on('auth_failed', () => { unsent = client.pendingSends() })
  server.closeAll(4401, 'token expired')
  const err = await within(pending).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof ChatError && err.code === 'UNAUTHORIZED', 'the pending send rejects')
  t.same(unsent, [{ channel: 'dm:alice:bob', text: 'lost?', clientMsgId: 'keep-me' }])
  t.equal(client.state, 'closed')
})

t.test('backoff between failed attempts grows with jitter within bounds', async (t) => {
  const port = await deadPort()
  const backoff = { baseMs: 10, capMs: 80 }
  for (const [name, random] of [['random', Math.random], ['max jitter', () => 0.999999]] as const) {
    const client = new ChatClient({ token: 'tok-alice', url: `ws://127.0.0.1:${port}/ws`, WebSocket, keepAliveMs: 0, backoff, random })
    t.teardown(() => client.close())
    const connecting: Array<{ attempt: number; delayMs: number }> = []
    client.on('state', (s) => { if (s.state === 'connecting') connecting.push(s) })
    client.on('error', () => {})
    client.connect().catch(() => {})
    await waitFor(() => connecting.length >= 8, { what: '8 attempts' })
    client.close()
    // With short random waits a ninth attempt may start before the poll above sees the eighth.
    connecting.splice(8)
    t.same(connecting.map((c) => c.attempt), [0, 1, 2, 3, 4, 5, 6, 7], `${name}: attempts are counted`)
    t.equal(connecting[0]?.delayMs, 0, `${name}: the first attempt does not wait`)
    for (const { attempt, delayMs } of connecting.slice(1)) {
      t.ok(delayMs >= 0 && delayMs < backoffCeiling(attempt, backoff), `${name}: attempt ${attempt} waits ${delayMs} < ${backoffCeiling(attempt, backoff)}`)
    }
    if (name === 'max jitter') t.same(connecting.slice(1).map((c) => c.delayMs), [19, 39, 79, 79, 79, 79, 79], 'doubling, then capped')
  }
})

t.test('close() stops reconnecting and rejects what is pending', async (t) => {
  const { server, client, states } = await setup(t)
  await client.connect()
  server.onFrame = (_conn, frame) => frame.op === 'send'
  const pending = client.send('dm:alice:bob', 'never acked')
  await waitFor(() => server.framesOf('send').length === 1)
  client.close()
  const err = await pending.then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof ChatError && err.code === 'CLOSED')
  await waitFor(() => server.conns.size === 0, { what: 'the server to see the close' })
  await t.rejects(client.connect(), { code: 'CLOSED' })
  await t.rejects(client.send('dm:alice:bob', 'x'), { code: 'CLOSED' })
  t.same(states.at(-1), { state: 'closed', reason: 'closed' })
  t.equal(server.accepted, 1)
})

t.test('keepalive pings every keepAliveMs; an unanswered ping drops the socket and reconnects', async (t) => {
  const { server, client } = await setup(t, {}, { keepAliveMs: 30, requestTimeoutMs: 150 })
  await client.connect()
  await waitFor(() => server.framesOf('ping').length >= 3, { what: '3 pings' })
  const errors: Error[] = []
  client.on('error', (e) => errors.push(e))
  server.onFrame = (conn, frame) => conn.id === 1 && frame.op === 'ping' // the first connection goes silent
  await waitFor(() => server.accepted === 2 && client.state === 'open', { what: 'a reconnect after the dead link' })
  t.ok(errors.some((e) => e instanceof ChatError && e.code === 'TIMEOUT'))
})

t.test('a request without a reply times out with TIMEOUT; requests while down reject with DISCONNECTED', async (t) => {
  const { server, client } = await setup(t, {}, { requestTimeoutMs: 100 })
  await client.connect()
  server.onFrame = (_conn, frame) => frame.op === 'presence'
  await t.rejects(client.presence(['bob']), { name: 'ChatError', code: 'TIMEOUT' })
  t.same(await client.presence(['bob']).catch(() => 'still swallowed'), 'still swallowed')
  server.onFrame = undefined
  t.same(await client.presence(['bob']), [])
  t.ok((await client.ping()) >= 0)
  client.close()
  await t.rejects(client.ping(), { code: 'DISCONNECTED' })
})
