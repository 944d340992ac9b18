/**
 * The push side of one user actor: its subscriptions and its pending notifications, kept in the
 * actor's own store (so replicated and fenced like the rest of its state), and the decisions:
 * which message events become notifications, which are folded into one, when each is handed to
 * the node's notifier, and what a settled outcome removes.
 *
 * Runs inside the actor's mailbox (the actor calls it from its handlers), so its state changes
 * only there; its one timer sends a `due` request through the mailbox instead of acting itself.
 * Nothing here changes memory before the store committed the matching change.
 *
 * Sub-keys (docs/STORAGE.md): `s/<subId>` subscription, `n/<id>` pending notification, and the
 * actor's `~wake` flag while anything is pending, so a new owner after a crash resumes it.
 */
import type { Actors } from '../actors/env.js'
import type { Clock, TimerHandle } from '../clock.js'
import type { Random } from '../random.js'
import { errors } from '../errors.js'
import type { InboxEvent } from '../protocol/frames.js'
import type { ActorStore } from '../storage/actor-store.js'
import { HIGH, SEP, WAKE_SUB } from '../storage/keys.js'
import type { KvOp } from '../storage/kv.js'
import {
  type NewSubscription, type Notifier, OPERATOR_WEBHOOK, type PendingNotification, type PushJob, type PushOp,
  type PushPolicy, type PushReplies, type PushResult, type PushTarget, type Subscription, type SubscriptionView, previewOf,
} from './types.js'

const RESYNC_MS = 5 * 60_000

const OPERATOR_TARGET: PushTarget = { id: OPERATOR_WEBHOOK, kind: 'operator' }

const K = {
  sub: (id: string) => `s${SEP}${id}`,
  pending: (id: string) => `n${SEP}${id}`,
}

/** Changes to pending notifications that one inbox commit carries; applied once it committed. */
export interface PushPlan { upserts: Array<[string, PendingNotification]> }

export interface UserPushEnv {
  actors: Actors
  notifier: Notifier
  policy: PushPolicy
  now(): number
  /** Timers for notifications that fall due; notification ids. */
  clock: Clock
  random: Random
}

export class UserPush {
  private readonly subs = new Map<string, Subscription>()
  private readonly pending = new Map<string, PendingNotification>()
  /**
   * Pending notifications the notifier holds, with when they were handed over (memory only: a new
   * activation hands all again). One not settled RESYNC_MS after is handed over again, in case
   * its outcome was lost on the way back; the notifier ignores an id it still holds.
   */
  private readonly handed = new Map<string, number>()
  private wakeSet = false
  private timer: TimerHandle | null = null
  private timerAt = Infinity
  private stopped = false

  constructor(private readonly username: string, private readonly store: ActorStore, private readonly env: UserPushEnv) {}

  async load(): Promise<void> {
    const [subs, pending, wake] = await Promise.all([
      this.store.range<Subscription>({ gt: `s${SEP}`, lt: `s${SEP}${HIGH}` }),
      this.store.range<PendingNotification>({ gt: `n${SEP}`, lt: `n${SEP}${HIGH}` }),
      this.store.get<number>(WAKE_SUB),
    ])
    for (const [, s] of subs) this.subs.set(s.id, s)
    for (const [, p] of pending) this.pending.set(p.body.id, p)
    this.wakeSet = wake !== undefined
    // What a previous owner left unsettled goes out again, under the same ids.
    this.schedule()
  }

  /** Whether the actor may be unloaded: not while anything waits to be handed over or settled. */
  get idle(): boolean {
    return this.pending.size === 0
  }

  /** The activation ends (handoff, shutdown): whoever owns the user next sends what is pending. */
  stop(): void {
    this.stopped = true
    this.env.clock.clearTimeout(this.timer)
    this.timer = null
    this.env.notifier.cancel([...this.handed.keys()])
    this.handed.clear()
  }

  handle(op: PushOp): Promise<unknown> | unknown {
    switch (op.kind) {
      case 'subscribe': return this.subscribe(op.deviceId, op.sub)
      case 'list': return this.list()
      case 'unsubscribe': return this.unsubscribe(op.id)
      case 'due': return this.handOver()
      case 'settled': return this.settle(op.results)
      default: {
        const never: never = op
        throw errors.badFrame(`unknown push request ${(never as { kind: string }).kind}`)
      }
    }
  }

  /**
   * Notifications for message events about to be appended to the inbox: one per subscription,
   * none for the user's own messages or while a device is live, and a message folded into a
   * notification of the same subscription and channel that is still in its hold time. The ops
   * join the inbox's commit; `apply` follows once it succeeded.
   */
  plan(events: readonly InboxEvent[], online: boolean, ops: KvOp[]): PushPlan | null {
    if (online) return null
    const targets = [...this.subs.keys()]
    if (this.env.notifier.operatorWebhook) targets.push(OPERATOR_WEBHOOK)
    if (targets.length === 0) return null
    const now = this.env.now()
    const working = new Map<string, PendingNotification>()
    const open = (sub: string, channel: string): [string, PendingNotification] | undefined => {
      for (const [id, p] of working) if (p.sub === sub && p.body.channel === channel) return [id, p]
      for (const [id, p] of this.pending) if (!this.handed.has(id) && p.sub === sub && p.body.channel === channel) return [id, p]
      return undefined
    }
    for (const e of events) {
      if (e.op !== 'message' || e.from === this.username) continue
      const fields = { channel: e.channel, from: e.from, preview: previewOf(e.text), inboxSeq: e.inboxSeq, ts: e.ts }
      for (const sub of targets) {
        const found = open(sub, e.channel)
        if (found) {
          const [id, p] = found
          working.set(id, { ...p, body: { ...p.body, ...fields, count: p.body.count + 1 } })
          continue
        }
        const id = this.env.random.bytes(16).toString('base64url')
        working.set(id, { sub, createdAt: now, sendAt: now + this.env.policy.coalesceMs, body: { id, user: this.username, ...fields, count: 1 } })
      }
    }
    if (working.size === 0) return null
    for (const [id, p] of working) ops.push({ type: 'put', key: K.pending(id), value: p })
    if (!this.wakeSet) ops.push({ type: 'put', key: WAKE_SUB, value: 1 })
    return { upserts: [...working] }
  }

  apply(plan: PushPlan | null): void {
    if (!plan) return
    for (const [id, p] of plan.upserts) this.pending.set(id, p)
    this.wakeSet = true
    this.schedule()
  }

  /** A device went live: what is pending is withdrawn (the user sees the messages in the app). */
  withdraw(ops: KvOp[]): string[] {
    const ids = [...this.pending.keys()]
    for (const id of ids) ops.push({ type: 'del', key: K.pending(id) })
    if (this.wakeSet) ops.push({ type: 'del', key: WAKE_SUB })
    return ids
  }

  withdrawn(ids: string[]): void {
    this.forget(ids)
  }

  private async subscribe(deviceId: string, sub: NewSubscription): Promise<PushReplies['subscribe']> {
    const same = [...this.subs.values()].find((s) => sub.kind === 'webpush'
      ? s.kind === 'webpush' && s.endpoint === sub.endpoint
      : s.kind === 'webhook' && s.url === sub.url && s.deviceId === deviceId)
    // Subscribing again (a browser does on every start) replaces the old record under its id.
    if (!same && this.subs.size >= this.env.policy.maxSubscriptions) throw errors.limitReached(`at most ${this.env.policy.maxSubscriptions} push subscriptions per user; delete one first`)
    const id = same?.id ?? this.env.random.bytes(12).toString('base64url')
    const createdAt = this.env.now()
    const record: Subscription = sub.kind === 'webpush'
      ? { id, kind: 'webpush', deviceId, createdAt, endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh, auth: sub.keys.auth } }
      : { id, kind: 'webhook', deviceId, createdAt, url: sub.url, secret: this.env.random.bytes(32).toString('base64url') }
    await this.store.commit([{ type: 'put', key: K.sub(id), value: record }])
    this.subs.set(id, record)
    return record.kind === 'webhook' ? { id, kind: 'webhook', secret: record.secret } : { id, kind: 'webpush' }
  }

  private list(): SubscriptionView[] {
    return [...this.subs.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map((s) => s.kind === 'webpush'
      ? { id: s.id, kind: s.kind, deviceId: s.deviceId, endpoint: s.endpoint, createdAt: s.createdAt }
      : { id: s.id, kind: s.kind, deviceId: s.deviceId, url: s.url, createdAt: s.createdAt })
  }

  private async unsubscribe(id: string): Promise<null> {
    if (!this.subs.has(id)) throw errors.notFound(`no push subscription ${id}`)
    await this.removeSubscriptions(new Set([id]), [])
    return null
  }

  /** Hands every pending notification whose hold time is over to the notifier. */
  private async handOver(): Promise<null> {
    if (this.stopped) return null
    const now = this.env.now()
    const jobs: PushJob[] = []
    const orphans: string[] = []
    for (const [id, p] of this.pending) {
      const handedAt = this.handed.get(id)
      if (p.sendAt > now || (handedAt !== undefined && handedAt > now - RESYNC_MS)) continue
      const target = p.sub === OPERATOR_WEBHOOK ? (this.env.notifier.operatorWebhook ? OPERATOR_TARGET : undefined) : this.subs.get(p.sub)
      if (!target) orphans.push(id)
      else jobs.push({ user: this.username, target, body: p.body, createdAt: p.createdAt })
    }
    for (const j of jobs) this.handed.set(j.body.id, now)
    if (jobs.length > 0) this.env.notifier.submit(jobs)
    if (orphans.length > 0) await this.removePending(orphans)
    this.schedule()
    return null
  }

  /** Outcomes from the notifier: settled notifications go, and so do subscriptions that are gone. */
  private async settle(results: PushResult[]): Promise<PushReplies['settled']> {
    const gone = new Set(results.filter((r) => r.outcome === 'gone' && this.subs.has(r.sub)).map((r) => r.sub))
    const ids = results.map((r) => r.id).filter((id) => this.pending.has(id))
    // The notifier is done with what it reported: nothing of it to cancel.
    for (const r of results) this.handed.delete(r.id)
    if (gone.size > 0) await this.removeSubscriptions(gone, ids)
    else if (ids.length > 0) await this.removePending(ids)
    return { removed: [...gone] }
  }

  /**
   * A logout: the subscriptions made with the device's token (all of them when `deviceId` is
   * null, log out everywhere) go, with their pending notifications. A device that logged out
   * must not keep getting previews of the user's messages.
   */
  async forgetDevice(deviceId: string | null): Promise<void> {
    const gone = new Set([...this.subs.values()].filter((s) => deviceId === null || s.deviceId === deviceId).map((s) => s.id))
    if (gone.size > 0) await this.removeSubscriptions(gone, [])
  }

  private async removeSubscriptions(subs: Set<string>, alsoPending: string[]): Promise<void> {
    const ids = new Set(alsoPending)
    for (const [id, p] of this.pending) if (subs.has(p.sub)) ids.add(id)
    const ops: KvOp[] = [...subs].map((s) => ({ type: 'del' as const, key: K.sub(s) }))
    await this.commitRemoval([...ids], ops)
    for (const s of subs) this.subs.delete(s)
  }

  private removePending(ids: string[]): Promise<void> {
    return this.commitRemoval(ids, [])
  }

  private async commitRemoval(ids: string[], ops: KvOp[]): Promise<void> {
    for (const id of ids) ops.push({ type: 'del', key: K.pending(id) })
    const left = [...this.pending.keys()].filter((id) => !ids.includes(id)).length
    if (left === 0 && this.wakeSet) ops.push({ type: 'del', key: WAKE_SUB })
    if (ops.length === 0) return
    await this.store.commit(ops)
    this.forget(ids)
  }

  private forget(ids: string[]): void {
    for (const id of ids) this.pending.delete(id)
    const held = ids.filter((id) => this.handed.delete(id))
    if (held.length > 0) this.env.notifier.cancel(held)
    if (this.pending.size === 0) this.wakeSet = false
  }

  /** Arms the timer for the earliest notification due to be handed over (again). */
  private schedule(): void {
    if (this.stopped) return
    let at = Infinity
    for (const [id, p] of this.pending) {
      const handedAt = this.handed.get(id)
      const due = handedAt === undefined ? p.sendAt : handedAt + RESYNC_MS
      if (due < at) at = due
    }
    if (at === Infinity || at >= this.timerAt) return
    this.env.clock.clearTimeout(this.timer)
    this.timerAt = at
    this.timer = this.env.clock.setTimeout(() => {
      this.timer = null
      this.timerAt = Infinity
      // Through the mailbox: the hand-over must not interleave with a commit in progress.
      void this.env.actors.user(this.username, { kind: 'push', op: { kind: 'due' } }).catch(() => {
        if (!this.stopped) this.env.clock.setTimeout(() => this.schedule(), 1000).unref()
      })
    }, Math.max(0, at - this.env.now()))
    this.timer.unref()
  }
}
