/**
 * Push notifications from the client's side (PROTOCOL.md section 4.1): the cluster's VAPID key,
 * and the subscriptions of the logged-in user. A subscription belongs to the device of the token
 * that creates it. `enableWebPush` does the whole browser dance: permission, the push manager's
 * subscription under the cluster's key, and registering it with the server.
 *
 * ```ts
 * const push = new PushApi(api)
 * const reg = await navigator.serviceWorker.register('/sw.js', { type: 'module' })
 * const sub = await push.enableWebPush(reg)   // after a user gesture, not on first load
 * ```
 */
import { ApiError } from './errors.js'
import type { HttpApi } from './http.js'

export type PushSubscriptionKind = 'webpush' | 'webhook'

export interface PushSubscriptionInfo {
  id: string
  kind: PushSubscriptionKind
  deviceId: string
  /** Web Push endpoint. */
  endpoint?: string
  /** Webhook URL. */
  url?: string
  createdAt: number
}

/** What `POST /v1/push/subscriptions` answers; a webhook's `secret` comes only here, once. */
export interface CreatedPushSubscription { id: string; kind: PushSubscriptionKind; secret?: string }

/** The browser's `PushSubscription.toJSON()`. */
export interface WebPushSubscriptionJSON { endpoint: string; keys: { p256dh: string; auth: string } }

/** The notification every receiver gets (the decrypted Web Push payload, the webhook body). */
export interface PushNotification {
  id: string
  user: string
  channel: string
  from: string
  preview: string
  inboxSeq: number
  count: number
  ts: number
  fromName?: string
  channelName?: string
}

/** The parts of a browser PushSubscription this module uses. */
export interface BrowserPushSubscriptionLike {
  toJSON(): unknown
  unsubscribe(): Promise<boolean>
  /** The key it was made with; a subscription under another key is replaced. */
  options?: { applicationServerKey?: ArrayBuffer | null }
}

/** The parts of a ServiceWorkerRegistration this module uses. */
export interface PushRegistrationLike {
  pushManager: {
    getSubscription(): Promise<BrowserPushSubscriptionLike | null>
    subscribe(options: { userVisibleOnly: boolean; applicationServerKey: Uint8Array<ArrayBuffer> }): Promise<BrowserPushSubscriptionLike>
  }
}

export class PushApi {
  constructor(private readonly api: HttpApi) {}

  /** The cluster's VAPID public key (base64url), for `pushManager.subscribe`. */
  async vapidPublicKey(): Promise<string> {
    return (await this.api.call<{ publicKey: string }>('GET', '/v1/push/vapid')).publicKey
  }

  /** Registers a browser's push subscription. Registering the same endpoint again keeps its id. */
  async subscribeWebPush(subscription: WebPushSubscriptionJSON): Promise<CreatedPushSubscription> {
    return this.api.call('POST', '/v1/push/subscriptions', { kind: 'webpush', subscription: { endpoint: subscription.endpoint, keys: subscription.keys } })
  }

  /** Registers a webhook (a mobile push gateway). Keep the returned `secret`: it signs every request. */
  async subscribeWebhook(url: string): Promise<CreatedPushSubscription> {
    return this.api.call('POST', '/v1/push/subscriptions', { kind: 'webhook', url })
  }

  async list(): Promise<PushSubscriptionInfo[]> {
    return (await this.api.call<{ subscriptions: PushSubscriptionInfo[] }>('GET', '/v1/push/subscriptions')).subscriptions
  }

  async unsubscribe(id: string): Promise<void> {
    await this.api.call('DELETE', `/v1/push/subscriptions/${encodeURIComponent(id)}`)
  }

  /**
   * In a browser: asks for notification permission (call it from a user gesture), subscribes
   * the service worker's push manager with the cluster's key and registers the subscription.
   * Resolves with the server's subscription, or null when the user said no. Calling it again
   * (at every start, say) registers the same subscription again under the same id; one made
   * under an older key of the cluster is replaced by a new one.
   */
  async enableWebPush(registration: PushRegistrationLike, requestPermission: () => Promise<string> = () => Notification.requestPermission()): Promise<CreatedPushSubscription | null> {
    if ((await requestPermission()) !== 'granted') return null
    const key = base64UrlToBytes(await this.vapidPublicKey())
    let current = await registration.pushManager.getSubscription()
    if (current && !sameKey(current.options?.applicationServerKey, key)) {
      await current.unsubscribe().catch(() => false)
      current = null
    }
    current ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key })
    return this.subscribeWebPush(current.toJSON() as WebPushSubscriptionJSON)
  }

  /**
   * In a browser: removes this browser's subscription at the push service and here (on logout),
   * so the next person on this browser does not get the previous one's notifications. The push
   * service's side goes first: it needs no network to stop this browser showing anything, and
   * the server would remove its record at the next push anyway (410). `ids` are subscriptions
   * the caller registered and remembered, removed even if the browser has lost its subscription.
   */
  async disableWebPush(registration: PushRegistrationLike, ids: readonly string[] = []): Promise<void> {
    const existing = await registration.pushManager.getSubscription()
    // The server keeps endpoints in their normal URL form.
    const endpoint = existing ? new URL((existing.toJSON() as WebPushSubscriptionJSON).endpoint).href : null
    if (existing) await existing.unsubscribe().catch(() => false)
    const doomed = new Set(ids)
    if (endpoint !== null) for (const s of await this.list()) if (s.kind === 'webpush' && s.endpoint === endpoint) doomed.add(s.id)
    for (const id of doomed) {
      await this.unsubscribe(id).catch((err: unknown) => {
        // Already gone (removed after a 410, or by another tab) is what we want.
        if (!(err instanceof ApiError && err.status === 404)) throw err
      })
    }
  }
}

function sameKey(a: ArrayBuffer | null | undefined, b: Uint8Array): boolean {
  // A browser that does not say which key it used is trusted to have used this one.
  if (a === null || a === undefined) return true
  const x = new Uint8Array(a)
  return x.length === b.length && x.every((v, i) => v === b[i])
}

export function base64UrlToBytes(value: string): Uint8Array<ArrayBuffer> {
  const b64 = value.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (value.length % 4)) % 4)
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}
