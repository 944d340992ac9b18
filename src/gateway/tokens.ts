/**
 * Login tokens: `v1.<payload>.<signature>`, base64url, signed with HMAC-SHA256 under the cluster's
 * shared secret, so any node can check a token another node issued. The payload carries the user,
 * the device and the expiry; nothing secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export interface TokenClaims { user: string; device: string; exp: number }

export class Tokens {
  constructor(private readonly secret: string, private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  issue(user: string, device: string): string {
    const claims: TokenClaims = { user, device, exp: this.now() + this.ttlMs }
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url')
    return `v1.${payload}.${this.sign(payload)}`
  }

  /** The claims of a valid, unexpired token; null for anything else. */
  verify(token: string | undefined | null): TokenClaims | null {
    if (typeof token !== 'string' || token.length > 2048) return null
    const parts = token.split('.')
    if (parts.length !== 3 || parts[0] !== 'v1') return null
    const [, payload, signature] = parts as [string, string, string]
    const expected = Buffer.from(this.sign(payload))
    const given = Buffer.from(signature)
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as TokenClaims
      if (typeof claims.user !== 'string' || typeof claims.device !== 'string' || typeof claims.exp !== 'number') return null
      return claims.exp > this.now() ? claims : null
    } catch {
      return null
    }
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url')
  }
}
