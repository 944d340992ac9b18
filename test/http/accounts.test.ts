/**
 * Accounts on a node in the test process (its real gateway on a socket): POST /v1/users, POST /v1/sessions, GET and PATCH /v1/me with every
 * error the contract lists for them, and the password kept out of the log and the LevelDB files.
 * One node serves the whole file; the last test stops it to read its files.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { InProcessNode } from '../helpers/in-process.js'
import { Tokens } from '../../src/gateway/tokens.js'
import { api } from '../helpers/node-process.js'

const SECRET = 'accounts-test-secret-0123456789'
/** Distinctive, so that finding them anywhere is a leak and not a coincidence. */
const PASSWORD = 'Zebra-Quartz-4711-pw'
const WRONG_PASSWORD = 'Walrus-Ochre-0815-pw'
const DAYS_30 = 30 * 86_400_000

const node = await InProcessNode.start(t, { secret: SECRET, args: ['--log-level', 'debug'] })
const base = node.url

function error(t: Test, res: { status: number; body: any }, status: number, code: string, what: string): void {
  t.equal(res.status, status, `${what}: status ${status}`)
  t.equal(res.body?.error?.code, code, `${what}: code ${code}`)
  t.type(res.body?.error?.message, 'string', `${what}: has a message`)
}

t.test('POST /v1/users', async (t) => {
  const created = await api(base, 'POST', '/v1/users', { username: 'alice', password: PASSWORD, displayName: 'Alice Liddell' })
  t.equal(created.status, 201)
  t.same(created.body.user, { username: 'alice', displayName: 'Alice Liddell' })
  t.same(Object.keys(created.body).sort(), ['deviceId', 'token', 'user'], 'the new account is logged in: a session as a login answers')
  t.match(new Tokens(SECRET, DAYS_30).verify(created.body.token), { user: 'alice', device: created.body.deviceId })
  const me = await api(base, 'GET', '/v1/me', undefined, created.body.token)
  t.same(me.body, { user: { username: 'alice', displayName: 'Alice Liddell' } }, "the sign-up's token works")
  const plain = await api(base, 'POST', '/v1/users', { username: 'bob_2', password: PASSWORD, deviceId: 'bob-phone' })
  t.same(plain.body.user, { username: 'bob_2', displayName: 'bob_2' }, 'displayName defaults to the username')
  t.equal(plain.body.deviceId, 'bob-phone', 'the device id given is kept')
  t.equal((await api(base, 'POST', '/v1/users', { username: 'abc', password: '12345678' })).status, 201, 'shortest name and password')
  t.equal((await api(base, 'POST', '/v1/users', { username: 'a'.repeat(32), password: 'p'.repeat(256) })).status, 201, 'longest name and password')

  error(t, await api(base, 'POST', '/v1/users', { username: 'alice', password: 'other-password' }), 409, 'USERNAME_TAKEN', 'taken name')

  const bad: Array<[unknown, string]> = [
    [{ username: 'Alice', password: PASSWORD }, 'upper case'],
    [{ username: 'al', password: PASSWORD }, 'name too short'],
    [{ username: 'a'.repeat(33), password: PASSWORD }, 'name too long'],
    [{ username: 'al-ice', password: PASSWORD }, 'dash'],
    [{ username: 'al ice', password: PASSWORD }, 'space'],
    [{ username: 'carol', password: '1234567' }, 'password too short'],
    [{ username: 'carol', password: 'p'.repeat(257) }, 'password too long'],
    [{ username: 'carol' }, 'no password'],
    [{ password: PASSWORD }, 'no username'],
    [{ username: 5, password: PASSWORD }, 'username a number'],
    [{ username: ['carol'], password: PASSWORD }, 'username an array'],
    [{ username: 'carol', password: 12345678 }, 'password a number'],
    [{ username: 'carol', password: null }, 'password null'],
    [{ username: 'carol', password: PASSWORD, displayName: 7 }, 'displayName a number'],
    [{ username: 'carol', password: PASSWORD, displayName: '' }, 'displayName empty'],
    [{ username: 'carol', password: PASSWORD, displayName: 'x'.repeat(65) }, 'displayName too long'],
    [{ username: 'carol', password: PASSWORD, deviceId: 'no spaces' }, 'deviceId with a space'],
    [['carol', PASSWORD], 'an array body'],
    ['carol', 'a string body'],
    [null, 'a null body'],
  ]
  for (const [body, what] of bad) error(t, await api(base, 'POST', '/v1/users', body), 400, 'BAD_REQUEST', what)
  t.equal((await api(base, 'POST', '/v1/sessions', { username: 'carol', password: PASSWORD })).status, 401, 'no bad request created carol')
})

t.test('POST /v1/users with broken bodies', async (t) => {
  const raw = async (body: string | undefined, type?: string) => {
    const res = await fetch(`${base}/v1/users`, { method: 'POST', headers: type ? { 'content-type': type } : {}, body })
    return { status: res.status, body: await res.json().catch(() => null) }
  }
  error(t, await raw('{"username": "dan", "password": ', 'application/json'), 400, 'BAD_REQUEST', 'truncated JSON')
  error(t, await raw('', 'application/json'), 400, 'BAD_REQUEST', 'empty JSON body')
  error(t, await raw(undefined), 400, 'BAD_REQUEST', 'no body')
  error(t, await raw('username=dan&password=12345678', 'application/x-www-form-urlencoded'), 400, 'BAD_REQUEST', 'a form body')
  const huge = JSON.stringify({ username: 'dan', password: PASSWORD, displayName: 'x'.repeat(1024 * 1024) })
  error(t, await raw(huge, 'application/json'), 413, 'PAYLOAD_TOO_LARGE', 'a body over 1 MiB')
})

t.test('POST /v1/sessions', async (t) => {
  const res = await api(base, 'POST', '/v1/sessions', { username: 'alice', password: PASSWORD, deviceId: 'phone-1' })
  t.equal(res.status, 200)
  t.same(Object.keys(res.body).sort(), ['deviceId', 'token', 'user'])
  t.same(res.body.user, { username: 'alice', displayName: 'Alice Liddell' })
  t.equal(res.body.deviceId, 'phone-1')
  t.match(new Tokens(SECRET, DAYS_30).verify(res.body.token), { user: 'alice', device: 'phone-1' }, 'the token is signed with --secret and names user and device')
  const claims = new Tokens(SECRET, DAYS_30).verify(res.body.token)!
  const days = (claims.exp - Date.now()) / 86_400_000
  t.ok(days > 29.9 && days <= 30, `the token lives 30 days by default (${days.toFixed(3)})`)

  const noDevice = await api(base, 'POST', '/v1/sessions', { username: 'alice', password: PASSWORD })
  t.equal(noDevice.status, 200)
  t.type(noDevice.body.deviceId, 'string', 'a device id is assigned when none is given')
  t.ok(noDevice.body.deviceId.length > 0)

  error(t, await api(base, 'POST', '/v1/sessions', { username: 'alice', password: WRONG_PASSWORD }), 401, 'UNAUTHORIZED', 'wrong password')
  error(t, await api(base, 'POST', '/v1/sessions', { username: 'nobody', password: PASSWORD }), 401, 'UNAUTHORIZED', 'unknown user')
  error(t, await api(base, 'POST', '/v1/sessions', { username: 'NOT VALID', password: PASSWORD }), 401, 'UNAUTHORIZED', 'impossible username')
  error(t, await api(base, 'POST', '/v1/sessions', { username: 'alice' }), 400, 'BAD_REQUEST', 'no password')
  error(t, await api(base, 'POST', '/v1/sessions', { username: 1, password: PASSWORD }), 400, 'BAD_REQUEST', 'username a number')
  error(t, await api(base, 'POST', '/v1/sessions', { username: 'alice', password: PASSWORD, deviceId: 'bad device!' }), 400, 'BAD_REQUEST', 'bad deviceId')
  error(t, await api(base, 'POST', '/v1/sessions', { username: 'alice', password: PASSWORD, deviceId: 42 }), 400, 'BAD_REQUEST', 'deviceId a number')
})

t.test('GET and PATCH /v1/me', async (t) => {
  const login = await api(base, 'POST', '/v1/sessions', { username: 'bob_2', password: PASSWORD, deviceId: 'web' })
  const token = login.body.token as string
  const me = await api(base, 'GET', '/v1/me', undefined, token)
  t.equal(me.status, 200)
  t.same(me.body, { user: { username: 'bob_2', displayName: 'bob_2' } })

  const patched = await api(base, 'PATCH', '/v1/me', { displayName: 'Bob the Builder' }, token)
  t.equal(patched.status, 200)
  t.same(patched.body, { user: { username: 'bob_2', displayName: 'Bob the Builder' } })
  t.same((await api(base, 'GET', '/v1/me', undefined, token)).body.user.displayName, 'Bob the Builder', 'the change is kept')

  for (const [body, what] of [[{}, 'no displayName'], [{ displayName: 3 }, 'a number'], [{ displayName: '' }, 'empty'], [{ displayName: 'x'.repeat(65) }, 'too long'], [[], 'an array']] as Array<[unknown, string]>) {
    error(t, await api(base, 'PATCH', '/v1/me', body, token), 400, 'BAD_REQUEST', `PATCH ${what}`)
  }

  const forged = new Tokens('some-other-secret-0123456789', 86_400_000).issue('bob_2', 'web', 0).token
  const expired = new Tokens(SECRET, 1000, () => Date.now() - 2000).issue('bob_2', 'web', 0).token
  const [v, payload, sig] = token.split('.')
  const tampered = `${v}.${Buffer.from(JSON.stringify({ user: 'alice', device: 'web', exp: Date.now() + 1e9 })).toString('base64url')}.${sig}`
  const headers: Array<[Record<string, string>, string]> = [
    [{}, 'no Authorization header'],
    [{ authorization: 'Bearer' }, 'Bearer without a token'],
    [{ authorization: `Basic ${token}` }, 'not a Bearer token'],
    [{ authorization: 'Bearer not-a-token' }, 'garbage token'],
    [{ authorization: `Bearer ${forged}` }, 'token of another secret'],
    [{ authorization: `Bearer ${expired}` }, 'expired token'],
    [{ authorization: `Bearer ${tampered}` }, 'tampered payload'],
    [{ authorization: `Bearer ${v}.${payload}.${sig}x` }, 'tampered signature'],
  ]
  for (const [h, what] of headers) {
    for (const [method, body] of [['GET', undefined], ['PATCH', { displayName: 'Hacked' }]] as const) {
      const res = await fetch(`${base}/v1/me`, {
        method, headers: { ...h, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
      })
      error(t, { status: res.status, body: await res.json() }, 401, 'UNAUTHORIZED', `${method} /v1/me, ${what}`)
    }
  }
  t.same((await api(base, 'GET', '/v1/me', undefined, token)).body.user.displayName, 'Bob the Builder', 'no refused PATCH changed anything')
  t.equal((await api(base, 'GET', '/v1/me', undefined, token)).status, 200, 'the untouched token still works')

  // A genuine token naming no account cannot be checked against one: log in again.
  const ghost = new Tokens(SECRET, 86_400_000).issue('ghost', 'x', 0).token
  error(t, await api(base, 'GET', '/v1/me', undefined, ghost), 401, 'UNAUTHORIZED', 'a valid token of a user that does not exist')
})

t.test('the password is in neither the log nor the LevelDB files', async (t) => {
  // Another login, wrong and right, so both passwords went through the node once more.
  t.equal((await api(base, 'POST', '/v1/sessions', { username: 'alice', password: WRONG_PASSWORD })).status, 401)
  t.equal((await api(base, 'POST', '/v1/sessions', { username: 'alice', password: PASSWORD })).status, 200)
  const status = await node.stop()
  t.same(status, { code: 0, signal: null }, 'SIGTERM stops the node with exit code 0')

  t.ok(node.log.includes('"msg":"ready"'), 'the log was captured')
  for (const secret of [PASSWORD, WRONG_PASSWORD, SECRET]) t.notOk(node.log.includes(secret), `the log does not contain ${secret}`)

  const files: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else files.push(path)
    }
  }
  walk(node.dataDir)
  t.ok(files.length > 0, 'the data dir has files')
  const all = Buffer.concat(files.map((f) => readFileSync(f)))
  t.ok(all.includes(Buffer.from('Alice Liddell')), 'the files hold the account data (the search works)')
  for (const secret of [PASSWORD, WRONG_PASSWORD]) {
    t.equal(all.indexOf(Buffer.from(secret)), -1, `${secret} is not in the LevelDB files`)
    t.equal(all.indexOf(Buffer.from(secret, 'utf16le')), -1, `${secret} is not there in UTF-16 either`)
  }
})
