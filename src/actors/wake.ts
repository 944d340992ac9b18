/**
 * Wakes the actors this node's storage flags as having unfinished background work (a channel
 * whose fan-out a crash interrupted). Run after a start and, in a cluster, after a node died: the
 * router takes each wake to the key's current owner, whose activation finishes the work.
 */
import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../clock.js'
import { type Random, jitter } from '../random.js'
import { WAKE_INDEX_RANGE } from '../storage/keys.js'
import type { Kv } from '../storage/kv.js'
import type { Router } from './env.js'

const PAGE = 500
const PARALLEL = 8

export async function wakePending(kv: Kv, router: Router, log: Logger): Promise<number> {
  let woken = 0
  let after: string = WAKE_INDEX_RANGE.gt
  for (;;) {
    const page = await kv.range<number>({ gt: after, lt: WAKE_INDEX_RANGE.lt, limit: PAGE })
    if (page.length === 0) break
    after = page[page.length - 1]![0]
    const keys = page.map(([k]) => k.slice(2))
    for (let i = 0; i < keys.length; i += PARALLEL) {
      await Promise.all(keys.slice(i, i + PARALLEL).map((key) => router.call(key, { kind: 'wake' }).then(
        () => { woken++ },
        (err) => log.debug({ err, key }, 'wake failed; the next pass retries'),
      )))
    }
  }
  if (woken > 0) log.info({ woken }, 'woke actors with unfinished work')
  return woken
}

const REWAKE_FIRST_MS = 250
const REWAKE_MAX_MS = 30_000
/** A key is given up on after this long; the node-level wake passes (start, a node's death) remain. */
const REWAKE_GIVE_UP_MS = 10 * 60_000

/**
 * Wakes single keys again soon: an actor deactivated with background work unfinished (a channel
 * fenced by a partition while its fan-out was in flight) must be activated again, wherever its key
 * lives now, or the work waits for the next message to that channel, and the last message of a
 * conversation stays out of its members' inboxes. Retries with backoff until a wake succeeds.
 */
export class Rewaker {
  private readonly timers = new Map<string, TimerHandle>()
  private stopped = false

  constructor(private readonly router: Router, private readonly log: Logger, private readonly clock: Clock, private readonly random: Random) {}

  wake(key: string): void {
    if (this.stopped || this.timers.has(key)) return
    this.attempt(key, REWAKE_FIRST_MS, this.clock.now() + REWAKE_GIVE_UP_MS)
  }

  stop(): void {
    this.stopped = true
    for (const t of this.timers.values()) this.clock.clearTimeout(t)
    this.timers.clear()
  }

  /**
   * Wakes every waiting key at once, waiting at most `timeoutMs`, then stops: a leaving node's
   * actors deactivate with work unfinished, and their new owners must take it up.
   */
  async flush(timeoutMs: number): Promise<void> {
    const keys = [...this.timers.keys()]
    this.stop()
    if (keys.length === 0) return
    let timer: TimerHandle | undefined
    const deadline = new Promise<void>((r) => (timer = this.clock.setTimeout(r, timeoutMs)))
    const wakes = Promise.allSettled(keys.map((key) => this.router.call(key, { kind: 'wake' })))
    await Promise.race([wakes, deadline])
    this.clock.clearTimeout(timer)
  }

  private attempt(key: string, delayMs: number, giveUpAt: number): void {
    const timer = this.clock.setTimeout(() => {
      void this.router.call(key, { kind: 'wake' }).then(
        () => this.timers.delete(key),
        (err) => {
          this.timers.delete(key)
          if (this.stopped) return
          if (this.clock.now() >= giveUpAt) {
            this.log.warn({ key, err }, 'could not wake an actor with unfinished work; the next wake pass will')
            return
          }
          this.attempt(key, Math.min(REWAKE_MAX_MS, delayMs * 2), giveUpAt)
        },
      )
    }, jitter(this.random, delayMs))
    timer.unref()
    this.timers.set(key, timer)
  }
}
