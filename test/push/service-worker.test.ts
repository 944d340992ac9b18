/**
 * The service worker's push handler (src/client/push-sw.ts) against a stand-in worker scope: a
 * notification titled with the sender and the group, the preview as its body, one per
 * conversation (tag), no second one for a repeated id (also once dismissed, and across a restart
 * of the worker), and a click that opens the conversation. The same handler in a real browser:
 * test/web/push.test.ts.
 */
import t from 'tap'
import { SEEN_CACHE, conversationUrl, installPushHandlers, isOpenConversationMessage, notificationContent, type PushPayload, type PushWorkerScope } from '../../src/client/push-sw.js'

type Listener = (event: any) => void

/** A Cache Storage stand-in: what survives a restart of the worker. */
function cacheStorage() {
  const caches = new Map<string, Map<string, unknown>>()
  return {
    caches,
    async open(name: string) {
      if (!caches.has(name)) caches.set(name, new Map())
      const c = caches.get(name)!
      return {
        async match(key: string) { return c.get(key) },
        async put(key: string, value: unknown) { c.set(key, value) },
        async keys() { return [...c.keys()].map((url) => ({ url })) },
        async delete(key: string | { url: string }) { return c.delete(typeof key === 'string' ? key : key.url) },
      }
    },
  }
}

interface WindowSpec { url: string; focused?: boolean; refuseFocus?: boolean }

function scope(windows: WindowSpec[] = [], storage?: ReturnType<typeof cacheStorage>) {
  const listeners = new Map<string, Listener>()
  const shown: Array<{ title: string; options: any; open: boolean }> = []
  const opened: string[] = []
  const calls: string[] = []
  const clients = windows.map((w) => ({
    url: w.url, focused: w.focused ?? false, gotFocus: false, navigated: [] as string[], messages: [] as unknown[],
    async focus() {
      calls.push(`focus ${w.url}`)
      // A browser refuses focus without the user activation of a real click.
      if (w.refuseFocus) throw new Error('InvalidAccessError: Not allowed to focus a window')
      this.gotFocus = true
    },
    async navigate(url: string) { calls.push(`navigate ${w.url}`); this.navigated.push(url) },
    postMessage(m: unknown) { calls.push(`message ${w.url}`); this.messages.push(m) },
  }))
  const s = {
    location: { origin: 'https://chat.example' },
    registration: {
      async showNotification(title: string, options: any) {
        // Same tag: the browser replaces the older one.
        for (const n of shown) if (n.options.tag === options.tag) n.open = false
        shown.push({ title, options, open: true })
      },
      async getNotifications(filter?: { tag?: string }) {
        return shown.filter((n) => n.open && (!filter?.tag || n.options.tag === filter.tag)).map((n) => ({ data: n.options.data, close() { n.open = false } }))
      },
    },
    clients: {
      async matchAll() { return clients },
      async openWindow(url: string) { opened.push(url) },
    },
    ...(storage ? { caches: storage } : {}),
    addEventListener(type: string, l: Listener) { listeners.set(type, l) },
  }
  installPushHandlers(s as unknown as PushWorkerScope)
  const fire = async (type: string, event: object) => {
    let done: Promise<unknown> = Promise.resolve()
    listeners.get(type)!({ ...event, waitUntil: (p: Promise<unknown>) => { done = p } })
    await done
  }
  return { shown, opened, clients, calls, fire }
}

const payload = (over: Partial<PushPayload> = {}): PushPayload => ({
  id: 'n1', user: 'bob', channel: 'g:team', from: 'alice', preview: 'lunch?', inboxSeq: 7, count: 1, ts: 1700000000000,
  fromName: 'Alice', channelName: 'Team', ...over,
})
const data = (p: unknown) => ({ data: { json: () => p, text: () => JSON.stringify(p) } })

t.test('content: sender and group as title, preview as body, tag per conversation', async (t) => {
  t.match(notificationContent(payload()), { title: 'Alice in Team', options: { body: 'lunch?', tag: 'g:team', data: { id: 'n1', url: '/#/c/g%3Ateam' } } })
  t.equal(notificationContent(payload({ channel: 'dm:alice:bob', channelName: undefined })).title, 'Alice', 'a 1:1 conversation: the sender')
  t.equal(notificationContent(payload({ fromName: undefined })).title, 'alice in Team', 'the username without a display name')
  t.match(notificationContent(payload({ count: 3 })).options.body, /lunch\?\n\(3 new messages\)/)
  t.equal(conversationUrl('dm:alice:bob'), '/#/c/dm%3Aalice%3Abob')
})

t.test('a push shows one notification; a repeat of its id shows nothing more', async (t) => {
  const s = scope()
  await s.fire('push', data(payload()))
  await s.fire('push', data(payload()))
  t.equal(s.shown.length, 1, 'at least once from the server, once on screen')
  await s.fire('push', data(payload({ id: 'n2', preview: 'now?' })))
  t.equal(s.shown.length, 2)
  t.equal(s.shown[1]!.options.tag, 'g:team', 'same tag: it replaces the older one on screen')
  t.equal(s.shown[1]!.options.renotify, true)
  await s.fire('push', { data: { json: () => { throw new Error('not JSON') }, text: () => 'x' } })
  t.equal(s.shown[2]!.title, 'New message', 'an unreadable push still shows something')
})

t.test('a click focuses an open window and shows the conversation, or opens one', async (t) => {
  const none = scope()
  await none.fire('push', data(payload()))
  await none.fire('notificationclick', { notification: { data: none.shown[0]!.options.data, close() {} } })
  t.same(none.opened, ['https://chat.example/#/c/g%3Ateam'], 'no window: a new one on the conversation')

  const open = scope([{ url: 'https://chat.example/#/c/dm%3Aalice%3Abob' }])
  await open.fire('push', data(payload()))
  await open.fire('notificationclick', { notification: { data: open.shown[0]!.options.data, close() {} } })
  const w = open.clients[0]!
  t.ok(w.gotFocus, 'the open window is focused')
  t.same(w.navigated, ['https://chat.example/#/c/g%3Ateam'], 'and shows the conversation')
  t.match(w.messages, [{ type: 'open-conversation', channel: 'g:team' }], 'the app is told too')
  t.same(open.opened, [])
})

t.test('a repeat after the first was dismissed, or after the worker restarted, is not shown', async (t) => {
  const storage = cacheStorage()
  const first = scope([], storage)
  await first.fire('push', data(payload()))
  first.shown[0]!.open = false // dismissed
  await first.fire('push', data(payload()))
  t.equal(first.shown.length, 1, 'dismissed: the repeat is not shown again')
  const restarted = scope([], storage)
  await restarted.fire('push', data(payload()))
  t.equal(restarted.shown.length, 0, 'a restarted worker remembers the id (Cache Storage)')
  await restarted.fire('push', data(payload({ id: 'n2' })))
  t.equal(restarted.shown.length, 1, 'a new id is shown')
  t.same([...storage.caches.keys()], [SEEN_CACHE])

  const forgetful = scope()
  await forgetful.fire('push', data(payload()))
  forgetful.shown[0]!.open = false
  await forgetful.fire('push', data(payload()))
  t.equal(forgetful.shown.length, 1, 'without Cache Storage the running worker still remembers')
})

t.test('a click tells the window before focusing it: a refused focus still opens the conversation', async (t) => {
  const s = scope([{ url: 'https://chat.example/', refuseFocus: true }, { url: 'https://chat.example/#/c/g%3Aother', focused: true }])
  await s.fire('push', data(payload()))
  await s.fire('notificationclick', { notification: { data: s.shown[0]!.options.data, close() {} } })
  t.same(s.calls, ['message https://chat.example/#/c/g%3Aother', 'navigate https://chat.example/#/c/g%3Aother', 'focus https://chat.example/#/c/g%3Aother'], 'the focused window is the one used')

  const refused = scope([{ url: 'https://chat.example/', refuseFocus: true }])
  await refused.fire('push', data(payload()))
  await refused.fire('notificationclick', { notification: { data: refused.shown[0]!.options.data, close() {} } })
  t.match(refused.clients[0]!.messages, [{ type: 'open-conversation', channel: 'g:team', url: 'https://chat.example/#/c/g%3Ateam' }], 'the app was told')
  t.ok(isOpenConversationMessage(refused.clients[0]!.messages[0]), 'in the shape the app checks')
  t.notOk(isOpenConversationMessage({ type: 'open-conversation' }), 'and nothing else passes that check')
  t.same(refused.opened, [], 'no second window')
})
