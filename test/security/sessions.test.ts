/**
 * Sessions and safety on one node (PROTOCOL.md 4.2): logging out one token or all of them refuses
 * the token everywhere and closes its sockets with 4401 within 2 s; a token's expiry closes its
 * socket with 4401 within 2 s; a user may keep at most --max-devices sockets (one more: 4429).
 */
import type { ErrorMatch } from '@tapjs/asserts'
import t from 'tap'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const node = await NodeProcess.start(t, { args: ['--max-devices', '3'] })

/** Waits for `d` to be closed and says within how many ms of `since`. */
async function closedWithin(d: Device, since: number, what: string): Promise<{ code: number; ms: number }> {
  await waitFor(() => d.closed, { timeout: 5000, what })
  return { code: d.closed!.code, ms: Date.now() - since }
}

/**
 * The rejection of a socket the server closed carries `closeCode`. tap matches any field of a
 * rejection, but its types list only message, name, code, cause and errors.
 */
const closedWith = (closeCode: number) => ({ closeCode }) as unknown as ErrorMatch

t.test('DELETE /v1/sessions/current revokes that token only and closes its sockets with 4401', async (t) => {
  const phone = await login(node.url, 'rev_alice', 'phone')
  const laptop = await login(node.url, 'rev_alice', 'laptop')
  const p = await Device.open(t, node.wsUrl, phone, 'phone')
  const l = await Device.open(t, node.wsUrl, laptop, 'laptop')
  t.equal((await api(node.url, 'DELETE', '/v1/sessions/current')).status, 401, 'needs a token')
  const at = Date.now()
  const res = await api(node.url, 'DELETE', '/v1/sessions/current', undefined, phone)
  t.equal(res.status, 204, '204')
  t.equal(res.text, '', 'no body')
  const closed = await closedWithin(p, at, 'the phone socket closes')
  t.equal(closed.code, 4401, 'closed with 4401')
  t.ok(closed.ms < 2000, `within 2 s (${closed.ms} ms)`)
  t.equal((await api(node.url, 'GET', '/v1/me', undefined, phone)).status, 401, 'the revoked token is refused over HTTP')
  t.equal((await api(node.url, 'DELETE', '/v1/sessions/current', undefined, phone)).status, 401, 'and cannot log out twice')
  await t.rejects(Device.open(t, node.wsUrl, phone, 'phone-again'), closedWith(4401), 'a new socket with it is closed with 4401')
  t.equal(l.closed, null, 'the laptop socket stays open')
  t.match(await l.request({ op: 'ping' }), { op: 'pong' }, 'and works')
  t.equal((await api(node.url, 'GET', '/v1/me', undefined, laptop)).status, 200, 'the laptop token still works')
})

t.test('DELETE /v1/sessions revokes every token of the user and closes all their sockets', async (t) => {
  const a = await login(node.url, 'rev_bob', 'a')
  const b = await login(node.url, 'rev_bob', 'b')
  const other = await login(node.url, 'rev_carol', 'c')
  const da = await Device.open(t, node.wsUrl, a, 'a')
  const db = await Device.open(t, node.wsUrl, b, 'b')
  const dc = await Device.open(t, node.wsUrl, other, 'c')
  const at = Date.now()
  t.equal((await api(node.url, 'DELETE', '/v1/sessions', undefined, a)).status, 204)
  for (const [d, what] of [[da, 'the token that asked'], [db, 'another token']] as const) {
    const closed = await closedWithin(d, at, what)
    t.equal(closed.code, 4401, `${what}: closed with 4401`)
    t.ok(closed.ms < 2000, `${what}: within 2 s (${closed.ms} ms)`)
  }
  t.equal((await api(node.url, 'GET', '/v1/me', undefined, a)).status, 401, 'every old token is refused')
  t.equal((await api(node.url, 'GET', '/v1/me', undefined, b)).status, 401)
  const fresh = await login(node.url, 'rev_bob', 'new')
  t.equal((await api(node.url, 'GET', '/v1/me', undefined, fresh)).status, 200, 'a new login works')
  t.equal(dc.closed, null, "another user's socket is untouched")
})

t.test('an expired token closes its socket with 4401 within 2 s of the expiry', async (t) => {
  const short = await NodeProcess.start(t, { args: ['--token-ttl-ms', '3000'] })
  const token = await login(short.url, 'exp_dave')
  // The expiry the node wrote into the token (logging in may itself take a while on a busy machine).
  const { exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }
  const d = await Device.open(t, short.wsUrl, token, 'd1', 500)
  t.match(await d.request({ op: 'ping' }), { op: 'pong' }, 'works while fresh')
  await waitFor(() => d.closed, { timeout: 8000, what: 'the socket closes at expiry' })
  const lateBy = Date.now() - exp
  t.equal(d.closed!.code, 4401, 'closed with 4401')
  t.ok(lateBy < 2000, `within 2 s of the expiry (${lateBy} ms after it at most)`)
  t.equal((await api(short.url, 'GET', '/v1/me', undefined, token)).status, 401, 'refused over HTTP too')
})

t.test('at most --max-devices sockets per user; one more is closed with 4429', async (t) => {
  const token = await login(node.url, 'dev_erin')
  const open: Device[] = []
  for (let i = 0; i < 3; i++) open.push(await Device.open(t, node.wsUrl, token, `d${i}`))
  await t.rejects(Device.open(t, node.wsUrl, token, 'd3'), closedWith(4429), 'the fourth is closed with 4429')
  for (const d of open) t.equal(d.closed, null, 'the first three stay open')
  const other = await login(node.url, 'dev_frank')
  t.ok(await Device.open(t, node.wsUrl, other, 'f0'), 'another user is not affected')
  open[0]!.close()
  await waitFor(() => open[0]!.closed, { what: 'one device closed' })
  const again = await waitFor(() => Device.open(t, node.wsUrl, token, 'd4').catch(() => null), { timeout: 5000, what: 'a socket once one closed' })
  t.ok(again.ready, 'after one closes, another may open')
  const m = await (await fetch(`${node.url}/metrics`)).text()
  t.match(m, /chat_bound_hits_total\{bound="max_devices"\} [1-9]/, 'counted in the metric')
})
