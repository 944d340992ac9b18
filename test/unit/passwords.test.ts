/**
 * Password hashing: scrypt (memory-hard) with a random salt per hash; the stored form never holds
 * the password and only the right password verifies.
 */
import t from 'tap'
import { burnPasswordCheck, hashPassword, verifyPassword } from '../../src/gateway/passwords.js'

const PASSWORD = 'correct horse battery staple'

t.test('a hash is not the password and verifies only the right one', async (t) => {
  const hash = await hashPassword(PASSWORD)
  t.match(hash, /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/, 'scrypt$N$r$p$salt$key')
  const [, n, r] = hash.split('$').map(Number)
  t.ok(n! >= 16384 && r! >= 8, 'the cost is memory-hard (N*r*128 >= 16 MiB)')
  t.notOk(hash.includes(PASSWORD), 'the password is not in the hash')
  t.notOk(hash.includes(Buffer.from(PASSWORD).toString('base64url')), 'nor its base64')
  t.notOk(hash.includes(Buffer.from(PASSWORD).toString('hex')), 'nor its hex')
  t.equal(await verifyPassword(PASSWORD, hash), true, 'the right password verifies')
  t.equal(await verifyPassword(PASSWORD + ' ', hash), false, 'a wrong password does not')
  t.equal(await verifyPassword('', hash), false)
  t.equal(await verifyPassword(PASSWORD.toUpperCase(), hash), false)
})

t.test('two hashes of one password differ (random salt) and both verify', async (t) => {
  const [a, b] = await Promise.all([hashPassword(PASSWORD), hashPassword(PASSWORD)])
  t.not(a, b)
  t.not(a.split('$')[4], b.split('$')[4], 'the salts differ')
  t.equal(await verifyPassword(PASSWORD, a), true)
  t.equal(await verifyPassword(PASSWORD, b), true)
})

t.test('unicode and long passwords', async (t) => {
  const long = 'p'.repeat(256)
  const uni = 'пароль-密码-🔑🔑'
  t.equal(await verifyPassword(long, await hashPassword(long)), true)
  t.equal(await verifyPassword(long.slice(1), await hashPassword(long)), false)
  t.equal(await verifyPassword(uni, await hashPassword(uni)), true)
})

t.test('a malformed stored hash never verifies', async (t) => {
  for (const stored of ['', PASSWORD, 'bcrypt$1$2$3$x$y', 'scrypt$16384$8$1$salt', 'scrypt$16384$8$1$$']) {
    t.equal(await verifyPassword(PASSWORD, stored), false, JSON.stringify(stored))
  }
})

t.test('burnPasswordCheck spends a verification', async (t) => {
  await t.resolves(burnPasswordCheck(PASSWORD))
})
