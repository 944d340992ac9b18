/**
 * The part of a user actor's state that guards the account: which tokens are revoked, and how
 * many logins failed lately. It lives in the user actor (stored and replicated with the rest of the
 * user), so a revocation and a failure count hold on every node of a cluster, whichever node the
 * login or the request arrived at.
 *
 * Tokens: each carries the user's revocation generation at issue (`gen`) and its own id (`tid`).
 * "Log out everywhere" raises the generation; "log out this token" records its id until it would
 * have expired anyway. The list drops ids whose tokens have expired; should it still hold more than
 * MAX_REVOKED (a thousand single logouts within one token lifetime), the generation is raised
 * instead, which revokes every token: safe, and keeps the record small.
 *
 * Failed logins: at most FAILURE_LIMIT within FAILURE_WINDOW_MS; a login attempt in progress
 * (its password being hashed) counts too, so parallel guesses cannot slip past the limit.
 */
import type { Random } from '../random.js'
import type { KvOp } from '../storage/kv.js'

export const FAILURE_LIMIT = 10
export const FAILURE_WINDOW_MS = 5 * 60_000
/** An attempt whose result never came (its gateway died) stops counting after this long. */
const ATTEMPT_TTL_MS = 60_000
const MAX_REVOKED = 1000

export const AUTH_KEY = 'a'

export interface AuthRecord {
  gen: number
  /** Revoked token ids and their expiry (ms). */
  revoked: Record<string, number>
  /** Times (ms) of recent failed logins, oldest first. */
  failures: number[]
}

export type LoginOutcome = 'ok' | 'failed' | 'cancelled'

export type AttemptVerdict = { kind: 'go'; attempt: string } | { kind: 'throttled'; retryAfterSec: number }

export class UserAuth {
  private record: AuthRecord = { gen: 0, revoked: {}, failures: [] }
  /** Attempts whose passwords are being checked: id -> start time. In memory only. */
  private readonly attempts = new Map<string, number>()

  /** `random` names login attempts (ids that only need to differ). */
  constructor(private readonly now: () => number, private readonly random: Random) {}

  load(stored: AuthRecord | undefined): void {
    if (stored) this.record = { gen: stored.gen ?? 0, revoked: stored.revoked ?? {}, failures: stored.failures ?? [] }
  }

  get gen(): number {
    return this.record.gen
  }

  /** Whether a token with these claims may still be used. */
  valid(tid: string, gen: number): boolean {
    return gen === this.record.gen && !Object.hasOwn(this.record.revoked, tid)
  }

  /** Starts a login attempt, unless this username has had too many failures lately. */
  begin(): AttemptVerdict {
    const now = this.now()
    for (const [id, at] of this.attempts) if (at < now - ATTEMPT_TTL_MS) this.attempts.delete(id)
    const failures = this.recentFailures(now)
    if (failures.length + this.attempts.size >= FAILURE_LIMIT) {
      // Attempts in flight free up within seconds; failures when the oldest leaves the window.
      const until = failures.length >= FAILURE_LIMIT ? failures[failures.length - FAILURE_LIMIT]! + FAILURE_WINDOW_MS : now + 1000
      return { kind: 'throttled', retryAfterSec: Math.max(1, Math.ceil((until - now) / 1000)) }
    }
    const attempt = this.random.bytes(8).toString('hex')
    this.attempts.set(attempt, now)
    return { kind: 'go', attempt }
  }

  /**
   * Ends an attempt: a failure is counted, a success clears the count, a cancelled attempt (the
   * password was never checked) changes nothing. The record to store, or null when unchanged.
   */
  finish(attempt: string, outcome: LoginOutcome): { ops: KvOp[]; apply: () => void } | null {
    this.attempts.delete(attempt)
    if (outcome === 'cancelled' || (outcome === 'ok' && this.record.failures.length === 0)) return null
    const now = this.now()
    const failures = outcome === 'ok' ? [] : [...this.recentFailures(now), now].slice(-FAILURE_LIMIT)
    return this.change({ ...this.record, failures })
  }

  /** Revokes one token until its expiry. */
  revoke(tid: string, exp: number): { ops: KvOp[]; apply: () => void } {
    const now = this.now()
    const revoked: Record<string, number> = {}
    for (const [id, e] of Object.entries(this.record.revoked)) if (e > now) revoked[id] = e
    revoked[tid] = exp
    if (Object.keys(revoked).length > MAX_REVOKED) return this.revokeAll()
    return this.change({ ...this.record, revoked })
  }

  /** Revokes every token issued so far. */
  revokeAll(): { ops: KvOp[]; apply: () => void } {
    return this.change({ ...this.record, gen: this.record.gen + 1, revoked: {} })
  }

  private recentFailures(now: number): number[] {
    return this.record.failures.filter((at) => at > now - FAILURE_WINDOW_MS)
  }

  private change(next: AuthRecord): { ops: KvOp[]; apply: () => void } {
    return { ops: [{ type: 'put', key: AUTH_KEY, value: next }], apply: () => { this.record = next } }
  }
}
