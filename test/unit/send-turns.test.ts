/**
 * Turns at sending (--send-concurrency): at most `limit` sessions of a node have sends being
 * handled at once, the others wait in arrival order, and the sends a session's socket delivered
 * while it waited go to their channel as one batch when its turn comes.
 */
import { setImmediate as tick } from 'node:timers/promises'
import t from 'tap'
import { fakeSession } from '../helpers/session.js'
import type { SendAck } from '../../src/actors/messages.js'
import type { ChatService } from '../../src/gateway/chat-service.js'
import { SendTurns } from '../../src/gateway/send-turns.js'
import { waitFor } from '../helpers/wait.js'

t.test('turns are given at once up to the limit, then in the order they were asked for', async (t) => {
  const turns = new SendTurns(2)
  t.equal(turns.take(), undefined, 'first turn at once')
  t.equal(turns.take(), undefined, 'second turn at once')
  const order: string[] = []
  const third = turns.take()
  const fourth = turns.take()
  t.ok(third && fourth, 'past the limit, a turn is waited for')
  t.equal(turns.waiting, 2)
  void third!.then(() => order.push('third'))
  void fourth!.then(() => order.push('fourth'))
  turns.give()
  await tick()
  t.same(order, ['third'], 'a turn given back goes to the longest waiting')
  turns.give()
  await tick()
  t.same(order, ['third', 'fourth'])
  t.equal(turns.waiting, 0)
  turns.give()
  turns.give()
  t.equal(turns.take(), undefined, 'every turn given back: free again')
})

t.test('a limit of 0 never makes anyone wait', async (t) => {
  const turns = new SendTurns(0)
  const taken = Array.from({ length: 1000 }, () => turns.take())
  t.ok(taken.every((turn) => turn === undefined), 'a thousand turns, each at once')
  t.equal(turns.waiting, 0)
})

/** A chat service whose sends finish when the test says so; it records each call's frames. */
function heldService() {
  const calls: Array<{ user: string; ids: string[]; finish: () => void }> = []
  let active = 0
  let mostActive = 0
  const hold = async (user: string, items: Array<{ clientMsgId: string }>) => {
    active++
    mostActive = Math.max(mostActive, active)
    await new Promise<void>((finish) => calls.push({ user, ids: items.map((i) => i.clientMsgId), finish }))
    active--
  }
  const ack = (channel: string, clientMsgId: string, seq: number): SendAck => ({ channel, seq, ts: 1, clientMsgId })
  const service = {
    async send(user: string, channel: string, clientMsgId: string) {
      await hold(user, [{ clientMsgId }])
      return ack(channel, clientMsgId, 1)
    },
    async sendMany(user: string, channel: string, items: Array<{ clientMsgId: string }>) {
      await hold(user, items)
      return items.map((i, n) => ({ ok: true as const, value: ack(channel, i.clientMsgId, n + 1) }))
    },
  } as unknown as ChatService
  return { service, calls, mostActive: () => mostActive }
}

async function session(t: { teardown(fn: () => unknown): void }, user: string, service: ChatService, turns: SendTurns) {
  const { socket, s } = fakeSession(t, user, { service, turns, rateLimitPerSec: 1000, rateBurst: 1000 })
  await s.start()
  const send = (id: string) => socket.emit('message', Buffer.from(JSON.stringify({ op: 'send', channel: `d:${user}:zed`, clientMsgId: id, text: 'hi', ref: id })), false)
  const acks = () => socket.sent.map((f) => JSON.parse(f) as { op: string; ref?: string }).filter((f) => f.op === 'ack').map((f) => f.ref)
  return { send, acks }
}

t.test('one turn: the second session waits, and its sends that arrived meanwhile go as one batch', async (t) => {
  const { service, calls, mostActive } = heldService()
  const turns = new SendTurns(1)
  const alice = await session(t, 'alice', service, turns)
  const bob = await session(t, 'bob', service, turns)
  alice.send('a1')
  await waitFor(() => calls.length === 1, { timeout: 2000, what: "alice's send to reach the service" })
  bob.send('b1')
  bob.send('b2')
  bob.send('b3')
  for (let i = 0; i < 20; i++) await tick()
  t.equal(calls.length, 1, 'bob waits for his turn while alice has it')
  t.equal(turns.waiting, 1)
  calls[0]!.finish()
  await waitFor(() => calls.length === 2, { timeout: 2000, what: "bob's turn" })
  t.same(calls[1], { user: 'bob', ids: ['b1', 'b2', 'b3'], finish: calls[1]!.finish }, "bob's three sends go to the channel together")
  calls[1]!.finish()
  await waitFor(() => bob.acks().length === 3, { timeout: 2000, what: "bob's acks" })
  t.same(alice.acks(), ['a1'])
  t.same(bob.acks(), ['b1', 'b2', 'b3'], 'each send has its own ack, in order')
  t.equal(mostActive(), 1, 'never two sessions in the service at once')
})

t.test('several turns: that many sessions send at once, no more', async (t) => {
  const { service, calls, mostActive } = heldService()
  const turns = new SendTurns(3)
  const sessions = await Promise.all(['u1', 'u2', 'u3', 'u4', 'u5'].map((u) => session(t, u, service, turns)))
  sessions.forEach((s, i) => s.send(`m${i}`))
  await waitFor(() => calls.length === 3, { timeout: 2000, what: 'three sessions in the service' })
  for (let i = 0; i < 20; i++) await tick()
  t.equal(calls.length, 3, 'the other two wait')
  for (let done = 0; done < 5; done++) {
    await waitFor(() => calls.length > done, { timeout: 2000, what: `send ${done + 1}` })
    calls[done]!.finish()
  }
  await waitFor(() => sessions.every((s) => s.acks().length === 1), { timeout: 2000, what: 'every ack' })
  t.same(calls.map((c) => c.user), ['u1', 'u2', 'u3', 'u4', 'u5'], 'in the order they arrived')
  t.equal(mostActive(), 3)
})
