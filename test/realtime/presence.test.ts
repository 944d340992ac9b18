/**
 * Presence with a short timeout (500 ms): friends are pushed online on connect, offline on close
 * and after silence, online again on the next frame, and nothing more; queries answer for
 * friends, group co-members and 1:1 partners with a message, and for nobody else.
 */
import t from 'tap'
import { Device } from '../helpers/device.js'
import { InProcessNode } from '../helpers/in-process.js'
import { api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const TIMEOUT_MS = 500
const node = await InProcessNode.start(t, { args: ['--presence-timeout-ms', String(TIMEOUT_MS)] })
const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'] as const
type Name = (typeof names)[number]
const tok = Object.fromEntries(await Promise.all(names.map(async (u) => [u, await login(node.url, u)] as const))) as Record<Name, string>

// bob: friend of alice. dave: in a group with alice. erin: a 1:1 with alice that has a message.
// frank: asked alice to be friends, unanswered, and a 1:1 with no message. carol: nothing.
for (const [from, to] of [['alice', 'bob'], ['bob', 'alice'], ['frank', 'alice']] as const) {
  const r = await api(node.url, 'POST', '/v1/friends', { username: to }, tok[from])
  if (r.status !== 200) throw new Error(`friend ${from}->${to}: ${r.text}`)
}
await api(node.url, 'POST', '/v1/groups', { name: 'g', members: ['dave'] }, tok.alice)
{
  const e = await Device.open(t, node.wsUrl, tok.erin, 'erin-setup')
  await e.send('dm:alice:erin', 'hello', 'erin-1')
  e.close()
}

const presencePushes = (d: Device, user: string) => d.pushes.filter((f) => f.op === 'presence' && f.user === user)

t.test('friends are told: online, offline on close, offline after silence, online on the next frame', async (t) => {
  // Watchers ping often so that they stay live themselves.
  const bob = await Device.open(t, node.wsUrl, tok.bob, 'bob', 100)
  const carol = await Device.open(t, node.wsUrl, tok.carol, 'carol', 100)
  const dave = await Device.open(t, node.wsUrl, tok.dave, 'dave', 100)
  const aboutAlice = () => presencePushes(bob, 'alice')
  /** The first push about alice after the first `seen` ones that has `status`. */
  const next = (seen: number, status: string, timeout = 5000) =>
    waitFor(() => aboutAlice().slice(seen).find((f) => f.status === status), { timeout, what: `alice ${status} after push ${seen}` })

  const phone = await Device.open(t, node.wsUrl, tok.alice, 'phone', 100)
  const online = await next(0, 'online')
  t.same(Object.keys(online).sort(), ['lastActiveAt', 'op', 'status', 'user'])
  t.ok(Math.abs(online.lastActiveAt - Date.now()) < 5000, 'lastActiveAt is recent')

  // A second device and steady pings from both: about 30 frames, and no push for any of them.
  const laptop = await Device.open(t, node.wsUrl, tok.alice, 'laptop', 100)
  const quietUntil = Date.now() + 3 * TIMEOUT_MS
  await waitFor(() => Date.now() >= quietUntil, { timeout: 5 * TIMEOUT_MS, what: 'a quiet period' })
  const statuses = aboutAlice().map((f) => f.status)
  t.ok(statuses.length <= 3, `no push per frame or per extra device (${statuses.join(', ')})`)
  t.ok(statuses.every((s, i) => i === 0 || s !== statuses[i - 1]), 'pushes only on a change of status')

  const beforeClose = aboutAlice().length
  phone.close()
  await waitFor(() => phone.closed !== null, { what: 'phone closed' })
  const stillOnline = (await api(node.url, 'GET', '/v1/presence?users=alice', undefined, tok.bob)).body.presence[0]
  t.equal(stillOnline.status, 'online', 'online while any device is live')
  laptop.close()
  const offline = await next(beforeClose, 'offline')
  t.ok(offline.lastActiveAt >= online.lastActiveAt, 'offline once the last device closes')

  const beforeSilent = aboutAlice().length
  const silent = await Device.open(t, node.wsUrl, tok.alice, 'silent')
  const openedAt = Date.now()
  const again = await next(beforeSilent, 'online')
  const timedOut = await next(aboutAlice().indexOf(again) + 1, 'offline', 10 * TIMEOUT_MS)
  t.ok(Date.now() - timedOut.lastActiveAt >= TIMEOUT_MS, 'offline after silence, not before the timeout')
  t.ok(timedOut.lastActiveAt <= openedAt, 'lastActiveAt is the last frame, not the time of the timeout')
  t.equal(silent.closed, null, 'the silent socket itself may stay open')

  silent.raw(JSON.stringify({ op: 'ping' }))
  const back = await next(aboutAlice().indexOf(timedOut) + 1, 'online')
  t.ok(back.lastActiveAt > timedOut.lastActiveAt, 'any frame brings the device back')

  t.same(presencePushes(carol, 'alice'), [], 'a stranger is pushed nothing')
  t.same(presencePushes(dave, 'alice'), [], 'pushes go to friends only')
  const beforeLast = aboutAlice().length
  silent.close()
  await next(beforeLast, 'offline')
})

t.test('presence queries answer for friends, co-members and 1:1 partners only', async (t) => {
  const alice = await Device.open(t, node.wsUrl, tok.alice, 'alice-q', 100)
  const expect: Record<Name, boolean> = { alice: true, bob: true, carol: false, dave: true, erin: true, frank: false }
  for (const asker of names) {
    const d = await Device.open(t, node.wsUrl, tok[asker], `${asker}-q`)
    const ws = await d.request({ op: 'presence', users: ['alice', 'nobody_here', 'Bad Name'] })
    const http = await api(node.url, 'GET', '/v1/presence?users=alice,nobody_here', undefined, tok[asker])
    t.equal(http.status, 200)
    for (const answer of [ws.presence, http.body.presence]) {
      if (expect[asker]) t.match(answer, [{ user: 'alice', status: 'online' }], `${asker} sees alice`)
      else t.same(answer, [], `${asker} gets no entry for alice`)
    }
    d.close()
  }
  const friends = await api(node.url, 'GET', '/v1/friends', undefined, tok.bob)
  t.match(friends.body.friends, [{ username: 'alice', state: 'friends', status: 'online' }])
  const pending = await api(node.url, 'GET', '/v1/friends', undefined, tok.frank)
  t.same(pending.body.friends, [{ username: 'alice', displayName: 'alice', state: 'requested' }], 'no presence before both asked')

  alice.close()
  await waitFor(async () => {
    const r = await api(node.url, 'GET', '/v1/presence?users=alice', undefined, tok.dave)
    return r.body.presence[0]?.status === 'offline'
  }, { what: 'alice offline for dave' })
  const last = (await api(node.url, 'GET', '/v1/presence?users=alice', undefined, tok.erin)).body.presence[0]
  t.match(last, { user: 'alice', status: 'offline' })
  t.ok(Date.now() - last.lastActiveAt < 10_000, 'lastActiveAt is kept after going offline')
})
