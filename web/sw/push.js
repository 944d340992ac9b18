/*
 * Push notifications: the hook for the push service (PROTOCOL.md 4.1). The server's Web Push
 * payload is the JSON notification `{id, user, channel, from, preview, inboxSeq, count, ts}`.
 * Subscribing (PushManager.subscribe with the key from GET /v1/push/vapid, then
 * POST /v1/push/subscriptions) belongs to the push work; this worker already shows what arrives
 * and opens the conversation when the notification is clicked.
 */
self.addEventListener('push', (event) => {
  let data = null
  try {
    data = event.data ? event.data.json() : null
  } catch {
    data = null
  }
  if (!data || typeof data.channel !== 'string') return
  const more = data.count > 1 ? ` (+${data.count - 1})` : ''
  event.waitUntil(self.registration.showNotification(`${data.from}${more}`, {
    body: String(data.preview ?? ''),
    tag: data.channel,
    data: { channel: data.channel },
    icon: '/icons/icon-192.png',
  }))
})

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  const channel = event.notification.data && event.notification.data.channel
  const target = channel ? `/#${encodeURIComponent(channel)}` : '/'
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
    for (const client of windows) {
      if ('focus' in client) {
        client.postMessage({ kind: 'open-channel', channel })
        return client.focus()
      }
    }
    return self.clients.openWindow(target)
  })())
})
