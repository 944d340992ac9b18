/**
 * When to try a failed notification again: exponential backoff with jitter, never more than
 * `maxMs` apart, and never sooner than the receiver asked with `Retry-After` (itself capped at
 * `maxMs`, so a receiver cannot push a retry past the contract's "at most a minute apart").
 */

export interface RetryPolicy {
  /** Delay before the second attempt, before jitter. */
  baseMs: number
  /** Longest delay between two attempts. */
  maxMs: number
}

/**
 * Delay after failed attempt number `attempt` (1 = the first). "Equal jitter": half of the
 * exponential step is fixed, half random, so retries spread out but still back off.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number, retryAfterMs?: number): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)))
  const jittered = step / 2 + random() * (step / 2)
  const wanted = retryAfterMs !== undefined ? Math.max(jittered, retryAfterMs) : jittered
  return Math.round(Math.min(policy.maxMs, wanted))
}

/** `Retry-After` (RFC 9110: delay-seconds or an HTTP date) in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const v = value.trim()
  if (/^\d+$/.test(v)) return Number(v) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
