// The bounded partition chaos run of the test suite: every node and nats-server in a network
// namespace of its own, links cut with nftables while clients write with at-least-once retries.
// `npm run chaos -- --nemesis partition --minutes N --seed S` runs longer.
import t from 'tap'
import { Network } from '../helpers/netns.js'
import { writeWaits } from '../../src/sim/checker.js'
import { runChaos } from './run.js'

const seconds = Number(process.env.CHAOS_SECONDS ?? 60)
const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000)

t.setTimeout((seconds + 360) * 1000)

const can = Network.available()
// In CI the namespaces are part of the contract of this suite: missing them is a failure, not a skip.
const skip = !can.ok && !process.env.CI ? can.why : false

t.test(`partition chaos run, seed ${seed}`, { skip }, async (t) => {
  if (!can.ok) throw new Error(`network namespaces are needed: ${can.why}`)
  const result = await runChaos(t, { seed, seconds, nemesis: 'partition', log: (line) => t.comment(line) })
  t.comment(`chaos: write waits per fault kind ${JSON.stringify(writeWaits(result))}`)
  t.same(result.problems, [], `no violations (seed ${seed})`)
  t.equal(result.figures.lost, 0, 'no acknowledged message lost')
  t.ok(Number(result.figures.acked) > 100, `enough acknowledged messages to judge (${result.figures.acked})`)
  t.ok(result.faults.length > 0 || seconds < 20, `cuts were made (${result.faults.length})`)
  t.ok(Number(result.figures.compactedEntries) > 0, `log compaction ran during the run (${result.figures.compactedEntries} entries removed)`)
})
