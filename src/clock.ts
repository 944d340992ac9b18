/**
 * Time as a node sees it. Everything that reads the time or waits goes through a Clock handed to
 * it, never through `Date.now` or the global timers, so the same code runs on the system clock in
 * a real node and on virtual time in tests and in the simulator (src/sim/), where a seed decides
 * every timer's turn.
 *
 * Contract: `now()` never goes backwards; a timer fires at most once per period and never before
 * its delay has passed on this clock; `setImmediate` callbacks run after the current turn, in the
 * order they were asked for.
 */

/** What a timer returns; `unref` lets a real process exit while the timer is pending. */
export interface TimerHandle {
  unref(): unknown
}

export interface Clock {
  /** Milliseconds since the epoch, a whole number (as `Date.now`). */
  now(): number
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle | null | undefined): void
  setInterval(fn: () => void, ms: number): TimerHandle
  clearInterval(handle: TimerHandle | null | undefined): void
  /** Runs `fn` once the current turn of the event loop is over (as setImmediate does). */
  setImmediate(fn: () => void): void
}

/** The real clock of the process. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout | undefined),
  setImmediate: (fn) => void setImmediate(fn),
}

/** Resolves after `ms` on `clock`; an aborted signal resolves it at once. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      clock.clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = clock.setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** A clock whose timers can all be cancelled at once: what a crash does to a process's timers. */
export interface HaltableClock extends Clock {
  /** Cancels every pending timer and ignores every later one. */
  halt(): void
  readonly halted: boolean
}

/**
 * Wraps `clock` so that `halt()` stops every timer set through the wrapper: a node run in a
 * shared process (tests) is "killed" by halting its clock, closing its storage and cutting it
 * from the network, and nothing it had scheduled fires afterwards.
 */
export function haltable(clock: Clock): HaltableClock {
  const live = new Set<TimerHandle>()
  let halted = false
  const dead: TimerHandle = { unref: () => dead }
  return {
    now: () => clock.now(),
    setTimeout(fn, ms) {
      if (halted) return dead
      const handle = clock.setTimeout(() => {
        live.delete(handle)
        if (!halted) fn()
      }, ms)
      live.add(handle)
      return handle
    },
    clearTimeout(handle) {
      if (!handle || handle === dead) return
      live.delete(handle)
      clock.clearTimeout(handle)
    },
    setInterval(fn, ms) {
      if (halted) return dead
      const handle = clock.setInterval(() => { if (!halted) fn() }, ms)
      live.add(handle)
      return handle
    },
    clearInterval(handle) {
      if (!handle || handle === dead) return
      live.delete(handle)
      clock.clearInterval(handle)
    },
    setImmediate(fn) {
      if (!halted) clock.setImmediate(() => { if (!halted) fn() })
    },
    halt() {
      halted = true
      // One clear works for both kinds of handle on the system clock and on virtual time.
      for (const handle of live) {
        clock.clearTimeout(handle)
        clock.clearInterval(handle)
      }
      live.clear()
    },
    get halted() {
      return halted
    },
  }
}
