#!/usr/bin/env node
/**
 * `npm run bench [-- flags]`: the baseline relay, a standalone chat node and a chat cluster under
 * the same client workloads, each run several times (medians printed, ratios to the relay of the
 * same run), then a cluster driven past saturation, and with --full the 1:1 rate on an empty node
 * against one holding many messages. Prints the tables and writes everything as JSON. It reports;
 * it asserts nothing. docs/PERFORMANCE.md says what each figure means.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { makeUsers } from './clients.mjs'
import { idleMemory } from './idle-memory.mjs'
import { parseArgs, usersNeeded } from './options.mjs'
import { overloadRun } from './overload.mjs'
import { describeAffinity, pin, planAffinity } from './pin.mjs'
import { Procs, ROOT, openFilesLimit, rssBytes } from './procs.mjs'
import { goals, printReport } from './report.mjs'
import { closePopulation, runOnce, settle, workloads } from './scenarios.mjs'
import { median, summarizeRuns } from './stats.mjs'
import { storedRun } from './stored.mjs'
import { nodeKnows, startCluster, startRelay, startStandalone } from './targets.mjs'

function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}

async function rssSum(target) {
  const all = await Promise.all(target.nodes.map((n) => rssBytes(n.pid)))
  return all.reduce((a, b) => a + (b ?? 0), 0)
}

/**
 * The workloads on one target, each opened once, warmed up, then run `opts.runs` times in every
 * `mode` (a mode sets the servers' CPU affinity before its runs). `out[mode][workload]` = {runs, median}.
 */
async function runWorkloads(name, target, users, opts, modes, only = ['pairs', 'group', 'light', 'unloaded'], maxSeconds = opts.maxSeconds) {
  const out = Object.fromEntries(modes.map(([mode]) => [mode, {}]))
  for (const [key, w] of Object.entries(workloads(opts))) {
    if (!w.enabled || !only.includes(key)) continue
    const population = await w.open(target, users)
    try {
      await runOnce(target, population, { perSender: opts.warmupMsgs, window: w.window, gapMs: w.gapMs, label: 'warm', measure: false }, opts)
      for (const [mode, setAffinity] of modes) {
        setAffinity()
        const idle = await settle(target, { maxSeconds: opts.settleSeconds })
        if (idle.waitedSecs > 1) log(`${name}${modes.length > 1 ? ` ${mode}` : ''} ${key}: waited ${idle.waitedSecs.toFixed(1)} s for the server to go idle (${Math.round(idle.serverPct)}% of a core in the last half second)`)
        const runs = []
        for (let i = 0; i < opts.runs; i++) {
          const r = await runOnce(target, population, { perSender: w.perSender, window: w.window, gapMs: w.gapMs, maxSeconds: Math.min(w.maxSeconds ?? maxSeconds, maxSeconds), label: key }, opts)
          runs.push(r)
          log(`${name}${modes.length > 1 ? ` ${mode}` : ''} ${key} run ${i + 1}/${opts.runs}: ${Math.round(r.messagesPerSec ?? 0)} msg/s, ` +
            `${Math.round(r.deliveriesPerSec ?? 0)} deliveries/s, ack p50 ${r.ackMs.p50?.toFixed(2)} ms${r.capped ? ` (stopped at --max-seconds: ${r.acked} of ${r.planned})` : ''}`)
        }
        out[mode][key] = { label: w.label, settled: idle, runs, median: summarizeRuns(runs) }
      }
    } finally {
      await closePopulation(population)
    }
  }
  return out
}

/** Idle memory, each run on a freshly started server process (`fresh()` returns it, pinned). */
async function idleRuns(name, fresh, users, opts) {
  const limit = openFilesLimit()
  if (limit !== null && limit < opts.idle + 2000) {
    throw new Error(`${opts.idle} idle sockets need more open files than this shell allows (ulimit -n ${limit}): raise it with ulimit -n ${opts.idle + 4000}, or lower --idle`)
  }
  const runs = []
  for (let i = 0; i < opts.runs; i++) {
    const server = await fresh()
    runs.push(await idleMemory({ server, users, count: opts.idle }))
    log(`${name} idle run ${i + 1}/${opts.runs}: ${(runs[i].bytesPerConnection / 1024).toFixed(1)} KiB per socket`)
  }
  return { runs, median: { bytesPerConnection: median(runs.map((r) => r.bytesPerConnection)), connections: opts.idle, users: runs[0].users } }
}

async function benchRelay(opts, plan, procs) {
  const users = await makeUsers({ kind: 'relay' }, usersNeeded(opts, 'relay'))
  const out = {}
  let target = null
  const fresh = async () => {
    if (target) await procs.stop(target.nodes[0])
    target = await startRelay(procs)
    pin(plan, target.pids, plan.server)
    return target.nodes[0]
  }
  if (opts.idle > 0) out.idle = await idleRuns('relay', fresh, users, opts)
  await fresh()
  out.workloads = (await runWorkloads('relay', target, users, opts, [['pinned', () => {}]])).pinned
  return out
}

async function benchStandalone(opts, plan, procs) {
  const count = usersNeeded(opts, 'standalone')
  const target = await startStandalone(procs, opts, count)
  // Children inherit the generator's core: sign-ups get every core, the runs pin again.
  pin(plan, target.pids, plan.all)
  const out = { rssAtStart: await rssSum(target) }
  const t = performance.now()
  const users = await makeUsers(target, count)
  out.signupSecs = (performance.now() - t) / 1000
  log(`standalone: ${count} users signed up and logged in in ${out.signupSecs.toFixed(1)} s`)
  const fresh = async () => {
    target.nodes[0] = await procs.restartNode(target.nodes[0])
    target.pids = [target.nodes[0].pid]
    pin(plan, target.pids, plan.server)
    return target.nodes[0]
  }
  if (opts.idle > 0) out.idle = await idleRuns('standalone', fresh, users, opts)
  await fresh()
  out.workloads = (await runWorkloads('standalone', target, users, opts, [['pinned', () => {}]])).pinned
  out.rssAtEnd = await rssSum(target)
  return out
}

async function benchCluster(opts, plan, procs) {
  const count = usersNeeded(opts, 'cluster')
  const target = await startCluster(procs, opts, count)
  pin(plan, target.pids, plan.all)
  const out = { rssAtStart: await rssSum(target), nodes: opts.clusterNodes, replicas: opts.replicas }
  const t = performance.now()
  const users = await makeUsers(target, count)
  out.signupSecs = (performance.now() - t) / 1000
  log(`cluster: ${count} users signed up and logged in in ${out.signupSecs.toFixed(1)} s`)
  if (opts.targets.includes('cluster')) {
    const modes = opts.modes.map((mode) => [mode, () => pin(plan, target.pids, mode === 'pinned' ? plan.server : plan.all)])
    const only = opts.clusterGroup ? ['pairs', 'group', 'light', 'unloaded'] : ['pairs', 'light', 'unloaded']
    out.modes = await runWorkloads('cluster', target, users, opts, modes, only, Math.min(opts.maxSeconds, opts.clusterMaxSeconds))
  }
  if (opts.targets.includes('overload') && opts.overloadSeconds > 0 && opts.overloadPairs > 0) {
    pin(plan, target.pids, plan.server)
    log(`overload: ${opts.overloadPairs} pairs x ${opts.overloadWindow} in flight for ${opts.overloadSeconds} s`)
    out.overload = await overloadRun(target, users, opts, log)
    out.overload.admissionControl = nodeKnows('--max-lag-ms', opts.root || ROOT)
  }
  out.rssAtEnd = await rssSum(target)
  return out
}

async function benchStored(opts, plan, procs) {
  const count = 2 * opts.pairs
  const target = await startStandalone(procs, opts, count)
  pin(plan, target.pids, plan.all)
  const users = await makeUsers(target, count)
  return storedRun(procs, target, users, opts, plan, log)
}

async function step(name, fn, opts, plan, track) {
  const nodeArgs = [...opts.nodeFlags.split(' ').filter(Boolean), ...(opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', resolve(opts.cpuProf)] : [])]
  const procs = new Procs({ root: opts.root || ROOT, nodeArgs })
  track(procs)
  try {
    return await fn(opts, plan, procs)
  } catch (err) {
    log(`${name}: FAILED: ${err.message}`)
    return { error: err.stack ?? String(err) }
  } finally {
    // A profile is written when the process exits by itself: stop the nodes before the SIGKILLs.
    if (opts.cpuProf) await procs.stopNodes()
    await procs.killAll()
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const plan = planAffinity(opts.pin)
  pin(plan, [process.pid], plan.client)
  log(describeAffinity(plan))
  if (opts.fsync !== 'never') log(`chat nodes run with --fsync ${opts.fsync}`)
  let current = null
  const track = (p) => { current = p }
  const abort = async (sig) => {
    log(`${sig}: stopping every process`)
    if (current) await current.killAll()
    process.exit(130)
  }
  process.once('SIGINT', abort)
  process.once('SIGTERM', abort)

  const started = performance.now()
  const loadBefore = loadavg()
  const results = {}
  if (opts.targets.includes('relay')) results.relay = await step('relay', benchRelay, opts, plan, track)
  if (opts.targets.includes('standalone')) results.standalone = await step('standalone', benchStandalone, opts, plan, track)
  if (opts.targets.includes('cluster') || opts.targets.includes('overload')) results.cluster = await step('cluster', benchCluster, opts, plan, track)
  if (opts.full) results.stored = await step('stored', benchStored, opts, plan, track)
  current = null

  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadBefore, loadAfter: loadavg() },
    affinity: { ...plan, text: describeAffinity(plan) },
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    root: opts.root || ROOT,
    options: opts,
    totalSeconds: (performance.now() - started) / 1000,
    results,
    goals: goals(results),
  }
  printReport(report)
  const file = opts.json ? resolve(opts.json) : join(tmpdir(), `chat-bench-${report.date.replace(/[:.]/g, '-')}.json`)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n')
  console.log(`\nresults written to ${file}`)
  const failed = Object.entries(results).filter(([, r]) => r.error)
  for (const [name, r] of failed) console.error(`\n${name} failed:\n${r.error}`)
  process.exitCode = failed.length > 0 ? 1 : 0
}

main().catch((err) => {
  console.error(err.stack ?? String(err))
  process.exitCode = 2
})
