/**
 * The three systems under test, each started fresh in its own `Procs`: the baseline relay, a
 * standalone chat node, and a cluster of chat nodes on one nats-server. A target is
 * `{ kind, nodes: [{ id, pid, http, ws }], pids }` where `pids` are every process whose CPU counts
 * (and that pinning moves).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { ROOT } from './procs.mjs'

const helpCache = new Map()

/** The flags the measured build's chat-node knows (from its --help), so newer ones are only passed when they exist. */
export function nodeKnows(flag, root = ROOT) {
  if (!helpCache.has(root)) {
    let text = ''
    try {
      text = execFileSync(process.execPath, [join(root, 'bin', 'chat-node'), '--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (err) {
      text = `${err.stdout ?? ''}${err.stderr ?? ''}`
    }
    helpCache.set(root, text)
  }
  return helpCache.get(root).includes(flag)
}

/**
 * Flags for every chat node. The send rate limits are raised (the default 50 sends/s per device
 * would cap the run), groups may be as large as the workload's, and a user may open as many
 * sockets as the idle-memory run gives each one. Admission control flags are passed only when
 * given and when the build has them.
 */
export function nodeFlags(opts, users = 0) {
  const flags = ['--rate-limit', '1000000', '--rate-burst', '1000000', '--log-level', 'warn',
    '--max-group-size', String(Math.max(100, opts.groupSize ?? 0))]
  const perUser = users > 0 && opts.idle > 0 ? Math.ceil(opts.idle / users) + 2 : 0
  if (perUser > 20 && nodeKnows('--max-devices', opts.root || ROOT)) flags.push('--max-devices', String(Math.min(10_000, perUser)))
  // --fsync: what each durability setting costs (docs/RELIABILITY.md); `never` is the default.
  if (opts.fsync && opts.fsync !== 'never' && nodeKnows('--fsync', opts.root || ROOT)) flags.push('--fsync', opts.fsync)
  for (const [flag, key] of [['--max-lag-ms', 'maxLagMs'], ['--max-inflight-writes', 'maxInflightWrites']]) {
    if (opts[key] === undefined || opts[key] < 0) continue
    if (nodeKnows(flag, opts.root || ROOT)) flags.push(flag, String(opts[key]))
  }
  return flags
}

export async function startRelay(procs) {
  const relay = await procs.startRelay()
  return { kind: 'relay', nodes: [relay], pids: [relay.pid] }
}

export async function startStandalone(procs, opts, users = 0) {
  const node = await procs.startNode('s1', nodeFlags(opts, users))
  return { kind: 'node', nodes: [node], pids: [node.pid] }
}

export async function startCluster(procs, opts, users = 0) {
  const nats = await procs.startNats()
  const secret = randomBytes(24).toString('hex')
  const nodes = []
  // One at a time: each join is a compare-and-set on the ring record; in parallel they only retry.
  for (let i = 1; i <= opts.clusterNodes; i++) {
    nodes.push(await procs.startNode(`n${i}`, [...nodeFlags(opts, users), '--nats', nats.url, '--secret', secret,
      '--replicas', String(opts.replicas)]))
  }
  await settled(nodes)
  return { kind: 'node', nodes, nats, pids: [...nodes.map((n) => n.pid), nats.pid] }
}

/** Waits until every node sees the same ring of all nodes, all live (bounded). */
async function settled(nodes, timeoutMs = 30_000) {
  const want = nodes.map((n) => n.id).sort().join()
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      const views = await Promise.all(nodes.map(async (n) => (await fetch(`${n.http}/v1/cluster`)).json()))
      last = JSON.stringify(views.map((v) => [v.self, v.ringVersion, v.members.map((m) => `${m.id}:${m.live}`)]))
      const ok = views.every((v) => v.ringVersion === views[0].ringVersion &&
        v.members.map((m) => m.id).sort().join() === want && v.members.every((m) => m.live))
      if (ok) return
    } catch (err) {
      last = err.message
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`cluster ring did not settle within ${timeoutMs} ms: ${last}`)
}
