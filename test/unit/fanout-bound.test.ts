/**
 * The fan-out queue is bounded: while a member's node is unreachable, at most MAX_QUEUED_EVENTS
 * events wait in memory; the rest stay in the (here: fake) channel log and are read back, in
 * order, once the queue drains, so the member still gets every event exactly in `ev` order.
 */
import { systemClock } from '../../src/clock.js'
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
  const refill = async (after: number, max: number) => {
    const events = log.filter((e) => e.ev > after).slice(0, max).map((event) => ({ event, recipients: ['far'] }))
    return { events, through: events.at(-1)?.event.ev ?? after }
  }
  const fanout = new Fanout('dm:a:far', actors, pino({ level: 'silent' }), systemClock, 0, refill, 0, () => spills++)
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

t.test('events committed while the log is being read back are not skipped', async (t) => {
  const log: ChannelEvent[] = []
  const received: number[] = []
  const actors = {
    users: async (users: string[], req: { events: ChannelEvent[] }) => users.map(() => {
      received.push(...req.events.map((e) => e.ev))
      return { ok: true, value: { cursor: req.events.at(-1)!.ev } }
    }),
  } as unknown as Actors
  const event = (ev: number): ChannelEvent => ({ ev, type: 'message', message: { channel: 'dm:a:b', seq: ev, from: 'a', text: 'x', ts: 0, clientMsgId: `m${ev}` } })
  for (let ev = 1; ev <= 5; ev++) log.push(event(ev))
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  let reads = 0
  // The first read sees the log as it was when it started, and answers only later.
  const refill = async (after: number, max: number) => {
    const snapshot = log.filter((e) => e.ev > after).slice(0, max)
    if (reads++ === 0) await gate
    return { events: snapshot.map((e) => ({ event: e, recipients: ['b'] })), through: snapshot.at(-1)?.ev ?? after }
  }
  // A new activation: events 1..5 are committed but not delivered.
  const fanout = new Fanout('dm:a:b', actors, pino({ level: 'silent' }), systemClock, 0, refill, 5)
  t.teardown(() => fanout.stop())
  for (let ev = 6; ev <= 8; ev++) {
    log.push(event(ev))
    fanout.enqueue(event(ev), ['b'])
  }
  release()
  await waitFor(() => fanout.done === 8, { timeout: 10_000, what: 'all eight delivered' })
  t.same(received, [1, 2, 3, 4, 5, 6, 7, 8], 'every event, in order, none skipped')
})
