/**
 * CPU affinity with `taskset`: the servers under test on one core, the load generator on another,
 * so that neither steals the other's core and the relay and the chat node get the same one. Set
 * on running processes with `taskset -a -p` (every thread; threads started later inherit it), so
 * a server can do its sign-ups on every core first and be pinned for the measured runs only.
 *
 * Pinning is off, and the report says why, when the machine has fewer than two cores this
 * process may use, when taskset is missing, or with --pin off.
 */
import { execFileSync } from 'node:child_process'

/** The CPU numbers this process may run on, from `taskset -p` (null when taskset fails). */
function allowedCpus() {
  try {
    const out = execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    const m = /list:\s*([0-9,\-\s]+)$/m.exec(out)
    if (!m) return null
    const cpus = []
    for (const part of m[1].trim().split(',')) {
      const [a, b] = part.split('-').map(Number)
      for (let c = a; c <= (b ?? a); c++) cpus.push(c)
    }
    return cpus
  } catch {
    return null
  }
}

/**
 * `{ pinned, server, client, all, reason }`: `server` and `client` are taskset CPU lists (one core
 * each), `all` every allowed core; `reason` says why nothing is pinned when `pinned` is false.
 */
export function planAffinity(mode) {
  const cpus = allowedCpus()
  if (mode === 'off') return { pinned: false, reason: 'pinning turned off (--pin off)' }
  if (!cpus) return { pinned: false, reason: 'taskset is not available (util-linux), so nothing is pinned' }
  if (cpus.length < 2) return { pinned: false, reason: `only ${cpus.length} CPU available, so servers and load generator share it` }
  return { pinned: true, server: String(cpus[0]), client: String(cpus[1]), all: cpus.join(','), reason: '' }
}

/** Pins every thread of each process to `cpuList` (e.g. '0' or '0,1'); no-op when not pinned. */
export function pin(plan, pids, cpuList) {
  if (!plan.pinned) return
  for (const pid of pids) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' })
    } catch (err) {
      throw new Error(`taskset could not pin pid ${pid} to CPU ${cpuList}: ${err.message}`)
    }
  }
}

/** Describes the plan for the report. */
export function describeAffinity(plan) {
  return plan.pinned
    ? `servers pinned to CPU ${plan.server}, load generator to CPU ${plan.client} (taskset); "unpinned" servers may use CPUs ${plan.all}`
    : `NOT PINNED: ${plan.reason}`
}
