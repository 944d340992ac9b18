import { setTimeout as sleep } from 'node:timers/promises'

export interface WaitOptions {
  /** Give up after this long (ms). Default 5000. */
  timeout?: number
  /** Poll interval (ms). Default 20. */
  every?: number
  /** Names the condition in the timeout error. */
  what?: string
}

/** What is left of `T` once the falsy values are gone: the type `if (v)` lets through. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>

/**
 * Polls `pred` until it returns a truthy value and resolves with that value; rejects once
 * `timeout` has passed. A predicate that throws counts as "not yet", and its last error is
 * named in the timeout error's message and attached as its cause.
 */
export async function waitFor<T>(
  pred: () => T | Promise<T>,
  { timeout = 5000, every = 20, what = 'condition' }: WaitOptions = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeout
  let lastError: unknown
  for (;;) {
    try {
      const v = await pred()
      if (v) return v as Truthy<T>
    } catch (err) {
      lastError = err
    }
    if (Date.now() >= deadline) {
      const last = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last}`, { cause: lastError })
    }
    await sleep(Math.min(every, Math.max(1, deadline - Date.now())))
  }
}
