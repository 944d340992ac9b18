/**
 * Push handling for a service worker: the one implementation the web app's worker runs
 * (web/sw/sw.js), and that any other web client of the cluster can use. Self-contained (no
 * imports) so a worker bundle stays small:
 *
 * ```ts
 * // sw.ts
 * import { installPushHandlers } from '../src/client/push-sw'
 * installPushHandlers(self as unknown as PushWorkerScope)
 * ```
 *
 * A notification shows the sender and the group as its title and the preview as its body, one per
 * conversation (tag = channel id, so a newer one replaces the older and alerts again), and a click
 * opens the conversation (`/#/c/<channel>`) in an open window of the app, or a new one. Repeats of
 * one notification id (the server sends at least once) are not shown twice, even after the first
 * was dismissed or the worker was restarted.
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

/** What the worker posts to an open window of the app when a notification is clicked. */
export interface OpenConversationMessage { type: 'open-conversation'; channel: string | null; url: string }

export function isOpenConversationMessage(value: unknown): value is OpenConversationMessage {
  const m = value as Partial<OpenConversationMessage> | null
  return typeof m === 'object' && m !== null && m.type === 'open-conversation' && typeof m.url === 'string'
}

// The parts of the service worker's global scope this module uses (the DOM lib has no worker types).
interface ExtendableEventLike { waitUntil(p: Promise<unknown>): void }
interface PushEventLike extends ExtendableEventLike { data: { json(): unknown; text(): string } | null }
interface ShownNotification { data: unknown; close(): void }
interface NotificationClickEventLike extends ExtendableEventLike { notification: ShownNotification }
interface WindowClientLike {
  url: string
  focused?: boolean
  focus(): Promise<unknown>
  navigate?(url: string): Promise<unknown>
  postMessage(message: unknown): void
}
interface CacheLike {
  match(key: string): Promise<unknown>
  put(key: string, response: unknown): Promise<void>
  keys(): Promise<ReadonlyArray<{ url: string }>>
  delete(key: string | { url: string }): Promise<boolean>
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
  /** Cache Storage, where the ids already shown are remembered across worker restarts. */
  caches?: { open(name: string): Promise<CacheLike> }
  addEventListener(type: 'push', listener: (event: PushEventLike) => void): void
  addEventListener(type: 'notificationclick', listener: (event: NotificationClickEventLike) => void): void
}

export interface PushHandlerOptions {
  /** The app's route of a conversation. Default `/#/c/<channel>`. */
  conversationUrl?: (channel: string) => string
  icon?: string
}

/** The Cache Storage cache that remembers notification ids already shown. */
export const SEEN_CACHE = 'chat-push-seen'
/** Ids remembered: far more than the repeats of one outage (the server retries for an hour). */
const SEEN_MAX = 500

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
  const seen = new SeenIds(scope)
  scope.addEventListener('push', (event) => {
    event.waitUntil(showPush(scope, seen, parsePayload(event.data), urlFor, options.icon))
  })
  scope.addEventListener('notificationclick', (event) => {
    event.notification.close()
    const data = event.notification.data as Partial<NotificationData> | null
    const url = data?.url ?? (data?.channel ? urlFor(data.channel) : '/')
    event.waitUntil(openConversation(scope, url, data?.channel ?? null))
  })
}

async function showPush(scope: PushWorkerScope, seen: SeenIds, payload: PushPayload | null, urlFor: (channel: string) => string, icon?: string): Promise<void> {
  // A push must show something (userVisibleOnly): an unreadable one still says there is news.
  if (!payload) return scope.registration.showNotification('New message', { body: '', tag: 'chat', renotify: false, timestamp: Date.now(), data: { id: '', channel: '', url: '/', inboxSeq: 0 } })
  const shown = await scope.registration.getNotifications({ tag: payload.channel })
  if (shown.some((n) => (n.data as Partial<NotificationData> | null)?.id === payload.id)) return
  // A repeat after the first was dismissed: the person saw it already. Skipping the odd repeat
  // is within what browsers allow a userVisibleOnly subscription.
  if (await seen.has(payload.id)) return
  const { title, options } = notificationContent(payload, urlFor, icon)
  await scope.registration.showNotification(title, options)
  await seen.add(payload.id)
}

/**
 * Focuses a window of the app and shows the conversation there; opens one when none is open.
 * The window is told first and focused last: focusing needs the click's user activation, and the
 * conversation should open even where a browser refuses the focus.
 */
async function openConversation(scope: PushWorkerScope, url: string, channel: string | null): Promise<void> {
  const target = new URL(url, scope.location.origin).href
  const windows = (await scope.clients.matchAll({ type: 'window', includeUncontrolled: true })).filter((c) => c.url.startsWith(scope.location.origin))
  const client = windows.find((c) => c.focused) ?? windows[0]
  if (!client) {
    await scope.clients.openWindow(target)
    return
  }
  // The app opens the conversation on this message; a window this worker does not control cannot
  // be navigated by it, and one that it does gets the route too (the app follows hash changes).
  const message: OpenConversationMessage = { type: 'open-conversation', channel, url: target }
  client.postMessage(message)
  if (client.navigate && client.url !== target) await client.navigate(target).catch(() => undefined)
  await client.focus().catch(() => undefined)
}

/**
 * The notification ids already shown: in memory while the worker runs, and in Cache Storage
 * (when the scope has it) across restarts. Keys are kept in insertion order, so the oldest go
 * first once there are more than SEEN_MAX.
 */
class SeenIds {
  private readonly memory = new Set<string>()
  constructor(private readonly scope: PushWorkerScope) {}

  private key(id: string): string {
    return `${this.scope.location.origin}/push-seen/${encodeURIComponent(id)}`
  }

  private async cache(): Promise<CacheLike | null> {
    try {
      return (await this.scope.caches?.open(SEEN_CACHE)) ?? null
    } catch {
      return null
    }
  }

  async has(id: string): Promise<boolean> {
    if (this.memory.has(id)) return true
    const cache = await this.cache()
    return cache !== null && (await cache.match(this.key(id)).catch(() => undefined)) !== undefined
  }

  async add(id: string): Promise<void> {
    this.memory.add(id)
    if (this.memory.size > SEEN_MAX) this.memory.delete(this.memory.values().next().value as string)
    const cache = await this.cache()
    if (cache === null || typeof Response === 'undefined') return
    try {
      await cache.put(this.key(id), new Response(''))
      const keys = await cache.keys()
      for (const old of keys.slice(0, Math.max(0, keys.length - SEEN_MAX))) await cache.delete(old)
    } catch {
      // Storage full or refused: the in-memory set still drops repeats while the worker runs.
    }
  }
}
