/**
 * Browser notifications for new messages while the tab is hidden. Asking for permission needs a
 * click, so the app offers a button; without permission nothing is shown.
 */
import type { NotificationState } from '../store/state'

export function notificationState(): NotificationState {
  if (typeof Notification === 'undefined') return 'unsupported'
  return Notification.permission
}

export async function askPermission(): Promise<NotificationState> {
  if (typeof Notification === 'undefined') return 'unsupported'
  return await Notification.requestPermission()
}

/** Shows one notification per conversation (a newer one replaces it); a click opens it. */
export function showNotification(title: string, body: string, channel: string, open: (channel: string) => void): void {
  if (notificationState() !== 'granted') return
  const n = new Notification(title, { body: body.slice(0, 200), tag: channel, icon: '/icons/icon-192.png' })
  n.onclick = () => {
    window.focus()
    open(channel)
    n.close()
  }
}
