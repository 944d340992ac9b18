/*
 * The app shell cache. Installing caches every file of this build (SHELL_FILES, written by the
 * build); activating deletes older shells. Navigations go to the network first and fall back to
 * the cached page, so the app opens offline and shows the conversations it saved locally; hashed
 * assets are immutable and served from the cache first. The API and the WebSocket are never
 * cached: live data comes from the server or not at all.
 */
const SHELL_CACHE = `shell-${SHELL_VERSION}`

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL_FILES)).then(() => self.skipWaiting()))
})

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key.startsWith('shell-') && key !== SHELL_CACHE) await caches.delete(key)
    await self.clients.claim()
  })())
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin) return
  if (url.pathname.startsWith('/v1/') || url.pathname === '/ws' || url.pathname === '/healthz' || url.pathname === '/metrics') return
  if (request.mode === 'navigate') {
    event.respondWith(fetch(request).catch(async () => (await caches.match('/', { cacheName: SHELL_CACHE })) ?? Response.error()))
    return
  }
  event.respondWith(caches.match(request, { cacheName: SHELL_CACHE }).then((hit) => hit ?? fetch(request)))
})
