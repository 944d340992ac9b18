/**
 * Safety across a real 3-node cluster: a logout made through one node closes, within 2 s and with
 * 4401, a socket held by another node than the one that owns the user; failed logins count for a
 * username across every node; and the gRPC port does nothing for a caller without the cluster's
 * credentials (no signature, a wrong secret, a replayed or stale request: UNAUTHENTICATED, and
 * nothing is stored).
 */
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import t from 'tap'
import { AUTH_HEADERS, RequestSigner, rpcKey } from '../../src/cluster/rpc-auth.js'
import { Ring } from '../../src/cluster/ring.js'
import { SECRET, TestCluster } from '../helpers/cluster.js'
import { Device } from '../helpers/device.js'
import { ROOT, api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const cluster = await TestCluster.start(t, { nodes: 3 })
const [n1, n2, n3] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]]

/** A username whose user actor is owned by `node`. */
async function ownedBy(node: string, prefix: string): Promise<string> {
  const view = await (await fetch(`${n1.url}/v1/cluster`)).json() as { ringVersion: number; members: Array<{ id: string; http: string; grpc: string; live: boolean }> }
  const ring = new Ring({ version: view.ringVersion, members: view.members.map((m) => ({ id: m.id, http: m.http, grpc: m.grpc })) })
  for (let i = 0; i < 1000; i++) if (ring.owner(`user:${prefix}${i}`, () => true, 3) === node) return `${prefix}${i}`
  throw new Error(`no name owned by ${node}`)
}

t.test('a logout through one node closes the socket on another, whichever node owns the user', async (t) => {
  const user = await ownedBy('n1', 'cross_')
  const onN2 = await login(n2.url, user, 'phone')
  const onN3 = await login(n3.url, user, 'laptop')
  const phone = await Device.open(t, n2.wsUrl, onN2, 'phone')
  const laptop = await Device.open(t, n2.wsUrl, onN3, 'laptop')
  const at = Date.now()
  t.equal((await api(n3.url, 'DELETE', '/v1/sessions/current', undefined, onN2)).status, 204, 'logged out through n3')
  await waitFor(() => phone.closed, { timeout: 5000, what: 'the phone socket on n2 closes' })
  t.equal(phone.closed!.code, 4401)
  t.ok(Date.now() - at < 2000, `within 2 s (${Date.now() - at} ms)`)
  for (const n of [n1, n2, n3]) t.equal((await api(n.url, 'GET', '/v1/me', undefined, onN2)).status, 401, `refused on ${n.id}`)
  t.equal(laptop.closed, null, 'the other token is still good')
  const at2 = Date.now()
  t.equal((await api(n1.url, 'DELETE', '/v1/sessions', undefined, onN3)).status, 204, 'log out everywhere, through n1')
  await waitFor(() => laptop.closed, { timeout: 5000, what: 'the laptop socket on n2 closes' })
  t.equal(laptop.closed!.code, 4401)
  t.ok(Date.now() - at2 < 2000, `within 2 s (${Date.now() - at2} ms)`)
})

t.test('failed logins for a username count on every node', async (t) => {
  const user = await ownedBy('n2', 'guess_')
  t.equal((await api(n1.url, 'POST', '/v1/users', { username: user, password: 'password-123' })).status, 201)
  const nodes = [n1, n2, n3]
  for (let i = 0; i < 10; i++) t.equal((await api(nodes[i % 3]!.url, 'POST', '/v1/sessions', { username: user, password: 'wrong-one' })).status, 401)
  for (const n of nodes) {
    const r = await api(n.url, 'POST', '/v1/sessions', { username: user, password: 'password-123' })
    t.equal(r.status, 429, `throttled on ${n.id} too`)
  }
})

// ---- the gRPC port ----

const proto = protoLoader.loadSync(fileURLToPath(new URL('proto/node.proto', `file://${ROOT}/`)), { keepCase: false, longs: Number, defaults: false, oneofs: false })
const methods = proto['chat.cluster.v1.Node'] as unknown as Record<'Call' | 'Push', grpc.MethodDefinition<object, object>>
const client = new grpc.Client(n1.ready!.grpc!, grpc.credentials.createInsecure())
t.teardown(() => client.close())

function rawCall(method: grpc.MethodDefinition<object, object>, bytes: Buffer, metadata = new grpc.Metadata()): Promise<{ code: number; value?: any }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(method.path, (b: Buffer) => b, method.responseDeserialize, bytes, metadata, { deadline: Date.now() + 5000 },
      (err, value) => resolve(err ? { code: err.code } : { code: grpc.status.OK, value }))
  })
}

function signed(signer: RequestSigner, method: grpc.MethodDefinition<object, object>, bytes: Buffer): grpc.Metadata {
  const h = signer.sign(method.path, bytes)
  const md = new grpc.Metadata()
  for (const k of Object.keys(AUTH_HEADERS) as Array<keyof typeof AUTH_HEADERS>) md.set(AUTH_HEADERS[k], h[k])
  return md
}

t.test('a gRPC call without the cluster credentials is UNAUTHENTICATED and changes nothing', async (t) => {
  const view = await (await fetch(`${n1.url}/v1/cluster`)).json() as { ringVersion: number }
  const intruder = await ownedBy('n1', 'intruder_')
  const signup = Buffer.from(methods.Call.requestSerialize({
    key: `user:${intruder}`, kind: 'signup', ringVersion: view.ringVersion, from: 'n2',
    body: Buffer.from(JSON.stringify({ kind: 'signup', passwordHash: 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', displayName: 'x' })),
  }))
  t.equal((await rawCall(methods.Call, signup)).code, grpc.status.UNAUTHENTICATED, 'no credentials: UNAUTHENTICATED')
  const wrong = new RequestSigner(rpcKey('not-the-cluster-secret-at-all'), 'n2')
  t.equal((await rawCall(methods.Call, signup, signed(wrong, methods.Call, signup))).code, grpc.status.UNAUTHENTICATED, 'a wrong secret: UNAUTHENTICATED')
  const stale = new RequestSigner(rpcKey(SECRET), 'n2', () => Date.now() - 120_000)
  t.equal((await rawCall(methods.Call, signup, signed(stale, methods.Call, signup))).code, grpc.status.UNAUTHENTICATED, 'a stale timestamp: UNAUTHENTICATED')
  const right = new RequestSigner(rpcKey(SECRET), 'n2')
  const md = signed(right, methods.Call, signup)
  const other = Buffer.from(methods.Call.requestSerialize({ key: `user:${intruder}x`, kind: 'signup', ringVersion: view.ringVersion, from: 'n2' }))
  t.equal((await rawCall(methods.Call, other, md)).code, grpc.status.UNAUTHENTICATED, 'a signature over other bytes: UNAUTHENTICATED')
  const login = await api(n1.url, 'POST', '/v1/sessions', { username: intruder, password: 'whatever-123' })
  t.equal(login.status, 401, 'nothing was stored: the user does not exist')
  t.equal((await api(n1.url, 'POST', '/v1/users', { username: intruder, password: 'password-123' })).status, 201, 'the name is still free')

  const push = Buffer.from(methods.Push.requestSerialize({ pushes: [] }))
  const once = signed(right, methods.Push, push)
  t.equal((await rawCall(methods.Push, push, once)).code, grpc.status.OK, 'a properly signed call is served')
  t.equal((await rawCall(methods.Push, push, once)).code, grpc.status.UNAUTHENTICATED, 'the same call replayed is refused')
  const m = await (await fetch(`${n1.url}/metrics`)).text()
  t.match(m, /chat_bound_hits_total\{bound="grpc_unauthenticated"\} [1-9]/, 'refusals are counted')
  t.match(n1.log, /refused a node-to-node call without valid cluster credentials/, 'and logged')
})
