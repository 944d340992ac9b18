/**
 * Abuse limits on logins and sign-ups (PROTOCOL.md 4.2): 10 failed logins for one username within
 * 5 minutes make its logins answer 429 RATE_LIMITED with Retry-After, even with the right
 * password, for existing and unknown names alike; per-address limits with an allow list
 * (loopback by default, so this very test signs up freely on the other nodes); and a bounded
 * hasher that refuses at once with 503 and Retry-After when full.
 */
import t from 'tap'
import { NodeProcess, api } from '../helpers/node-process.js'

// Five node processes and dozens of password hashes, one after another: on a busy 2-core machine
// this file ran past the default 120 s.
t.setTimeout(240_000)

const PASSWORD = 'password-123'

t.test('10 failed logins for a username: 429 with Retry-After, whatever the password', async (t) => {
  const node = await NodeProcess.start(t)
  t.equal((await api(node.url, 'POST', '/v1/users', { username: 'victim', password: PASSWORD })).status, 201)
  t.equal((await api(node.url, 'POST', '/v1/users', { username: 'bystander', password: PASSWORD })).status, 201)
  // In parallel: the attempts in flight count too, so none slips past the limit.
  const guesses = await Promise.all(Array.from({ length: 14 }, (_, i) => api(node.url, 'POST', '/v1/sessions', { username: 'victim', password: `guess-${i}-xx` })))
  const statuses = guesses.map((g) => g.status)
  t.equal(statuses.filter((s) => s === 401).length, 10, `exactly 10 guesses were checked (${statuses.join(',')})`)
  t.equal(statuses.filter((s) => s === 429).length, 4, 'the rest were refused')
  const right = await api(node.url, 'POST', '/v1/sessions', { username: 'victim', password: PASSWORD })
  t.equal(right.status, 429, 'the right password is refused too until the window passes')
  t.equal(right.body.error.code, 'RATE_LIMITED')
  const res = await fetch(`${node.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'victim', password: PASSWORD }) })
  const retryAfter = Number(res.headers.get('retry-after'))
  t.ok(retryAfter > 200 && retryAfter <= 300, `Retry-After in seconds until the oldest failure leaves the 5-minute window (${retryAfter})`)
  t.equal((await api(node.url, 'POST', '/v1/sessions', { username: 'bystander', password: PASSWORD })).status, 200, 'another username is not affected')

  for (let i = 0; i < 10; i++) await api(node.url, 'POST', '/v1/sessions', { username: 'nobody_here', password: `guess-${i}-xx` })
  const unknown = await api(node.url, 'POST', '/v1/sessions', { username: 'nobody_here', password: PASSWORD })
  t.equal(unknown.status, 429, 'an unknown username is throttled alike (the 429 does not tell which names exist)')
  const m = await (await fetch(`${node.url}/metrics`)).text()
  t.match(m, /chat_bound_hits_total\{bound="login_throttle"\} [1-9]/, 'counted in the metric')
})

t.test('a success clears the count; the failures survive a restart', async (t) => {
  const node = await NodeProcess.start(t)
  await api(node.url, 'POST', '/v1/users', { username: 'forgetful', password: PASSWORD })
  for (let i = 0; i < 9; i++) t.equal((await api(node.url, 'POST', '/v1/sessions', { username: 'forgetful', password: 'wrong-pass' })).status, 401)
  t.equal((await api(node.url, 'POST', '/v1/sessions', { username: 'forgetful', password: PASSWORD })).status, 200, 'the 10th try, right, logs in')
  for (let i = 0; i < 9; i++) t.equal((await api(node.url, 'POST', '/v1/sessions', { username: 'forgetful', password: 'wrong-pass' })).status, 401, 'the count started again')
  await api(node.url, 'POST', '/v1/sessions', { username: 'forgetful', password: 'wrong-pass' })
  await node.stop()
  await node.launch()
  t.equal((await api(node.url, 'POST', '/v1/sessions', { username: 'forgetful', password: PASSWORD })).status, 429, 'still throttled after a restart (the count is stored)')
})

t.test('per-address limits on sign-ups and logins, with an allow list', async (t) => {
  // Loopback taken off the allow list: this test's own address is limited.
  const strict = await NodeProcess.start(t, { args: ['--auth-allow', '192.0.2.1', '--auth-rate-limit', '6', '--auth-rate-burst', '3'] })
  const answers = []
  for (let i = 0; i < 5; i++) answers.push(await api(strict.url, 'POST', '/v1/users', { username: `addr_${i}`, password: PASSWORD }))
  t.same(answers.map((a) => a.status), [201, 201, 201, 429, 429], 'the burst passes, then 429')
  t.equal(answers[3]!.body.error.code, 'RATE_LIMITED')
  const login = await fetch(`${strict.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'addr_0', password: PASSWORD }) })
  t.equal(login.status, 429, 'logins share the budget')
  t.ok(Number(login.headers.get('retry-after')) >= 1, 'with Retry-After')
  const defaults = await NodeProcess.start(t, { args: ['--auth-rate-limit', '6', '--auth-rate-burst', '3'] })
  for (let i = 0; i < 8; i++) t.equal((await api(defaults.url, 'POST', '/v1/users', { username: `loop_${i}`, password: PASSWORD })).status, 201, 'loopback is on the default allow list')
})

t.test('password hashing is bounded: past the bound, 503 at once with Retry-After', async (t) => {
  const node = await NodeProcess.start(t, { args: ['--hash-concurrency', '1', '--hash-queue', '1'] })
  t.equal((await api(node.url, 'POST', '/v1/users', { username: 'hashy', password: PASSWORD })).status, 201)
  const started = Date.now()
  const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => fetch(`${node.url}/v1/sessions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `someone_${i}`, password: PASSWORD }),
  }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), ms: Date.now() - started }))))
  const refused = burst.filter((b) => b.status === 503)
  t.ok(refused.length >= 6, `most of 12 parallel logins are refused (${burst.map((b) => b.status).join(',')})`)
  t.ok(refused.every((b) => b.retryAfter === '1'), 'with Retry-After: 1')
  t.ok(burst.filter((b) => b.status === 401).length >= 1, 'those admitted are answered')
  t.equal((await api(node.url, 'POST', '/v1/sessions', { username: 'hashy', password: PASSWORD })).status, 200, 'once the burst is over, logins work')
  const m = await (await fetch(`${node.url}/metrics`)).text()
  t.match(m, /chat_bound_hits_total\{bound="hash_queue"\} [1-9]/, 'refusals are counted')
  t.match(m, /chat_password_hash_waiting 0/, 'the queue gauge is back at 0')
})
