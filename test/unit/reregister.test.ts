/**
 * When the user's key moves (the owner stepped down or the ring changed), each session registers
 * again with the next owner, telling it what the socket has seen. Events committed meanwhile (a
 * write the next owner adopted from a stepped-down owner's unfinished commit; events before the
 * device was known again) were never pushed to the socket: the owner pushes them (catch-up), and
 * if it could not, or the session cannot register again, the socket is closed with 1013 so the
 * device reconnects and syncs. Otherwise it stays open.
 */
import { setImmediate as tick } from 'node:timers/promises'
import t from 'tap'
import { fakeSession } from '../helpers/session.js'
import { type Actors, REREGISTER_FRAME } from '../../src/actors/env.js'
import { Metrics } from '../../src/metrics.js'
import { errors } from '../../src/errors.js'
import { waitFor } from '../helpers/wait.js'


/** A session whose user actor answers `connect` with what `owner()` says (its inbox's last seq, or a thrown error). */
async function session(t: { teardown(fn: () => unknown): void }, owner: () => number, caughtUp = false, firstConnect?: Promise<void>) {
  const connects: number[] = []
  const sinces: Array<number | undefined> = []
  const actors = {
    user: async (_user: string, req: { kind: string; since?: number }) => {
      if (req.kind !== 'connect') return null
      const inboxSeq = owner()
      if (req.since === undefined && firstConnect) await firstConnect
      connects.push(inboxSeq)
      sinces.push(req.since)
      return req.since === undefined ? { inboxSeq } : { inboxSeq, caughtUp }
    },
  } as unknown as Actors
  const metrics = new Metrics({ actors: () => 0, connections: () => 0 })
  const { socket, s } = fakeSession(t, 'alice', { actors, metrics })
  const started = s.start()
  if (!firstConnect) await started
  return { socket, s, connects, sinces, metrics, started }
}

/** Waits (bounded) until the re-registration has been answered and acted on. */
async function settled(connects: number[], count: number): Promise<void> {
  for (let i = 0; i < 200 && connects.length < count; i++) await tick()
  for (let i = 0; i < 20; i++) await tick()
}

const message = (inboxSeq: number) => JSON.stringify({ op: 'message', inboxSeq, channel: 'd:a:b', seq: inboxSeq, from: 'bob', text: `"inboxSeq":${inboxSeq + 100}`, clientMsgId: `m${inboxSeq}`, ts: 1 })

async function resyncCloses(metrics: Metrics): Promise<number> {
  return (await metrics.resyncCloses.get()).values[0]?.value ?? 0
}

t.test('an owner whose inbox is ahead of what the socket saw, and that could not catch it up: closed with 1013', async (t) => {
  let seq = 2
  const { socket, s, connects, sinces, metrics } = await session(t, () => seq)
  s.push(message(3))
  s.push(message(4))
  seq = 5 // the next owner adopted event 5, which was never pushed here
  s.push(REREGISTER_FRAME)
  await settled(connects, 2)
  t.same(connects, [2, 5])
  t.same(sinces, [undefined, 4], 'the owner was told what the socket had seen')
  t.equal(socket.closed, 1013, 'closed: the device reconnects and syncs event 5')
  t.equal(await resyncCloses(metrics), 1, 'counted in chat_resync_closes_total')
})

t.test('an owner whose inbox holds nothing the socket has not seen: stays open', async (t) => {
  let seq = 2
  const { socket, s, connects, metrics } = await session(t, () => seq)
  s.push(message(3))
  s.push(message(4))
  seq = 4
  s.push(REREGISTER_FRAME)
  await settled(connects, 2)
  t.same(connects, [2, 4])
  t.equal(socket.closed, null, 'still open')
  t.equal(await resyncCloses(metrics), 0)
  t.ok(socket.sent.some((f) => f.includes('"inboxSeq":4,')), 'the pushes went out')
})

t.test('the seq of a frame is read from its head, never from text a user wrote', async (t) => {
  let seq = 0
  const { socket, s, connects } = await session(t, () => seq)
  s.push(message(1)) // its text says "inboxSeq":101
  seq = 2
  s.push(REREGISTER_FRAME)
  await settled(connects, 2)
  t.equal(socket.closed, 1013, 'event 2 was never pushed, whatever the text of event 1 says')
})

t.test('a session that cannot register again: closed with 1013', async (t) => {
  let fail = false
  const { socket, s, connects } = await session(t, () => {
    if (fail) throw Object.assign(new Error('timed out'), { code: 'UNAVAILABLE' })
    return 0
  })
  fail = true
  s.push(REREGISTER_FRAME)
  // Its retries (about a second) come first.
  await waitFor(() => socket.closed !== null, { timeout: 5000, what: 'the socket closed' })
  t.same(connects, [0])
  t.equal(socket.closed, 1013, 'closed: with no owner knowing of this device, nothing would be pushed to it')
})

t.test('an owner stepping down while it is asked (UNAVAILABLE): asked again, and the next owner answers', async (t) => {
  let asked = 0
  let failures = 0
  const { socket, s, connects, sinces } = await session(t, () => {
    // The first call is the session's start; the next two find the owner stepping down.
    if (++asked > 1 && failures < 2) {
      failures++
      throw errors.unavailable('owner of user:alice stepped down')
    }
    return 0
  })
  s.push(REREGISTER_FRAME)
  await waitFor(() => connects.length === 2, { timeout: 5000, what: 'the second registration' })
  for (let i = 0; i < 20; i++) await tick()
  t.equal(failures, 2, 'two attempts were answered UNAVAILABLE')
  t.same(sinces, [undefined, 0], 'the third reached an owner, told what the socket had seen')
  t.equal(socket.closed, null, 'the socket stays open')
})

t.test('an owner that pushed the missed events (caught up): stays open', async (t) => {
  let seq = 2
  const { socket, s, connects, sinces } = await session(t, () => seq, true)
  s.push(message(3))
  seq = 5
  s.push(REREGISTER_FRAME)
  await settled(connects, 2)
  t.same(sinces, [undefined, 3])
  t.equal(socket.closed, null, 'still open: events 4 and 5 came as pushes')
})

t.test('a re-registration asked for while the first registration is unanswered is done once it is', async (t) => {
  // The owner registers the device, then steps down before its answer reaches the session: its
  // REREGISTER push arrives first. The next owner, which never heard of the device, commits event 3.
  let answer!: () => void
  const answered = new Promise<void>((resolve) => { answer = resolve })
  let seq = 2
  const { socket, s, connects, sinces, started } = await session(t, () => seq, true, answered)
  s.push(REREGISTER_FRAME)
  seq = 3
  answer()
  await started
  await settled(connects, 2)
  t.same(connects, [2, 3], 'registered a second time, with the next owner')
  t.same(sinces, [undefined, 2], 'telling it what the socket had seen (its ready)')
  t.equal(socket.closed, null, 'the owner caught it up: the socket stays open')
})

t.test('an event pushed twice as the key moves (the old owner\'s push and the next owner\'s catch-up) reaches the socket once', async (t) => {
  let seq = 2
  const { socket, s, connects, sinces, metrics } = await session(t, () => seq, true)
  s.push(message(3))
  seq = 5
  s.push(REREGISTER_FRAME)
  await settled(connects, 2)
  t.same(sinces, [undefined, 3])
  // The next owner's catch-up (4, 5), then the stepped-down owner's push of 4, late; then a second
  // move whose catch-up repeats 5.
  s.push(message(4))
  s.push(message(5))
  s.push(message(4))
  s.push(message(5))
  s.push(message(6))
  const seqs = socket.sent.map((f) => JSON.parse(f)).filter((f) => f.op === 'message').map((f) => f.inboxSeq)
  t.same(seqs, [3, 4, 5, 6], 'each event once, in order')
  t.equal((await metrics.duplicatePushes.get()).values[0]?.value, 2, 'the repeats are counted in chat_duplicate_pushes_total')
  s.push(JSON.stringify({ op: 'presence', user: 'bob', status: 'online', lastActiveAt: 1 }))
  s.push(JSON.stringify({ op: 'presence', user: 'bob', status: 'online', lastActiveAt: 1 }))
  t.equal(socket.sent.filter((f) => f.startsWith('{"op":"presence"')).length, 2, 'frames that are not inbox events are never taken for repeats')
  t.equal(socket.closed, null)
})
