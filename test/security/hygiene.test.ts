/**
 * Operating safety of one node: `/v1/internal/*` needs the admin token (401; 404 when none is
 * set); the data dir is 0700 and its files 0600; `--secret-file` signs tokens without the secret
 * on the command line; error replies never echo long inputs or internal error text; an oversize
 * frame is one warning line, not a stack trace; display names refuse control and bidi characters.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Tokens } from '../../src/gateway/tokens.js'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const ADMIN = 'hygiene-admin-token-0123456789'
const scratch = mkdtempSync(join(tmpdir(), 'chat-hygiene-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
const secretFile = join(scratch, 'secret')
writeFileSync(secretFile, 'a-secret-read-from-a-file-0123\n')
const node = await NodeProcess.start(t, { args: ['--admin-token', ADMIN, '--secret-file', secretFile] })

t.test('/v1/internal/* answers only with the admin token', async (t) => {
  const path = '/v1/internal/replica?key=user:x'
  t.equal((await api(node.url, 'GET', path)).status, 401, 'no token: 401')
  t.equal((await api(node.url, 'GET', path, undefined, 'not-the-admin-token')).status, 401, 'a wrong token: 401')
  const user = await login(node.url, 'hyg_user')
  t.equal((await api(node.url, 'GET', path, undefined, user)).status, 401, "a user's token: 401")
  t.equal((await api(node.url, 'GET', path, undefined, ADMIN)).status, 404, 'the admin token reaches the route (a standalone node has no replicas: 404)')
  const plain = await NodeProcess.start(t)
  const off = await api(plain.url, 'GET', path, undefined, ADMIN)
  t.equal(off.status, 404, 'without --admin-token the routes are off: 404')
  t.match(off.body.error.message, /no route/, 'as if they did not exist')
})

t.test('data dir 0700, files 0600; --secret-file signs tokens', async (t) => {
  t.equal(statSync(node.dataDir).mode & 0o777, 0o700, 'the data dir is 0700')
  const files = readdirSync(node.dataDir).map((f) => join(node.dataDir, f)).filter((f) => statSync(f).isFile())
  t.ok(files.length > 0)
  for (const f of files) t.equal(statSync(f).mode & 0o077, 0, `${f.split('/').pop()} is private to its owner`)
  const token = await login(node.url, 'hyg_secret')
  t.ok(new Tokens('a-secret-read-from-a-file-0123', 30 * 86_400_000).verify(token), 'tokens are signed with the secret from the file')
  t.notOk(node.log.includes('a-secret-read-from-a-file'), 'the secret is not in the log')
})

t.test('error replies never echo long inputs or internal error text', async (t) => {
  const token = await login(node.url, 'hyg_errors')
  const long = 'Z'.repeat(5000)
  const answers = [
    await api(node.url, 'GET', `/v1/channels/${encodeURIComponent(`x:${long.slice(0, 200)}`)}/messages`, undefined, token),
    await api(node.url, 'GET', `/v1/nope/${long}`),
    await api(node.url, 'POST', '/v1/friends', { username: long.slice(0, 60) }, token),
    await api(node.url, 'POST', '/v1/groups/not-a-group-id-at-all-but-quite-long-indeed/members', { username: 'x' }, token),
  ]
  // A body nested deeper than the parser's stack: once answered with "Maximum call stack size exceeded".
  const deep = await fetch(`${node.url}/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '['.repeat(200_000) + ']'.repeat(200_000) })
  answers.push({ status: deep.status, body: await deep.json(), text: '' })
  const junk = await fetch(`${node.url}/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"username": "${long}` })
  answers.push({ status: junk.status, body: await junk.json(), text: '' })
  for (const a of answers) {
    t.ok(a.status >= 400 && a.status < 500, `a 4xx (${a.status})`)
    const message: string = a.body.error.message
    t.ok(message.length <= 210, `a short message (${message.length} chars): ${message.slice(0, 80)}`)
    t.notMatch(message, /ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ/, 'no long echo of the input')
    t.notMatch(message, /RangeError|SyntaxError|stack|Unexpected token|at position/i, 'no internal error text')
  }
  const d = await Device.open(t, node.wsUrl, token, 'w')
  d.raw(JSON.stringify({ op: long, ref: 'op' }))
  const e1 = await d.waitPush((f) => f.op === 'error')
  t.ok(e1.message.length < 120, `unknown op: short message (${e1.message})`)
  const e2 = await d.request({ op: 'send', channel: `dm:${long}`, clientMsgId: 'x', text: 'x' })
  t.ok(e2.message.length < 120, `bad channel: short message (${e2.message})`)
})

t.test('an oversize frame is one warning per connection, no stack trace', async (t) => {
  const token = await login(node.url, 'hyg_big')
  for (let i = 0; i < 3; i++) {
    const d = await Device.open(t, node.wsUrl, token, `big${i}`)
    d.raw('x'.repeat(2 * 1024 * 1024 + 100))
    await waitFor(() => d.closed, { what: 'closed' })
    t.equal(d.closed!.code, 1009)
  }
  await waitFor(() => node.lines.filter((l) => l.includes('frame over the size limit')).length >= 3, { what: 'three warnings' })
  const warnings = node.lines.filter((l) => l.includes('frame over the size limit'))
  t.equal(warnings.length, 3, 'one line per connection')
  t.ok(warnings.every((l) => JSON.parse(l).level === 40), 'at warn level')
  t.notOk(node.lines.some((l) => /Max payload size exceeded|"stack"/.test(l)), 'no error with a stack trace in the log')
})

t.test('display names refuse control and bidi override characters', async (t) => {
  const token = await login(node.url, 'hyg_names')
  for (const bad of ['evil\u202Egnp.exe', 'a\u0000b', 'line\nbreak', 'bell\u0007', 'iso\u2066late', 'mark\u200F']) {
    const r = await api(node.url, 'PATCH', '/v1/me', { displayName: bad }, token)
    t.equal(r.status, 400, `PATCH ${JSON.stringify(bad)}: 400`)
    const s = await api(node.url, 'POST', '/v1/users', { username: `hyg_n${bad.length}${bad.charCodeAt(3)}`, password: 'password-123', displayName: bad })
    t.equal(s.status, 400, `sign-up with ${JSON.stringify(bad)}: 400`)
  }
  for (const good of ['Zoë 👩‍👩‍👧', 'Ада', 'محمد', '李']) {
    t.equal((await api(node.url, 'PATCH', '/v1/me', { displayName: good }, token)).status, 200, `${good} is fine`)
  }
})
