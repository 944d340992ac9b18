/**
 * The rewaker: a key whose actor stopped with work unfinished is woken again through the router,
 * retried with backoff until a wake succeeds; one schedule per key; stop cancels; flush wakes at once.
 */
import pino from 'pino'
import t from 'tap'
import type { Router } from '../../src/actors/env.js'
import { Rewaker } from '../../src/actors/wake.js'
import { errors } from '../../src/errors.js'
import { waitFor } from '../helpers/wait.js'

function router(failures: number, calls: string[]): Router {
  let left = failures
  return {
    call: async (key) => {
      calls.push(key)
      if (left-- > 0) throw errors.unavailable('no majority yet')
      return null
    },
    callMany: async () => [],
  }
}

const log = pino({ level: 'silent' })

t.test('retries a failed wake until it succeeds, once per key', async (t) => {
  const calls: string[] = []
  const rewaker = new Rewaker(() => router(2, calls), log)
  t.teardown(() => rewaker.stop())
  rewaker.wake('channel:g:a')
  rewaker.wake('channel:g:a')
  await waitFor(() => calls.length >= 3, { timeout: 5000, what: 'three wake attempts' })
  t.same(calls, ['channel:g:a', 'channel:g:a', 'channel:g:a'], 'two failures, then the wake that worked; the second request was folded in')
  await new Promise((r) => setTimeout(r, 600))
  t.equal(calls.length, 3, 'nothing more after a wake succeeded')
})

t.test('stop cancels waiting wakes; flush sends them at once', async (t) => {
  const calls: string[] = []
  const stopped = new Rewaker(() => router(0, calls), log)
  stopped.wake('channel:g:b')
  stopped.stop()
  await new Promise((r) => setTimeout(r, 500))
  t.same(calls, [], 'a stopped rewaker wakes nothing')

  const flushed = new Rewaker(() => router(0, calls), log)
  flushed.wake('channel:g:c')
  await flushed.flush(1000)
  t.same(calls, ['channel:g:c'], 'flush woke the waiting key before its timer')
  flushed.wake('channel:g:d')
  await new Promise((r) => setTimeout(r, 500))
  t.same(calls, ['channel:g:c'], 'after flush the rewaker is stopped')
})
