/**
 * A device that registers again after its user's key moved tells the next owner the last
 * inboxSeq it saw (`connect` with `since`); the owner pushes it every event after that, in order
 * and framed as live pushes, before any later push, and answers `caughtUp`. A session whose
 * owner could not catch it up closes its socket with 1013 (test/unit/reregister.test.ts).
 */
import t from 'tap'
import { Device } from '../helpers/device.js'
import { InProcessNode } from '../helpers/in-process.js'
import { login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const node = await InProcessNode.start(t)
const [alice, bob] = await Promise.all(['alice', 'bob'].map((u) => login(node.url, u)))
const AB = 'dm:alice:bob'

t.test('the owner pushes a re-registering device what it missed since its last inboxSeq', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a1')
  const b = await Device.open(t, node.wsUrl, bob!, 'b1')
  for (let i = 1; i <= 5; i++) await b.send(AB, `hello ${i}`, `catch-${i}`)
  await a.waitPush(() => a.messages(AB).length === 5, 'five messages pushed to alice')
  const live = a.messages(AB)
  const last = live[4].inboxSeq as number

  const chat = node.node!
  const session = chat.registry.all().find((s) => s.user === 'alice')!
  const device = { sessionId: session.id, deviceId: session.deviceId, node: chat.core.config.id }
  const before = a.pushes.length
  // What the owner pushes to the session, before the session drops what its socket was sent already.
  const toSession: any[] = []
  const push = session.push.bind(session)
  session.push = (frame: string) => {
    toSession.push(JSON.parse(frame))
    push(frame)
  }
  // As after a move: the device has seen only up to the second message.
  const since = live[1].inboxSeq as number
  const reply = await chat.core.actors.user('alice', { kind: 'connect', device, at: Date.now(), since })
  t.same(reply, { inboxSeq: last, caughtUp: true }, 'the owner caught the device up')
  await waitFor(() => toSession.length >= 3, { timeout: 10_000, what: 'the three missed events pushed again' })
  t.same(toSession.map((f) => f.inboxSeq), [since + 1, since + 2, since + 3], 'every event after `since`, in order, once')
  t.same(toSession, live.slice(2), 'framed exactly as the live pushes were')
  t.equal(a.pushes.length, before, 'the socket, which had been sent them, is not sent them twice')

  // Nothing missed: nothing pushed, and still caught up.
  const again = await chat.core.actors.user('alice', { kind: 'connect', device, at: Date.now(), since: last })
  t.same(again, { inboxSeq: last, caughtUp: true })
  await b.send(AB, 'after', 'catch-after')
  await a.waitPush((f) => f.clientMsgId === 'catch-after', 'the next live push', 10_000, before)
  t.same(toSession.slice(3).map((f) => f.inboxSeq), [last + 1], 'only the new event: no repeat of the caught-up ones')
  t.same(a.pushes.slice(before).map((f) => f.inboxSeq), [last + 1], 'and the socket had it once')
})
