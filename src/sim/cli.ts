/**
 * `npm run simulate -- --seeds N [--seed S] [--seconds T] [--jobs J] [--verbose]`: runs N simulated
 * runs with seeds S, S+1, ... (S defaults to a fresh one, printed), each on virtual time, and
 * reports violations with the seed that replays them (`--seed <that> --seeds 1 --verbose` shows
 * the nodes' logs stamped with virtual time), seeds per minute of real time, and the liveness
 * figures pooled over all runs. `--jobs` spreads the seeds over that many processes. Exits 1 if any
 * run had a violation.
 */
import { fork } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { type LivenessFigures, percentile, pool } from './figures.js'
import type { FaultKind } from './history.js'
import { simulate } from './run.js'

interface Args { seeds: number; seed: number; seconds: number; jobs: number; verbose: boolean; kinds?: FaultKind[]; worker: boolean; json: boolean }

function parse(argv: string[]): Args {
  const a: Args = { seeds: 1, seed: Date.now() % 1_000_000_000, seconds: 20, jobs: 1, verbose: false, worker: false, json: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${arg} needs a value`)
      return v
    }
    const int = (): number => {
      const v = value()
      if (!/^\d+$/.test(v)) throw new Error(`${arg} must be a whole number, got ${v}`)
      return Number(v)
    }
    if (arg === '--seeds') a.seeds = int()
    else if (arg === '--seed') a.seed = int()
    else if (arg === '--seconds') a.seconds = int()
    else if (arg === '--jobs') a.jobs = Math.max(1, Math.min(int(), availableParallelism() * 2))
    else if (arg === '--kinds') a.kinds = value().split(',') as FaultKind[]
    else if (arg === '--verbose') a.verbose = true
    else if (arg === '--json') a.json = true
    else if (arg === '--worker') a.worker = true
    else throw new Error(`unknown option ${arg}; usage: npm run simulate -- --seeds N [--seed S] [--seconds T] [--jobs J] [--verbose]`)
  }
  return a
}

/** What one run reports to the summary (and a worker to its parent, one JSON line per run). */
interface Report {
  seed: number
  ok: boolean
  problems: string[]
  hash: string
  steps: number
  virtualMs: number
  realMs: number
  acked: number
  faults: number
  liveness: LivenessFigures
}

async function runOne(seed: number, args: Args): Promise<Report> {
  const started = performance.now()
  try {
    const r = await simulate({ seed, seconds: args.seconds, ...(args.kinds ? { kinds: args.kinds } : {}), ...(args.verbose ? { logLevel: 'info' } : {}) })
    return {
      seed, ok: r.ok, problems: [...r.problems.slice(0, 20), ...r.diagnostics], hash: r.traceHash, steps: r.steps, virtualMs: r.virtualMs,
      realMs: Math.round(performance.now() - started), acked: Number(r.figures.acked), faults: r.faults.length, liveness: r.liveness,
    }
  } catch (err) {
    return {
      seed, ok: false, problems: [`run failed: ${(err as Error).stack ?? err}`], hash: '', steps: 0, virtualMs: 0,
      realMs: Math.round(performance.now() - started), acked: 0, faults: 0, liveness: { healToWrite: {}, minority: {} },
    }
  }
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2))
  if (args.worker) {
    for (let i = 0; i < args.seeds; i++) process.stdout.write(JSON.stringify(await runOne(args.seed + i * args.jobs, args)) + '\n')
    return
  }
  const log = (line: string) => process.stderr.write(line + '\n')
  log(`simulate: seeds ${args.seed}..${args.seed + args.seeds - 1} (${args.seeds}), ${args.seconds} virtual s each, ${args.jobs} job(s)`)
  const started = performance.now()
  const reports: Report[] = []
  const onReport = (r: Report) => {
    reports.push(r)
    if (!r.ok) {
      log(`simulate: seed ${r.seed} FAILED (replay: npm run simulate -- --seed ${r.seed} --seeds 1 --verbose)`)
      for (const p of r.problems.slice(0, args.seeds === 1 ? 100 : 10)) log(`  ${p.slice(0, 500)}`)
    }
    if (reports.length % 100 === 0 || args.seeds <= 20) {
      const minutes = (performance.now() - started) / 60_000
      log(`simulate: ${reports.length}/${args.seeds} runs, ${reports.filter((x) => !x.ok).length} failed, ${(reports.length / minutes).toFixed(1)} seeds/min`
        + (args.seeds <= 20 ? ` (seed ${r.seed}: ${r.acked} acked, ${r.faults} faults, ${r.steps} steps, ${(r.virtualMs / 1000).toFixed(0)} virtual s in ${r.realMs} ms, trace ${r.hash})` : ''))
    }
  }
  if (args.jobs <= 1) {
    for (let i = 0; i < args.seeds; i++) onReport(await runOne(args.seed + i, args))
  } else {
    await Promise.all(Array.from({ length: args.jobs }, (_, j) => worker(args, j, onReport)))
  }
  const minutes = (performance.now() - started) / 60_000
  const failed = reports.filter((r) => !r.ok)
  const summary = {
    seeds: reports.length, failed: failed.length, failedSeeds: failed.map((r) => r.seed).slice(0, 50),
    seedsPerMinute: Number((reports.length / minutes).toFixed(1)), realMinutes: Number(minutes.toFixed(2)),
    acked: reports.reduce((n, r) => n + r.acked, 0), faults: reports.reduce((n, r) => n + r.faults, 0),
    meanRealMsPerSeed: Math.round(reports.reduce((n, r) => n + r.realMs, 0) / Math.max(1, reports.length)),
    liveness: summarize(pool(reports.map((r) => r.liveness))),
  }
  if (args.json) process.stdout.write(JSON.stringify(summary) + '\n')
  log(`simulate: ${JSON.stringify(summary, null, 1)}`)
  process.exitCode = failed.length > 0 ? 1 : 0
}

/** Runs every `jobs`-th seed from `seed + j` in a child process; reports each run as it ends. */
function worker(args: Args, j: number, onReport: (r: Report) => void): Promise<void> {
  const count = Math.floor(args.seeds / args.jobs) + (j < args.seeds % args.jobs ? 1 : 0)
  if (count === 0) return Promise.resolve()
  const argv = ['--worker', '--seed', String(args.seed + j), '--seeds', String(count), '--jobs', String(args.jobs), '--seconds', String(args.seconds)]
  if (args.kinds) argv.push('--kinds', args.kinds.join(','))
  const child = fork(fileURLToPath(import.meta.url), argv, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  let buffered = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      onReport(JSON.parse(buffered.slice(0, nl)) as Report)
      buffered = buffered.slice(nl + 1)
    }
  })
  return new Promise((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${j} exited ${code}`)))))
}

function summarize(f: LivenessFigures): Record<string, unknown> {
  const healToWrite = Object.fromEntries(Object.entries(f.healToWrite).map(([k, v]) => [k, {
    samples: v.length, p50ms: percentile(v, 0.5), p99ms: percentile(v, 0.99), maxms: v.length ? Math.max(...v) : 0,
  }]))
  return { healToWrite, minorityAnswers: f.minority }
}

main().catch((err) => {
  process.stderr.write(`simulate: ${(err as Error).stack ?? err}\n`)
  process.exit(2)
})
