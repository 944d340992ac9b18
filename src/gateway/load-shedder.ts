/**
 * Admission control: a node past saturation refuses new writes instead of digging deeper. Every
 * write it admits adds queued work (a commit, replication, fan-out, pushes); once the event loop
 * is already late, more admitted writes only make every reply, heartbeat and push later, until
 * pushes time out and peers suspect the node. So while the event loop lags past `maxLagMs`, or
 * more than `maxInFlight` writes admitted here are unanswered, new writes are answered
 * `UNAVAILABLE` at once, with nothing stored; clients retry with backoff (the SDK does). Reads,
 * syncs and acks of admitted writes go on.
 *
 * The lag is measured by a timer that should fire every SAMPLE_MS: how late it fires is how long
 * everything else waited for the event loop. Lag alone sheds only while at least
 * LAG_SHEDS_FROM_IN_FLIGHT writes are unanswered: when few writes are waiting, the lag comes from
 * elsewhere (a busy machine, a large read, garbage collection), and refusing the next write would
 * not relieve it. Shedding for lag starts when a sample passes the bound and stops when a sample
 * falls below half of it.
 */
import type { Clock, TimerHandle } from '../clock.js'

const SAMPLE_MS = 50
export const LAG_SHEDS_FROM_IN_FLIGHT = 64

export interface LoadShedderOptions {
  /** Event-loop lag (ms) past which new writes are refused; 0 turns the lag check off. */
  maxLagMs: number
  /** Writes admitted and not yet answered past which new ones are refused; 0 turns it off. */
  maxInFlight: number
  clock: Clock
}

export class LoadShedder {
  private inFlight = 0
  private lagging = false
  private lastLagMs = 0
  private expectedAt: number
  private readonly timer: TimerHandle | null

  constructor(private readonly options: LoadShedderOptions) {
    this.expectedAt = options.clock.now() + SAMPLE_MS
    this.timer = options.maxLagMs > 0 ? options.clock.setInterval(() => this.sample(), SAMPLE_MS) : null
    this.timer?.unref()
  }

  /** Whether a new write is refused now. */
  get shedding(): boolean {
    if (this.options.maxInFlight > 0 && this.inFlight >= this.options.maxInFlight) return true
    return this.lagging && this.inFlight >= LAG_SHEDS_FROM_IN_FLIGHT
  }

  /** The last measured event-loop lag, ms (for metrics). */
  get lagMs(): number {
    return this.lastLagMs
  }

  get admitted(): number {
    return this.inFlight
  }

  /** Counts a write admitted; call the returned function once it is answered. */
  admit(): () => void {
    this.inFlight++
    let done = false
    return () => {
      if (done) return
      done = true
      this.inFlight--
    }
  }

  stop(): void {
    this.options.clock.clearInterval(this.timer)
  }

  private sample(): void {
    const now = this.options.clock.now()
    const lag = Math.max(0, now - this.expectedAt)
    this.expectedAt = now + SAMPLE_MS
    this.lastLagMs = lag
    if (lag > this.options.maxLagMs) this.lagging = true
    else if (lag < this.options.maxLagMs / 2) this.lagging = false
  }
}
