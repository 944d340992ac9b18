/**
 * The deterministic simulator in the test suite: one seed run twice gives the same run (the same
 * trace of every timer that ran, the same histories), another seed another run; the leak guard
 * catches code that reads the real clock; and a bounded number of seeds (SIM_SEEDS, default 30,
 * from a new start seed each run, printed; SIM_SEED replays) ends with no violation. Longer runs:
 * `npm run simulate -- --seeds 10000 --jobs 2`.
 */
import t from 'tap'
import { Tokens } from '../../src/gateway/tokens.js'
import { LeakGuard } from '../../src/sim/guard.js'
import { simulate } from '../../src/sim/run.js'

const SEEDS = Number(process.env.SIM_SEEDS ?? 30)
const FIRST = Number(process.env.SIM_SEED ?? Date.now() % 1_000_000_000)

t.setTimeout((SEEDS * 20 + 240) * 1000)

t.test('the same seed replays the same run; another seed makes another', async (t) => {
  const a = await simulate({ seed: 4242 })
  const b = await simulate({ seed: 4242 })
  const c = await simulate({ seed: 4243 })
  t.equal(a.traceHash, b.traceHash, `same trace (${a.traceHash}, ${a.steps} timers)`)
  t.equal(a.steps, b.steps)
  t.same(a.figures, b.figures, 'same figures')
  t.same(a.faults, b.faults, 'same faults at the same moments')
  t.not(c.traceHash, a.traceHash, 'seed 4243 is another run')
  t.ok(a.ok && c.ok, `no violations (${[...a.problems, ...c.problems].slice(0, 3).join('; ')})`)
  t.ok(a.faults.length > 0 && Number(a.figures.acked) > 50, `faults were injected (${a.faults.length}) while clients wrote (${a.figures.acked} acked)`)
})

t.test('the leak guard reports project code that reads the real clock', async (t) => {
  const guard = new LeakGuard().install()
  try {
    new Tokens('a-secret-of-enough-length', 60_000).issue('alice', 'd1', 0)
  } finally {
    guard.uninstall()
  }
  t.match(guard.report().join('\n'), /Date\.now from src\/gateway\/tokens\.ts/, 'a Tokens built without a clock reads Date.now')
})

t.test(`${SEEDS} seeds from ${FIRST}: no violations`, async (t) => {
  const failed: string[] = []
  let acked = 0
  let faults = 0
  for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
    const r = await simulate({ seed })
    acked += Number(r.figures.acked)
    faults += r.faults.length
    if (!r.ok) failed.push(`seed ${seed}: ${r.problems.slice(0, 5).join('; ')} | ${r.diagnostics.slice(0, 12).join(' | ')}`)
  }
  t.comment(`${SEEDS} seeds from ${FIRST}: ${acked} acknowledged messages, ${faults} faults`)
  t.same(failed, [], `no violations (replay one with npm run simulate -- --seed S --seeds 1 --verbose)`)
})
