/**
 * The node's notifier: sends the notifications user actors hand it, many at once (at most
 * `concurrency` requests in flight), retries what failed for a reason that may pass, and reports
 * each outcome back to the user actor, which removes the notification (and a subscription that is
 * gone). Memory is bounded by `maxQueued` jobs; past it a job is dropped, counted, and reported
 * as dropped so the actor forgets it too.
 *
 * Nothing here is durable, on purpose: the pending notification is in the actor's replicated
 * state until the actor hears the outcome, so a crash of this node, or a report that does not
 * arrive, only means the next owner of the user sends it again under the same id.
 */
import type { Logger } from 'pino'
import { type Clock, type TimerHandle, systemClock } from '../clock.js'
import { type RetryPolicy, retryDelay } from './backoff.js'
import type { PushMetrics } from './metrics.js'
import type { Names } from './names.js'
import { type Attempt, type Destination, type VapidKeys, attempt } from './send.js'
import type { Notifier, PushJob, PushOutcome, PushResult } from './types.js'

export interface DispatcherOptions {
  concurrency: number
  maxQueued: number
  retry: RetryPolicy
  /** Retries end this long after the notification's first message; then it is dropped. */
  giveUpMs: number
  timeoutMs: number
  ttlSeconds: number
  vapid: () => VapidKeys | null
  /** The operator-wide webhook (`--push-webhook`), if any. */
  operator: { url: string; secret: string | null } | null
  /** Tells the user actor how its notifications ended; resolves with the subscriptions it removed. */
  report: (user: string, results: PushResult[]) => Promise<{ removed: string[] }>
  names?: Names
  /** Counts jobs taken in (the node's chat_push_notifications_total). */
  onSubmitted?: (n: number) => void
  metrics: PushMetrics
  log: Logger
  now(): number
  random(): number
  /** Retry and report timers; the system clock by default. */
  clock?: Clock
}

type Kind = 'webpush' | 'webhook' | 'operator'

interface Held {
  job: PushJob
  attempts: number
  state: 'queued' | 'sending' | 'waiting'
  timer: TimerHandle | null
  /** Cancelled while its request was in flight: it ends after that attempt, whatever the answer. */
  cancelled: boolean
}

const REPORT_DELAY_MS = 10
const REPORT_ATTEMPTS = 5

export class PushDispatcher implements Notifier {
  readonly operatorWebhook: boolean
  private readonly held = new Map<string, Held>()
  private readonly ready: string[] = []
  private sending = 0
  private readonly reports = new Map<string, { results: PushResult[]; kinds: Map<string, Kind> }>()
  private reportTimer: TimerHandle | null = null
  private stopped = false
  private readonly clock: Clock

  constructor(private readonly o: DispatcherOptions) {
    this.operatorWebhook = o.operator !== null
    this.clock = o.clock ?? systemClock
  }

  get queued(): number { return this.held.size }
  get inFlight(): number { return this.sending }

  submit(jobs: PushJob[]): void {
    if (this.stopped) return
    for (const job of jobs) {
      const id = job.body.id
      const existing = this.held.get(id)
      if (existing) {
        // Handed over again (a new activation on this node): the job in hand stands.
        existing.cancelled = false
        continue
      }
      if (this.held.size >= this.o.maxQueued) {
        this.o.metrics.dropped.inc({ reason: 'queue_full' })
        this.o.log.warn({ user: job.user, id, queued: this.held.size }, 'push notification dropped: this node holds too many')
        this.settle(job, 'dropped')
        continue
      }
      this.held.set(id, { job, attempts: 0, state: 'queued', timer: null, cancelled: false })
      this.ready.push(id)
      this.o.onSubmitted?.(1)
    }
    this.pump()
  }

  cancel(ids: readonly string[]): void {
    for (const id of ids) {
      const h = this.held.get(id)
      if (!h) continue
      if (h.state === 'sending') {
        h.cancelled = true
        continue
      }
      this.clock.clearTimeout(h.timer)
      this.held.delete(id)
    }
  }

  /** Forgets everything (the node stops): what was pending stays in the users' state. */
  stop(): void {
    this.stopped = true
    for (const h of this.held.values()) this.clock.clearTimeout(h.timer)
    this.held.clear()
    this.ready.length = 0
    this.clock.clearTimeout(this.reportTimer)
  }

  private pump(): void {
    while (!this.stopped && this.sending < this.o.concurrency && this.ready.length > 0) {
      const id = this.ready.shift()!
      const h = this.held.get(id)
      if (!h || h.state !== 'queued') continue
      h.state = 'sending'
      this.sending++
      void this.run(h).catch((err) => this.o.log.error({ err, id }, 'push attempt failed unexpectedly')).finally(() => {
        this.sending--
        this.pump()
      })
    }
  }

  private async run(h: Held): Promise<void> {
    const { job } = h
    const dest = this.destination(job)
    if (!dest) {
      this.finish(h, 'gone')
      return
    }
    if (h.attempts === 0 && this.o.names) job.body = await this.o.names.enrich(job.body)
    h.attempts++
    let result: Attempt
    try {
      result = await attempt(dest, job.body, { timeoutMs: this.o.timeoutMs, ttlSeconds: this.o.ttlSeconds, vapid: this.o.vapid(), now: this.o.now })
    } catch (err) {
      // The request could not even be built (the encryption refused the stored keys): never will.
      this.o.log.error({ err: (err as Error).message, user: job.user, id: job.body.id }, 'push request could not be built')
      result = { kind: 'rejected', status: 0 }
    }
    const kind = kindOf(job)
    switch (result.kind) {
      case 'delivered':
        this.o.metrics.sent.inc({ kind })
        this.o.metrics.latency.observe({ kind }, Math.max(0, this.o.now() - job.createdAt) / 1000)
        this.finish(h, 'delivered')
        return
      case 'gone':
        this.o.log.info({ user: job.user, id: job.body.id, sub: job.target.id, status: result.status }, 'push subscription gone; removing it')
        this.o.metrics.failed.inc({ kind, reason: 'gone' })
        this.finish(h, 'gone')
        return
      case 'rejected':
        this.o.log.warn({ user: job.user, id: job.body.id, sub: job.target.id, status: result.status }, 'push notification refused by the receiver')
        this.o.metrics.failed.inc({ kind, reason: 'rejected' })
        this.finish(h, 'rejected')
        return
      case 'retry':
        this.retryLater(h, kind, result)
    }
  }

  private retryLater(h: Held, kind: Kind, result: Extract<Attempt, { kind: 'retry' }>): void {
    const { job } = h
    const now = this.o.now()
    const left = job.createdAt + this.o.giveUpMs - now
    if (h.cancelled) {
      this.held.delete(job.body.id)
      return
    }
    if (left <= 0) {
      this.o.log.warn({ user: job.user, id: job.body.id, sub: job.target.id, attempts: h.attempts, reason: result.reason }, 'push notification dropped: retries ran out')
      this.o.metrics.failed.inc({ kind, reason: 'expired' })
      this.o.metrics.dropped.inc({ reason: 'expired' })
      this.finish(h, 'expired')
      return
    }
    const delay = Math.min(left, retryDelay(this.o.retry, h.attempts, this.o.random, result.retryAfterMs))
    this.o.metrics.retried.inc({ kind })
    this.o.log.debug({ user: job.user, id: job.body.id, attempt: h.attempts, reason: result.reason, delay }, 'push attempt failed; retrying')
    h.state = 'waiting'
    h.timer = this.clock.setTimeout(() => {
      h.timer = null
      if (this.held.get(job.body.id) !== h) return
      h.state = 'queued'
      this.ready.push(job.body.id)
      this.pump()
    }, delay)
    h.timer.unref()
  }

  private finish(h: Held, outcome: PushOutcome): void {
    this.held.delete(h.job.body.id)
    this.settle(h.job, outcome)
  }

  private destination(job: PushJob): Destination | null {
    if (job.target.kind !== 'operator') return job.target
    return this.o.operator ? { kind: 'operator', ...this.o.operator } : null
  }

  /** Outcomes are gathered for a moment and sent per user, one request for many. */
  private settle(job: PushJob, outcome: PushOutcome): void {
    let batch = this.reports.get(job.user)
    if (!batch) this.reports.set(job.user, batch = { results: [], kinds: new Map() })
    batch.results.push({ id: job.body.id, sub: job.target.id, outcome })
    batch.kinds.set(job.target.id, kindOf(job))
    this.reportTimer ??= this.clock.setTimeout(() => {
      this.reportTimer = null
      const due = [...this.reports]
      this.reports.clear()
      for (const [user, b] of due) void this.report(user, b.results, b.kinds, 1)
    }, REPORT_DELAY_MS)
    this.reportTimer.unref()
  }

  private async report(user: string, results: PushResult[], kinds: Map<string, Kind>, attemptNo: number): Promise<void> {
    if (this.stopped) return
    try {
      const { removed } = await this.o.report(user, results)
      for (const sub of removed) this.o.metrics.removedSubscriptions.inc({ kind: kinds.get(sub) ?? 'webpush' })
    } catch (err) {
      if (attemptNo >= REPORT_ATTEMPTS) {
        this.o.metrics.reportFailures.inc()
        this.o.log.warn({ user, err: (err as Error).message }, 'push outcome not reported; the notification will be sent again')
        return
      }
      const timer = this.clock.setTimeout(() => void this.report(user, results, kinds, attemptNo + 1), 250 * 2 ** attemptNo)
      timer.unref()
    }
  }
}

function kindOf(job: PushJob): Kind {
  return job.target.kind
}
