/**
 * The workloads as a client population: who connects where, in which channels, who sends. Clients
 * are spread round the target's nodes; on a cluster the two sides of a 1:1 pair sit on different
 * nodes, so every message crosses the cluster. A population is opened once, warmed up, then
 * measured `runs` times (with fresh clientMsgIds each time) and closed.
 */
import { randomBytes } from 'node:crypto'
import { closeAll, connect, createGroup, dmId, pool, unexpectedCloses } from './clients.mjs'
import { cpuSeconds } from './procs.mjs'
import { CpuWindow } from './stats.mjs'
import { runMessaging, sleep } from './workload.mjs'

export function cpuOf(target) {
  return new CpuWindow(async () => (await Promise.all(target.pids.map(cpuSeconds))).reduce((a, b) => a + b, 0))
}

/**
 * Waits until the target's processes are idle: under `pct`% of a core per process over a window
 * of `windowMs`, at most `maxSeconds`. A workload leaves work behind (its sockets closing,
 * LevelDB writing out what it stored), which would otherwise be charged to the next workload's
 * figures (docs/PERFORMANCE.md, "Workloads"). Returns how long it waited and the server's CPU in
 * the last window (% of one core, all its processes together).
 */
export async function settle(target, { pct = 5, maxSeconds = 30, windowMs = 500 } = {}) {
  const cpu = cpuOf(target)
  const t0 = performance.now()
  let serverPct = null
  for (let i = 0; i < Math.ceil((maxSeconds * 1000) / windowMs); i++) {
    await cpu.start()
    await sleep(windowMs)
    serverPct = (await cpu.stop()).serverPct
    if (serverPct < pct * target.pids.length) break
  }
  return { waitedSecs: (performance.now() - t0) / 1000, serverPct }
}

/** A tag no earlier run used: clientMsgIds are kept as dedupe records forever. */
export function freshTag(label) {
  return `${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
}

/**
 * `pairs` sender/receiver pairs (users 2i and 2i+1), each in its own 1:1 channel; the first user of
 * each pair sends. `sendersOnly`: the receivers stay offline (their inboxes are still written).
 */
export async function openPairs(target, users, pairs, { device = 'bench', track = false, sendersOnly = false } = {}) {
  const n = target.nodes.length
  const channels = await pool(Array.from({ length: pairs }, (_, i) => i), 16, async (i) => {
    const a = users[2 * i]
    const b = users[2 * i + 1]
    const sender = await connect(target.nodes[i % n].ws, a, device, { track })
    const members = [sender]
    if (!sendersOnly) members.push(await connect(target.nodes[(i + 1) % n].ws, b, device, { track }))
    return { id: dmId(a.username, b.username), senders: [sender], members }
  })
  return { channels, conns: channels.flatMap((c) => c.members) }
}

/** `groups` disjoint groups of `groupSize` members, all connected; the first `groupSenders` of each send. */
export async function openGroups(target, users, { groups, groupSize, groupSenders }) {
  const n = target.nodes.length
  const channels = []
  for (let g = 0; g < groups; g++) {
    const members = users.slice(g * groupSize, (g + 1) * groupSize)
    const id = await createGroup(target, members[0], members.slice(1).map((u) => u.username))
    const conns = await pool(members, 16, (u, i) => connect(target.nodes[(g + i) % n].ws, u, 'bench'))
    channels.push({ id, senders: conns.slice(0, groupSenders), members: conns })
  }
  return { channels, conns: channels.flatMap((c) => c.members) }
}

export async function closePopulation(population) {
  await closeAll(population.conns)
}

/** One run over an open population; `perSender` messages each, `window` in flight, sends at least `gapMs` apart. */
export async function runOnce(target, population, { perSender, window, gapMs = 0, maxSeconds, label, measure = true }, opts) {
  const result = await runMessaging({
    channels: population.channels,
    window,
    gapMs,
    perSender,
    maxMs: (maxSeconds ?? opts.maxSeconds) * 1000,
    textBytes: opts.textBytes, textKind: opts.text,
    cpu: measure ? cpuOf(target) : null,
    drainMs: opts.drain * 1000,
    tag: freshTag(label),
  })
  return { ...result, closes: unexpectedCloses(population.conns) }
}

/** The workloads of the comparison: how each is opened and driven. */
export function workloads(opts) {
  return {
    pairs: {
      label: `1:1 (${opts.pairs} pairs x ${opts.msgs} msgs, ${opts.window} in flight)`,
      enabled: opts.pairs > 0 && opts.msgs > 0,
      open: (target, users) => openPairs(target, users, opts.pairs),
      perSender: opts.msgs,
      window: opts.window,
    },
    group: {
      label: `group (${opts.groups} x ${opts.groupSize} members, ${opts.groupSenders} senders x ${opts.groupMsgs} msgs, ${opts.window} in flight)`,
      enabled: opts.groups > 0 && opts.groupMsgs > 0,
      open: (target, users) => openGroups(target, users, opts),
      perSender: opts.groupMsgs,
      window: opts.window,
    },
    light: {
      label: `light (${opts.lightPairs} pairs x ${opts.lightMsgs} msgs, 1 in flight)`,
      enabled: opts.lightPairs > 0 && opts.lightMsgs > 0,
      open: (target, users) => openPairs(target, users, opts.lightPairs, { device: 'light' }),
      perSender: opts.lightMsgs,
      window: 1,
      maxSeconds: Math.min(opts.maxSeconds, opts.lightMaxSeconds),
    },
    unloaded: {
      label: `unloaded (1 pair x ${opts.unloadedMsgs} msgs, one every ${opts.unloadedGapMs} ms)`,
      enabled: opts.unloadedMsgs > 0,
      open: (target, users) => openPairs(target, users, 1, { device: 'unloaded' }),
      perSender: opts.unloadedMsgs,
      window: 1,
      gapMs: opts.unloadedGapMs,
    },
  }
}
