/**
 * Delivers a channel's committed events to its members' user actors, reliably and in order.
 *
 * Contract: every member receives every event addressed to it, in `ev` order, at least once;
 * user actors drop what they already have (their per-channel cursor), so members see each event
 * exactly once. A member's next batch is sent only after its previous one was acknowledged, so
 * one slow or unreachable member delays nobody else. Runs beside the channel's mailbox, never in
 * it: the channel acks the sender first, then fans out.
 */
import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../clock.js'
import type { Actors } from './env.js'
import type { ChannelEvent } from './messages.js'

interface Pending { event: ChannelEvent; recipients: readonly string[] }

const MAX_BATCH_EVENTS = 200
const MAX_BATCH_CHARS = 2_000_000
const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 5000

export class Fanout {
  private readonly queue: Pending[] = []
  /** Highest ev each member has acknowledged; members absent here are at `base`. */
  private readonly acked = new Map<string, number>()
  private readonly inFlight = new Set<string>()
  private readonly backoff = new Map<string, { until: number; delay: number }>()
  private base: number
  private timer: TimerHandle | null = null
  private scheduled = false
  private stopped = false
  private idleWaiters: Array<() => void> = []

  constructor(
    private readonly channel: string,
    private readonly actors: Actors,
    private readonly log: Logger,
    /** Backoff between retries to an unreachable member. */
    private readonly clock: Clock,
    /** Everything up to here is known delivered (the channel's durable fan-out mark). */
    done: number,
  ) {
    this.base = done
  }

  /** Events not yet acknowledged by all their recipients. */
  get pending(): number {
    return this.queue.length
  }

  /** Highest ev such that it and every earlier event reached all recipients. */
  get done(): number {
    return this.base
  }

  enqueue(event: ChannelEvent, recipients: readonly string[]): void {
    if (this.stopped) return
    this.queue.push({ event, recipients })
    this.schedule()
  }

  /** Resolves once everything queued so far is delivered (or the fan-out is stopped). */
  idle(): Promise<void> {
    if (this.queue.length === 0 || this.stopped) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  stop(): void {
    this.stopped = true
    this.clock.clearTimeout(this.timer)
    this.wakeIdle()
  }

  private schedule(delayMs = 0): void {
    if (this.stopped) return
    if (delayMs > 0) {
      if (this.timer) return
      this.timer = this.clock.setTimeout(() => {
        this.timer = null
        this.schedule()
      }, delayMs)
      this.timer.unref()
      return
    }
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.pump()
    })
  }

  private pump(): void {
    if (this.stopped) return
    const now = this.clock.now()
    // Members with events to receive, grouped by the exact batch they need, so that members in
    // the same state share one request per destination node.
    const batches = new Map<string, { events: ChannelEvent[]; users: string[] }>()
    let nextRetry = Infinity
    for (const member of this.members()) {
      if (this.inFlight.has(member)) continue
      const wait = this.backoff.get(member)
      if (wait && wait.until > now) {
        nextRetry = Math.min(nextRetry, wait.until)
        continue
      }
      const events = this.batchFor(member)
      if (events.length === 0) continue
      const id = `${events[0]!.ev}-${events[events.length - 1]!.ev}-${events.length}`
      const batch = batches.get(id)
      if (batch) batch.users.push(member)
      else batches.set(id, { events, users: [member] })
    }
    for (const batch of batches.values()) void this.send(batch.users, batch.events)
    if (nextRetry < Infinity) this.schedule(Math.max(1, nextRetry - now))
  }

  private members(): Set<string> {
    const all = new Set<string>()
    for (const p of this.queue) for (const r of p.recipients) all.add(r)
    return all
  }

  private batchFor(member: string): ChannelEvent[] {
    const from = this.acked.get(member) ?? this.base
    const out: ChannelEvent[] = []
    let chars = 0
    for (const p of this.queue) {
      if (p.event.ev <= from || !p.recipients.includes(member)) continue
      const size = p.event.type === 'message' ? p.event.message.text.length : 100
      if (out.length > 0 && (out.length >= MAX_BATCH_EVENTS || chars + size > MAX_BATCH_CHARS)) break
      out.push(p.event)
      chars += size
    }
    return out
  }

  private async send(users: string[], events: ChannelEvent[]): Promise<void> {
    for (const u of users) this.inFlight.add(u)
    const last = events[events.length - 1]!.ev
    const results = await this.actors.users(users, { kind: 'deliver', channel: this.channel, events })
    results.forEach((r, i) => {
      const user = users[i]!
      this.inFlight.delete(user)
      if (r.ok) {
        this.acked.set(user, Math.max(this.acked.get(user) ?? this.base, last))
        this.backoff.delete(user)
      } else if (r.error.code === 'NOT_FOUND') {
        // The user does not exist (cannot happen for validated members); never retry forever.
        this.acked.set(user, last)
        this.log.warn({ channel: this.channel, user }, 'fan-out to a missing user dropped')
      } else {
        const delay = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, (this.backoff.get(user)?.delay ?? RETRY_MIN_MS / 2) * 2))
        this.backoff.set(user, { until: this.clock.now() + delay, delay })
        this.log.debug({ channel: this.channel, user, code: r.error.code }, 'fan-out retry scheduled')
      }
    })
    this.trim()
    this.schedule()
  }

  /** Drops delivered events from the head of the queue and advances `done`. */
  private trim(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!
      const ev = head.event.ev
      if (!head.recipients.every((r) => (this.acked.get(r) ?? this.base) >= ev)) break
      this.queue.shift()
      this.base = ev
    }
    if (this.queue.length === 0) {
      this.acked.clear()
      this.wakeIdle()
    }
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }
}
