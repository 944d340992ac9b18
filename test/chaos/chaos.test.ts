// The bounded chaos run of the test suite; `npm run chaos -- --minutes N --seed S` runs longer.
import t from 'tap'
import { runChaos } from './run.js'

const seconds = Number(process.env.CHAOS_SECONDS ?? 60)
const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000)

t.setTimeout((seconds + 240) * 1000)

t.test(`chaos run, seed ${seed}`, async (t) => {
  const result = await runChaos(t, { seed, seconds, log: (line) => t.comment(line) })
  t.same(result.problems, [], `no violations (seed ${seed})`)
  t.equal(result.figures.lost, 0, 'no acknowledged message lost')
  t.ok(Number(result.figures.acked) > 100, `enough acknowledged messages to judge (${result.figures.acked})`)
  t.ok(Number(result.figures.faults) > 0 || seconds < 20, `faults were injected (${result.figures.faults})`)
  t.ok(Number(result.figures.compactedEntries) > 0, `log compaction ran during the run (${result.figures.compactedEntries} entries removed)`)
})
