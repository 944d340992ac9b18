/**
 * Push notifications in the web app, in a real browser against a real node (PROTOCOL.md 4.1):
 * the banner that offers them (never on a first load; after a first message; "Not now"
 * remembered; a browser's "no" respected), turning them on (permission, the push manager's
 * subscription under the cluster's VAPID key, registered with the server), the service worker
 * showing what the server pushes (title, body, one per conversation, a repeated id ignored), a
 * click opening the conversation, and the subscription removed on logout.
 *
 * What headless Chromium cannot do here, and how the test stands in for it:
 * - Playwright's browser contexts are off the record, and Chromium has no Push API there:
 *   `pushManager.subscribe` fails ("Registration failed - permission denied"). A normal profile
 *   would register with the browser vendor's push service, which a test must not reach. So one
 *   test checks the app's handling of that real failure, and the others replace
 *   `PushManager.prototype.subscribe` with a subscription whose keys the test holds and whose
 *   endpoint is the test's own push service (test/helpers/push-receiver.ts). Everything else is
 *   real: the node encrypts and sends to that endpoint, the test decrypts the body as the browser
 *   would, and delivers the plaintext to the real service worker through the DevTools protocol
 *   (`ServiceWorker.deliverPushMessage`), which raises a real `push` event. The browser's push
 *   router reports each event's end (DevTools' BackgroundService domain): the test fails on a
 *   handler that rejects or times out, and hands over again a push the browser lost.
 * - Nobody can click a notification in headless Chromium: the test dispatches a
 *   `notificationclick` event for the real notification inside the worker. Without the user
 *   activation of a real click a browser refuses `client.focus()` and `clients.openWindow()`;
 *   the handler tells the open window first, so the conversation still opens. Opening a new
 *   window is checked with a stand-in worker scope (test/push/service-worker.test.ts).
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { BrowserContext, CDPSession, Page, Worker } from 'playwright-core'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'
import { BrowserKeys, PushReceiver } from '../helpers/push-receiver.js'
import { waitFor } from '../helpers/wait.js'
import { DESKTOP, PHONE, accessible, enter, launch, openApp, screenshot } from './browser.js'

t.setTimeout(240_000)

const node = await NodeProcess.start(t, {
  args: ['--push-coalesce-ms', '100', '--push-retry-base-ms', '50', '--push-retry-max-ms', '200', '--push-give-up-ms', '20000'],
})
const pushService = await PushReceiver.start(t)
const browser = await launch(t)

const tokens = new Map<string, string>()
async function tokenOf(user: string): Promise<string> {
  if (!tokens.has(user)) tokens.set(user, await login(node.url, user, `${user}-probe`))
  return tokens.get(user)!
}
async function subscriptions(user: string): Promise<Array<{ id: string; kind: string; endpoint?: string; deviceId: string }>> {
  const r = await api(node.url, 'GET', '/v1/push/subscriptions', undefined, await tokenOf(user))
  if (r.status !== 200) throw new Error(`list ${user}: ${r.status} ${r.text}`)
  return r.body.subscriptions
}

// Bob writes from a plain WebSocket device.
const bob = await Device.open(t, node.wsUrl, await tokenOf('bob'), 'bob-laptop')
async function bobSends(channel: string, text: string): Promise<void> {
  const ack = await bob.send(channel, text, randomUUID())
  if (ack.op !== 'ack') throw new Error(`send: ${JSON.stringify(ack)}`)
}
const dm = (a: string, b: string) => `dm:${[a, b].sort().join(':')}`

/** Counts the app's calls of Notification.requestPermission (the browser's prompt). */
function countPermissionAsks(): void {
  const w = window as unknown as { permissionAsks: number }
  w.permissionAsks = 0
  const ask = Notification.requestPermission.bind(Notification)
  Notification.requestPermission = (...args: Parameters<typeof Notification.requestPermission>) => {
    w.permissionAsks++
    return ask(...args)
  }
}

t.test('the offer: not on a first load, after a first message; "Not now" is remembered', async (t) => {
  const dana = await openApp(browser, node.url, DESKTOP, countPermissionAsks)
  const D = dana.page
  await enter(D, 'dana')
  await D.getByTestId('notifications-button').waitFor()
  t.equal(await D.getByTestId('enable-notifications').count(), 0, 'no banner on a first load')
  t.equal(await D.evaluate(() => (window as any).permissionAsks), 0, 'and no permission prompt')

  await bobSends(dm('bob', 'dana'), 'Welcome, Dana!')
  await D.getByTestId('enable-notifications').waitFor()
  t.pass('a first message brings the banner')
  t.equal(await D.getByTestId('notifications-button').count(), 0, 'the bell steps aside while the banner shows')
  t.equal(await D.evaluate(() => Notification.permission), 'default', 'still nothing asked')
  await screenshot(D, 'desktop-notify-prompt')
  await accessible(t, D, 'the notifications banner (desktop)')

  await D.getByTestId('dismiss-notifications').click()
  await D.getByTestId('enable-notifications').waitFor({ state: 'detached' })
  await D.getByTestId('notifications-button').waitFor()
  t.pass('"Not now" hides the banner; the bell still offers notifications')
  await D.reload()
  await D.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout: 15_000 })
  await D.locator(`[data-testid="conversation"][data-channel="${dm('bob', 'dana')}"]`).waitFor()
  t.equal(await D.getByTestId('enable-notifications').count(), 0, 'after a reload the banner stays away')
  t.equal(await D.evaluate(() => (window as any).permissionAsks), 0, 'the browser was never asked')
  t.same(dana.errors, [], 'no page errors')
  await dana.context.close()
})

t.test('a browser that says no is respected', async (t) => {
  const erin = await openApp(browser, node.url, PHONE)
  const E = erin.page
  await enter(E, 'erin')
  await bobSends(dm('bob', 'erin'), 'Hi Erin')
  await E.getByTestId('enable-notifications').waitFor()
  await screenshot(E, 'phone-notify-prompt')
  await accessible(t, E, 'the notifications banner (phone)')
  // Headless Chromium answers a permission prompt with "denied", as a person clicking Block would.
  await E.getByTestId('enable-notifications').click()
  await E.getByRole('status').filter({ hasText: 'Notifications are blocked' }).waitFor()
  t.equal(await E.evaluate(() => Notification.permission), 'denied')
  t.equal(await E.getByTestId('enable-notifications').count(), 0, 'the banner is gone')
  t.equal(await E.getByTestId('notifications-button').count(), 0, 'and the bell: the app does not ask again')
  await accessible(t, E, 'the blocked notice (phone)')
  t.same(await subscriptions('erin'), [], 'nothing registered')
  t.same(erin.errors, [], 'no page errors')
  await erin.context.close()
})

t.test('granted, but this browser has no push service: said plainly, nothing registered', async (t) => {
  const frank = await openApp(browser, node.url, { ...DESKTOP, permissions: ['notifications'] })
  const F = frank.page
  await enter(F, 'frank')
  await bobSends(dm('bob', 'frank'), 'Hello Frank')
  // Permission is granted already: the banner still asks before subscribing this person.
  await F.getByTestId('enable-notifications').click()
  await F.getByRole('status').filter({ hasText: 'could not set them up for when Chat is closed' }).waitFor({ timeout: 30_000 })
  t.pass('the real pushManager.subscribe failure of an off-the-record context is explained')
  t.equal(await F.getByTestId('enable-notifications').count(), 0, 'the banner is gone')
  t.same(await subscriptions('frank'), [], 'nothing registered')
  t.same(frank.errors.filter((e) => !/Push API in incognito/.test(e)), [], 'no page errors')
  await frank.context.close()
})

/**
 * Replaces the push manager with one that "subscribes" at once: the endpoint is the test's push
 * service and the keys are the test's, so the test can read what the node sends. Records the
 * application server key it was given and its unsubscriptions.
 */
function stubPushManager(sub: { endpoint: string; p256dh: string; auth: string }): void {
  const log = { keys: [] as string[], unsubscribed: 0 }
  Object.assign(window, { pushLog: log })
  let current: unknown = null
  const b64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  PushManager.prototype.getSubscription = async function () { return current as PushSubscription | null }
  PushManager.prototype.subscribe = async function (options?: PushSubscriptionOptionsInit) {
    const key = new Uint8Array(options!.applicationServerKey as ArrayBuffer)
    log.keys.push(b64url(key))
    current = {
      endpoint: sub.endpoint,
      options: { userVisibleOnly: true, applicationServerKey: key.buffer },
      toJSON: () => ({ endpoint: sub.endpoint, expirationTime: null, keys: { p256dh: sub.p256dh, auth: sub.auth } }),
      unsubscribe: async () => { current = null; log.unsubscribed++; return true },
    }
    return current as PushSubscription
  }
}

/**
 * The app's service worker, as Playwright sees it, with the no-op `__name` that functions
 * transpiled by esbuild expect (as in every page: browser.ts).
 */
async function workerOf(context: BrowserContext): Promise<Worker> {
  const sw = context.serviceWorkers()[0] ?? await context.waitForEvent('serviceworker')
  await sw.evaluate('self.__name = (target) => target')
  return sw
}

interface Shown { title: string; body: string; tag: string; data: any }
/**
 * The notifications the app's registration shows, read from a page of the origin: a page lives as
 * long as the test keeps it, while the worker may be stopped when idle (and a stopped worker's
 * handle throws until the browser starts it again).
 */
async function shownNotifications(page: Page): Promise<Shown[]> {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration('/')
    if (!registration) throw new Error('no service worker registration')
    return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }))
  })
}

/**
 * What the browser's worker and push router report over CDP: the running state of each service
 * worker version (ServiceWorker domain), and each push the router handed the worker and how its
 * event ended (BackgroundService domain, "Push event dispatched" / "Push event completed").
 */
interface WorkerWatch {
  versions: Map<string, { registrationId: string; runningStatus: string; status: string }>
  dispatched: number
  /** The Status of each completed push event: "Success", "waitUntil Rejected" or "Timeout". */
  completed: string[]
}

async function watchWorker(cdp: CDPSession): Promise<WorkerWatch> {
  const watch: WorkerWatch = { versions: new Map(), dispatched: 0, completed: [] }
  cdp.on('ServiceWorker.workerVersionUpdated', (e) => {
    for (const v of e.versions) watch.versions.set(v.versionId, { registrationId: v.registrationId, runningStatus: v.runningStatus, status: v.status })
  })
  cdp.on('BackgroundService.backgroundServiceEventReceived', ({ backgroundServiceEvent: e }) => {
    if (e.service !== 'pushMessaging') return
    if (e.eventName === 'Push event dispatched') watch.dispatched++
    if (e.eventName === 'Push event completed') watch.completed.push(e.eventMetadata.find((m) => m.key === 'Status')?.value ?? '(no status)')
  })
  await cdp.send('BackgroundService.startObserving', { service: 'pushMessaging' })
  await cdp.send('BackgroundService.setRecording', { shouldRecord: true, service: 'pushMessaging' })
  return watch
}

/** Pushes handed to the browser again because their event never ended (reported at the end). */
let redelivered = 0

/**
 * Raises a real `push` event in the worker with `data`, as the browser does after decrypting, and
 * waits for the event to end; fails unless the worker's handler succeeded. The worker is started
 * first and the push sent once it runs, as a browser's push service does. A push whose event never
 * ends was lost by the browser (a worker stopped while handling it aborts the event, and the
 * router reports neither success nor failure): it is handed over again, as a push service delivers
 * again what a browser did not take. The worker shows an id once, so a repeat is harmless.
 */
async function deliverPush(cdp: CDPSession, watch: WorkerWatch, registrationId: string, data: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const completedBefore = watch.completed.length
    const dispatchedBefore = watch.dispatched
    await cdp.send('ServiceWorker.startWorker', { scopeURL: `${node.url}/` })
    await waitFor(() => [...watch.versions.values()].some((v) => v.registrationId === registrationId && v.status === 'activated' && v.runningStatus === 'running'),
      { timeout: 15_000, what: 'the worker running' })
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: node.url, registrationId, data })
    try {
      await waitFor(() => watch.completed.length > completedBefore, { timeout: 10_000, what: 'the worker\'s push event to end' })
      break
    } catch (err) {
      const seen = watch.dispatched > dispatchedBefore ? 'dispatched, then lost' : 'never dispatched'
      if (attempt >= 3) throw new Error(`${(err as Error).message}, after ${attempt} tries (the last ${seen})`)
      redelivered++
    }
  }
  const status = watch.completed.at(-1)
  if (status !== 'Success') throw new Error(`the worker's push event ended with "${status}"`)
}

t.test('turned on: registered, pushed, shown per conversation, clicked open, removed on logout', async (t) => {
  const keys = new BrowserKeys()
  const endpoint = `${pushService.url}/push/gina`
  const sub = keys.subscription(endpoint)
  const gina = await openApp(browser, node.url, { ...DESKTOP, permissions: ['notifications'] }, stubPushManager, { endpoint, ...sub.keys })
  const G = gina.page
  await enter(G, 'gina')
  const group = (await api(node.url, 'POST', '/v1/groups', { name: 'Team', members: ['gina'] }, await tokenOf('bob'))).body.channel.id as string
  await bobSends(group, 'Hello team')

  await G.getByTestId('enable-notifications').click()
  await G.getByRole('status').filter({ hasText: 'Notifications are on' }).waitFor()
  const registered = await waitFor(() => subscriptions('gina').then((s) => s.length > 0 && s), { what: 'the subscription on the server' })
  t.match(registered, [{ kind: 'webpush', endpoint }], 'the browser\'s subscription reached the server')
  const vapid = (await api(node.url, 'GET', '/v1/push/vapid', undefined, await tokenOf('gina'))).body.publicKey
  t.same(await G.evaluate(() => (window as any).pushLog.keys), [vapid], 'subscribed under the cluster\'s VAPID key')
  t.equal(await G.getByTestId('enable-notifications').count(), 0, 'the banner is gone')
  t.equal(await G.getByTestId('notifications-button').count(), 0, 'and so is the bell')

  // Gina closes the app (her tab shows something else): the node pushes to her browser.
  await G.goto('/healthz')
  await waitFor(async () => {
    const r = await api(node.url, 'GET', '/v1/presence?users=gina', undefined, await tokenOf('bob'))
    return r.body.presence?.[0]?.status === 'offline'
  }, { what: 'gina offline' })
  const cdp = await gina.context.newCDPSession(G)
  const registrations: Array<{ registrationId: string; scopeURL: string; isDeleted: boolean }> = []
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations))
  const watch = await watchWorker(cdp)
  await cdp.send('ServiceWorker.enable')
  const registration = await waitFor(() => registrations.find((r) => r.scopeURL === `${node.url}/` && !r.isDeleted), { what: 'the worker registration' })

  /** The next notification the node sent to Gina's endpoint, decrypted. */
  let taken = 0
  async function nextPush(): Promise<string> {
    await waitFor(() => pushService.at('/push/gina').length > taken, { timeout: 15_000, what: 'a push to gina' })
    return keys.decrypt(pushService.at('/push/gina')[taken++]!.body).toString()
  }

  await bobSends(group, 'Lunch at 12?')
  const first = await nextPush()
  t.match(JSON.parse(first), { user: 'gina', channel: group, from: 'bob', preview: 'Lunch at 12?', channelName: 'Team', count: 1 }, 'the node sent the notification of PROTOCOL.md 4.1')
  await deliverPush(cdp, watch, registration.registrationId, first)
  let shown = await waitFor(() => shownNotifications(G).then((n) => n.length > 0 && n), { timeout: 15_000, what: 'a notification' })
  t.match(shown, [{ title: 'bob in Team', body: 'Lunch at 12?', tag: group, data: { id: JSON.parse(first).id, channel: group, url: `/#/c/${encodeURIComponent(group)}` } }], 'sender and group as title, the preview as body, tagged by conversation')

  await bobSends(group, 'Or at 1?')
  const second = await nextPush()
  await deliverPush(cdp, watch, registration.registrationId, second)
  shown = await waitFor(() => shownNotifications(G).then((n) => n[0]?.body === 'Or at 1?' && n), { timeout: 15_000, what: 'the newer notification' })
  t.equal(shown.length, 1, 'a newer message of the conversation replaces its notification')

  // The first one again (a retry after a failover), then a 1:1 message to know it was handled.
  await deliverPush(cdp, watch, registration.registrationId, first)
  await bobSends(dm('bob', 'gina'), 'Are you coming?')
  const direct = await nextPush()
  await deliverPush(cdp, watch, registration.registrationId, direct)
  shown = await waitFor(() => shownNotifications(G).then((n) => n.length === 2 && n), { timeout: 15_000, what: 'the 1:1 notification' })
  const byTag = Object.fromEntries(shown.map((n) => [n.tag, n]))
  t.match(byTag[dm('bob', 'gina')], { title: 'bob', body: 'Are you coming?' }, 'a 1:1: the sender alone as title')
  t.equal(byTag[group]!.body, 'Or at 1?', 'the repeated id was not shown again')

  // Back in the app; a click on the group's notification opens it there.
  await G.goto('/')
  await G.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout: 15_000 })
  t.equal(await G.locator('[data-testid="conversation"][aria-current="true"]').count(), 0, 'no conversation open yet')
  const sw = await workerOf(gina.context)
  await sw.evaluate(async (tag) => {
    const scope = self as any
    const [notification] = await scope.registration.getNotifications({ tag })
    const event = new scope.NotificationEvent('notificationclick', { notification })
    // A dispatched event cannot be extended by waitUntil (only the browser's can): collect the work.
    let work: Promise<unknown> = Promise.resolve()
    Object.defineProperty(event, 'waitUntil', { value: (p: Promise<unknown>) => { work = p } })
    scope.dispatchEvent(event)
    await work
  }, group)
  await G.locator(`[data-testid="conversation"][data-channel="${group}"][aria-current="true"]`).waitFor()
  t.equal(new URL(G.url()).hash, `#/c/${encodeURIComponent(group)}`, 'the app shows the conversation, at its route')
  await G.getByTestId('message').filter({ hasText: 'Or at 1?' }).waitFor()
  t.same((await shownNotifications(G)).map((n) => n.tag), [dm('bob', 'gina')], 'the clicked notification is closed')

  // The route opens a conversation from the address bar too; reading it clears its notification.
  await G.goto(`/#/c/${encodeURIComponent(dm('bob', 'gina'))}`)
  await G.locator(`[data-testid="conversation"][data-channel="${dm('bob', 'gina')}"][aria-current="true"]`).waitFor({ timeout: 15_000 })
  await G.getByTestId('message').filter({ hasText: 'Are you coming?' }).waitFor()
  await waitFor(() => shownNotifications(G).then((n) => n.length === 0), { timeout: 15_000, what: 'notifications of read conversations closed' })
  t.pass('reading a conversation closes its notification')
  t.match(await subscriptions('gina'), [{ id: registered[0]!.id, endpoint }], 'a new start registers the same subscription again, same id')

  await G.getByRole('button', { name: 'Log out' }).click()
  await G.getByTestId('username').waitFor()
  await waitFor(() => subscriptions('gina').then((s) => s.length === 0), { what: 'the subscription removed' })
  t.pass('logging out removes the subscription from the server')
  t.ok(await G.evaluate(() => (window as any).pushLog.unsubscribed) >= 1, 'and from the browser\'s push manager')
  t.equal(new URL(G.url()).hash, '', 'and leaves the conversation\'s route')
  t.same(gina.errors, [], 'no page errors')
  if (redelivered > 0) t.comment(`pushes the browser lost and was handed again: ${redelivered}`)
  await gina.context.close()
})
