/**
 * Push notifications (PROTOCOL.md section 4.1), defined once: what a subscription is, what a
 * receiver gets, the pending notification a user actor keeps until it is settled, the requests the
 * gateway and the notifier send to the user actor, and the notifier's contract.
 *
 * Flow: the user actor decides (no live device, not the user's own message, fold a burst) and
 * commits a pending notification, per subscription, with a stable id; when its hold time is over
 * it hands it to the node's notifier, which sends with bounded concurrency and retries, then
 * reports the outcome back to the actor, which removes it (and the subscription when the push
 * service said it is gone). Whatever was not settled is handed over again by the next activation,
 * on whichever node owns the user then: at least once, deduplicated by id.
 */

export type SubscriptionKind = 'webpush' | 'webhook'

/** A subscription as stored in the user actor (replicated with the rest of its state). */
export type Subscription =
  | { id: string; kind: 'webpush'; deviceId: string; createdAt: number; endpoint: string; keys: { p256dh: string; auth: string } }
  | { id: string; kind: 'webhook'; deviceId: string; createdAt: number; url: string; secret: string }

/** What `GET /v1/push/subscriptions` lists: never the secret nor the keys. */
export interface SubscriptionView { id: string; kind: SubscriptionKind; deviceId: string; endpoint?: string; url?: string; createdAt: number }

/** A subscription as the gateway validated it, before the actor names it. */
export type NewSubscription =
  | { kind: 'webpush'; endpoint: string; keys: { p256dh: string; auth: string } }
  | { kind: 'webhook'; url: string }

/** The JSON every receiver gets (webhook body, decrypted Web Push payload). */
export interface NotificationBody {
  id: string
  user: string
  channel: string
  from: string
  /** The first 100 code points of the newest message's text. */
  preview: string
  inboxSeq: number
  /** Messages folded into this notification (1 unless a burst was folded). */
  count: number
  ts: number
  /** Added for display (not in the contract's list): the sender's display name, and the group's name. */
  fromName?: string
  channelName?: string
}

/**
 * Sub-id of the operator-wide webhook (`--push-webhook`): a subscription every user has
 * implicitly, resolved by the notifier rather than stored per user.
 */
export const OPERATOR_WEBHOOK = 'operator'

/** A notification the user actor keeps (sub-key `n/<id>`) until its notifier settles it. */
export interface PendingNotification {
  /** The subscription it goes to (or OPERATOR_WEBHOOK). */
  sub: string
  body: NotificationBody
  /** When the first message of it arrived: retries end an hour (`--push-give-up-ms`) after. */
  createdAt: number
  /** Not handed to the notifier before this (the coalescing window). */
  sendAt: number
}

/** Where a job goes: a stored subscription, or the operator's webhook. */
export type PushTarget = Subscription | { id: typeof OPERATOR_WEBHOOK; kind: 'operator' }

/** One delivery the notifier owns until it reports an outcome. */
export interface PushJob {
  user: string
  target: PushTarget
  body: NotificationBody
  createdAt: number
}

/**
 * How a job ended. `delivered`: 2xx. `gone`: 404 or 410, the subscription is removed.
 * `rejected`: another 4xx, this notification can never be delivered as it is. `expired`: still
 * failing when the give-up time passed. `dropped`: this node's queue was full.
 */
export type PushOutcome = 'delivered' | 'gone' | 'rejected' | 'expired' | 'dropped'

export interface PushResult { id: string; sub: string; outcome: PushOutcome }

/** Requests to the user actor about push, carried as `{kind: 'push', op}`. */
export type PushOp =
  | { kind: 'subscribe'; deviceId: string; sub: NewSubscription }
  | { kind: 'list' }
  | { kind: 'unsubscribe'; id: string }
  /** Hand what is due to the notifier (the actor's own timer sends it through the mailbox). */
  | { kind: 'due' }
  | { kind: 'settled'; results: PushResult[] }

export interface PushReplies {
  subscribe: { id: string; kind: SubscriptionKind; secret?: string }
  list: SubscriptionView[]
  unsubscribe: null
  due: null
  /** The subscriptions removed because their receiver said they are gone. */
  settled: { removed: string[] }
}

/**
 * The node's sender of notifications. Never blocks the actor: `submit` queues and returns.
 * Contract: every submitted job is answered exactly once through the node's report path (to the
 * user actor, `settled`) unless it was cancelled or the node stopped first; a job whose id is
 * already held is ignored. `cancel` forgets jobs not yet being sent.
 */
export interface Notifier {
  /** Whether an operator-wide webhook gets every user's notifications too. */
  readonly operatorWebhook: boolean
  submit(jobs: PushJob[]): void
  cancel(ids: readonly string[]): void
}

/** Limits and timing of push that the user actor needs. */
export interface PushPolicy {
  maxSubscriptions: number
  /** Messages arriving within this window of a notification's first are folded into it. */
  coalesceMs: number
}

export const DEFAULT_PUSH_POLICY: PushPolicy = { maxSubscriptions: 10, coalesceMs: 2000 }

/** The contract's preview: the first 100 code points. */
export function previewOf(text: string): string {
  let out = ''
  let n = 0
  for (const ch of text) {
    if (n++ === 100) break
    out += ch
  }
  return out
}
