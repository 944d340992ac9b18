/**
 * Admission control: writes are refused while the event loop lags past the bound (until it falls
 * below half of it), or while too many admitted writes are unanswered.
 */
import t from 'tap'
import { systemClock } from '../../src/clock.js'
import { LAG_SHEDS_FROM_IN_FLIGHT, LoadShedder } from '../../src/gateway/load-shedder.js'
import { waitFor } from '../helpers/wait.js'

function block(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* a stalled event loop */ }
}

t.test('a stalled event loop with writes waiting sheds writes until it runs on time again', async (t) => {
  const shedder = new LoadShedder({ maxLagMs: 100, maxInFlight: 0, clock: systemClock })
  t.teardown(() => shedder.stop())
  const answers = Array.from({ length: LAG_SHEDS_FROM_IN_FLIGHT }, () => shedder.admit())
  await new Promise((r) => setTimeout(r, 120))
  t.notOk(shedder.shedding, 'an idle loop admits writes')
  block(400)
  await waitFor(() => shedder.lagMs > 100, { timeout: 2000, what: 'the lag sample' })
  t.ok(shedder.shedding, `writes are shed after a ${Math.round(shedder.lagMs)} ms stall`)
  answers.pop()!()
  t.notOk(shedder.shedding, 'with fewer writes waiting, the lag is not theirs: nothing is shed')
  shedder.admit()
  await waitFor(() => !shedder.shedding, { timeout: 2000, what: 'shedding to stop' })
  t.ok(shedder.lagMs < 50, 'it stopped once a sample was below half the bound')
})

t.test('unanswered admitted writes past the bound shed new ones; answers make room', async (t) => {
  const shedder = new LoadShedder({ maxLagMs: 0, maxInFlight: 2, clock: systemClock })
  t.teardown(() => shedder.stop())
  const a = shedder.admit()
  t.notOk(shedder.shedding)
  const b = shedder.admit()
  t.ok(shedder.shedding, 'two unanswered writes reach the bound')
  a()
  a()
  t.equal(shedder.admitted, 1, 'answering twice releases once')
  t.notOk(shedder.shedding)
  b()
  t.equal(shedder.admitted, 0)
})

t.test('0 turns both checks off', async (t) => {
  const shedder = new LoadShedder({ maxLagMs: 0, maxInFlight: 0, clock: systemClock })
  t.teardown(() => shedder.stop())
  for (let i = 0; i < 100; i++) shedder.admit()
  block(200)
  await new Promise((r) => setTimeout(r, 100))
  t.notOk(shedder.shedding)
})
