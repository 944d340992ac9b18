/**
 * Edits, deletes, reactions and search in the web app (PROTOCOL.md 4.4), in a real browser
 * against a real node: alice on a desktop-sized window with a second tab, bob on a phone-sized
 * one. Every change made on one device shows on the others: "edited", the deleted-message
 * tombstone, reaction counts with who reacted. Search finds messages everywhere or in one
 * conversation, marks the words as text (never HTML), and a result's click opens its message in
 * context, loading history far back when needed. Keyboard use and axe-core checks of the new
 * parts, and screenshots.
 */
import t, { type Test } from 'tap'
import type { Locator, Page } from 'playwright-core'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'
import { DESKTOP, PHONE, accessible, enter, launch, openApp, openTab, screenshot } from './browser.js'

t.setTimeout(300_000)

// Seeding a long history from one device goes faster than the default per-device send rate.
const node = await NodeProcess.start(t, { args: ['--rate-limit', '1000', '--rate-burst', '1000'] })
const BASE = node.url
const browser = await launch(t)
const DM = 'dm:alice:bob'

const alice = await openApp(browser, BASE, DESKTOP)
const bob = await openApp(browser, BASE, PHONE)
const A = alice.page
let B = bob.page
await enter(A, 'alice')
await enter(B, 'bob')
const A2 = await openTab(alice)
await A2.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout: 15_000 })
const [aliceToken, bobToken] = await Promise.all([login(BASE, 'alice'), login(BASE, 'bob')])
await api(BASE, 'POST', '/v1/friends', { username: 'bob' }, aliceToken)
await api(BASE, 'POST', '/v1/friends', { username: 'alice' }, bobToken)
const bobLaptop = await Device.open(t, node.wsUrl, bobToken, 'bob-laptop')

/** The message of the open conversation that holds `text`. */
const message = (page: Page, text: string): Locator => page.getByTestId('message').filter({ hasText: text })
const inDm = (page: Page) => page.locator(`[data-testid="conversation"][data-channel="${DM}"]`)

async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId('composer').fill(text)
  await page.getByTestId('composer').press('Enter')
  await page.locator('[data-testid="message"][data-pending="false"]').filter({ hasText: text }).waitFor()
}

/** Opens a message's menu the way each device would: hovering on a desktop, a tap on a phone. */
async function openMenu(page: Page, m: Locator, touch: boolean): Promise<void> {
  if (touch) await m.locator('.message__text').tap()
  else await m.hover()
  await m.getByTestId('message-menu').click()
  await page.getByRole('menu', { name: 'Message actions' }).waitFor()
}

/** Waits until `test` holds in the page: focus moves in effects, after paint. */
async function focusOn<A>(t: Test, page: Page, test: (arg: A) => boolean, what: string, arg?: A): Promise<void> {
  // The page's argument is typed Unboxed<A>, unresolvable for a generic A; `arg` is plain JSON.
  t.ok(await page.waitForFunction(test as (arg: unknown) => boolean, arg as A, { timeout: 5000 }).then(() => true, () => false), what)
}

/** A reaction chip's state on one message: count and whether it is mine, or null when absent. */
async function chip(m: Locator, emoji: string): Promise<{ count: string | null; mine: string | null } | null> {
  const c = m.locator(`[data-testid="reaction"][data-emoji="${emoji}"]`)
  if ((await c.count()) === 0) return null
  return { count: await c.getAttribute('data-count'), mine: await c.getAttribute('data-mine') }
}

t.test('edit: Up in an empty composer or the menu; "edited" on every device', async (t) => {
  await A.getByRole('tab', { name: /Friends/ }).click()
  await A.locator('[data-testid="friend"][data-username="bob"]').click()
  await send(A, 'See you at 5pm')
  await inDm(B).click()
  await message(B, 'See you at 5pm').waitFor()
  await send(B, 'Great, the usual place?')
  await message(A, 'the usual place').waitFor()

  // Up in the empty composer opens my last message in the editor.
  await A.getByTestId('composer').focus()
  await A.keyboard.press('ArrowUp')
  const editor = A.getByTestId('edit-input')
  await editor.waitFor()
  t.equal(await editor.inputValue(), 'See you at 5pm', 'the editor holds my last message')
  await focusOn(t, A, () => document.activeElement?.getAttribute('data-testid') === 'edit-input', 'the editor has the focus')
  await screenshot(A, 'desktop-edit')
  await accessible(t, A, 'a message being edited (desktop)')
  await editor.press('Escape')
  await editor.waitFor({ state: 'detached' })
  await focusOn(t, A, () => document.activeElement?.id === 'composer', 'Escape cancels, back in the composer')
  t.equal(await message(A, 'See you at 5pm').getAttribute('data-edited'), null, 'nothing changed')

  await A.keyboard.press('ArrowUp')
  await editor.fill('See you at 6pm (not 5)')
  await editor.press('Enter')
  await editor.waitFor({ state: 'detached' })
  for (const [who, page] of [['alice', A], ['bob', B]] as const) {
    const m = page.locator('[data-testid="message"][data-edited="true"]').filter({ hasText: 'See you at 6pm (not 5)' })
    await m.waitFor()
    t.match(await m.getByTestId('edited').textContent(), /\(edited\)/, `${who} sees the new text marked "(edited)"`)
  }
  t.equal(await message(B, 'See you at 5pm').count(), 0, 'the old text is gone from bob\'s phone')
  await bobLaptop.waitPush((f) => f.op === 'edit' && f.text === 'See you at 6pm (not 5)', 'the edit event on bob\'s other device')
  await A2.locator(`[data-testid="conversation"][data-channel="${DM}"]`).filter({ hasText: 'Great, the usual place?' }).waitFor()
  await A2.locator(`[data-testid="conversation"][data-channel="${DM}"]`).click()
  await A2.locator('[data-testid="message"][data-edited="true"]').filter({ hasText: 'See you at 6pm (not 5)' }).waitFor()
  t.pass('alice\'s second tab shows the edit too')

  // Bob edits his own message from the menu, on the phone.
  await openMenu(B, message(B, 'the usual place'), true)
  await screenshot(B, 'phone-message-menu')
  await accessible(t, B, 'a message menu (phone)')
  await B.getByTestId('edit-message').tap()
  await B.getByTestId('edit-input').fill('Great, the usual place? The one by the river')
  await B.getByTestId('save-edit').tap()
  await message(A, 'The one by the river').locator('[data-testid="edited"]').waitFor()
  await message(A2, 'The one by the river').locator('[data-testid="edited"]').waitFor()
  t.pass('bob\'s edit from the menu reaches both of alice\'s tabs')

  // Someone else's message: no Edit, no Delete.
  await openMenu(B, message(B, 'See you at 6pm'), true)
  t.equal(await B.getByTestId('edit-message').count(), 0, 'no Edit on alice\'s message for bob')
  t.equal(await B.getByTestId('delete-message').count(), 0, 'no Delete on alice\'s message for bob (a 1:1)')
  await B.keyboard.press('Escape')
  await B.getByRole('menu').waitFor({ state: 'detached' })
  // Escape closes it with the focus outside it too (typed before the focus arrived, or after it left).
  await openMenu(B, message(B, 'See you at 6pm'), true)
  await focusOn(t, B, () => document.activeElement?.getAttribute('role') === 'menuitem', 'the menu has the focus')
  await B.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
  t.equal(await B.evaluate(() => document.activeElement === document.body), true, 'then the focus is nowhere')
  await B.keyboard.press('Escape')
  await B.getByRole('menu').waitFor({ state: 'detached' })
  t.pass('Escape closes the menu wherever the focus is')
})

t.test('react: a picker, counts with who reacted, toggled on every device', async (t) => {
  const aMsg = message(A, 'The one by the river')
  await aMsg.hover()
  await aMsg.locator('.message__tools').getByTestId('add-reaction').click()
  await A.getByTestId('emoji-picker').waitFor()
  await screenshot(A, 'desktop-emoji-picker')
  await accessible(t, A, 'the emoji picker (desktop)')
  await A.locator('[data-testid="emoji"][data-emoji="👍"]').click()
  await A.getByTestId('emoji-picker').waitFor({ state: 'detached' })

  const bMsg = message(B, 'The one by the river')
  await waitFor(async () => (await chip(aMsg, '👍'))?.count === '1' && (await chip(bMsg, '👍'))?.count === '1', { what: '👍 1 on both' })
  t.same(await chip(aMsg, '👍'), { count: '1', mine: 'true' }, 'alice sees her 👍, highlighted as hers')
  t.same(await chip(bMsg, '👍'), { count: '1', mine: 'false' }, 'bob sees 👍 1, not his')
  t.match(await bMsg.locator('[data-testid="reaction"][data-emoji="👍"]').getAttribute('aria-label'), /alice/, 'and who reacted')

  // Bob adds his to the same emoji from its chip: the count goes to 2 everywhere.
  await bMsg.locator('[data-testid="reaction"][data-emoji="👍"]').tap()
  const a2Msg = message(A2, 'The one by the river')
  await waitFor(async () => (await chip(aMsg, '👍'))?.count === '2' && (await chip(a2Msg, '👍'))?.count === '2', { what: '👍 2 for alice' })
  t.match(await aMsg.locator('[data-testid="reaction"][data-emoji="👍"]').getAttribute('title'), /^bob and you reacted with 👍/, 'the tooltip says who: "bob and you"')
  t.same(await chip(bMsg, '👍'), { count: '2', mine: 'true' }, 'bob\'s is on')

  // Alice takes hers off from her second tab.
  await a2Msg.locator('[data-testid="reaction"][data-emoji="👍"]').click()
  await waitFor(async () => (await chip(aMsg, '👍'))?.count === '1' && (await chip(bMsg, '👍'))?.count === '1', { what: '👍 back to 1' })
  t.same(await chip(aMsg, '👍'), { count: '1', mine: 'false' }, 'alice\'s first tab: 1, not hers any more')
  await bobLaptop.waitPush((f) => f.op === 'reaction' && f.user === 'alice' && f.on === false, 'the reaction event on bob\'s other device')

  // Keyboard only: focus the message, Enter opens its menu, React…, an arrow, Enter.
  await A.locator('.messages').focus()
  await A.keyboard.press('ArrowUp')
  await focusOn(t, A, () => document.activeElement?.textContent?.includes('The one by the river') === true, 'the newest message has the focus')
  await A.keyboard.press('Enter')
  await A.getByRole('menu', { name: 'Message actions' }).waitFor()
  await focusOn(t, A, () => document.activeElement?.getAttribute('data-testid') === 'react', 'the menu\'s first item has the focus')
  await screenshot(A, 'desktop-message-menu')
  await accessible(t, A, 'a message menu (desktop)')
  await A.keyboard.press('Enter')
  await A.getByTestId('emoji-picker').waitFor()
  await A.keyboard.press('ArrowRight')
  await A.keyboard.press('Enter')
  await waitFor(async () => (await chip(bMsg, '❤️'))?.count === '1', { what: '❤️ on bob\'s phone' })
  t.pass('a reaction by keyboard alone reaches bob')
  await focusOn(t, A, () => document.activeElement?.getAttribute('data-testid') === 'message-menu', 'the focus is back on the menu button')
  await A.mouse.move(0, 0)
  await screenshot(A, 'desktop-reactions')
  await B.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
  await screenshot(B, 'phone-reactions')
  await accessible(t, B, 'reactions (phone)')
})

t.test('delete: asked first, then a tombstone for everyone, on every device', async (t) => {
  await send(A, 'Oops, wrong chat: my PIN is 4321')
  await message(B, 'my PIN is 4321').waitFor()
  const aMsg = message(A, 'my PIN is 4321')
  const seq = await aMsg.getAttribute('data-seq')
  await openMenu(A, aMsg, false)
  await A.getByTestId('delete-message').click()
  const dialog = A.getByRole('dialog', { name: 'Delete message?' })
  await dialog.waitFor()
  t.match(await dialog.textContent(), /deleted for both of you/, 'the dialog says who loses it')
  await focusOn(t, A, () => document.activeElement?.textContent === 'Cancel', 'Cancel has the focus: the safe choice')
  await screenshot(A, 'desktop-delete-dialog')
  await accessible(t, A, 'the delete dialog (desktop)')
  await A.keyboard.press('Escape')
  await dialog.waitFor({ state: 'detached' })
  t.equal(await aMsg.getAttribute('data-deleted'), null, 'Escape keeps the message')

  await openMenu(A, aMsg, false)
  await A.getByTestId('delete-message').click()
  await A.getByTestId('confirm-delete').click()
  await dialog.waitFor({ state: 'detached' })
  for (const [who, page] of [['alice', A], ['alice\'s second tab', A2], ['bob', B]] as const) {
    const tomb = page.locator(`[data-testid="message"][data-seq="${seq}"][data-deleted="true"]`)
    await tomb.waitFor()
    t.match(await tomb.textContent(), /This message was deleted/, `${who}: the message reads "This message was deleted"`)
    t.equal(await page.getByText('my PIN is 4321').count(), 0, `${who}: its text is nowhere on the page`)
  }
  await focusOn(t, A, (s) => document.activeElement?.getAttribute('data-seq') === s, 'the focus is back on the message', seq)
  await inDm(A2).filter({ hasText: 'You: This message was deleted' }).waitFor()
  t.pass('the preview in the list says so too')
  await bobLaptop.waitPush((f) => f.op === 'delete' && String(f.seq) === seq, 'the delete event on bob\'s other device')
  const history = await api(BASE, 'GET', `/v1/channels/${DM}/messages`, undefined, bobToken)
  t.match(history.body.messages.find((m: any) => String(m.seq) === seq), { deleted: true, text: '' }, 'the server has no text for it')

  // After a reload the deleted text does not come back from this browser's saved copy.
  await A2.reload()
  await A2.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout: 15_000 })
  await A2.locator(`[data-testid="message"][data-seq="${seq}"][data-deleted="true"]`).waitFor()
  t.equal(await A2.getByText('my PIN is 4321').count(), 0, 'reloaded: still a tombstone')
  await B.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
  await screenshot(B, 'phone-deleted')

  // A message deleted while bob's phone was closed: its saved copy of the list must not show it.
  await send(A, 'Last one for now: the door code is 9876')
  await message(B, 'the door code is 9876').waitFor()
  await waitFor(() => B.evaluate(() => localStorage.getItem('chat.snapshot.bob')?.includes('the door code is 9876') === true), { what: 'bob\'s saved snapshot' })
  await B.close()
  const last = message(A, 'the door code is 9876')
  await openMenu(A, last, false)
  await A.getByTestId('delete-message').click()
  await A.getByTestId('confirm-delete').click()
  await last.waitFor({ state: 'detached' })
  B = await openTab(bob)
  await B.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout: 15_000 })
  await inDm(B).filter({ hasText: 'alice: This message was deleted' }).or(inDm(B).filter({ hasText: 'This message was deleted' })).waitFor()
  t.equal(await B.getByText('the door code is 9876').count(), 0, 'reopened later, bob\'s list shows the deletion, not the saved text')
})

t.test('search: everywhere and in one conversation, words marked, a click opens the message in context', async (t) => {
  // A group with a long history: the message searched for is far above the newest page.
  const carolToken = await login(BASE, 'carol')
  const group = (await api(BASE, 'POST', '/v1/groups', { name: 'Book club', members: ['bob', 'carol'] }, aliceToken)).body.channel.id as string
  const carol = await Device.open(t, node.wsUrl, carolToken, 'carol-laptop')
  const seed = ['Who is reading what this month?', 'Let\'s meet at Café Łódź for crème brûlée', '<b>creme</b> <img src=x onerror=alert(1)> brulee, said the bot']
  for (let i = 1; i <= 120; i++) seed.push(`Filler message number ${i}`)
  for (const [i, text] of seed.entries()) {
    const r = await carol.send(group, text, `seed-${i}`)
    if (r.op !== 'ack') throw new Error(`seeding ${i}: ${JSON.stringify(r)}`)
  }
  const newest = seed.length
  const favourite = String((await bobLaptop.send(DM, 'Creme brulee is still my favourite', 'bob-creme')).seq)
  await message(A, 'Creme brulee is still my favourite').waitFor()

  await A.getByTestId('search-input').fill('CREME brulee')
  const results = A.getByTestId('search-result')
  await waitFor(async () => (await results.count()) === 3, { what: 'three results' })
  t.same(await results.evaluateAll((els) => els.map((e) => `${e.getAttribute('data-channel')} ${e.getAttribute('data-seq')}`)),
    [`${DM} ${favourite}`, `${group} 3`, `${group} 2`], 'newest first, across conversations, whatever the case and accents')
  const cafe = A.locator(`[data-testid="search-result"][data-channel="${group}"][data-seq="2"]`)
  t.same(await cafe.locator('mark').allTextContents(), ['crème', 'brûlée'], 'the words found are marked')
  const html = A.locator(`[data-testid="search-result"][data-channel="${group}"][data-seq="3"]`)
  t.match(await html.textContent(), '<b>creme</b> <img src=x onerror=alert(1)> brulee', 'markup in a message reads as typed')
  t.same(await html.locator('mark').allTextContents(), ['creme', 'brulee'], 'only the words are marked')
  t.equal(await A.locator('[data-testid="search-results"] img, [data-testid="search-results"] b').count(), 0, 'and no element was made from it')
  t.match(await A.getByTestId('search-status').textContent(), /3 messages found/, 'the count is announced')
  await screenshot(A, 'desktop-search')
  await accessible(t, A, 'search results (desktop)')

  // The result far back: the conversation opens on it, loading that part of the history.
  await cafe.click()
  await A.locator('.chat__name', { hasText: 'Book club' }).waitFor()
  const target = A.locator('[data-testid="message"][data-seq="2"]')
  await target.waitFor()
  await focusOn(t, A, () => document.activeElement?.getAttribute('data-seq') === '2', 'the message jumped to has the focus')
  t.match(await target.getAttribute('class'), /message--flash/, 'and is highlighted')
  t.ok(await target.evaluate((el) => {
    const box = el.getBoundingClientRect()
    const list = document.querySelector('.messages')!.getBoundingClientRect()
    return box.top >= list.top && box.bottom <= list.bottom
  }), 'in view')
  t.equal(await A.locator(`[data-testid="message"][data-seq="${newest}"]`).count(), 0, 'the newest messages are not loaded: this is a window further back')
  await A.mouse.move(0, 0)
  await screenshot(A, 'desktop-search-jump')
  await accessible(t, A, 'a search result opened in its conversation (desktop)')

  // Scrolling down loads the newer pages; "Jump to latest" goes straight to the end.
  const before = await A.getByTestId('message').count()
  await A.evaluate(() => { const l = document.querySelector('.messages')!; l.scrollTop = l.scrollHeight })
  await waitFor(async () => (await A.getByTestId('message').count()) > before, { what: 'a newer page' })
  t.pass('scrolling down loads newer messages')
  await A.getByTestId('jump-latest').click()
  await A.locator(`[data-testid="message"][data-seq="${newest}"]`).waitFor()
  await A.getByTestId('jump-latest').waitFor({ state: 'detached' })
  await waitFor(() => A.evaluate(() => { const l = document.querySelector('.messages')!; return l.scrollHeight - l.scrollTop - l.clientHeight < 5 }), { what: 'at the bottom' })
  t.pass('"Jump to latest" shows the newest message, at the bottom')

  // In this conversation only.
  await A.getByTestId('search-here').click()
  await A.getByTestId('search-scope').filter({ hasText: 'in Book club' }).waitFor()
  await focusOn(t, A, () => document.activeElement?.id === 'search', 'the search box has the focus')
  await waitFor(async () => (await results.count()) === 2, { what: 'two results in Book club' })
  t.same(await results.evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute('data-channel')))]), [group], 'only messages of Book club')
  await screenshot(A, 'desktop-search-here')
  await accessible(t, A, 'search in one conversation (desktop)')

  // Live: an edit that drops the words takes the message out of the results; a delete too.
  const editSeq = 2
  const edited = await carol.request({ op: 'edit', channel: group, seq: editSeq, text: 'Let\'s meet at Café Łódź for tea instead' })
  t.equal(edited.op, 'ok', 'carol edits her message')
  await A.locator(`[data-testid="search-result"][data-seq="${editSeq}"]`).waitFor({ state: 'detached' })
  t.pass('the result no longer holding the words leaves the results')
  await carol.request({ op: 'delete', channel: group, seq: 3 })
  await waitFor(async () => (await results.count()) === 0, { what: 'no results left' })
  await A.getByTestId('search-status').filter({ hasText: 'No messages found' }).waitFor().catch(() => undefined)
  t.pass('the deleted message leaves the results at once')
  // The group's creator (alice) may delete carol's message there; nobody may edit it but carol.
  const carols = A.locator('[data-testid="message"][data-from="carol"]').last()
  await openMenu(A, carols, false)
  t.equal(await A.getByTestId('delete-message').count(), 1, 'the creator of the group is offered Delete on carol\'s message')
  t.equal(await A.getByTestId('edit-message').count(), 0, 'but not Edit')
  await A.keyboard.press('Escape')

  await A.getByRole('button', { name: /Search all conversations/ }).click()
  await waitFor(async () => (await results.count()) === 1, { what: 'the DM result, searching everywhere again' })
  t.equal(await results.first().getAttribute('data-channel'), DM, 'everywhere again: the 1:1 message')
  // Pages: 20 results, then 20 more, none twice.
  await A.getByTestId('search-input').fill('filler number')
  await waitFor(async () => (await results.count()) === 20, { what: 'a first page of 20' })
  await A.getByTestId('search-more').click()
  await waitFor(async () => (await results.count()) === 40, { what: 'a second page' })
  const seqs = await results.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))))
  t.same(seqs, Array.from({ length: 40 }, (_, i) => newest - i), '"More results" adds the next 20, newest first, none twice')
  await A.getByTestId('search-input').fill('CREME brulee')
  await waitFor(async () => (await results.count()) === 1, { what: 'the one result left' })

  // By keyboard: Down from the box to the results, Enter opens one, Escape back in the box closes.
  await A.getByTestId('search-input').focus()
  await A.keyboard.press('ArrowDown')
  await focusOn(t, A, () => document.activeElement?.getAttribute('data-testid') === 'search-result', 'Down moves from the box to the first result')
  await A.keyboard.press('Enter')
  await A.locator('.chat__name', { hasText: 'bob' }).waitFor()
  await focusOn(t, A, (seq) => document.activeElement?.getAttribute('data-seq') === seq, 'Enter opens it, the message has the focus', favourite)
  await A.getByTestId('search-input').press('Escape')
  await A.getByTestId('search-results').waitFor({ state: 'detached' })
  await A.getByRole('tab', { name: 'Chats' }).waitFor()
  t.pass('Escape closes the search: the lists are back')

  // On the phone (reopened in the delete test, so on its list): search, open a result, back to the results.
  await B.getByTestId('search-input').fill('favourite')
  await B.locator(`[data-testid="search-result"][data-channel="${DM}"]`).waitFor()
  await B.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
  await screenshot(B, 'phone-search')
  await accessible(t, B, 'search results (phone)')
  await B.locator(`[data-testid="search-result"][data-channel="${DM}"]`).tap()
  await B.locator(`[data-testid="message"][data-seq="${favourite}"]`).waitFor()
  await B.getByRole('button', { name: 'Back to conversations' }).tap()
  await B.locator(`[data-testid="search-result"][data-channel="${DM}"]`).waitFor()
  t.pass('back on the phone: the results are still there')
  // The header's search on a phone goes to the list pane, searching that conversation.
  await B.locator(`[data-testid="search-result"][data-channel="${DM}"]`).tap()
  await B.getByTestId('search-here').tap()
  await B.getByTestId('search-scope').filter({ hasText: 'in alice' }).waitFor()
  await B.getByTestId('search-close').tap()
  await B.getByRole('tab', { name: 'Chats' }).waitFor()
  t.pass('the phone searches one conversation from its header')
})

t.test('no errors in the pages', async (t) => {
  t.same(alice.errors, [], 'alice\'s pages')
  t.same(bob.errors, [], 'bob\'s page')
  t.same([...alice.dialogs, ...bob.dialogs], [], 'no alert, confirm or prompt was opened')
})
