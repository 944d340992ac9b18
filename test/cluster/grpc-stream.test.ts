/**
 * The gRPC transport's long-lived stream (src/cluster/grpc-stream.ts): what a node asks of a peer
 * within one tick leaves as one frame, answers do not wait for each other, every frame is checked
 * for its own signature, a peer without the stream is called by the unary rpcs, and a closing
 * node answers what it was asked before its streams end. The transport contract itself (bodies,
 * errors, deadlines, restarts) is tested against both paths in transport.test.ts.
 */
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import t, { type Test } from 'tap'
import { StreamCodec, STREAM_PATH } from '../../src/cluster/grpc-stream.js'
import { protocolMetadata, setSignature } from '../../src/cluster/grpc-wire.js'
import { OWN_PROTOCOL } from '../../src/cluster/protocol-version.js'
import { RequestSigner, rpcKey } from '../../src/cluster/rpc-auth.js'
import { GrpcTransport, type GrpcTransportOptions } from '../../src/cluster/transport-grpc.js'
import type { TransportHandlers } from '../../src/cluster/transport.js'
import { waitFor } from '../helpers/wait.js'

const SECRET = 'stream-test-secret-0123456789abcdef'

interface Seen { calls: string[]; frames: number[]; refused: string[] }

function handlers(seen: Seen, slow: Promise<void>): TransportHandlers {
  return {
    async call(req) {
      seen.calls.push(`call:${req.kind}`)
      if (req.kind === 'slow') await slow
      return { ok: true, body: { kind: req.kind, body: req.body } }
    },
    async callMany(req) {
      seen.calls.push(`many:${req.kind}`)
      return req.keys.map((key) => ({ ok: true as const, body: key }))
    },
    async push() { seen.calls.push('push') },
    async peer(req) {
      seen.calls.push(`peer:${req.kind}`)
      return { ok: true, body: req.ringVersion }
    },
  }
}

async function serve(t: Test, options: GrpcTransportOptions = {}) {
  const seen: Seen = { calls: [], frames: [], refused: [] }
  let release!: () => void
  const slow = new Promise<void>((resolve) => { release = resolve })
  const server = new GrpcTransport({
    auth: { secret: SECRET, self: 'server' }, closeGraceMs: 2000, ...options,
    onFrame: (n) => seen.frames.push(n), onRefused: (r) => seen.refused.push(r),
  })
  t.teardown(release)
  t.teardown(() => server.close())
  const port = await server.listen('127.0.0.1', 0, handlers(seen, slow))
  return { server, seen, release, address: `127.0.0.1:${port}` }
}

function caller(t: Test): GrpcTransport {
  const transport = new GrpcTransport({ auth: { secret: SECRET, self: 'caller' } })
  t.teardown(() => transport.close())
  return transport
}

t.test('requests made within one tick leave as one frame, and every one is answered', async (t) => {
  const { seen, address } = await serve(t)
  const peer = caller(t).peer(address)
  // The stream is opened by the first request; warm it so the frame count below is the batch's own.
  await peer.peer({ kind: 'warm', body: null, ringVersion: 1, from: 'caller' }, 5000)
  seen.frames.length = 0

  const replies = await Promise.all([
    ...Array.from({ length: 40 }, (_, i) => peer.call({ key: `user:${i}`, kind: `k${i}`, body: { i }, ringVersion: 1, from: 'caller' }, 5000)),
    peer.callMany({ keys: ['a', 'b', 'c'], kind: 'fan', body: { x: 1 }, ringVersion: 1, from: 'caller' }, 5000),
    peer.push({ pushes: [{ sessions: ['s1'], frame: '{"op":"x"}' }] }, 5000),
    peer.peer({ kind: 'repl', body: null, ringVersion: 12_345_678_901, from: 'caller' }, 5000),
  ])
  t.same(seen.frames, [43], 'one frame carried all 43 requests')
  t.same(replies.slice(0, 40), Array.from({ length: 40 }, (_, i) => ({ ok: true, body: { kind: `k${i}`, body: { i } } })), 'each call got its own answer')
  t.same(replies[40], [{ ok: true, body: 'a' }, { ok: true, body: 'b' }, { ok: true, body: 'c' }], 'the fan-out, one reply per key')
  t.equal(replies[41], undefined, 'the push, acknowledged')
  t.same(replies[42], { ok: true, body: 12_345_678_901 }, 'a ring version past 32 bits arrives intact')
})

t.test('an answer does not wait for a slower request of the same frame', async (t) => {
  const { address, release } = await serve(t)
  const peer = caller(t).peer(address)
  let slowDone = false
  const slow = peer.call({ key: 'k', kind: 'slow', body: null, ringVersion: 1, from: 'caller' }, 10_000).then((r) => { slowDone = true; return r })
  const fast = await peer.call({ key: 'k', kind: 'fast', body: null, ringVersion: 1, from: 'caller' }, 10_000)
  t.same(fast, { ok: true, body: { kind: 'fast', body: null } }, 'the fast one is answered')
  t.notOk(slowDone, 'while the slow one still runs')
  release()
  t.same(await slow, { ok: true, body: { kind: 'slow', body: null } })
})

t.test('a peer without the stream (an earlier release) is called by the unary rpcs', async (t) => {
  const { seen, address } = await serve(t, { serveStream: false })
  const peer = caller(t).peer(address)
  t.same(await peer.call({ key: 'k', kind: 'one', body: 1, ringVersion: 1, from: 'caller' }, 5000), { ok: true, body: { kind: 'one', body: 1 } })
  const [many, , reply] = await Promise.all([
    peer.callMany({ keys: ['a'], kind: 'fan', body: null, ringVersion: 1, from: 'caller' }, 5000),
    peer.push({ pushes: [] }, 5000),
    peer.peer({ kind: 'p', body: null, ringVersion: 7, from: 'caller' }, 5000),
  ])
  t.same(many, [{ ok: true, body: 'a' }])
  t.same(reply, { ok: true, body: 7 })
  t.same(seen.calls.sort(), ['call:one', 'many:fan', 'peer:p', 'push'], 'every request ran once')
  t.same(seen.frames, [], 'and none came by a stream')
})

/** Opens a raw stream to `address` as a node holding `secret` would, and collects its end. */
function rawStream(address: string, secret: string) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure())
  const signer = new RequestSigner(rpcKey(secret), 'raw')
  const metadata = protocolMetadata(OWN_PROTOCOL)
  setSignature(metadata, signer.sign(STREAM_PATH, Buffer.alloc(0)))
  const stream = client.makeBidiStreamRequest(STREAM_PATH, (b: Buffer) => b, (b: Buffer) => b, metadata, {})
  const answers: Buffer[] = []
  stream.on('data', (b: Buffer) => answers.push(b))
  stream.on('error', () => undefined)
  const ended = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve))
  return { client, signer, stream, answers, ended }
}

t.test('every frame is checked: a forged or replayed frame on an open stream runs nothing and ends it', async (t) => {
  const { seen, address } = await serve(t)
  const codec = new StreamCodec(fileURLToPath(new URL('../../proto/node.proto', import.meta.url)))
  const batch = codec.encodeBatch({ requests: [{ id: 1, peer: { kind: 'once', body: Buffer.alloc(0), ringVersion: 1, from: 'raw' } }] })

  const replayed = rawStream(address, SECRET)
  t.teardown(() => replayed.client.close())
  const frame = codec.encodeFrame({ batch, ...replayed.signer.sign(STREAM_PATH, batch) })
  replayed.stream.write(frame)
  await waitFor(() => replayed.answers.length > 0, { what: 'the answer' })
  t.equal(replayed.answers.length, 1, 'a signed frame is answered')
  replayed.stream.write(frame)
  t.match(await replayed.ended, { code: grpc.status.UNAUTHENTICATED, details: /replayed request/ }, 'the same frame again ends the stream')
  t.same(seen.calls, ['peer:once'], 'and ran nothing')

  const forged = rawStream(address, SECRET)
  t.teardown(() => forged.client.close())
  const other = new RequestSigner(rpcKey('another-secret-entirely-0123456789'), 'raw')
  forged.stream.write(codec.encodeFrame({ batch, ...other.sign(STREAM_PATH, batch) }))
  t.match(await forged.ended, { code: grpc.status.UNAUTHENTICATED, details: /bad signature/ }, 'a frame signed with another key ends it')

  const altered = rawStream(address, SECRET)
  t.teardown(() => altered.client.close())
  const signed = altered.signer.sign(STREAM_PATH, batch)
  const changed = codec.encodeBatch({ requests: [{ id: 1, peer: { kind: 'twice', body: Buffer.alloc(0), ringVersion: 1, from: 'raw' } }] })
  altered.stream.write(codec.encodeFrame({ batch: changed, ...signed }))
  t.match(await altered.ended, { code: grpc.status.UNAUTHENTICATED, details: /bad signature/ }, 'so does a frame whose requests were altered')
  t.same(seen.calls, ['peer:once'], 'nothing else ran')
  t.equal(seen.refused.length, 3, 'each refusal was reported')

  const stranger = rawStream(address, 'not-the-cluster-secret-at-all-0000')
  t.teardown(() => stranger.client.close())
  stranger.stream.write(frame)
  t.match(await stranger.ended, { code: grpc.status.UNAUTHENTICATED, details: /cluster credentials required/ }, 'a stream opened without the secret is refused before any frame')
})

t.test('a closing node answers what its streams were asked, then ends them', async (t) => {
  const { server, seen, address, release } = await serve(t)
  const peer = caller(t).peer(address)
  await peer.peer({ kind: 'warm', body: null, ringVersion: 1, from: 'caller' }, 5000)
  const slow = peer.call({ key: 'k', kind: 'slow', body: null, ringVersion: 1, from: 'caller' }, 10_000)
  await waitFor(() => seen.calls.includes('call:slow'), { what: 'the request at the server' })
  const closed = server.close()
  setTimeout(release, 200)
  t.same(await slow, { ok: true, body: { kind: 'slow', body: null } }, 'the request in flight was answered')
  await closed
  const err = await peer.call({ key: 'k', kind: 'after', body: null, ringVersion: 1, from: 'caller' }, 2000).catch((e: unknown) => e)
  t.match(err, { name: 'TransportError', code: 'UNAVAILABLE' }, 'and the closed node is unavailable')
})
