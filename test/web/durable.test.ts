/**
 * The web app over time and trouble, in a real browser against a real node: scrolling back
 * through 300 messages to the first without jumps, staying pinned to the bottom, two tabs of one
 * person kept in sync (read on one, unread gone on both), the composer's length limit, a node
 * restart (reconnecting banner, a message written meanwhile sent after it, nothing lost), and the
 * app shell opening from the service worker with the server down.
 */
import t from 'tap'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'
import { fullHistory } from '../helpers/traffic.js'
import { waitFor } from '../helpers/wait.js'
import { DESKTOP, PHONE, accessible, enter, launch, openApp, openTab, screenshot, shownMessages } from './browser.js'

t.setTimeout(240_000)

// Seeding 300 messages from one device goes faster than the default per-device send rate.
const node = await NodeProcess.start(t, { args: ['--rate-limit', '1000', '--rate-burst', '1000'] })
const BASE = node.url
const browser = await launch(t)
const DAVE = 'dm:alice:dave'
const BOB = 'dm:alice:bob'

const alice = await openApp(browser, BASE, DESKTOP)
const A = alice.page
await enter(A, 'alice')
const [dave, bob] = await Promise.all([login(BASE, 'dave'), login(BASE, 'bob')])
const aliceToken = await login(BASE, 'alice')
for (const [who, token] of [['dave', dave], ['bob', bob]] as const) {
  await api(BASE, 'POST', '/v1/friends', { username: 'alice' }, token)
  await api(BASE, 'POST', '/v1/friends', { username: who }, aliceToken)
}
const daveDevice = await Device.open(t, node.wsUrl, dave!, 'dave-laptop')
for (let i = 1; i <= 300; i++) {
  const r = await daveDevice.send(DAVE, `History message number ${i}`, `hist-${i}`)
  if (r.op !== 'ack') throw new Error(`seeding message ${i}: ${JSON.stringify(r)}`)
}

/** Where the message with `seq` is, relative to the top of the message list (null: not rendered). */
function offsetOf(seq: number): Promise<number | null> {
  return A.evaluate((s) => {
    const list = document.querySelector('.messages')!
    const el = document.querySelector(`[data-testid="message"][data-seq="${s}"]`)
    return el === null ? null : el.getBoundingClientRect().top - list.getBoundingClientRect().top
  }, seq)
}

const distanceFromBottom = () => A.evaluate(() => {
  const list = document.querySelector('.messages')!
  return list.scrollHeight - list.scrollTop - list.clientHeight
})

t.test('scrolling up loads all 300 messages back to the first, without jumps', async (t) => {
  const conversation = A.locator(`[data-testid="conversation"][data-channel="${DAVE}"]`)
  await A.locator(`[data-testid="conversation"][data-channel="${DAVE}"][data-unread="300"]`).waitFor({ timeout: 20_000 })
  await conversation.click()
  await A.locator('[data-testid="message"][data-seq="300"]').waitFor()
  t.ok(await distanceFromBottom() < 5, 'opens at the bottom, on the newest message')
  await A.locator(`[data-testid="conversation"][data-channel="${DAVE}"][data-unread="0"]`).waitFor()

  let pages = 0
  const jumps: number[] = []
  for (let round = 0; round < 20 && (await A.locator('[data-testid="message"][data-seq="1"]').count()) === 0; round++) {
    const oldest = Number(await A.getByTestId('message').first().getAttribute('data-seq'))
    await A.evaluate(() => { document.querySelector('.messages')!.scrollTop = 0 })
    const before = await offsetOf(oldest)
    await waitFor(async () => Number(await A.getByTestId('message').first().getAttribute('data-seq')) < oldest, { what: `a page older than ${oldest}` })
    pages++
    const after = await offsetOf(oldest)
    jumps.push(Math.abs((after ?? 1e9) - (before ?? 0)))
  }
  t.ok(pages >= 4, `${pages} older pages were loaded`)
  t.ok(jumps.every((d) => d <= 2), `the message on screen stayed in place as each page came in (moved ${jumps.join(', ')} px)`)
  const seqs = (await shownMessages(A)).map((m) => Number(m.seq))
  t.same(seqs, Array.from({ length: 300 }, (_, i) => i + 1), 'all 300 in order, none twice')
  await A.getByText('This is the beginning of the conversation.').waitFor()
  await screenshot(A, 'desktop-history-start')

  // Reading old messages: a new one arrives and the view stays where it is.
  const anchor = await offsetOf(1)
  await daveDevice.send(DAVE, 'A new one while you read old ones', 'hist-live-1')
  await A.locator('[data-testid="message"][data-seq="301"]').waitFor({ state: 'attached' })
  t.equal(await offsetOf(1), anchor, 'scrolled up: a new message does not move the view')
  await A.evaluate(() => { const l = document.querySelector('.messages')!; l.scrollTop = l.scrollHeight })
  await waitFor(async () => (await distanceFromBottom()) < 5, { what: 'at the bottom' })
  await daveDevice.send(DAVE, 'And another at the bottom', 'hist-live-2')
  await A.locator('[data-testid="message"][data-seq="302"]').waitFor()
  await waitFor(async () => (await distanceFromBottom()) < 5, { what: 'still pinned to the bottom' })
  t.pass('at the bottom: the view follows new messages')
})

t.test('the composer shows the 100,000-character limit when near it', async (t) => {
  const composer = A.getByTestId('composer')
  await composer.fill('x'.repeat(95_000))
  await A.getByText('95,000 / 100,000').waitFor()
  t.ok(await A.getByTestId('send').isEnabled(), 'near the limit it still sends')
  await composer.fill('y'.repeat(100_001))
  await A.getByText('1 characters too many', { exact: false }).waitFor()
  t.ok(await A.getByTestId('send').isDisabled(), 'past the limit Send is off')
  await composer.fill('')
  t.equal(await A.getByText('/ 100,000').count(), 0, 'short texts show no count')
})

t.test('two tabs of one person stay in sync, read positions included', async (t) => {
  const A2 = await openTab(alice)
  await A2.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout: 15_000 })
  const bobDevice = await Device.open(t, node.wsUrl, bob!, 'bob-phone')
  await bobDevice.send(BOB, 'Lunch today?', 'tabs-1')
  for (const page of [A, A2]) await page.locator(`[data-testid="conversation"][data-channel="${BOB}"][data-unread="1"]`).waitFor()
  t.pass('both tabs count the new message as unread')
  await A2.locator(`[data-testid="conversation"][data-channel="${BOB}"]`).click()
  await A2.getByTestId('message').filter({ hasText: 'Lunch today?' }).waitFor()
  await A.locator(`[data-testid="conversation"][data-channel="${BOB}"][data-unread="0"]`).waitFor()
  t.pass('reading in one tab clears the count in the other')
  await A2.getByTestId('composer').fill('Yes, at noon')
  await A2.getByTestId('composer').press('Enter')
  await A.locator(`[data-testid="conversation"][data-channel="${BOB}"]`).filter({ hasText: 'You: Yes, at noon' }).waitFor()
  t.pass('what one tab sends shows in the other')
  await bobDevice.waitPush((f) => f.op === 'message' && f.text === 'Yes, at noon')
  await A2.close()
})

t.test('a refused message is shown as not sent, with Retry that sends it once', async (t) => {
  // Between page and node, the test refuses the first attempt of one message as the server would.
  let refused = 0
  await A.routeWebSocket(/\/ws/, (ws) => {
    const server = ws.connectToServer()
    ws.onMessage((raw) => {
      const frame = JSON.parse(String(raw))
      if (frame.op === 'send' && frame.text === 'Refused the first time' && refused === 0) {
        refused++
        ws.send(JSON.stringify({ op: 'error', ref: frame.ref, code: 'FORBIDDEN', message: 'refused by the test' }))
        return
      }
      server.send(raw)
    })
    server.onMessage((raw) => ws.send(raw))
  })
  await A.reload()
  await A.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout: 20_000 })
  await A.locator(`[data-testid="conversation"][data-channel="${DAVE}"]`).click()
  await A.getByTestId('composer').fill('Refused the first time')
  await A.getByTestId('composer').press('Enter')
  const failed = A.getByTestId('message').filter({ hasText: 'Refused the first time' })
  await failed.getByRole('alert').filter({ hasText: 'not allowed' }).waitFor()
  t.equal(await failed.getAttribute('data-pending'), 'true', 'not acknowledged: still marked pending')
  await accessible(t, A, 'a message that was not sent (desktop)')
  await failed.getByRole('button', { name: 'Retry' }).click()
  await A.locator('[data-testid="message"][data-pending="false"]').filter({ hasText: 'Refused the first time' }).waitFor()
  t.equal(refused, 1, 'the first attempt was refused')
  const history = await fullHistory(BASE, DAVE, dave!)
  t.equal(history.filter((m) => m.text === 'Refused the first time').length, 1, 'the retry stored it once')
  await A.unrouteAll()
})

t.test('a node restart: reconnecting banner, the message written meanwhile is sent after, nothing lost', async (t) => {
  await A.locator(`[data-testid="conversation"][data-channel="${DAVE}"]`).click()
  await node.kill()
  await A.locator('[data-testid="connection"][data-state="reconnecting"]').waitFor({ timeout: 20_000 })
  await A.getByTestId('composer').fill('Written while the server was down')
  await A.getByTestId('composer').press('Enter')
  const pending = A.locator('[data-testid="message"][data-pending="true"]').filter({ hasText: 'Written while the server was down' })
  await pending.waitFor()
  t.equal(await pending.getAttribute('data-seq'), '', 'shown at once, pending, with no seq yet')
  await screenshot(A, 'desktop-reconnecting')
  await accessible(t, A, 'the reconnecting banner (desktop)')

  await node.launch()
  await A.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout: 30_000 })
  const sent = A.locator('[data-testid="message"][data-pending="false"][data-seq="304"]')
  await sent.waitFor({ timeout: 20_000 })
  t.match(await sent.textContent(), /Written while the server was down/, 'sent after the reconnect, as seq 304')
  const history = await fullHistory(BASE, DAVE, dave!)
  t.same(history.map((m) => m.seq), Array.from({ length: 304 }, (_, i) => i + 1), 'the server has every message, once')
  t.equal(history.filter((m) => m.text === 'Written while the server was down').length, 1, 'the resent message is stored once')
  await A.reload()
  await A.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout: 20_000 })
  await A.locator('[data-testid="message"][data-seq="304"]').waitFor()
  t.pass('after a reload the conversation is all there')
})

t.test('the app shell opens from the service worker while the server is down', async (t) => {
  await A.evaluate(async () => { await navigator.serviceWorker.ready })
  await waitFor(() => A.evaluate(() => navigator.serviceWorker.controller !== null), { what: 'the page is controlled by the service worker' })
  // The app saves its snapshot about a second after a change: wait until it holds the newest message.
  await waitFor(() => A.evaluate((id) => {
    const saved = JSON.parse(localStorage.getItem('chat.snapshot.alice') ?? '{}') as { messages?: Record<string, Array<{ seq: number }>> }
    return saved.messages?.[id]?.some((m) => m.seq === 304) === true
  }, DAVE), { what: 'a saved snapshot with the newest message' })
  await node.kill()
  await A.reload()
  await A.locator('[data-testid="connection"][data-state="reconnecting"]').waitFor()
  await A.locator(`[data-testid="conversation"][data-channel="${DAVE}"]`).waitFor()
  await A.locator(`[data-testid="conversation"][data-channel="${BOB}"]`).waitFor()
  t.pass('the sidebar shows the saved conversations')
  await A.locator('[data-testid="message"][data-seq="304"]').waitFor()
  t.pass('the open conversation shows its saved messages')
  const phone = await openApp(browser, BASE, PHONE).catch((err: Error) => err)
  t.ok(phone instanceof Error, 'a browser that never visited cannot open it (nothing was cached there)')
  await screenshot(A, 'desktop-offline')
  t.same(alice.errors, [], 'no errors in the page')
})
