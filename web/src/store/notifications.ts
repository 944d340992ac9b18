/**
 * Notifications: the browser's permission (asked only from a click on the banner or the bell),
 * this browser's Web Push subscription registered with the server for the logged-in person
 * (PROTOCOL.md 4.1, through the SDK's PushApi), and its removal on logout. The service worker
 * (web/sw/) shows what the server pushes while no tab of the app is open; a tab that is open but
 * hidden shows its own (wiring.ts), since the server sends nothing while a device is live.
 */
import { ApiError, HttpApi, PushApi } from '@sdk'
import { loadPromptDismissed, loadPush, savePromptDismissed, savePush } from '../lib/local'
import { askPermission, notificationState } from '../lib/notify'
import { pushSupported, workerRegistration } from '../lib/worker'
import { describe } from './errors'
import type { PushState, SessionInfo } from './state'
import type { Store } from './store'

/** A push service that never answers must not leave the banner spinning. */
const SUBSCRIBE_TIMEOUT_MS = 20_000

const ONLY_WHILE_OPEN = 'Notifications will show while Chat is open in a tab.'

export class NotificationActions {
  constructor(private readonly store: Store, private readonly api: HttpApi) {}

  /** The push state a new session starts from on this browser. */
  static initialPush(): PushState {
    return pushSupported() ? 'off' : 'unsupported'
  }

  /**
   * A session started: the banner's "Not now" is remembered per person, and a person who turned
   * push on here before is registered again, silently (the browser may have renewed its
   * subscription; the server keeps the id of a known endpoint). Nothing is asked.
   */
  resume(session: SessionInfo): void {
    this.store.update(() => ({ notifyPromptDismissed: loadPromptDismissed(session.username) }))
    if (loadPush(session.username) !== null && notificationState() === 'granted' && pushSupported()) void this.subscribe(session, false)
  }

  /** "Turn on": the browser asks (this runs in the click), then this browser subscribes. */
  async enable(): Promise<void> {
    const session = this.store.get().session
    if (session === null) return
    const notifications = await askPermission()
    this.store.update(() => ({ notifications }))
    if (notifications === 'denied') {
      this.store.update(() => ({ notice: 'Notifications are blocked for Chat. You can allow them in your browser\'s site settings.' }))
      return
    }
    if (notifications !== 'granted') return // The prompt was closed: the offer stays.
    if (!pushSupported()) {
      this.store.update(() => ({ push: 'unsupported', notice: `${ONLY_WHILE_OPEN} This browser cannot show them when Chat is closed.` }))
      return
    }
    await this.subscribe(session, true)
  }

  dismissPrompt(): void {
    const session = this.store.get().session
    if (session !== null) savePromptDismissed(session.username)
    this.store.update(() => ({ notifyPromptDismissed: true }))
  }

  /** Subscribes the worker's push manager under the cluster's key and registers it with the server. */
  private async subscribe(session: SessionInfo, asked: boolean): Promise<void> {
    this.store.update(() => ({ push: 'enabling' }))
    const still = () => this.store.get().session?.username === session.username
    try {
      const registration = await workerRegistration()
      if (registration === null) throw new BrowserRefusal('the service worker is not running')
      const created = await withTimeout(new PushApi(this.api).enableWebPush(registration, async () => 'granted'), SUBSCRIBE_TIMEOUT_MS)
      if (created === null) throw new BrowserRefusal('permission was withdrawn')
      if (!still()) return
      savePush(session.username, { subscriptionId: created.id })
      this.store.update(() => ({ push: 'on', ...(asked ? { notice: 'Notifications are on. You will hear about new messages when Chat is closed.' } : {}) }))
    } catch (err) {
      if (!still()) return
      // Logged for whoever debugs a browser; the person gets a sentence.
      console.warn('push subscription failed:', err)
      const why = err instanceof ApiError
        ? `Notifications for when Chat is closed could not be turned on: ${describe(err)}`
        : `${ONLY_WHILE_OPEN} This browser could not set them up for when Chat is closed (a private window cannot).`
      this.store.update(() => ({ push: 'failed', ...(asked ? { notice: why } : {}) }))
    }
  }

  /**
   * Logout: this browser stops receiving the person's notifications. Runs with the session's own
   * token (the app may already be logged in as someone else when it finishes); best effort: an
   * offline logout still unsubscribes at the browser, and the server drops the record at its next
   * push (the push service answers 410).
   */
  static async disable(origin: string, session: SessionInfo): Promise<void> {
    const record = loadPush(session.username)
    const api = new PushApi(new HttpApi({ baseUrl: origin, token: session.token }))
    const registration = 'serviceWorker' in navigator ? await navigator.serviceWorker.getRegistration().catch(() => undefined) : undefined
    const ids = record === null ? [] : [record.subscriptionId]
    try {
      if (registration !== undefined) await api.disableWebPush(registration, ids)
      else for (const id of ids) await api.unsubscribe(id)
    } catch (err) {
      console.warn('push unsubscription failed:', err)
    }
  }
}

class BrowserRefusal extends Error {}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new BrowserRefusal('the push service did not answer')), ms) })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}
