import net from 'node:net'
import t from 'tap'
import { GrpcTransport } from '../../src/cluster/transport-grpc.js'
import { MemoryNetwork, MemoryTransport } from '../../src/cluster/transport-memory.js'
import {
  TransportError, type ActorCall, type ActorMultiCall, type PeerRequest, type PushBatch,
  type Reply, type Transport, type TransportHandlers,
} from '../../src/cluster/transport.js'

/** All the helpers need of a test: registering its cleanup. */
interface Test { teardown(fn: () => unknown): void }

/** What differs between the implementations; every test below runs against both. */
interface Impl {
  name: string
  host: string
  make(): Transport
  /** An address where nothing answers. */
  deadAddress(): Promise<string>
}

// About 500 KB of UTF-8 mixing 1-, 2-, 3- and 4-byte characters.
const UNICODE = 'héllo wörld – 你好世界 🎉🚀 ёжик '.repeat(11_000)

/** Handlers whose behaviour the request's kind selects; they record what arrived. */
function testHandlers() {
  const seen = { calls: [] as ActorCall[], many: [] as ActorMultiCall[], pushes: [] as PushBatch[], peers: [] as PeerRequest[] }
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  const handlers: TransportHandlers = {
    async call(req) {
      seen.calls.push(req)
      if (req.kind === 'boom') throw new Error('boom in call')
      if (req.kind === 'slow') await released
      if (req.kind === 'bigint') return { ok: true, body: { n: 1n } }
      if (req.kind === 'wrong-owner') return { ok: false, error: { code: 'WRONG_OWNER', message: 'not mine', ringVersion: 7, owner: 'n2' } }
      if (req.kind === 'nothing') return { ok: true, body: undefined }
      return { ok: true, body: { echo: req.body, key: req.key } }
    },
    async callMany(req) {
      seen.many.push(req)
      if (req.kind === 'boom') throw new Error('boom in callMany')
      if (req.kind === 'short') return [{ ok: true, body: 1 }]
      return req.keys.map((key, i): Reply => ({ ok: true, body: { key, i, len: (req.body as { text: string }).text.length } }))
    },
    async push(batch) {
      seen.pushes.push(batch)
      if (batch.pushes.some((p) => p.frame === 'boom')) throw new Error('boom in push')
    },
    async peer(req) {
      seen.peers.push(req)
      if (req.kind === 'boom') throw new Error('boom in peer')
      return { ok: true, body: { kind: req.kind, echo: req.body } }
    },
  }
  return { handlers, seen, release }
}

async function start(t: Test, impl: Impl, port = 0) {
  const server = impl.make()
  t.teardown(() => server.close())
  const h = testHandlers()
  // A slow handler still pending at the end must not hold the server's close.
  t.teardown(h.release)
  const bound = await server.listen(impl.host, port, h.handlers)
  return { server, port: bound, address: `${impl.host}:${bound}`, ...h }
}

function client(t: Test, impl: Impl): Transport {
  const transport = impl.make()
  t.teardown(() => transport.close())
  return transport
}

async function rejection(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise
  } catch (err) {
    if (err instanceof TransportError) return err
    throw err
  }
  throw new Error('expected a rejection')
}

/** Retries until fn resolves, at most `ms`; the peer-restart test needs the reconnect to happen. */
async function eventually<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() >= end) throw err
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

function suite(impl: Impl): void {
  t.test(`${impl.name}: round trip of every rpc with a 500 KB unicode body`, async (t) => {
    t.ok(Buffer.byteLength(UNICODE) >= 500_000)
    const s = await start(t, impl)
    const pc = client(t, impl).peer(s.address)
    const body = { text: UNICODE, n: 3, list: [1, 'two', null, { deep: true }] }

    const reply = await pc.call({ key: 'user:ålice', kind: 'send', body, ringVersion: 2 ** 40, from: 'n1' }, 5000)
    t.same(reply, { ok: true, body: { echo: body, key: 'user:ålice' } })
    t.same(s.seen.calls[0], { key: 'user:ålice', kind: 'send', body, ringVersion: 2 ** 40, from: 'n1' })

    const replies = await pc.callMany({ keys: ['user:a', 'user:b'], kind: 'deliver', body, ringVersion: 3, from: 'n1' }, 5000)
    t.same(replies, [{ ok: true, body: { key: 'user:a', i: 0, len: UNICODE.length } }, { ok: true, body: { key: 'user:b', i: 1, len: UNICODE.length } }])
    t.same(s.seen.many[0], { keys: ['user:a', 'user:b'], kind: 'deliver', body, ringVersion: 3, from: 'n1' })

    const frame = JSON.stringify({ op: 'message', text: UNICODE })
    await pc.push({ pushes: [{ sessions: ['s1', 's2'], frame }, { sessions: ['s3'], frame: '{"op":"pong"}' }] }, 5000)
    t.same(s.seen.pushes[0], { pushes: [{ sessions: ['s1', 's2'], frame }, { sessions: ['s3'], frame: '{"op":"pong"}' }] })

    const peerReply = await pc.peer({ kind: 'append', body, ringVersion: 4, from: 'n1' }, 5000)
    t.same(peerReply, { ok: true, body: { kind: 'append', echo: body } })
    t.same(s.seen.peers[0], { kind: 'append', body, ringVersion: 4, from: 'n1' })
  })

  t.test(`${impl.name}: error replies, empty bodies and a 4 MiB body pass through intact`, async (t) => {
    const s = await start(t, impl)
    const pc = client(t, impl).peer(s.address)
    t.same(await pc.call({ key: 'k', kind: 'wrong-owner', body: null, ringVersion: 1, from: 'n1' }, 5000),
      { ok: false, error: { code: 'WRONG_OWNER', message: 'not mine', ringVersion: 7, owner: 'n2' } })
    t.same(await pc.call({ key: 'k', kind: 'nothing', body: undefined, ringVersion: 0, from: '' }, 5000), { ok: true, body: undefined })
    t.same(s.seen.calls[1], { key: 'k', kind: 'nothing', body: undefined, ringVersion: 0, from: '' })
    const big = 'x'.repeat(4 * 1024 * 1024)
    t.same(await pc.call({ key: 'k', kind: 'echo', body: big, ringVersion: 1, from: 'n1' }, 10_000), { ok: true, body: { echo: big, key: 'k' } })
  })

  t.test(`${impl.name}: CallMany with 100 keys returns 100 replies in order`, async (t) => {
    const s = await start(t, impl)
    const pc = client(t, impl).peer(s.address)
    const keys = Array.from({ length: 100 }, (_, i) => `user:u${i}`)
    const replies = await pc.callMany({ keys, kind: 'deliver', body: { text: 'hi' }, ringVersion: 1, from: 'n1' }, 5000)
    t.equal(replies.length, 100)
    t.same(replies.map((r) => (r.ok ? (r.body as { key: string }).key : null)), keys)
    t.same(replies.map((r) => (r.ok ? (r.body as { i: number }).i : null)), keys.map((_, i) => i))
    t.equal(s.seen.many.length, 1, 'one request carries the whole fan-out')
  })

  t.test(`${impl.name}: a handler error becomes an INTERNAL reply and the server keeps serving`, async (t) => {
    const s = await start(t, impl)
    const pc = client(t, impl).peer(s.address)
    const reply = await pc.call({ key: 'k', kind: 'boom', body: 1, ringVersion: 1, from: 'n1' }, 5000)
    t.match(reply, { ok: false, error: { code: 'INTERNAL', message: /boom in call/ } })

    const replies = await pc.callMany({ keys: ['a', 'b', 'c'], kind: 'boom', body: { text: '' }, ringVersion: 1, from: 'n1' }, 5000)
    t.equal(replies.length, 3)
    for (const r of replies) t.match(r, { ok: false, error: { code: 'INTERNAL', message: /boom in callMany/ } })
    const short = await pc.callMany({ keys: ['a', 'b'], kind: 'short', body: { text: '' }, ringVersion: 1, from: 'n1' }, 5000)
    t.match(short, [{ ok: false, error: { code: 'INTERNAL' } }, { ok: false, error: { code: 'INTERNAL' } }], 'a wrong reply count is reported per key')

    t.match(await pc.peer({ kind: 'boom', body: 1, ringVersion: 1, from: 'n1' }, 5000), { ok: false, error: { code: 'INTERNAL', message: /boom in peer/ } })
    t.match(await rejection(pc.push({ pushes: [{ sessions: ['s'], frame: 'boom' }] }, 5000)), { code: 'INTERNAL', message: /boom in push/ })
    t.match(await pc.call({ key: 'k', kind: 'bigint', body: 1, ringVersion: 1, from: 'n1' }, 5000),
      { ok: false, error: { code: 'INTERNAL' } }, 'an unserializable reply body is the handler\'s error')

    t.same(await pc.call({ key: 'k', kind: 'echo', body: 'still here', ringVersion: 1, from: 'n1' }, 5000), { ok: true, body: { echo: 'still here', key: 'k' } })
  })

  t.test(`${impl.name}: an unserializable request body rejects INTERNAL before sending`, async (t) => {
    const s = await start(t, impl)
    const pc = client(t, impl).peer(s.address)
    const err = await rejection(pc.call({ key: 'k', kind: 'echo', body: { n: 1n }, ringVersion: 1, from: 'n1' }, 5000))
    t.equal(err.code, 'INTERNAL')
    t.equal(s.seen.calls.length, 0)
  })

  t.test(`${impl.name}: a call to an address nobody serves rejects UNAVAILABLE within the deadline`, async (t) => {
    const pc = client(t, impl).peer(await impl.deadAddress())
    for (const send of [
      () => pc.call({ key: 'k', kind: 'echo', body: 1, ringVersion: 1, from: 'n1' }, 3000),
      () => pc.callMany({ keys: ['k'], kind: 'echo', body: 1, ringVersion: 1, from: 'n1' }, 3000),
      () => pc.push({ pushes: [] }, 3000),
      () => pc.peer({ kind: 'x', body: 1, ringVersion: 1, from: 'n1' }, 3000),
    ]) {
      const began = Date.now()
      const err = await rejection(send())
      t.equal(err.code, 'UNAVAILABLE')
      t.ok(Date.now() - began < 3000, `rejected after ${Date.now() - began} ms`)
    }
  })

  t.test(`${impl.name}: a handler slower than the deadline rejects DEADLINE`, async (t) => {
    const s = await start(t, impl)
    const pc = client(t, impl).peer(s.address)
    const began = Date.now()
    const err = await rejection(pc.call({ key: 'k', kind: 'slow', body: 1, ringVersion: 1, from: 'n1' }, 200))
    const took = Date.now() - began
    t.equal(err.code, 'DEADLINE')
    t.ok(took >= 150 && took < 1500, `rejected after ${took} ms`)
    s.release()
    t.same(await pc.call({ key: 'k', kind: 'echo', body: 2, ringVersion: 1, from: 'n1' }, 5000), { ok: true, body: { echo: 2, key: 'k' } })
  })

  t.test(`${impl.name}: the cached client works again after the peer restarts on the same port`, async (t) => {
    const first = await start(t, impl)
    const caller = client(t, impl)
    const pc = caller.peer(first.address)
    const req = { key: 'k', kind: 'echo', body: 'one', ringVersion: 1, from: 'n1' }
    t.same(await pc.call(req, 5000), { ok: true, body: { echo: 'one', key: 'k' } })

    await first.server.close()
    const err = await rejection(pc.call(req, 3000))
    t.equal(err.code, 'UNAVAILABLE', 'a stopped peer is unavailable')

    const second = await start(t, impl, first.port)
    t.equal(second.address, first.address)
    t.equal(caller.peer(first.address), pc, 'clients are cached per address')
    t.same(await eventually(5000, () => pc.call(req, 1000)), { ok: true, body: { echo: 'one', key: 'k' } })
    t.equal(second.seen.calls.length >= 1, true)
  })
}

suite({
  name: 'grpc',
  host: '127.0.0.1',
  make: () => new GrpcTransport({ closeGraceMs: 300 }),
  deadAddress: () => new Promise<string>((resolve, reject) => {
    // A port just released by the OS is one nobody listens on.
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close((err) => (err ? reject(err) : resolve(`127.0.0.1:${port}`)))
    })
  }),
})

// The same contract with peer links on (src/cluster/peer-link.ts): the first requests go on the
// stream while the peer is asked for its link port, the later ones on the link.
suite({
  name: 'grpc with peer links',
  host: '127.0.0.1',
  make: () => new GrpcTransport({ closeGraceMs: 300, link: true }),
  deadAddress: () => new Promise<string>((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close((err) => (err ? reject(err) : resolve(`127.0.0.1:${port}`)))
    })
  }),
})

// One network per test file run, shared as several in-process nodes would share it.
const network = new MemoryNetwork()
suite({
  name: 'memory',
  host: 'mem',
  make: () => new MemoryTransport(network),
  deadAddress: async () => 'mem:99999',
})

t.test('memory: a peer marked down rejects UNAVAILABLE, then serves again; delays apply', async (t) => {
  const net2 = new MemoryNetwork()
  const server = new MemoryTransport(net2)
  t.teardown(() => server.close())
  const port = await server.listen('mem', 0, testHandlers().handlers)
  const caller = new MemoryTransport(net2)
  t.teardown(() => caller.close())
  const pc = caller.peer(`mem:${port}`)
  const req = { key: 'k', kind: 'echo', body: 1, ringVersion: 1, from: 'n1' }

  net2.setDown(`mem:${port}`, true)
  t.equal((await rejection(pc.call(req, 1000))).code, 'UNAVAILABLE')
  net2.setDown(`mem:${port}`, false)
  t.same(await pc.call(req, 1000), { ok: true, body: { echo: 1, key: 'k' } })

  net2.setDelay(`mem:${port}`, 300)
  t.equal((await rejection(pc.call(req, 100))).code, 'DEADLINE', 'a delay longer than the deadline times out')
  const began = Date.now()
  t.same(await pc.call(req, 2000), { ok: true, body: { echo: 1, key: 'k' } })
  t.ok(Date.now() - began >= 250, 'the delay was applied')
  net2.setDelay(`mem:${port}`, undefined)
})
