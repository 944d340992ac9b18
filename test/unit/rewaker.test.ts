/**
 * The rewaker, on virtual time: a key whose actor stopped with work unfinished is woken again
 * through the router, retried with backoff until a wake succeeds; one schedule per key; stop
 * cancels; flush wakes at once; a key is given up on after ten minutes. Nothing here waits for
 * real: minutes of backoff pass in a few event-loop turns.
 */
import pino from 'pino'
import t from 'tap'
import type { Router } from '../../src/actors/env.js'
import { Rewaker } from '../../src/actors/wake.js'
import { VirtualTime } from '../../src/clock-virtual.js'
import { errors } from '../../src/errors.js'
import { SeededRandom } from '../../src/random.js'

function router(failures: number, calls: Array<{ key: string; at: number }>, time: VirtualTime): Router {
  let left = failures
  return {
    call: async (key) => {
      calls.push({ key, at: time.now() })
      if (left-- > 0) throw errors.unavailable('no majority yet')
      return null
    },
    callMany: async () => [],
  }
}

const log = pino({ level: 'silent' })

t.test('retries a failed wake with doubling backoff until it succeeds, once per key', async (t) => {
  const time = new VirtualTime()
  const start = time.now()
  const calls: Array<{ key: string; at: number }> = []
  const rewaker = new Rewaker(router(2, calls, time), log, time.clock(), new SeededRandom(1))
  rewaker.wake('channel:g:a')
  rewaker.wake('channel:g:a')
  await time.advance(10_000)
  t.same(calls.map((c) => c.key), ['channel:g:a', 'channel:g:a', 'channel:g:a'], 'two failures, then the wake that worked; the second request was folded in')
  const gaps = calls.map((c, i) => c.at - (i === 0 ? start : calls[i - 1]!.at))
  t.ok(gaps[0]! >= 187 && gaps[0]! <= 313, `first attempt after about 250 ms (${gaps[0]})`)
  t.ok(gaps[1]! >= 375 && gaps[1]! <= 625, `then about 500 ms (${gaps[1]})`)
  t.ok(gaps[2]! >= 750 && gaps[2]! <= 1250, `then about a second (${gaps[2]})`)
  await time.advance(600_000)
  t.equal(calls.length, 3, 'nothing more after a wake succeeded')
})

t.test('a key that cannot be woken is given up on after ten minutes, backoff capped at 30 s', async (t) => {
  const time = new VirtualTime()
  const start = time.now()
  const calls: Array<{ key: string; at: number }> = []
  const rewaker = new Rewaker(router(Infinity, calls, time), log, time.clock(), new SeededRandom(2))
  rewaker.wake('channel:g:z')
  await time.advance(60 * 60_000)
  const last = calls[calls.length - 1]!.at - start
  t.ok(last >= 10 * 60_000 && last < 11 * 60_000, `the last attempt is just past ten minutes (${last} ms)`)
  const gaps = calls.slice(1).map((c, i) => c.at - calls[i]!.at)
  t.ok(Math.max(...gaps) <= 30_000 * 1.25, `no wait above the 30 s cap plus jitter (${Math.max(...gaps)})`)
  t.ok(calls.length >= 20 && calls.length <= 40, `attempts: ${calls.length}`)
})

t.test('stop cancels waiting wakes; flush sends them at once', async (t) => {
  const time = new VirtualTime()
  const calls: Array<{ key: string; at: number }> = []
  const stopped = new Rewaker(router(0, calls, time), log, time.clock(), new SeededRandom(3))
  stopped.wake('channel:g:b')
  stopped.stop()
  await time.advance(60_000)
  t.same(calls, [], 'a stopped rewaker wakes nothing')

  const flushed = new Rewaker(router(0, calls, time), log, time.clock(), new SeededRandom(4))
  const before = time.now()
  flushed.wake('channel:g:c')
  await flushed.flush(1000)
  t.same(calls, [{ key: 'channel:g:c', at: before }], 'flush woke the waiting key before its timer')
  flushed.wake('channel:g:d')
  await time.advance(60_000)
  t.equal(calls.length, 1, 'after flush the rewaker is stopped')
})
