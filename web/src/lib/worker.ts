/**
 * The app's service worker from the page's side: whether this browser can receive Web Push,
 * the worker's registration (bounded in time: `ready` never settles where registering failed),
 * and closing the notifications of a conversation once it is read here.
 */

/** How long to wait for the worker before giving up on push for this start. */
const READY_TIMEOUT_MS = 10_000

/** Service workers, the Push API and notifications, in a secure context. */
export function pushSupported(): boolean {
  return typeof navigator !== 'undefined' && 'serviceWorker' in navigator && typeof PushManager !== 'undefined'
    && typeof Notification !== 'undefined' && window.isSecureContext
}

/** The active worker's registration, or null when there is none within the timeout. */
export async function workerRegistration(timeoutMs = READY_TIMEOUT_MS): Promise<ServiceWorkerRegistration | null> {
  if (!('serviceWorker' in navigator)) return null
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs) })
  try {
    return await Promise.race([navigator.serviceWorker.ready, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Closes the push notifications of `channel` still on screen: it is being read now. */
export function closeNotifications(channel: string): void {
  if (!('serviceWorker' in navigator)) return
  void navigator.serviceWorker.getRegistration()
    .then(async (reg) => {
      for (const n of (await reg?.getNotifications({ tag: channel })) ?? []) n.close()
    })
    .catch(() => undefined)
}
