/**
 * Push handling for the web app's service worker, self-contained (no imports) so the worker
 * bundle stays small:
 *
 * ```ts
 * // sw.ts
 * import { installPushHandlers } from '../src/client/push-sw'
 * installPushHandlers(self as unknown as PushWorkerScope)
 * ```
 *
 * A notification shows the sender and the group as its title and the preview as its body, one per
 * conversation (tag = channel id, so a newer one replaces the older), and a click opens the
 * conversation (`/#/c/<channel>`) in an open window of the app, or a new one. Repeats of one
 * notification id (the server sends at least once) are not shown twice.
 */

/** The notification body of PROTOCOL.md section 4.1 (as `PushNotification` in push.ts). */
export interface PushPayload {
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

export interface NotificationData { id: string; channel: string; url: string; inboxSeq: number }

export interface NotificationContent {
  title: string
  options: { body: string; tag: string; renotify: boolean; timestamp: number; data: NotificationData; icon?: string }
}

// The parts of the service worker's global scope this module uses (the DOM lib has no worker types).
interface ExtendableEventLike { waitUntil(p: Promise<unknown>): void }
interface PushEventLike extends ExtendableEventLike { data: { json(): unknown; text(): string } | null }
interface ShownNotification { data: unknown; close(): void }
interface NotificationClickEventLike extends ExtendableEventLike { notification: ShownNotification }
interface WindowClientLike {
  url: string
  focus(): Promise<unknown>
  navigate?(url: string): Promise<unknown>
  postMessage(message: unknown): void
}
export interface PushWorkerScope {
  location: { origin: string }
  registration: {
    showNotification(title: string, options: NotificationContent['options']): Promise<void>
    getNotifications(filter?: { tag?: string }): Promise<ShownNotification[]>
  }
  clients: {
    matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<WindowClientLike[]>
    openWindow(url: string): Promise<unknown>
  }
  addEventListener(type: 'push', listener: (event: PushEventLike) => void): void
  addEventListener(type: 'notificationclick', listener: (event: NotificationClickEventLike) => void): void
}

export interface PushHandlerOptions {
  /** The app's route of a conversation. Default `/#/c/<channel>`. */
  conversationUrl?: (channel: string) => string
  icon?: string
}

/** The app's route of a conversation. */
export function conversationUrl(channel: string): string {
  return `/#/c/${encodeURIComponent(channel)}`
}

/** Title "Alice in Team" (a group) or "Alice" (1:1); body the preview; one per conversation. */
export function notificationContent(p: PushPayload, urlFor: (channel: string) => string = conversationUrl, icon?: string): NotificationContent {
  const sender = p.fromName || p.from
  const group = p.channel.startsWith('g:') ? (p.channelName || 'a group') : null
  const title = group ? `${sender} in ${group}` : sender
  const body = p.count > 1 ? `${p.preview}\n(${p.count} new messages)` : p.preview
  return {
    title,
    options: {
      body, tag: p.channel, renotify: true, timestamp: p.ts,
      data: { id: p.id, channel: p.channel, url: urlFor(p.channel), inboxSeq: p.inboxSeq },
      ...(icon ? { icon } : {}),
    },
  }
}

/** Reads a push message's payload; null when it is not the notification the server sends. */
export function parsePayload(data: PushEventLike['data']): PushPayload | null {
  if (!data) return null
  let v: unknown
  try {
    v = data.json()
  } catch {
    return null
  }
  const p = v as Partial<PushPayload> | null
  if (!p || typeof p.id !== 'string' || typeof p.channel !== 'string' || typeof p.from !== 'string' || typeof p.preview !== 'string') return null
  return { user: '', inboxSeq: 0, ts: Date.now(), ...p, count: typeof p.count === 'number' && p.count > 0 ? p.count : 1 } as PushPayload
}

export function installPushHandlers(scope: PushWorkerScope, options: PushHandlerOptions = {}): void {
  const urlFor = options.conversationUrl ?? conversationUrl
  scope.addEventListener('push', (event) => {
    event.waitUntil(showPush(scope, parsePayload(event.data), urlFor, options.icon))
  })
  scope.addEventListener('notificationclick', (event) => {
    event.notification.close()
    const data = event.notification.data as Partial<NotificationData> | null
    const url = data?.url ?? (data?.channel ? urlFor(data.channel) : '/')
    event.waitUntil(openConversation(scope, url, data?.channel ?? null))
  })
}

async function showPush(scope: PushWorkerScope, payload: PushPayload | null, urlFor: (channel: string) => string, icon?: string): Promise<void> {
  // A push must show something (userVisibleOnly): an unreadable one still says there is news.
  if (!payload) return scope.registration.showNotification('New message', { body: '', tag: 'chat', renotify: false, timestamp: Date.now(), data: { id: '', channel: '', url: '/', inboxSeq: 0 } })
  const shown = await scope.registration.getNotifications({ tag: payload.channel })
  if (shown.some((n) => (n.data as Partial<NotificationData> | null)?.id === payload.id)) return
  const { title, options } = notificationContent(payload, urlFor, icon)
  await scope.registration.showNotification(title, options)
}

/** Focuses a window of the app and shows the conversation there; opens one when none is open. */
async function openConversation(scope: PushWorkerScope, url: string, channel: string | null): Promise<void> {
  const target = new URL(url, scope.location.origin).href
  const windows = await scope.clients.matchAll({ type: 'window', includeUncontrolled: true })
  const client = windows.find((c) => c.url.startsWith(scope.location.origin))
  if (!client) {
    await scope.clients.openWindow(target)
    return
  }
  await client.focus()
  // Tell the app too: a window not controlled by this worker cannot be navigated by it.
  client.postMessage({ type: 'open-conversation', channel, url: target })
  if (client.navigate && client.url !== target) await client.navigate(target).catch(() => undefined)
}
