/**
 * Password hashing with scrypt (memory-hard, in node:crypto). Stored form:
 * `scrypt$<N>$<r>$<p>$<salt>$<hash>`, so the cost can be raised later without breaking old hashes.
 *
 * The key derivation itself is injected: the node runs it on hasher threads of its own
 * (hasher.ts), never on libuv's thread pool, which LevelDB needs for every read and write; the
 * default here (libuv's pool) serves tools and tests.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

export const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const

export interface ScryptJob { password: string; salt: Buffer; N: number; r: number; p: number; keylen: number }

export type Derive = (job: ScryptJob) => Promise<Buffer>

export const maxmemFor = (job: { N: number; r: number }) => 256 * job.N * job.r

/** scrypt on libuv's thread pool. */
export const poolDerive: Derive = (job) => new Promise((resolve, reject) => {
  scrypt(job.password, job.salt, job.keylen, { N: job.N, r: job.r, p: job.p, maxmem: maxmemFor(job) }, (err, key) => (err ? reject(err) : resolve(key)))
})

export async function hashPassword(password: string, derive: Derive = poolDerive): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive({ password, salt, ...SCRYPT })
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

export async function verifyPassword(password: string, stored: string, derive: Derive = poolDerive): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  const expected = Buffer.from(parts[5]!, 'base64url')
  if (expected.length < 16 || ![N, r, p].every(Number.isSafeInteger)) return false
  const key = await derive({ password, salt: Buffer.from(parts[4]!, 'base64url'), N, r, p, keylen: expected.length })
  return key.length === expected.length && timingSafeEqual(key, expected)
}

/** Spends the time of one verification, so unknown usernames answer no faster than known ones. */
export async function burnPasswordCheck(password: string, derive: Derive = poolDerive): Promise<void> {
  await derive({ password, salt: Buffer.alloc(16), ...SCRYPT })
}
