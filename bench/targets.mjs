/**
 * The three systems under test, each started fresh in its own `Procs`: the baseline relay, a
 * standalone chat node, and a cluster of chat nodes on one nats-server. A target is
 * `{ kind, nodes: [{ id, pid, http, ws }], pids }` where `pids` are every process whose CPU counts.
 */
import { randomBytes } from 'node:crypto'

/** Flags for every chat node: no send throttling (the default 50/s per device would cap the run). */
function nodeFlags(opts) {
  return ['--rate-limit', '1000000', '--rate-burst', '1000000', '--log-level', 'warn',
    '--max-group-size', String(Math.max(100, opts.groupSize)), '--fsync', opts.fsync ?? 'never']
}

export async function startRelay(procs) {
  const relay = await procs.startRelay()
  return { kind: 'relay', nodes: [relay], pids: [relay.pid] }
}

export async function startStandalone(procs, opts) {
  const node = await procs.startNode('s1', nodeFlags(opts))
  return { kind: 'node', nodes: [node], pids: [node.pid] }
}

export async function startCluster(procs, opts) {
  const nats = await procs.startNats()
  const secret = randomBytes(24).toString('hex')
  const nodes = []
  // One at a time: each join is a compare-and-set on the ring record; in parallel they only retry.
  for (let i = 1; i <= opts.clusterNodes; i++) {
    nodes.push(await procs.startNode(`n${i}`, [...nodeFlags(opts), '--nats', nats.url, '--secret', secret,
      '--replicas', String(opts.replicas)]))
  }
  await settled(nodes)
  return { kind: 'node', nodes, pids: [...nodes.map((n) => n.pid), nats.pid] }
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
