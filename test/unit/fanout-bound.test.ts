/**
 * The fan-out queue is bounded: while a member's node is unreachable, at most MAX_QUEUED_EVENTS
 * events wait in memory; the rest stay in the (here: fake) channel log and are read back, in
 * order, once the queue drains, so the member still gets every event exactly in `ev` order.
 */
import { pino } from 'pino'
import t from 'tap'
import type { Actors } from '../../src/actors/env.js'
import { Fanout, MAX_QUEUED_EVENTS } from '../../src/actors/fanout.js'
import type { ChannelEvent } from '../../src/actors/messages.js'
import { errors } from '../../src/errors.js'
import { waitFor } from '../helpers/wait.js'

t.test('a member unreachable for long costs bounded memory and still gets every event in order', async (t) => {
  const TOTAL = 3 * MAX_QUEUED_EVENTS + 17
  const log: ChannelEvent[] = []
  let reachable = false
  const received: number[] = []
  const actors = {
    users: async (users: string[], req: { events: ChannelEvent[] }) => users.map(() => {
      if (!reachable) return { ok: false, error: errors.unavailable() }
      received.push(...req.events.map((e) => e.ev))
      return { ok: true, value: { cursor: req.events.at(-1)!.ev } }
    }),
  } as unknown as Actors
  let spills = 0
  const refill = async (after: number, max: number) => log.filter((e) => e.ev > after).slice(0, max).map((event) => ({ event, recipients: ['far'] }))
  const fanout = new Fanout('dm:a:far', actors, pino({ level: 'silent' }), 0, refill, 0, () => spills++)
  t.teardown(() => fanout.stop())
  let most = 0
  for (let ev = 1; ev <= TOTAL; ev++) {
    const event: ChannelEvent = { ev, type: 'message', message: { channel: 'dm:a:far', seq: ev, from: 'a', text: 'x'.repeat(100), ts: 0, clientMsgId: `m${ev}` } }
    log.push(event)
    fanout.enqueue(event, ['far'])
    most = Math.max(most, (fanout as unknown as { queue: unknown[] }).queue.length)
  }
  t.ok(most <= MAX_QUEUED_EVENTS, `at most ${MAX_QUEUED_EVENTS} events in memory (${most})`)
  t.equal(spills, 1, 'the spill is reported once')
  reachable = true
  await waitFor(() => fanout.done === TOTAL, { timeout: 30_000, what: 'everything delivered' })
  t.same(received, Array.from({ length: TOTAL }, (_, i) => i + 1), 'every event once, in order')
  t.equal(fanout.pending, 0)
})
