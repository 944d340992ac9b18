/**
 * The web app in a real browser against a real node: two people, one on a desktop-sized window
 * and one on a phone-sized one, sign up, befriend, see each other online, chat 1:1 and in a
 * group, see each other type, and see the other go offline. Also: clear login errors, text shown
 * as text (never HTML), a notification while the tab is hidden, accessibility (axe-core) on every
 * main screen, and screenshots of them.
 */
import t from 'tap'
import { NodeProcess, api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'
import { DESKTOP, PHONE, accessible, enter, launch, openApp, screenshot, shownMessages } from './browser.js'

t.setTimeout(240_000)

const node = await NodeProcess.start(t)
const browser = await launch(t)

/** Records notifications instead of showing them, with permission granted (set before the app loads). */
function recordNotifications(): void {
  const shown: Array<{ title: string; body: string }> = []
  class RecordingNotification {
    static permission = 'granted'
    static requestPermission = async () => 'granted'
    onclick: (() => void) | null = null
    constructor(title: string, options: { body?: string } = {}) {
      shown.push({ title, body: options.body ?? '' })
    }
    close(): void {}
  }
  Object.assign(window, { Notification: RecordingNotification, shownNotifications: shown })
}

const alice = await openApp(browser, node.url, DESKTOP, recordNotifications)
const bob = await openApp(browser, node.url, PHONE)
const A = alice.page
const B = bob.page

t.test('login: clear errors, then sign up', async (t) => {
  await A.getByTestId('username').waitFor()
  await screenshot(A, 'desktop-login')
  await screenshot(B, 'phone-login')
  await accessible(t, A, 'the login screen (desktop)')
  await accessible(t, B, 'the login screen (phone)')

  await A.getByTestId('username').fill('alice')
  await A.getByTestId('password').fill('password-123')
  await A.getByTestId('login').click()
  await A.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor()
  t.pass('an unknown user gets "Wrong username or password"')

  await A.getByTestId('username').fill('Alice!')
  await A.getByTestId('signup').click()
  await A.getByRole('alert').filter({ hasText: 'lowercase letters' }).waitFor()
  t.pass('a bad username is explained before asking the server')

  await api(node.url, 'POST', '/v1/users', { username: 'taken_name', password: 'password-123' })
  await A.getByTestId('username').fill('taken_name')
  await A.getByTestId('password').fill('password-123')
  await A.getByTestId('signup').click()
  await A.getByRole('alert').filter({ hasText: 'That username is taken' }).waitFor()
  t.pass('a taken username says so')

  await enter(A, 'alice')
  await enter(B, 'bob')
  t.pass('both are in, connected')
})

t.test('befriend: request, accept, both online', async (t) => {
  await A.getByRole('tab', { name: /Friends/ }).click()
  await A.getByTestId('add-friend-input').fill('nobody_here')
  await A.getByTestId('add-friend').click()
  await A.getByRole('status').filter({ hasText: 'There is no user nobody_here' }).waitFor()
  await A.getByTestId('add-friend-input').fill('bob')
  await A.getByTestId('add-friend').click()
  await A.getByRole('status').filter({ hasText: 'Friend request sent to bob' }).waitFor()

  await B.getByRole('tab', { name: /Friends/ }).click()
  const request = B.locator('[data-testid="friend-request"][data-username="alice"]')
  await request.waitFor({ timeout: 15_000 })
  await screenshot(B, 'phone-friend-request')
  await accessible(t, B, 'the friends tab with a request (phone)')
  await request.getByRole('button', { name: 'Accept friend request from alice' }).click()

  await B.locator('[data-testid="friend"][data-username="alice"][data-status="online"]').waitFor()
  await A.locator('[data-testid="friend"][data-username="bob"][data-status="online"]').waitFor({ timeout: 15_000 })
  t.pass('each sees the other online')
  await screenshot(A, 'desktop-friends')
  await accessible(t, A, 'the friends tab (desktop)')
})

t.test('1:1 chat: pending then sent, unread counts, typing, back button on the phone', async (t) => {
  await A.locator('[data-testid="friend"][data-username="bob"]').click()
  await A.getByTestId('composer').fill('Hi Bob! Are you coming on Saturday?')
  await A.getByTestId('composer').press('Enter')
  const mine = A.getByTestId('message').filter({ hasText: 'Are you coming on Saturday?' })
  await mine.waitFor()
  await A.locator('[data-testid="message"][data-pending="false"][data-seq="1"]').waitFor()
  t.same(await shownMessages(A), [{ seq: '1', from: 'alice', pending: 'false', text: 'Hi Bob! Are you coming on Saturday?' }], 'alice sees her message, acknowledged as seq 1')
  t.equal(await A.getByTestId('composer').inputValue(), '', 'the composer is cleared')

  // Shift+Enter adds a line instead of sending.
  await A.getByTestId('composer').fill('Line one')
  await A.getByTestId('composer').press('Shift+Enter')
  await A.getByTestId('composer').pressSequentially('Line two')
  t.equal(await A.getByTestId('composer').inputValue(), 'Line one\nLine two', 'Shift+Enter is a new line')
  await A.getByTestId('send').click()
  await A.locator('[data-testid="message"][data-seq="2"][data-pending="false"]').waitFor()

  await B.getByRole('tab', { name: 'Chats' }).click()
  const conversation = B.locator('[data-testid="conversation"][data-channel="dm:alice:bob"]')
  await B.locator('[data-testid="conversation"][data-channel="dm:alice:bob"][data-unread="2"]').waitFor()
  t.match(await conversation.textContent(), /Line one/, 'the preview shows the last message')
  await screenshot(B, 'phone-conversations')
  await accessible(t, B, 'the conversation list (phone)')
  await conversation.click()
  await B.locator('[data-testid="conversation"][data-channel="dm:alice:bob"][data-unread="0"]').waitFor({ state: 'attached' })
  t.same((await shownMessages(B)).map((m) => m.text), ['Hi Bob! Are you coming on Saturday?', 'Line one\nLine two'], 'bob sees both, the line break kept')
  t.notOk(await B.getByTestId('conversation').first().isVisible(), 'the phone shows one pane: the list is hidden while chatting')

  await B.getByTestId('composer').pressSequentially('Sure', { delay: 30 })
  await A.getByTestId('typing').filter({ hasText: 'bob is typing' }).waitFor()
  t.pass('alice sees "bob is typing…"')
  await screenshot(A, 'desktop-typing')
  await B.getByTestId('composer').press('Enter')
  await A.locator('[data-testid="message"][data-from="bob"][data-seq="3"]').waitFor()
  await A.getByTestId('typing').waitFor({ state: 'detached' })
  t.pass('the typing notice goes when the message arrives')
  await A.locator('[data-testid="conversation"][data-channel="dm:alice:bob"][data-unread="0"]').waitFor({ state: 'attached' })
  t.pass('a message arriving in the open conversation is read at once')

  await screenshot(B, 'phone-chat')
  await accessible(t, B, 'an open conversation (phone)')
  await B.getByRole('button', { name: 'Back to conversations' }).click()
  await conversation.waitFor()
  t.pass('the back button returns to the list on the phone')
})

t.test('text is shown as text, never as HTML', async (t) => {
  const attack = '<img src=x onerror=alert(1)>'
  await A.getByTestId('composer').fill(attack)
  await A.getByTestId('composer').press('Enter')
  await B.locator('[data-testid="conversation"][data-channel="dm:alice:bob"]').click()
  const shown = B.getByTestId('message').filter({ hasText: attack })
  await shown.waitFor()
  t.equal(await shown.locator('.message__text').textContent(), attack, 'the exact characters are shown')
  t.equal(await B.locator('.messages img').count(), 0, 'no image element was made')
  t.equal(await A.locator('.messages img').count(), 0, 'not on the sender side either')
  t.same([...alice.dialogs, ...bob.dialogs], [], 'no script ran')
})

t.test('a notification for a new message while the tab is hidden', async (t) => {
  await A.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' })
    document.dispatchEvent(new Event('visibilitychange'))
  })
  await B.getByTestId('composer').fill('Are you there?')
  await B.getByTestId('composer').press('Enter')
  const shown = await waitFor(() => A.evaluate(() => (window as any).shownNotifications as Array<{ title: string; body: string }>).then((n) => n.length > 0 && n), { what: 'a notification' })
  t.same(shown, [{ title: 'bob', body: 'Are you there?' }], 'one notification, from bob, with the text')
  await A.locator('[data-testid="conversation"][data-channel="dm:alice:bob"][data-unread="1"]').waitFor()
  t.pass('unseen while hidden: the message stays unread')
  await A.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' })
    document.dispatchEvent(new Event('visibilitychange'))
  })
  await A.locator('[data-testid="conversation"][data-channel="dm:alice:bob"][data-unread="0"]').waitFor()
  t.pass('coming back to the tab reads it')
  await B.locator('[data-testid="conversation"][data-channel="dm:alice:bob"][data-unread="0"]').waitFor({ state: 'attached' })
})

t.test('groups: create, chat, add and remove members, leave', async (t) => {
  await login(node.url, 'carol')
  await A.getByTestId('new-group').click()
  await screenshot(A, 'desktop-new-group')
  await accessible(t, A, 'the new group dialog (desktop)')
  await A.getByTestId('group-name').fill('Weekend trip')
  await A.getByTestId('group-members').fill('bob')
  await A.getByTestId('create-group').click()
  const group = A.locator('[data-testid="conversation"]').filter({ hasText: 'Weekend trip' })
  await group.waitFor()
  const channel = await group.getAttribute('data-channel')
  t.match(channel, /^g:/, 'a group channel')
  await A.getByTestId('composer').fill('Who brings the tent?')
  await A.getByTestId('composer').press('Enter')
  await A.locator('[data-testid="message"][data-seq="1"][data-pending="false"]').waitFor()

  await B.getByRole('button', { name: 'Back to conversations' }).click()
  const bGroup = B.locator(`[data-testid="conversation"][data-channel="${channel}"]`)
  await B.locator(`[data-testid="conversation"][data-channel="${channel}"][data-unread="1"]`).waitFor()
  await bGroup.click()
  await B.getByTestId('message').filter({ hasText: 'Who brings the tent?' }).waitFor()
  await B.getByTestId('composer').fill('I do')
  await B.getByTestId('composer').press('Enter')
  await A.locator('[data-testid="message"][data-from="bob"]').filter({ hasText: 'I do' }).waitFor()
  t.pass('both chat in the group')
  await A.getByTestId('composer').fill('Perfect. I\'ll bring the stove and the coffee ☕')
  await A.getByTestId('composer').press('Enter')
  await B.getByTestId('message').filter({ hasText: 'the stove and the coffee' }).waitFor()
  await B.getByTestId('composer').fill('Leaving at 8 on Saturday?\nI can pick you up on the way')
  await B.getByTestId('composer').press('Enter')
  await A.getByTestId('message').filter({ hasText: 'pick you up' }).waitFor()
  await A.locator('[data-testid="message"][data-pending="true"]').waitFor({ state: 'detached' })
  await A.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
  await screenshot(A, 'desktop-chat')
  await screenshot(B, 'phone-group')

  // The group is the newest activity: it is first in alice's sidebar.
  t.equal(await A.getByTestId('conversation').first().getAttribute('data-channel'), channel, 'sidebar ordered by latest activity')

  await A.getByRole('button', { name: 'Group info and members' }).click()
  await A.getByTestId('add-member-input').fill('carol')
  await A.getByTestId('add-member').click()
  await A.locator('[data-testid="member"][data-username="carol"]').waitFor()
  await screenshot(A, 'desktop-group-info')
  await accessible(t, A, 'the group info dialog (desktop)')
  await A.getByRole('button', { name: 'Remove carol from the group' }).click()
  await A.locator('[data-testid="member"][data-username="carol"]').waitFor({ state: 'detached' })
  t.pass('alice added and removed carol')
  await A.keyboard.press('Escape')
  await A.getByRole('dialog').waitFor({ state: 'detached' })

  await B.getByRole('button', { name: 'Group info and members' }).click()
  await B.getByTestId('leave-group').click()
  await bGroup.waitFor({ state: 'detached' })
  t.pass('bob left: the group is gone from his list')
  await A.locator('.chat__subtitle', { hasText: /^you$/ }).waitFor()
  t.pass('alice sees that she is the only member left')
  const members = await api(node.url, 'GET', '/v1/channels', undefined, await login(node.url, 'alice', undefined, 'password-123'))
  t.same(members.body.channels.find((c: any) => c.id === channel)?.members, ['alice'], 'the server agrees: only alice is left')
})

t.test('the other goes offline when their page closes', async (t) => {
  await A.getByRole('tab', { name: /Friends/ }).click()
  await A.locator('[data-testid="friend"][data-username="bob"][data-status="online"]').waitFor()
  await bob.context.close()
  const friend = A.locator('[data-testid="friend"][data-username="bob"][data-status="offline"]')
  await friend.waitFor({ timeout: 15_000 })
  t.match(await friend.textContent(), /last seen just now/, 'with "last seen"')
})

t.test('keyboard: arrows move through conversations and messages, Enter opens', async (t) => {
  await A.getByRole('tab', { name: 'Chats' }).click()
  const rows = A.getByTestId('conversation')
  t.equal(await rows.count(), 2, 'two conversations')
  await rows.first().focus()
  await A.keyboard.press('ArrowDown')
  t.equal(await A.evaluate(() => document.activeElement?.getAttribute('data-channel')), 'dm:alice:bob', 'ArrowDown moves to the next conversation')
  await A.keyboard.press('Enter')
  await A.locator('.chat__name', { hasText: 'bob' }).waitFor()
  await A.locator('.messages').focus()
  await A.keyboard.press('ArrowUp')
  const last = await A.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'message' && document.activeElement.getAttribute('data-seq'))
  await A.keyboard.press('ArrowUp')
  const before = await A.evaluate(() => document.activeElement?.getAttribute('data-seq'))
  t.equal(Number(before), Number(last) - 1, `ArrowUp walks the messages (${last} then ${before})`)
  const outline = await A.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)
  t.equal(outline, 'solid', 'the focused message shows a focus outline')
})

t.test('no errors in the pages', async (t) => {
  t.same(alice.errors, [], 'alice\'s page')
  t.same(bob.errors, [], 'bob\'s page')
})
