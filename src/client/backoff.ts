/**
 * Reconnect and retry delays: exponential backoff with full jitter, so that many clients dropped
 * by the same node failure spread their reconnects instead of arriving together.
 */

export interface BackoffOptions {
  /** Upper bound of the first delay, in ms. Default 200. */
  baseMs?: number
  /** Largest delay, in ms. Default 10000. */
  capMs?: number
}

export const DEFAULT_BACKOFF = { baseMs: 200, capMs: 10_000 } as const

/**
 * The largest delay allowed for retry number `attempt` (0-based): `min(cap, base * 2^attempt)`.
 */
export function backoffCeiling(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? DEFAULT_BACKOFF.baseMs
  const cap = options.capMs ?? DEFAULT_BACKOFF.capMs
  // 2^attempt overflows to Infinity for large attempts, which Math.min turns into the cap.
  return Math.min(cap, base * 2 ** Math.max(0, attempt))
}

/**
 * A delay drawn uniformly from `[0, backoffCeiling(attempt))` ("full jitter").
 * `random` returns a number in [0, 1), like Math.random, which is the default.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(attempt, options))
}
