/**
 * A login token exactly as a node with `secret` issues it (v2, see src/gateway/tokens.ts), for
 * tests that need many users without paying for many slow password checks. The user actor still
 * checks it like any token (revocation generation 0, a random token id).
 */
import { Tokens } from '../../src/gateway/tokens.js'

export function tokenFor(secret: string, user: string, device: string, ttlMs = 3_600_000): string {
  return new Tokens(secret, ttlMs).issue(user, device, 0).token
}
