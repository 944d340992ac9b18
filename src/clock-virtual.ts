/**
 * Virtual time: one queue of timers for everything in a process that runs on it, advanced only by
 * whoever drives it (a test, or the simulator's loop). Timers due at the same moment run in the
 * order they were set, so a run is a pure function of what was scheduled: no wall clock, no race.
 *
 * Every timer belongs to an owner (a node's process, a client, the world). An owner can be paused
 * (its due timers wait until it resumes: a stopped process) or halted (its timers are dropped and
 * new ones ignored: a killed process). The simulator delivers every message as a timer of the
 * receiving owner, so a paused node neither receives nor runs anything until it resumes.
 */
import type { Clock, TimerHandle } from './clock.js'

/** Captured at load: the simulator may watch the global timers, but its own turns use the real one. */
const realSetImmediate = globalThis.setImmediate

interface Task extends TimerHandle {
  at: number
  seq: number
  owner: string
  fn: () => void
  every: number
  cancelled: boolean
}

/** A moment in virtual time that is a plausible wall-clock time (2024-01-01T00:00:00Z). */
export const VIRTUAL_EPOCH = 1_704_067_200_000

export class VirtualTime {
  private nowMs: number
  private seq = 0
  private readonly heap: Task[] = []
  private readonly paused = new Map<string, Task[]>()
  private readonly halted = new Set<string>()
  /** Timers run so far. */
  steps = 0

  constructor(start = VIRTUAL_EPOCH) {
    this.nowMs = start
  }

  now(): number {
    return this.nowMs
  }

  /**
   * A Clock whose timers belong to `owner`. Its `now` is in whole milliseconds, as `Date.now` is:
   * delays on the simulated network are fractional, but code reading the time may rely on an
   * integer (storage keys are built from timestamps).
   */
  clock(owner = 'world'): Clock {
    return {
      now: () => Math.floor(this.nowMs),
      setTimeout: (fn, ms) => this.schedule(owner, ms, fn, 0),
      clearTimeout: (handle) => this.cancel(handle),
      setInterval: (fn, ms) => this.schedule(owner, ms, fn, Math.max(1, ms)),
      clearInterval: (handle) => this.cancel(handle),
      setImmediate: (fn) => void this.schedule(owner, 0, fn, 0),
    }
  }

  /** Runs `fn` as `owner` after `ms`: how the simulator delivers a message to its receiver. */
  at(owner: string, ms: number, fn: () => void): TimerHandle {
    return this.schedule(owner, ms, fn, 0)
  }

  pause(owner: string): void {
    if (!this.paused.has(owner)) this.paused.set(owner, [])
  }

  /** Resumes a paused owner: what fell due meanwhile runs now, in its original order. */
  resume(owner: string): void {
    const held = this.paused.get(owner)
    if (!held) return
    this.paused.delete(owner)
    for (const task of held) {
      task.at = this.nowMs
      task.seq = ++this.seq
      this.push(task)
    }
  }

  isPaused(owner: string): boolean {
    return this.paused.has(owner)
  }

  /** Drops every timer of `owner`, now and later. */
  halt(owner: string): void {
    this.halted.add(owner)
    this.paused.delete(owner)
  }

  isHalted(owner: string): boolean {
    return this.halted.has(owner)
  }

  /** When the next timer is due, or undefined when none is pending. */
  nextAt(): number | undefined {
    return this.heap[0]?.at
  }

  /**
   * Runs the next due timer (advancing time to it) and returns its owner, or undefined when
   * nothing is pending. Promise callbacks it starts run when the caller yields (see `advance`).
   */
  step(): { owner: string; seq: number; at: number } | undefined {
    for (;;) {
      const task = this.pop()
      if (!task) return undefined
      if (task.cancelled || this.halted.has(task.owner)) continue
      if (task.at > this.nowMs) this.nowMs = task.at
      const at = task.at
      const held = this.paused.get(task.owner)
      if (held) {
        held.push(task)
        continue
      }
      this.steps++
      const seq = task.seq
      if (task.every > 0) {
        task.at = this.nowMs + task.every
        task.seq = ++this.seq
        this.push(task)
      }
      task.fn()
      return { owner: task.owner, seq, at }
    }
  }

  /**
   * Moves time forward by `ms`, running every timer due on the way, each followed by a real turn
   * of the event loop so that the promise callbacks it started finish before the next timer. For
   * tests: `await time.advance(60_000)` lets a minute of timeouts and backoffs happen at once.
   */
  async advance(ms: number): Promise<void> {
    const until = this.nowMs + ms
    await turn()
    while (this.heap.length > 0 && this.heap[0]!.at <= until) {
      this.step()
      await turn()
    }
    if (until > this.nowMs) this.nowMs = until
    await turn()
  }

  private schedule(owner: string, ms: number, fn: () => void, every: number): Task {
    const task: Task = {
      at: this.nowMs + Math.max(0, Number.isFinite(ms) ? ms : 0), seq: ++this.seq, owner, fn, every, cancelled: false,
      unref: () => task,
    }
    if (this.halted.has(owner)) task.cancelled = true
    else this.push(task)
    return task
  }

  private cancel(handle: TimerHandle | null | undefined): void {
    if (handle && 'cancelled' in handle) (handle as Task).cancelled = true
  }

  private push(task: Task): void {
    const h = this.heap
    h.push(task)
    let i = h.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(h[i]!, h[parent]!)) break
      ;[h[i], h[parent]] = [h[parent]!, h[i]!]
      i = parent
    }
  }

  private pop(): Task | undefined {
    const h = this.heap
    if (h.length === 0) return undefined
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && before(h[l]!, h[m]!)) m = l
        if (r < h.length && before(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m]!, h[i]!]
        i = m
      }
    }
    return top
  }
}

function before(a: Task, b: Task): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

/** One real turn of the event loop: every promise callback queued so far has run after it. */
export function turn(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve))
}
