/**
 * The node-to-node protocol version (src/cluster/protocol-version.ts): every gRPC call carries the
 * caller's range of versions; a node refuses a caller it shares none with, changing nothing, and
 * says so with a clear log line and a metric. Checked in-process on the transport, then against a
 * real cluster node called by a client that claims to be an older and a newer release.
 */
import t from 'tap'
import { OWN_PROTOCOL, compatible } from '../../src/cluster/protocol-version.js'
import { GrpcTransport, type IncompatiblePeer } from '../../src/cluster/transport-grpc.js'
import type { TransportHandlers } from '../../src/cluster/transport.js'
import { SECRET } from '../helpers/cluster.js'
import { startNats } from '../helpers/nats.js'
import { NodeProcess } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

t.test('ranges are compatible when they overlap', async (t) => {
  t.ok(compatible({ version: 2, min: 2 }, { version: 2, min: 2 }), 'same release')
  t.ok(compatible({ version: 3, min: 2 }, { version: 2, min: 2 }), 'a newer release that still speaks this one')
  t.ok(compatible({ version: 2, min: 2 }, { version: 3, min: 2 }), '... seen from either side')
  t.notOk(compatible({ version: 4, min: 3 }, { version: 2, min: 2 }), 'a release that dropped this one')
  t.notOk(compatible({ version: 0, min: 0 }, OWN_PROTOCOL), 'a node from before versions (no header)')
})

t.test('the transport refuses a caller with no common version before its handler runs', async (t) => {
  let handled = 0
  const handlers: TransportHandlers = {
    call: async () => { handled++; return { ok: true, body: null } },
    callMany: async (req) => { handled++; return req.keys.map(() => ({ ok: true as const, body: null })) },
    push: async () => { handled++ },
    peer: async () => { handled++; return { ok: true, body: 'yes' } },
  }
  const refused: IncompatiblePeer[] = []
  // Every transport signs with the cluster secret, as nodes do: the version is checked after the credentials.
  const auth = (self: string) => ({ auth: { secret: SECRET, self } })
  const server = new GrpcTransport({ ...auth('n1'), onIncompatible: (e) => refused.push(e) })
  const port = await server.listen('127.0.0.1', 0, handlers)
  const future = new GrpcTransport({ ...auth('n9'), protocol: { version: 9, min: 9 } })
  const same = new GrpcTransport(auth('n2'))
  t.teardown(() => Promise.all([server.close(), future.close(), same.close()]))
  const address = `127.0.0.1:${port}`
  const req = { kind: 'x', body: 1, ringVersion: 1, from: 'n9' }
  await t.rejects(future.peer(address).peer(req, 2000), { name: 'TransportError', code: 'INCOMPATIBLE' }, 'refused as INCOMPATIBLE')
  await t.rejects(future.peer(address).push({ pushes: [] }, 2000), { code: 'INCOMPATIBLE' }, 'every rpc is checked')
  t.equal(handled, 0, 'the handler never ran')
  t.match(refused[0], { peer: 'n9', peerVersion: 9, peerMin: 9, direction: 'incoming' }, 'the refusal names the caller and its versions')
  t.same(await same.peer(address).peer(req, 2000), { ok: true, body: 'yes' }, 'a caller of the same release is answered')
})

t.test('a real node refuses an incompatible peer with a log line and a metric', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  const node = await NodeProcess.start(t, { id: 'pv1', nats: nats.url, secret: SECRET, args: ['--heartbeat-ms', '200', '--dead-after-ms', '1000'] })
  const old = new GrpcTransport({ auth: { secret: SECRET, self: 'old-node' }, protocol: { version: 1, min: 1 } })
  t.teardown(() => old.close())
  const call = { key: 'user:x', kind: 'wake', body: { kind: 'wake' }, ringVersion: 1, from: 'old-node' }
  await t.rejects(old.peer(node.ready!.grpc!).call(call, 3000), { code: 'INCOMPATIBLE' }, 'an older release is refused')
  await t.rejects(old.peer(node.ready!.grpc!).call(call, 3000), { code: 'INCOMPATIBLE' }, 'every time')
  const line = await waitFor(() => node.lines.find((l) => l.includes('incompatible node protocol')), { timeout: 5000, what: 'the log line' })
  const entry = JSON.parse(line)
  t.match(entry, { level: 50, node: 'pv1', peer: 'old-node', peerProtocol: 1, protocol: OWN_PROTOCOL.version }, 'one error line naming both sides and their versions')
  t.match(entry.msg, new RegExp(`refused a call from a node speaking an incompatible node protocol \\(1\\.\\.1; this node ${OWN_PROTOCOL.min}\\.\\.${OWN_PROTOCOL.version}\\); upgrade it`))
  t.equal(node.lines.filter((l) => l.includes('incompatible node protocol')).length, 1, 'repeated refusals of one peer are logged once a minute, not per call')
  const metrics = await (await fetch(`${node.url}/metrics`)).text()
  t.match(metrics, /chat_peer_incompatible_total\{peer="old-node"\} 2/, 'and counted every time')
  t.match(metrics, new RegExp(`chat_node_info\\{version="[^"]+",protocol="${OWN_PROTOCOL.version}",fsync="never"\\} 1`), 'the node reports the versions it speaks')
})

t.test('credentials come first: an unsigned caller is UNAUTHENTICATED whatever version it claims, and counts as no peer', async (t) => {
  const refused: IncompatiblePeer[] = []
  const reasons: string[] = []
  let handled = 0
  const handlers: TransportHandlers = {
    call: async () => { handled++; return { ok: true, body: null } },
    callMany: async (req) => { handled++; return req.keys.map(() => ({ ok: true as const, body: null })) },
    push: async () => { handled++ },
    peer: async () => { handled++; return { ok: true, body: 'yes' } },
  }
  const server = new GrpcTransport({ auth: { secret: SECRET, self: 'n1' }, onIncompatible: (e) => refused.push(e), onRefused: (r) => reasons.push(r) })
  const port = await server.listen('127.0.0.1', 0, handlers)
  const unsigned = new GrpcTransport({ protocol: { version: 1, min: 1 } })
  t.teardown(() => Promise.all([server.close(), unsigned.close()]))
  const req = { kind: 'x', body: 1, ringVersion: 1, from: 'forged-name' }
  await t.rejects(unsigned.peer(`127.0.0.1:${port}`).peer(req, 2000), { code: 'UNAVAILABLE', message: /cluster credentials required.*claims node protocol 1\.\.1/ })
  t.equal(handled, 0, 'the handler never ran')
  t.same(refused, [], 'no incompatible peer is reported in a name nobody proved')
  t.match(reasons, [new RegExp(`no cluster credentials; the caller claims node protocol 1\\.\\.1, this node speaks ${OWN_PROTOCOL.min}\\.\\.${OWN_PROTOCOL.version}`)], 'the refusal line says what the caller claims to speak')
})
