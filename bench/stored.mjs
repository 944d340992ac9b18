/**
 * The stored-data run (`--full`): does a node's cost grow with what it holds? The 1:1 workload is
 * measured on a standalone node right after its users signed up (empty), then `stored` messages
 * are loaded and the same workload is measured again.
 *
 * Loading goes through the node itself, as clients would write: the pairs' senders (receivers
 * offline, so no pushes but every inbox written) send `storedWindow` messages in flight each into
 * the same 1:1 channels the workload uses, until `stored` messages are acknowledged; the node may
 * use every core meanwhile. Then it is restarted on its data dir (a cold process with the data
 * on disk, as after a deploy), pinned again, warmed up, left to go idle (up to --settle-seconds:
 * LevelDB compacts what was loaded) and measured.
 */
import { diskBytes as du } from './procs.mjs'
import { pin } from './pin.mjs'
import { closePopulation, freshTag, openPairs, runOnce, settle, workloads } from './scenarios.mjs'
import { summarizeRuns } from './stats.mjs'
import { runMessaging } from './workload.mjs'

async function measurePairs(target, users, opts, plan) {
  pin(plan, target.pids, plan.server)
  const w = workloads(opts).pairs
  const population = await w.open(target, users)
  try {
    await runOnce(target, population, { perSender: opts.warmupMsgs, window: w.window, label: 'warm', measure: false }, opts)
    // As before every workload: what the loading left LevelDB to compact is not charged to the runs.
    const settled = await settle(target, { maxSeconds: opts.settleSeconds })
    const runs = []
    for (let i = 0; i < opts.runs; i++) runs.push(await runOnce(target, population, { perSender: w.perSender, window: w.window, label: 'stored' }, opts))
    return { settled, runs, median: summarizeRuns(runs) }
  } finally {
    await closePopulation(population)
  }
}

/** Loads `opts.stored` messages; returns how long it took. */
async function load(target, users, opts, plan, log) {
  pin(plan, target.pids, plan.all)
  const population = await openPairs(target, users, opts.pairs, { device: 'loader', sendersOnly: true })
  const started = performance.now()
  let stored = 0
  try {
    while (stored < opts.stored) {
      const perSender = Math.min(5000, Math.ceil((opts.stored - stored) / opts.pairs))
      const r = await runMessaging({
        channels: population.channels, window: opts.storedWindow, perSender, maxMs: 600_000, textBytes: opts.textBytes, textKind: opts.text,
        drainMs: 0, tag: freshTag('load'),
      })
      if (r.acked === 0) throw new Error(`loading stalled at ${stored} messages: ${JSON.stringify(r.errors)}`)
      stored += r.acked
      log(`stored: ${stored.toLocaleString('en-US')} of ${opts.stored.toLocaleString('en-US')} messages loaded (${Math.round(stored / ((performance.now() - started) / 1000))} msg/s)`)
    }
  } finally {
    await closePopulation(population)
  }
  return { stored, loadSecs: (performance.now() - started) / 1000 }
}

export async function storedRun(procs, target, users, opts, plan, log) {
  const node = () => target.nodes[0]
  const empty = await measurePairs(target, users, opts, plan)
  const emptyBytes = await du(node().dataDir)
  log(`stored: empty node ${Math.round(empty.median.messagesPerSec)} msg/s; loading ${opts.stored.toLocaleString('en-US')} messages`)
  const loaded = await load(target, users, opts, plan, log)
  const restarted = await procs.restartNode(node())
  target.nodes = [restarted]
  target.pids = [restarted.pid]
  const loadedBytes = await du(restarted.dataDir)
  const full = await measurePairs(target, users, opts, plan)
  log(`stored: waited ${full.settled.waitedSecs.toFixed(1)} s for the restarted node to go idle before measuring`)
  return {
    empty,
    full,
    ...loaded,
    dataDirBytes: { empty: emptyBytes, full: loadedBytes },
    ratio: full.median.messagesPerSec / empty.median.messagesPerSec,
    method: `loaded through the node: ${opts.pairs} senders, ${opts.storedWindow} in flight each, into the workload's 1:1 channels (receivers offline); node restarted on its data dir and left to go idle before measuring`,
  }
}
