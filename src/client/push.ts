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

/** The parts of a ServiceWorkerRegistration this module uses. */
export interface PushRegistrationLike {
  pushManager: {
    getSubscription(): Promise<{ toJSON(): unknown; unsubscribe(): Promise<boolean> } | null>
    subscribe(options: { userVisibleOnly: boolean; applicationServerKey: Uint8Array }): Promise<{ toJSON(): unknown }>
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
   * Resolves with the server's subscription, or null when the user said no.
   */
  async enableWebPush(registration: PushRegistrationLike, requestPermission: () => Promise<string> = () => Notification.requestPermission()): Promise<CreatedPushSubscription | null> {
    if ((await requestPermission()) !== 'granted') return null
    const key = base64UrlToBytes(await this.vapidPublicKey())
    const existing = await registration.pushManager.getSubscription()
    const current = existing ?? await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key })
    return this.subscribeWebPush(current.toJSON() as WebPushSubscriptionJSON)
  }

  /** In a browser: removes this browser's subscription here and at the push service (e.g. on logout). */
  async disableWebPush(registration: PushRegistrationLike): Promise<void> {
    const existing = await registration.pushManager.getSubscription()
    if (!existing) return
    // The server keeps endpoints in their normal URL form.
    const endpoint = new URL((existing.toJSON() as WebPushSubscriptionJSON).endpoint).href
    for (const s of await this.list()) if (s.kind === 'webpush' && s.endpoint === endpoint) await this.unsubscribe(s.id)
    await existing.unsubscribe()
  }
}

export function base64UrlToBytes(value: string): Uint8Array {
  const b64 = value.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (value.length % 4)) % 4)
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}
