/**
 * Delivers a channel's committed events to its members' user actors, reliably and in order.
 *
 * Contract: every member receives every event addressed to it, in `ev` order, at least once;
 * user actors drop what they already have (their per-channel cursor), so members see each event
 * exactly once. A member's next batch is sent only after its previous one was acknowledged, so
 * one slow or unreachable member delays nobody else. Runs beside the channel's mailbox, never in
 * it: the channel acks the sender first, then fans out.
 *
 * Bounded: at most MAX_QUEUED_EVENTS events (and MAX_QUEUED_CHARS of text) wait in memory. A
 * member whose node is unreachable for long would otherwise make the queue grow with every new
 * message; past the bound, new events are not queued but left in the channel's log (they are
 * committed already), and once the queue has drained they are read back from there, a page at a
 * time (`refill`), in order. A new activation starts the same way, from the durable mark.
 */
import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../clock.js'
import type { Actors } from './env.js'
import type { ChannelEvent } from './messages.js'

interface Pending { event: ChannelEvent; readonly recipients: readonly string[] }

/**
 * Reads committed events after `after` from the channel's log, at most `max`, in order, and says
 * through which event it read (events it cannot deliver, such as a message whose body is gone,
 * are read past, not returned).
 */
export type Refill = (after: number, max: number) => Promise<{ events: Pending[]; through: number }>

export const MAX_QUEUED_EVENTS = 2000
const MAX_QUEUED_CHARS = 32_000_000

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
  private chars = 0
  /** The newest event queued in memory. */
  private lastQueued: number
  /** Set while committed events after this one are in the log but not in memory. */
  private spilled: number | null = null
  /** The newest event known committed (queued, or left in the log). */
  private known: number
  private refilling = false

  constructor(
    private readonly channel: string,
    private readonly actors: Actors,
    private readonly log: Logger,
    /** Backoff between retries to an unreachable member. */
    private readonly clock: Clock,
    /** Everything up to here is known delivered (the channel's durable fan-out mark). */
    done: number,
    private readonly refill: Refill,
    /** The newest committed event: those after `done` are read back from the log. */
    lastEv: number = done,
    private readonly onSpill: () => void = () => {},
  ) {
    this.base = done
    this.lastQueued = done
    this.known = Math.max(done, lastEv)
    if (lastEv > done) {
      this.spilled = done
      void this.refillNow()
    }
  }

  /** Events not yet acknowledged by all their recipients (one more while some wait in the log). */
  get pending(): number {
    return this.queue.length + (this.spilled !== null ? 1 : 0)
  }

  /** Highest ev such that it and every earlier event reached all recipients. */
  get done(): number {
    return this.base
  }

  enqueue(event: ChannelEvent, recipients: readonly string[]): void {
    if (this.stopped) return
    this.known = Math.max(this.known, event.ev)
    if (this.spilled !== null || this.queue.length >= MAX_QUEUED_EVENTS || this.chars >= MAX_QUEUED_CHARS) {
      if (this.spilled === null) this.spill()
      return
    }
    this.push({ event, recipients })
    this.schedule()
  }

  private push(p: Pending): void {
    this.queue.push(p)
    this.chars += sizeOf(p.event)
    this.lastQueued = p.event.ev
  }

  /** From here on, committed events wait in the log until the queue has room again. */
  private spill(): void {
    this.spilled = this.lastQueued
    this.onSpill()
    if (this.queue.length === 0) void this.refillNow()
  }

  /** Reads the next page of spilled events back from the log. */
  private async refillNow(): Promise<void> {
    if (this.refilling || this.spilled === null || this.stopped) return
    this.refilling = true
    const after = this.spilled
    try {
      const page = await this.refill(after, MAX_QUEUED_EVENTS / 2)
      if (this.stopped) return
      this.spilled = null
      for (const p of page.events) if (p.event.ev > this.lastQueued) this.push(p)
      const through = Math.max(after, page.through, this.lastQueued)
      // More wait in the log (a full page, or events committed while this page was being read,
      // which enqueue() left there): read them once this page has drained.
      if (through < this.known) this.spilled = through
      this.schedule()
    } catch (err) {
      this.log.debug({ err, channel: this.channel }, 'reading fan-out back from the log failed; retrying')
      this.refilling = false
      this.schedule(RETRY_MAX_MS)
      return
    }
    this.refilling = false
    if (this.queue.length === 0) this.trim()
  }

  /**
   * Replaces events still queued (batches already sent keep what they carried): a deleted
   * message's text must not go out after its delete was committed.
   */
  rewrite(change: (event: ChannelEvent) => ChannelEvent): void {
    for (const p of this.queue) {
      const before = sizeOf(p.event)
      p.event = change(p.event)
      this.chars += sizeOf(p.event) - before
    }
  }

  /** Resolves once everything queued so far is delivered (or the fan-out is stopped). */
  idle(): Promise<void> {
    if (this.pending === 0 || this.stopped) return Promise.resolve()
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
    // One turn later, not in a microtask: the reply to the send that committed these events is
    // written first, and the fan-out's requests (other nodes' work) do not delay its ack.
    this.clock.setImmediate(() => {
      this.scheduled = false
      this.pump()
    })
  }

  private pump(): void {
    if (this.stopped) return
    if (this.queue.length === 0 && this.spilled !== null) return void this.refillNow()
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
      const size = sizeOf(p.event)
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
      this.chars -= sizeOf(head.event)
      this.base = ev
    }
    if (this.queue.length === 0) {
      this.acked.clear()
      if (this.spilled !== null) return void this.refillNow()
      this.wakeIdle()
    }
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }
}

function sizeOf(e: ChannelEvent): number {
  return e.type === 'message' ? e.message.text.length : e.type === 'edit' ? e.text.length : 100
}
