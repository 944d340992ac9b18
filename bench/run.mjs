#!/usr/bin/env node
/**
 * `npm run bench [-- flags]`: measures the baseline relay, a standalone chat node and a chat
 * cluster under the same client workloads, prints the figures and writes them as JSON to a temp
 * file. It reports; it asserts nothing. See bench/README.md for what each figure means.
 */
import { writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeUsers } from './clients.mjs'
import { idleMemory } from './idle-memory.mjs'
import { Procs, rssBytes } from './procs.mjs'
import { printReport, ratios } from './report.mjs'
import { groupScenario, pairsScenario } from './scenarios.mjs'
import { startCluster, startRelay, startStandalone } from './targets.mjs'

const DEFAULTS = {
  seconds: 15, warmup: 2, pairs: 50, window: 8, groupSize: 100, groupSenders: 2, idle: 2000,
  textBytes: 64, clusterNodes: 3, replicas: 3, clusterGroup: false, only: 'relay,standalone,cluster', probeSeconds: 5, drain: 10,
  fsync: 'never',
}

const HELP = `usage: npm run bench -- [flags]
  --seconds N         measured seconds per workload (default ${DEFAULTS.seconds})
  --warmup N          unmeasured seconds before each (default ${DEFAULTS.warmup})
  --pairs N           1:1 sender/receiver pairs (default ${DEFAULTS.pairs})
  --window N          unacknowledged sends per sender (default ${DEFAULTS.window})
  --group-size N      members of the group, 0 = skip the group workload (default ${DEFAULTS.groupSize})
  --group-senders N   members of the group that send (default ${DEFAULTS.groupSenders})
  --idle N            idle WebSockets for the memory figure, 0 = skip (default ${DEFAULTS.idle})
  --probe-seconds N   measured seconds of the unloaded latency probe (1 pair, W=1), 0 = skip (default ${DEFAULTS.probeSeconds})
  --drain N           seconds to wait, after sending stops, for pushes of acknowledged messages (default ${DEFAULTS.drain})
  --text-bytes N      message text length (default ${DEFAULTS.textBytes})
  --cluster-nodes N   nodes of the cluster (default ${DEFAULTS.clusterNodes})
  --replicas N        replicas of the cluster (default ${DEFAULTS.replicas})
  --cluster-group     also run the group workload on the cluster
  --only LIST         targets, comma separated: relay, standalone, cluster (default all)
  --fsync LIST        chat nodes' --fsync modes to measure, comma separated: never, batch, always
                      (default never); each chat target runs once per mode`

function parseArgs(argv) {
  const opts = { ...DEFAULTS }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--help' || arg === '-h') {
      console.log(HELP)
      process.exit(0)
    }
    const key = arg.replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    if (!(key in DEFAULTS) || !arg.startsWith('--')) throw new Error(`unknown flag ${arg}\n${HELP}`)
    if (typeof DEFAULTS[key] === 'boolean') opts[key] = true
    else if (typeof DEFAULTS[key] === 'string') opts[key] = argv[++i] ?? ''
    else {
      const v = Number(argv[++i])
      if (!Number.isFinite(v) || v < 0) throw new Error(`${arg} needs a number`)
      opts[key] = v
    }
  }
  opts.targets = opts.only.split(',').map((s) => s.trim()).filter(Boolean)
  for (const t of opts.targets) if (!['relay', 'standalone', 'cluster'].includes(t)) throw new Error(`--only: unknown target ${t}`)
  opts.fsyncModes = opts.fsync.split(',').map((s) => s.trim()).filter(Boolean)
  for (const m of opts.fsyncModes) if (!['never', 'batch', 'always'].includes(m)) throw new Error(`--fsync: unknown mode ${m}`)
  opts.groupSenders = Math.max(1, Math.min(opts.groupSenders, opts.groupSize))
  return opts
}

/** RSS of the target's chat processes (nats-server excluded), summed. */
async function rssSum(target) {
  const all = await Promise.all(target.nodes.map((n) => rssBytes(n.pid)))
  return all.reduce((a, b) => a + (b ?? 0), 0)
}

function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}

/** Runs the workloads one target needs; its processes are gone when this returns. */
async function benchTarget(name, opts, track) {
  const procs = new Procs()
  track(procs)
  const out = {}
  try {
    const start = { relay: startRelay, standalone: startStandalone, cluster: startCluster }[name]
    const target = await start(procs, opts)
    log(`${name}: started (${target.nodes.map((n) => n.http).join(', ')})`)
    out.rssAtStart = await rssSum(target)
    const count = Math.max(2 * opts.pairs, opts.groupSize, 2)
    let t = performance.now()
    const users = await makeUsers(target, count)
    out.signupSecs = (performance.now() - t) / 1000
    log(`${name}: ${count} users ready in ${out.signupSecs.toFixed(1)} s`)
    out.rssAfterSignup = await rssSum(target)
    if (opts.idle > 0 && name !== 'cluster') {
      out.memory = await idleMemory({ server: target.nodes[0], users, count: opts.idle })
      log(`${name}: memory with ${opts.idle} idle sockets measured`)
    }
    if (opts.probeSeconds > 0) {
      out.probe = await pairsScenario(target, users, { ...opts, pairs: 1, window: 1, seconds: opts.probeSeconds })
      log(`${name}: unloaded latency probe done (ack p50 ${out.probe.ackMs.p50?.toFixed(2)} ms)`)
    }
    if (opts.pairs > 0) {
      t = performance.now()
      out.pairs = await pairsScenario(target, users, opts)
      log(`${name}: 1:1 done (${Math.round(out.pairs.messagesPerSec)} msg/s) in ${((performance.now() - t) / 1000).toFixed(0)} s`)
    }
    if (opts.groupSize > 1 && (name !== 'cluster' || opts.clusterGroup)) {
      out.group = await groupScenario(target, users, opts)
      log(`${name}: group done (${Math.round(out.group.messagesPerSec)} msg/s, ${Math.round(out.group.deliveriesPerSec)} deliveries/s)`)
    }
    out.rssAtEnd = await rssSum(target)
  } catch (err) {
    out.error = err.stack ?? String(err)
    log(`${name}: FAILED: ${err.message}`)
  } finally {
    await procs.killAll()
  }
  return out
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  let current = null
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
  for (const name of opts.targets) {
    // The relay stores nothing: one run. Chat targets run once per fsync mode; `never` keeps the plain name.
    for (const mode of name === 'relay' ? ['never'] : opts.fsyncModes) {
      const label = mode === 'never' ? name : `${name} fsync=${mode}`
      results[label] = await benchTarget(name, { ...opts, fsync: mode }, (p) => { current = p })
    }
  }
  current = null

  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadBefore, loadAfter: loadavg() },
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    options: opts,
    totalSeconds: (performance.now() - started) / 1000,
    results,
    ratios: ratios(results),
  }
  printReport(report)
  const file = join(tmpdir(), `chat-bench-${report.date.replace(/[:.]/g, '-')}.json`)
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
