/**
 * The service worker's push handler (src/client/push-sw.ts) against a stand-in worker scope: a
 * notification titled with the sender and the group, the preview as its body, one per
 * conversation (tag), no second one for a repeated id, and a click that opens the conversation.
 */
import t from 'tap'
import { conversationUrl, installPushHandlers, notificationContent, type PushPayload, type PushWorkerScope } from '../../src/client/push-sw.js'

type Listener = (event: any) => void

function scope(windows: Array<{ url: string }> = []) {
  const listeners = new Map<string, Listener>()
  const shown: Array<{ title: string; options: any }> = []
  const opened: string[] = []
  const clients = windows.map((w) => ({
    url: w.url, focused: false, navigated: [] as string[], messages: [] as unknown[],
    async focus() { this.focused = true },
    async navigate(url: string) { this.navigated.push(url) },
    postMessage(m: unknown) { this.messages.push(m) },
  }))
  const s = {
    location: { origin: 'https://chat.example' },
    registration: {
      async showNotification(title: string, options: any) { shown.push({ title, options }) },
      async getNotifications(filter?: { tag?: string }) {
        return shown.filter((n) => !filter?.tag || n.options.tag === filter.tag).map((n) => ({ data: n.options.data, close() {} }))
      },
    },
    clients: {
      async matchAll() { return clients },
      async openWindow(url: string) { opened.push(url) },
    },
    addEventListener(type: string, l: Listener) { listeners.set(type, l) },
  }
  installPushHandlers(s as unknown as PushWorkerScope)
  const fire = async (type: string, event: object) => {
    let done: Promise<unknown> = Promise.resolve()
    listeners.get(type)!({ ...event, waitUntil: (p: Promise<unknown>) => { done = p } })
    await done
  }
  return { shown, opened, clients, fire }
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
  t.ok(w.focused, 'the open window is focused')
  t.same(w.navigated, ['https://chat.example/#/c/g%3Ateam'], 'and shows the conversation')
  t.match(w.messages, [{ type: 'open-conversation', channel: 'g:team' }], 'the app is told too')
  t.same(open.opened, [])
})
