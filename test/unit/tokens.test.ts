/**
 * Login tokens: signed with HMAC under the node's secret, carrying user, device and expiry; any
 * change to a token, a different secret or the passing of its expiry makes it worthless.
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
  const token = tokens.issue('alice', 'phone-1')
  t.match(token, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'v1.<payload>.<signature> in base64url')
  t.same(tokens.verify(token), { user: 'alice', device: 'phone-1', exp: c.now() + 30 * DAY })
  t.notOk(token.includes(SECRET), 'the secret is not in the token')
  t.not(tokens.issue('alice', 'phone-2'), token, 'another device gets another token')
  t.same(new Tokens(SECRET, 30 * DAY, c.now).verify(token)?.user, 'alice', 'another instance with the same secret accepts it')
})

t.test('a tampered token is refused', async (t) => {
  const tokens = new Tokens(SECRET, DAY)
  const token = tokens.issue('alice', 'd1')
  const [v, payload, signature] = token.split('.') as [string, string, string]
  const forged = Buffer.from(JSON.stringify({ user: 'mallory', device: 'd1', exp: Date.now() + DAY })).toString('base64url')
  const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1)
  const bad = [
    `${v}.${forged}.${signature}`,
    `${v}.${payload}.${flip(signature)}`,
    `${v}.${flip(payload)}.${signature}`,
    `${v}.${payload}.${signature}x`,
    `${v}.${payload}.`,
    `v2.${payload}.${signature}`,
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
  for (const claims of [{ user: 'a', exp: Date.now() + DAY }, { user: 'a', device: 'd', exp: 'never' }, 'text']) {
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url')
    t.equal(tokens.verify(`v1.${payload}.${sign(payload)}`), null, JSON.stringify(claims))
  }
  const notJson = Buffer.from('{nope').toString('base64url')
  t.equal(tokens.verify(`v1.${notJson}.${sign(notJson)}`), null, 'a payload that is not JSON')
})

t.test('a token expires', async (t) => {
  const c = clock()
  const tokens = new Tokens(SECRET, 60_000, c.now)
  const token = tokens.issue('alice', 'd1')
  c.advance(59_999)
  t.ok(tokens.verify(token), 'valid just before expiry')
  c.advance(1)
  t.equal(tokens.verify(token), null, 'refused at expiry')
  const fresh = tokens.issue('alice', 'd1')
  t.ok(tokens.verify(fresh), 'a new login gets a fresh token')
})

t.test('the default lifetime of the node is 30 days', async (t) => {
  const c = clock()
  const tokens = new Tokens(SECRET, 30 * DAY, c.now)
  const token = tokens.issue('bob', 'd')
  c.advance(30 * DAY - 1)
  t.ok(tokens.verify(token))
  c.advance(1)
  t.equal(tokens.verify(token), null)
})

t.test('a token from another secret is refused', async (t) => {
  const mine = new Tokens(SECRET, DAY)
  const theirs = new Tokens('another-secret-sixteen-plus', DAY)
  t.equal(mine.verify(theirs.issue('alice', 'd1')), null)
  t.equal(theirs.verify(mine.issue('alice', 'd1')), null)
})
