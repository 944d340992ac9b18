/**
 * Login tokens: `v2.<payload>.<signature>`, base64url, signed with HMAC-SHA256 under the cluster's
 * shared secret, so any node can check a token another node issued. The payload carries the user,
 * the device, the issue and expiry times, the token's own id (`tid`, so one token can be revoked)
 * and the user's revocation generation at issue (`gen`: "log out everywhere" raises it, which
 * revokes every older token at once). Nothing secret.
 *
 * The signature says the token is genuine; whether it was revoked since is the user actor's to
 * say (`checkToken`), so a revocation holds on every node.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { type Random, systemRandom } from '../random.js'

export interface TokenClaims { user: string; device: string; iat: number; exp: number; tid: string; gen: number }

/** How far a token's issue time may lie ahead of this node's clock (clocks of nodes differ a little). */
const CLOCK_SKEW_MS = 60_000

export class Tokens {
  constructor(
    private readonly secret: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    /** Token ids (not secret: the signature is what a forger lacks). */
    private readonly random: Random = systemRandom,
  ) {}

  issue(user: string, device: string, gen: number): { token: string; claims: TokenClaims } {
    const iat = this.now()
    const claims: TokenClaims = { user, device, iat, exp: iat + this.ttlMs, tid: this.random.bytes(12).toString('base64url'), gen }
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url')
    return { token: `v2.${payload}.${this.sign(payload)}`, claims }
  }

  /**
   * The claims of a genuine, unexpired token whose lifetime is within the configured TTL (a
   * token made under a longer TTL stops working when the operator shortens it); null otherwise.
   */
  verify(token: string | undefined | null): TokenClaims | null {
    if (typeof token !== 'string' || token.length > 2048) return null
    const parts = token.split('.')
    if (parts.length !== 3 || parts[0] !== 'v2') return null
    const [, payload, signature] = parts as [string, string, string]
    const expected = Buffer.from(this.sign(payload))
    const given = Buffer.from(signature)
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null
    try {
      const c = JSON.parse(Buffer.from(payload, 'base64url').toString()) as TokenClaims
      if (typeof c.user !== 'string' || typeof c.device !== 'string' || typeof c.tid !== 'string') return null
      if (![c.iat, c.exp, c.gen].every(Number.isSafeInteger)) return null
      const now = this.now()
      if (c.exp <= now || c.exp - c.iat > this.ttlMs || c.iat > now + CLOCK_SKEW_MS) return null
      return c
    } catch {
      return null
    }
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url')
  }
}
