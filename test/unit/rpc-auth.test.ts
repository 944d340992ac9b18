/**
 * Node-to-node request signatures (src/cluster/rpc-auth.ts): only the cluster secret makes a
 * signature the verifier accepts, over exactly the method, sender, time, nonce and bytes signed;
 * a request is accepted once, within the clock window.
 */
import t from 'tap'
import { CLOCK_WINDOW_MS, RequestSigner, RequestVerifier, rpcKey } from '../../src/cluster/rpc-auth.js'

const KEY = rpcKey('the-cluster-secret-0123456789')
const body = Buffer.from('{"kind":"signup"}')

t.test('a signed request verifies once; any change or a replay is refused', async (t) => {
  const signer = new RequestSigner(KEY, 'n1')
  const verifier = new RequestVerifier(KEY)
  const h = signer.sign('/chat.cluster.v1.Node/Call', body)
  t.same(verifier.verify('/chat.cluster.v1.Node/Call', h, body), { ok: true })
  t.match(verifier.verify('/chat.cluster.v1.Node/Call', h, body), { ok: false, reason: /replayed/ }, 'the same request again')
  const h2 = signer.sign('/chat.cluster.v1.Node/Call', body)
  t.match(verifier.verify('/chat.cluster.v1.Node/Peer', h2, body), { ok: false, reason: /signature/ }, 'another method')
  t.match(verifier.verify('/chat.cluster.v1.Node/Call', h2, Buffer.from('{"kind":"other"}')), { ok: false, reason: /signature/ }, 'other bytes')
  t.match(verifier.verify('/chat.cluster.v1.Node/Call', { ...h2, from: 'n2' }, body), { ok: false, reason: /signature/ }, 'another sender')
  t.match(verifier.verify('/chat.cluster.v1.Node/Call', { ...h2, ts: String(Number(h2.ts) + 1) }, body), { ok: false, reason: /signature/ }, 'another time')
  t.match(verifier.verify('/chat.cluster.v1.Node/Call', {}, body), { ok: false, reason: /no cluster credentials/ }, 'no credentials')
  t.same(verifier.verify('/chat.cluster.v1.Node/Call', h2, body), { ok: true }, 'the untouched request still verifies')
  const foreign = new RequestSigner(rpcKey('another-secret-0123456789'), 'n1')
  t.match(verifier.verify('/x', foreign.sign('/x', body), body), { ok: false, reason: /signature/ }, 'another secret')
})

t.test('the clock window and the nonce window', async (t) => {
  let now = 1_700_000_000_000
  const verifier = new RequestVerifier(KEY, () => now)
  const late = new RequestSigner(KEY, 'n1', () => now - CLOCK_WINDOW_MS - 1)
  t.match(verifier.verify('/x', late.sign('/x', body), body), { ok: false, reason: /clock window/ }, 'too old')
  const early = new RequestSigner(KEY, 'n1', () => now + CLOCK_WINDOW_MS + 1)
  t.match(verifier.verify('/x', early.sign('/x', body), body), { ok: false, reason: /clock window/ }, 'too far ahead')
  const signer = new RequestSigner(KEY, 'n1', () => now)
  const first = signer.sign('/x', body)
  const many = Array.from({ length: 70_000 }, () => signer.sign('/x', body))
  t.ok(many.every((h) => verifier.verify('/x', h, body).ok), '70,000 requests in a row verify')
  t.match(verifier.verify('/x', first, body), { ok: false, reason: /replayed/ }, 'a request older than the nonce window is refused even if unseen')
  now += 3 * CLOCK_WINDOW_MS
  t.match(verifier.verify('/x', many[0]!, body), { ok: false }, 'long after, old requests stay refused (by their time)')
  t.ok(verifier.verify('/x', signer.sign('/x', body), body).ok, 'new ones pass')
})
