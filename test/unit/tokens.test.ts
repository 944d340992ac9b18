/**
 * Login tokens: signed with HMAC under the node's secret, carrying user, device, issue and expiry
 * times, the token id and the revocation generation; any change to a token, a different secret,
 * the passing of its expiry or a lifetime longer than the configured TTL makes it worthless.
 */
import t from 'tap'
import { Tokens } from '../../src/gateway/tokens.js'

const SECRET = 'a-secret-of-at-least-sixteen-chars'
const DAY = 86_400_000

/** A clock the test moves by hand. */
function clock(start = 1_700_000_000_000) {
  let now = start
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

t.test('a token round-trips its user and device', async (t) => {
  const c = clock()
  const tokens = new Tokens(SECRET, 30 * DAY, c.now)
  const { token, claims } = tokens.issue('alice', 'phone-1', 3)
  t.match(token, /^v2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'v2.<payload>.<signature> in base64url')
  t.same(tokens.verify(token), { user: 'alice', device: 'phone-1', iat: c.now(), exp: c.now() + 30 * DAY, tid: claims.tid, gen: 3 })
  t.match(claims.tid, /^[A-Za-z0-9_-]{16}$/, 'a random token id')
  t.notOk(token.includes(SECRET), 'the secret is not in the token')
  t.not(tokens.issue('alice', 'phone-2', 3).token, token, 'another device gets another token')
  t.not(tokens.issue('alice', 'phone-1', 3).claims.tid, claims.tid, 'every token has its own id')
  t.same(new Tokens(SECRET, 30 * DAY, c.now).verify(token)?.user, 'alice', 'another instance with the same secret accepts it')
})

t.test('a tampered token is refused', async (t) => {
  const tokens = new Tokens(SECRET, DAY)
  const { token } = tokens.issue('alice', 'd1', 0)
  const [v, payload, signature] = token.split('.') as [string, string, string]
  const forged = Buffer.from(JSON.stringify({ user: 'mallory', device: 'd1', iat: Date.now(), exp: Date.now() + DAY, tid: 'x', gen: 0 })).toString('base64url')
  const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1)
  const bad = [
    `${v}.${forged}.${signature}`,
    `${v}.${payload}.${flip(signature)}`,
    `${v}.${flip(payload)}.${signature}`,
    `${v}.${payload}.${signature}x`,
    `${v}.${payload}.`,
    `v1.${payload}.${signature}`,
    `${v}.${payload}`,
    `${token}.extra`,
    '',
    'garbage',
    `${v}.${payload}.${signature}`.repeat(40),
  ]
  for (const b of bad) t.equal(tokens.verify(b), null, `refused: ${b.slice(0, 40)}`)
  t.equal(tokens.verify(null), null)
  t.equal(tokens.verify(undefined), null)
  t.ok(tokens.verify(token), 'the original still verifies')
})

t.test('a token signed over a payload with missing claims is refused', async (t) => {
  // Built with the real signer so only the claim check can refuse it.
  const tokens = new Tokens(SECRET, DAY)
  const sign = (tokens as unknown as { sign(p: string): string }).sign.bind(tokens)
  const now = Date.now()
  const full = { user: 'a', device: 'd', iat: now, exp: now + DAY, tid: 't', gen: 0 }
  const { tid: _t, ...noTid } = full
  const { gen: _g, ...noGen } = full
  const { iat: _i, ...noIat } = full
  for (const claims of [{ user: 'a', exp: now + DAY }, { ...full, exp: 'never' }, noTid, noGen, noIat, { ...full, gen: 1.5 }, 'text']) {
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url')
    t.equal(tokens.verify(`v2.${payload}.${sign(payload)}`), null, JSON.stringify(claims))
  }
  const payload = Buffer.from(JSON.stringify(full)).toString('base64url')
  t.ok(tokens.verify(`v2.${payload}.${sign(payload)}`), 'the full claims verify')
  const notJson = Buffer.from('{nope').toString('base64url')
  t.equal(tokens.verify(`v2.${notJson}.${sign(notJson)}`), null, 'a payload that is not JSON')
})

t.test("a token's lifetime is bounded by the configured TTL", async (t) => {
  const c = clock()
  const long = new Tokens(SECRET, 365 * DAY, c.now)
  const short = new Tokens(SECRET, DAY, c.now)
  const { token } = long.issue('alice', 'd1', 0)
  t.ok(long.verify(token), 'valid where it was made')
  t.equal(short.verify(token), null, 'a node with a shorter TTL (same secret) refuses a longer-lived token')
  const sign = (short as unknown as { sign(p: string): string }).sign.bind(short)
  const future = Buffer.from(JSON.stringify({ user: 'a', device: 'd', iat: c.now() + 10 * DAY, exp: c.now() + 10 * DAY + 1000, tid: 't', gen: 0 })).toString('base64url')
  t.equal(short.verify(`v2.${future}.${sign(future)}`), null, 'a token issued in the future (beyond clock skew) is refused')
})

t.test('a token expires', async (t) => {
  const c = clock()
  const tokens = new Tokens(SECRET, 60_000, c.now)
  const { token } = tokens.issue('alice', 'd1', 0)
  c.advance(59_999)
  t.ok(tokens.verify(token), 'valid just before expiry')
  c.advance(1)
  t.equal(tokens.verify(token), null, 'refused at expiry')
  const fresh = tokens.issue('alice', 'd1', 0).token
  t.ok(tokens.verify(fresh), 'a new login gets a fresh token')
})

t.test('the default lifetime of the node is 30 days', async (t) => {
  const c = clock()
  const tokens = new Tokens(SECRET, 30 * DAY, c.now)
  const { token } = tokens.issue('bob', 'd', 0)
  c.advance(30 * DAY - 1)
  t.ok(tokens.verify(token))
  c.advance(1)
  t.equal(tokens.verify(token), null)
})

t.test('a token from another secret is refused', async (t) => {
  const mine = new Tokens(SECRET, DAY)
  const theirs = new Tokens('another-secret-sixteen-plus', DAY)
  t.equal(mine.verify(theirs.issue('alice', 'd1', 0).token), null)
  t.equal(theirs.verify(mine.issue('alice', 'd1', 0).token), null)
})
