/**
 * The bounded password hasher: hashes are computed on threads of their own, at most
 * `concurrency` at once with at most `queue` waiting; one more is refused at once (UNAVAILABLE
 * with a retry hint) rather than queued; results match node's own scrypt.
 */
import { scryptSync } from 'node:crypto'
import t from 'tap'
import { PasswordHasher } from '../../src/gateway/hasher.js'
import { SCRYPT, hashPassword, verifyPassword } from '../../src/gateway/passwords.js'

t.test('hashes on its own threads, with the same results as scrypt', async (t) => {
  const hasher = new PasswordHasher(2, 8)
  t.teardown(() => hasher.close())
  const salt = Buffer.alloc(16, 7)
  const key = await hasher.derive({ password: 'pw-123456', salt, ...SCRYPT })
  t.same(key, scryptSync('pw-123456', salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 256 * SCRYPT.N * SCRYPT.r }))
  const stored = await hashPassword('correct horse', hasher.derive)
  t.equal(await verifyPassword('correct horse', stored, hasher.derive), true)
  t.equal(await verifyPassword('wrong horse', stored, hasher.derive), false)
})

t.test('past concurrency + queue, refused at once', async (t) => {
  let refused = 0
  const hasher = new PasswordHasher(1, 2, () => refused++)
  t.teardown(() => hasher.close())
  const started = Date.now()
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => hasher.derive({ password: `p${i}`, salt: Buffer.alloc(16), ...SCRYPT }).then(() => Date.now() - started)))
  const ok = results.filter((r) => r.status === 'fulfilled')
  const no = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[]
  t.equal(ok.length, 3, 'one running and two waiting are computed')
  t.equal(no.length, 7, 'the other seven are refused')
  t.equal(refused, 7, 'each refusal is reported')
  t.ok(no.every((r) => r.reason.code === 'UNAVAILABLE' && r.reason.retryAfterSec === 1), 'UNAVAILABLE, retry after 1 s')
  t.same(hasher.stats, { running: 0, waiting: 0 }, 'nothing left behind')
})
