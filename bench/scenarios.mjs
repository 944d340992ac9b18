/**
 * The workloads as a client population: who connects where, in which channels, who sends. Clients
 * are spread round the target's nodes; on a cluster the two sides of a 1:1 pair sit on different
 * nodes, so every message crosses the cluster.
 */
import { closeAll, connect, createGroup, dmId, pool, unexpectedCloses } from './clients.mjs'
import { cpuSeconds } from './procs.mjs'
import { CpuWindow } from './stats.mjs'
import { runMessaging } from './workload.mjs'

function cpuOf(target) {
  return new CpuWindow(async () => (await Promise.all(target.pids.map(cpuSeconds))).reduce((a, b) => a + b, 0))
}

/** `pairs` sender/receiver pairs, each in its own 1:1 channel; only the first of each pair sends. */
export async function pairsScenario(target, users, opts) {
  const n = target.nodes.length
  const channels = await pool(Array.from({ length: opts.pairs }, (_, i) => i), 16, async (i) => {
    const a = users[2 * i]
    const b = users[2 * i + 1]
    const sender = await connect(target.nodes[i % n].ws, a, 'bench')
    const receiver = await connect(target.nodes[(i + 1) % n].ws, b, 'bench')
    return { id: dmId(a.username, b.username), senders: [sender], members: [sender, receiver] }
  })
  const conns = channels.flatMap((c) => c.members)
  try {
    const result = await runMessaging({ channels, window: opts.window, warmupMs: opts.warmup * 1000, seconds: opts.seconds, textBytes: opts.textBytes, cpu: cpuOf(target), pushDrainMs: opts.drain * 1000 })
    return { ...result, closes: unexpectedCloses(conns) }
  } finally {
    await closeAll(conns)
  }
}

/** One group of `groupSize` members, all connected; the first `groupSenders` of them send. */
export async function groupScenario(target, users, opts) {
  const n = target.nodes.length
  const members = users.slice(0, opts.groupSize)
  const id = await createGroup(target, members[0], members.slice(1).map((u) => u.username))
  const conns = await pool(members, 16, (u, i) => connect(target.nodes[i % n].ws, u, 'bench'))
  try {
    const channels = [{ id, senders: conns.slice(0, opts.groupSenders), members: conns }]
    const result = await runMessaging({ channels, window: opts.window, warmupMs: opts.warmup * 1000, seconds: opts.seconds, textBytes: opts.textBytes, cpu: cpuOf(target), pushDrainMs: opts.drain * 1000 })
    return { ...result, closes: unexpectedCloses(conns) }
  } finally {
    await closeAll(conns)
  }
}
