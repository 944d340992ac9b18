/**
 * Peer links (src/cluster/peer-link.ts): with `link` on, a node serves the stream's frames on a
 * TCP port of its own and peers send there once they know it; a link that cannot be opened sends
 * its requests on the stream, none lost; frames on a link are checked as on the stream, so a
 * process without the cluster secret can make a node do nothing. The transport contract with
 * links on runs in transport.test.ts.
 */
import { spawn } from 'node:child_process'
import net from 'node:net'
import t, { type Test } from 'tap'
import { type ServedConn, StreamCodec, StreamServer, STREAM_PATH } from '../../src/cluster/grpc-stream.js'
import { protocolMetadata } from '../../src/cluster/grpc-wire.js'
import { OWN_PROTOCOL } from '../../src/cluster/protocol-version.js'
import { LINK_PATH, FrameReader } from '../../src/cluster/peer-link.js'
import { RequestSigner, rpcKey } from '../../src/cluster/rpc-auth.js'
import { GrpcTransport } from '../../src/cluster/transport-grpc.js'
import type { ActorCall, ActorMultiCall, PeerRequest, Reply, TransportHandlers } from '../../src/cluster/transport.js'
import { waitFor } from '../helpers/wait.js'

const SECRET = 'link-test-secret-0123456789abcdef'

async function serve(t: Test, link = true) {
  const seen = { calls: [] as string[], frames: [] as string[], refused: [] as string[] }
  // A class, as the node's handlers are: the transport must call its methods on it.
  const handlers: TransportHandlers = new (class implements TransportHandlers {
    async call(req: ActorCall): Promise<Reply> {
      seen.calls.push(String(req.body))
      return { ok: true, body: req.body }
    }
    async callMany(req: ActorMultiCall): Promise<Reply[]> { return req.keys.map(() => ({ ok: true as const, body: null })) }
    async push(): Promise<void> {}
    async peer(req: PeerRequest): Promise<Reply> { return { ok: true, body: req.kind } }
  })()
  const server = new GrpcTransport({
    auth: { secret: SECRET, self: 'server' }, closeGraceMs: 500, link,
    onFrame: (_n, path) => seen.frames.push(path), onRefused: (r) => seen.refused.push(r),
  })
  t.teardown(() => server.close())
  const port = await server.listen('127.0.0.1', 0, handlers)
  return { server, seen, address: `127.0.0.1:${port}` }
}

function caller(t: Test, link = true): GrpcTransport {
  const transport = new GrpcTransport({ auth: { secret: SECRET, self: 'caller' }, link })
  t.teardown(() => transport.close())
  return transport
}

const call = (body: string) => ({ key: 'k', kind: 'echo', body, ringVersion: 1, from: 'caller' })

/** The port a server's link listens on, asked as a peer asks it. */
async function linkPort(address: string): Promise<number> {
  const probe = new GrpcTransport({ auth: { secret: SECRET, self: 'probe' } })
  try {
    const reply = await probe.peer(address).peer({ kind: 'transport.link', body: undefined, ringVersion: 0, from: 'probe' }, 5000)
    return reply.ok ? (reply.body as { port: number }).port : 0
  } finally {
    await probe.close()
  }
}

t.test('once a peer has told its link port, requests go on the link', async (t) => {
  const s = await serve(t)
  const pc = caller(t).peer(s.address)
  t.same(await pc.call(call('first'), 5000), { ok: true, body: 'first' }, 'the first request goes on the stream while the port is asked')
  await waitFor(async () => {
    await pc.call(call('probe'), 5000)
    return s.seen.frames.includes(LINK_PATH)
  }, { what: 'a request on the link' })
  const before = s.seen.frames.length
  for (let i = 0; i < 20; i++) t.same(await pc.call(call(`m${i}`), 5000), { ok: true, body: `m${i}` })
  t.same(s.seen.frames.slice(before).filter((p) => p !== LINK_PATH), [], 'every later frame came on the link')
  t.same(s.seen.refused, [], 'nothing was refused')
})

t.test('a peer without links is reached on the stream, and so is one by a caller without them', async (t) => {
  const plain = await serve(t, false)
  t.equal(await linkPort(plain.address), 0, 'it tells no link port')
  const pc = caller(t).peer(plain.address)
  for (let i = 0; i < 10; i++) t.same(await pc.call(call(`m${i}`), 5000), { ok: true, body: `m${i}` })
  t.same([...new Set(plain.seen.frames)], [STREAM_PATH], 'every frame came on the stream')

  const linked = await serve(t, true)
  const old = caller(t, false).peer(linked.address)
  for (let i = 0; i < 10; i++) t.same(await old.call(call(`o${i}`), 5000), { ok: true, body: `o${i}` })
  t.same([...new Set(linked.seen.frames)], [STREAM_PATH], 'a caller without links uses the stream of a node that has them')
})

t.test('requests on a link that cannot be opened go on the stream: none is lost', async (t) => {
  const s = await serve(t)
  const pc = caller(t).peer(s.address)
  await waitFor(async () => {
    await pc.call(call('warm'), 5000)
    return s.seen.frames.includes(LINK_PATH)
  }, { what: 'a request on the link' })
  // The peer stops serving its link (as a node restarted on another link port does): the open
  // link ends, and the next one cannot be opened.
  ;(s.server as unknown as { links: { close(force: boolean): void } }).links.close(true)
  const linkClient = (pc as unknown as { link?: { stream?: unknown } }).link
  await waitFor(() => linkClient?.stream === undefined, { what: 'the caller saw its link end' })
  const sent = Array.from({ length: 30 }, (_, i) => `after${i}`)
  const answers = await Promise.all(sent.map((b) => pc.call(call(b), 5000)))
  t.same(answers.map((a) => a.ok), Array(30).fill(true), 'every request is answered')
  for (const b of sent) t.equal(s.seen.calls.filter((c) => c === b).length, 1, `${b} ran once`)
})

/**
 * A port whose connections hang, as one a firewall drops does: a child process listens with the
 * smallest backlog and never accepts (its event loop is held); two connections fill the queue,
 * and the kernel drops the next ones' SYNs.
 */
async function hangingPort(t: Test): Promise<number> {
  const child = spawn(process.execPath, ['-e', `
    const s = require('node:net').createServer()
    s.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
      process.stdout.write(s.address().port + '\\n', () => { for (;;) {} })
    })`], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
    child.once('exit', () => reject(new Error('the listener exited')))
  })
  for (let i = 0; i < 2; i++) {
    const filler = net.connect(port, '127.0.0.1')
    filler.on('error', () => undefined)
    t.teardown(() => { filler.destroy() })
    await new Promise<void>((resolve) => filler.once('connect', () => resolve()))
  }
  return port
}

t.test('while a link is being opened, requests go on the stream: a port that hangs costs them nothing', async (t) => {
  const s = await serve(t)
  // The peer tells a link port whose connections hang.
  ;(s.server as unknown as { linkPort: number }).linkPort = await hangingPort(t)
  const pc = caller(t).peer(s.address)
  const linkOf = () => (pc as unknown as { link?: unknown }).link
  t.same(await pc.call(call('first'), 5000), { ok: true, body: 'first' })
  await waitFor(() => linkOf() !== undefined, { what: 'the caller trying the link' })
  const trying = linkOf()
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => pc.call(call(`m${i}`), 5000)))
  t.same(answers.map((a) => a.ok), Array(20).fill(true), 'every request is answered')
  t.ok(linkOf() === trying, 'answered while the link was still being tried (it is given up after a second)')
  t.same([...new Set(s.seen.frames)], [STREAM_PATH], 'on the stream')
  await waitFor(() => linkOf() === undefined, { what: 'the link given up' })
})

t.test('a frame on a link that is not signed with the cluster secret runs nothing and ends the link', async (t) => {
  const s = await serve(t)
  const port = await linkPort(s.address)
  t.ok(port > 0, 'the node serves a link')
  const codec = new StreamCodec(new URL('../../proto/node.proto', import.meta.url).pathname)
  const batch = codec.encodeBatch({ requests: [{ id: 1, call: { key: 'k', kind: 'echo', body: Buffer.from('"forged"'), ringVersion: 1, from: 'x' } }] })
  const wrongKey = new RequestSigner(rpcKey('not-the-cluster-secret-at-all-000000'), 'intruder')
  const rightKey = new RequestSigner(rpcKey(SECRET), 'intruder')
  for (const [what, headers] of [
    ['unsigned', {}],
    ['signed with another secret', wrongKey.sign(LINK_PATH, batch)],
    ['signed for the stream, not the link', rightKey.sign(STREAM_PATH, batch)],
  ] as const) {
    const socket = net.connect(port, '127.0.0.1')
    const frame = codec.encodeFrame({ batch, ...headers })
    const head = Buffer.alloc(4)
    head.writeUInt32BE(frame.length)
    const answered: Buffer[] = []
    const reader = new FrameReader(1 << 20, (f) => answered.push(f), () => undefined)
    socket.on('data', (c) => reader.push(c))
    socket.on('error', () => undefined)
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.write(Buffer.concat([head, frame]))
    await closed
    t.equal(answered.length, 0, `${what}: no answer, the link was closed`)
  }
  t.same(s.seen.calls, [], 'no request ran')
  t.equal(s.seen.refused.length, 3, 'each was counted as refused')
})

t.test('frames are split and joined however the bytes arrive', async (t) => {
  const got: string[] = []
  const errors: string[] = []
  const reader = new FrameReader(100, (f) => got.push(f.toString()), (why) => errors.push(why))
  const frame = (text: string) => {
    const body = Buffer.from(text)
    const head = Buffer.alloc(4)
    head.writeUInt32BE(body.length)
    return Buffer.concat([head, body])
  }
  const bytes = Buffer.concat([frame('one'), frame(''), frame('three'), frame('x'.repeat(100))])
  for (let i = 0; i < bytes.length; i += 3) reader.push(bytes.subarray(i, i + 3))
  t.same(got, ['one', '', 'three', 'x'.repeat(100)])
  reader.push(frame('y'.repeat(101)))
  t.equal(errors.length, 1, 'a frame over the largest is an error')
})

t.test('a connection is not read while 2,048 of its requests are being handled, and read again once half are done', async (t) => {
  const waiting: Array<() => void> = []
  const handlers: TransportHandlers = {
    call: () => new Promise<Reply>((resolve) => waiting.push(() => resolve({ ok: true, body: null }))),
    callMany: async () => [],
    push: async () => {},
    peer: async () => ({ ok: true, body: null }),
  }
  const codec = new StreamCodec(new URL('../../proto/node.proto', import.meta.url).pathname)
  const server = new StreamServer({
    handlers, codec, verifier: undefined, maxFrameBytes: 1 << 24,
    versioning: { range: OWN_PROTOCOL, metadata: protocolMetadata(OWN_PROTOCOL), onIncompatible: () => undefined },
  })
  const holds: boolean[] = []
  const listeners: Array<(f: Buffer) => void> = []
  server.serve({
    write: () => undefined, end: () => undefined, refuse: () => undefined,
    on: ((event: string, fn: (f: Buffer) => void) => { if (event === 'data') listeners.push(fn) }) as ServedConn['on'],
    hold: (held) => holds.push(held),
  }, LINK_PATH)
  const frameOf = (from: number, count: number) => codec.encodeFrame({ batch: codec.encodeBatch({
    requests: Array.from({ length: count }, (_, i) => ({ id: from + i, call: { key: 'k', kind: 'slow', body: Buffer.from('1'), ringVersion: 1, from: 'x' } })),
  }) })
  for (const fn of listeners) fn(frameOf(1, 2047))
  await waitFor(() => waiting.length === 2047, { what: '2,047 requests handled' })
  t.same(holds, [], 'below the bound, the connection is read')
  for (const fn of listeners) fn(frameOf(2048, 10))
  await waitFor(() => waiting.length === 2057, { what: 'every request started' })
  t.same(holds, [true], 'at 2,048 in flight, reading stops')
  for (const done of waiting.splice(0, 1000)) done()
  // The answers settle in microtasks: by the next turn of the event loop they all have.
  await new Promise((resolve) => setImmediate(resolve))
  t.same(holds, [true], 'with 1,057 still in flight, it stays stopped')
  for (const done of waiting.splice(0, 100)) done()
  await waitFor(() => holds.length === 2, { what: 'reading resumed' })
  t.same(holds, [true, false], 'at half the bound, reading resumes')
  for (const done of waiting.splice(0)) done()
})

t.test('a backlog on a link is handled a read at a time, with other work between reads', async (t) => {
  const turns: number[] = []
  let turn = 0
  let ticking = true
  const tick = () => {
    turn++
    if (ticking) setImmediate(tick)
  }
  tick()
  t.teardown(() => { ticking = false })
  const handlers: TransportHandlers = {
    call: async () => {
      turns.push(turn)
      // Busy, as a loaded node is: the rest of the backlog arrives while a request is handled.
      for (const until = performance.now() + 1; performance.now() < until;);
      return { ok: true, body: null }
    },
    callMany: async () => [],
    push: async () => {},
    peer: async () => ({ ok: true, body: null }),
  }
  const server = new GrpcTransport({ auth: { secret: SECRET, self: 'server' }, closeGraceMs: 500, link: true })
  t.teardown(() => server.close())
  const address = `127.0.0.1:${await server.listen('127.0.0.1', 0, handlers)}`
  const port = await linkPort(address)
  const codec = new StreamCodec(new URL('../../proto/node.proto', import.meta.url).pathname)
  const signer = new RequestSigner(rpcKey(SECRET), 'caller')
  // 100 frames of 10 KB, written at once: about a megabyte waiting in the socket, which the
  // server could take in one turn of its event loop.
  const frames: Buffer[] = []
  for (let id = 1; id <= 100; id++) {
    const batch = codec.encodeBatch({ requests: [{ id, call: { key: 'k', kind: 'echo', body: Buffer.from(JSON.stringify('x'.repeat(10_000))), ringVersion: 1, from: 'caller' } }] })
    const frame = codec.encodeFrame({ batch, ...signer.sign(LINK_PATH, batch) })
    const head = Buffer.alloc(4)
    head.writeUInt32BE(frame.length)
    frames.push(head, frame)
  }
  const socket = net.connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  socket.on('error', () => undefined)
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.write(Buffer.concat(frames))
  await waitFor(() => turns.length === 100, { timeout: 10_000, what: 'every request handled' })
  const perTurn = new Map<number, number>()
  for (const n of turns) perTurn.set(n, (perTurn.get(n) ?? 0) + 1)
  const most = Math.max(...perTurn.values())
  t.ok(most <= 10, `at most ${most} requests in one turn (a read of 64 KiB holds about 6 of them)`)
})
