/**
 * What the logs may hold: lines about a client's request carry the node, the user and a request
 * id; no line ever holds message text, a password, a token or the cluster secret, even at the
 * most verbose level and when requests fail. A one-node cluster (NATS, replication) logs at
 * `trace` while clients sign up, send, fail in every way the gateway refuses, and read back.
 */
import t from 'tap'
import { SECRET } from '../helpers/cluster.js'
import { Device } from '../helpers/device.js'
import { startNats } from '../helpers/nats.js'
import { NodeProcess, api } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const TEXT = 'TEXT-4f2a9c-never-logged'
const PASSWORD = 'PASS-7d1e3b-never-logged'

t.test('log lines carry node, user and request id, and never text or secrets', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  const node = await NodeProcess.start(t, { id: 'logs1', nats: nats.url, secret: SECRET, args: ['--log-level', 'trace', '--replicas', '1', '--rate-limit', '1000'] })
  const tokens: string[] = []
  for (const u of ['lena', 'marc']) {
    t.equal((await api(node.url, 'POST', '/v1/users', { username: u, password: PASSWORD })).status, 201, `${u} signed up`)
    const s = await api(node.url, 'POST', '/v1/sessions', { username: u, password: PASSWORD })
    tokens.push(s.body.token)
  }
  t.equal((await api(node.url, 'POST', '/v1/sessions', { username: 'lena', password: `${PASSWORD}-wrong` })).status, 401, 'a failed login')
  const lena = await Device.open(t, node.wsUrl, tokens[0]!, 'phone')
  for (let i = 0; i < 20; i++) t.equal((await lena.send('dm:lena:marc', `${TEXT} ${i}`, `m${i}`)).op, 'ack')
  // Refusals of every kind, each carrying the text.
  t.equal((await lena.send('dm:lena:nobody', TEXT, 'x1')).code, 'NOT_FOUND')
  t.equal((await lena.send('g:nope', TEXT, 'x2')).op, 'error')
  t.equal((await lena.send('dm:lena:marc', `${TEXT}${'y'.repeat(100_001)}`, 'x3')).code, 'MESSAGE_TOO_LARGE')
  lena.raw(`{"op":"send","channel":"dm:lena:marc","text":"${TEXT} unterminated`)
  lena.raw(JSON.stringify({ op: 'bogus', text: TEXT }))
  t.equal((await lena.request({ op: 'history', channel: 'dm:lena:marc', limit: 50 })).op, 'history')
  // Edits carry text, searches carry words of it: neither is logged either.
  t.equal((await lena.request({ op: 'edit', channel: 'dm:lena:marc', seq: 1, text: `${TEXT} edited` })).op, 'ok')
  t.equal((await lena.request({ op: 'edit', channel: 'dm:lena:marc', seq: 999, text: `${TEXT} refused` })).code, 'NOT_FOUND')
  t.equal((await lena.request({ op: 'search', q: TEXT })).op, 'search')
  const marc = await Device.open(t, node.wsUrl, tokens[1]!, 'laptop')
  t.ok((await marc.syncAll(0)).length >= 20, 'marc syncs the messages')
  t.equal((await api(node.url, 'GET', `/v1/channels/dm:lena:marc/messages?limit=5&token=${tokens[0]}`, undefined, tokens[0])).status, 200)
  t.equal((await api(node.url, 'GET', `/ws?token=${tokens[0]}x`)).status, 401, 'a refused upgrade with a token in the URL')
  await waitFor(() => node.lines.some((l) => l.includes('"frame handled"')), { timeout: 5000, what: 'frame lines' })
  await node.stop()

  const lines = node.lines.filter((l) => l.startsWith('{'))
  t.ok(lines.length > 30, `the node logged (${lines.length} lines at trace)`)
  const leaks = (needle: string) => lines.filter((l) => l.includes(needle))
  t.same(leaks('TEXT-4f2a9c'), [], 'no line holds message text')
  t.same(leaks('PASS-7d1e3b'), [], 'no line holds a password')
  for (const token of tokens) t.same(leaks(token.slice(-24)), [], 'no line holds a token')
  t.same(leaks(SECRET), [], 'no line holds the cluster secret')

  const frames = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'frame handled' || l.msg === 'frames handled' || l.msg === 'frame refused')
  t.ok(frames.length >= 20, `a line per handled frame at debug level (${frames.length})`)
  t.ok(frames.every((l) => l.node === 'logs1' && typeof l.user === 'string' && typeof l.req === 'string' && l.req.length > 0), 'each carries node, user and a request id')
  t.equal(new Set(frames.map((l) => l.req)).size, frames.length, 'request ids differ')
  const http = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request handled')
  t.ok(http.some((l) => l.user === 'lena' && l.reqId !== undefined && l.node === 'logs1'), 'HTTP lines carry node, user and request id')
})
