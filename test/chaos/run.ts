/**
 * One chaos run: 5 nodes with replicas 3, writers sending with at-least-once retries, and a seeded
 * nemesis, one fault at a time with time to settle in between. The crash nemesis SIGKILLs nodes
 * (restarting some on their data dir, replacing one with an empty one), SIGSTOPs a node for
 * seconds, and restarts nats-server. The partition nemesis runs every node and nats-server in a
 * network namespace of its own and cuts links between them with nftables (partitions.ts). Then
 * everything is healed and the checker judges what the cluster kept.
 */
import { rmSync } from 'node:fs'
import { Ring } from '../../src/cluster/ring.js'
import { ADMIN_TOKEN, TestCluster } from '../helpers/cluster.js'
import { Network } from '../helpers/netns.js'
import { api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'
import { fullHistory, fullInbox } from '../helpers/traffic.js'
import { type CheckResult, check } from '../../src/sim/checker.js'
import type { Fault, InboxEvent, SendRecord, StoredMessage } from '../../src/sim/history.js'
import { partition } from './partitions.js'
import { Rng } from './rng.js'
import { Writer, sleep } from './writer.js'

interface Teardown { teardown(fn: () => unknown): void }

export interface ChaosOptions {
  seed: number
  seconds: number
  log: (line: string) => void
  /** Off for the deliberate-bug demonstration: writers only, no faults. */
  faults?: boolean
  /** Which faults: crashes and pauses (the default), or network partitions. */
  nemesis?: 'crash' | 'partition'
}

export type ChaosResult = CheckResult & { seed: number; faults: Fault[]; sends: SendRecord[] }

const REPLICAS = 3
const COMPACT_MAX_LAGS = [0, 5, 50]
/** The crash runs: 8 writers, 3 groups, 3 1:1 channels. */
const CRASH_GROUPS: Record<string, string[]> = {
  a: ['usr1', 'usr2', 'usr3', 'usr4', 'usr5'],
  b: ['usr4', 'usr5', 'usr6', 'usr7'],
  c: ['usr1', 'usr3', 'usr6', 'usr8'],
}
const CRASH_DMS = [['usr1', 'usr2'], ['usr3', 'usr7'], ['usr5', 'usr8']]
/** The partition runs: 12 writers, 4 groups, 6 1:1 channels. */
const PARTITION_GROUPS: Record<string, string[]> = {
  ...CRASH_GROUPS,
  d: ['usr9', 'usr10', 'usr11', 'usr12', 'usr2'],
}
const PARTITION_DMS = [...CRASH_DMS, ['usr9', 'usr11'], ['usr10', 'usr12'], ['usr4', 'usr11']]

export async function runChaos(t: Teardown, options: ChaosOptions): Promise<ChaosResult> {
  const { log } = options
  const rng = new Rng(options.seed)
  // Compaction runs every repair sweep (each second), under either nemesis; how many entries a
  // lagging replica keeps depends on the seed, 0 meaning every replica that lags at all is caught
  // up by snapshot.
  const compactMaxLag = COMPACT_MAX_LAGS[options.seed % COMPACT_MAX_LAGS.length]!
  const partitions = options.nemesis === 'partition'
  let network: Network | undefined
  if (partitions) {
    network = Network.create()
    // Registered first, so it runs last: after every process inside was killed.
    t.teardown(() => network!.destroy())
  }
  // Crash runs detect deaths fast, to fit many faults in a run. Partition runs keep the default
  // liveness settings (heartbeat 1 s, dead after 3 s, so a commit may wait 6 s): a client's 4 s
  // reply timeout then ends before a stuck commit does, and its retry queues behind its first try.
  const liveness = partitions ? { heartbeatMs: 1000, deadAfterMs: 3000 } : { heartbeatMs: 250, deadAfterMs: 1000 }
  const cluster = await TestCluster.start(t, {
    nodes: 5, replicas: REPLICAS, ...liveness, ...(network ? { network } : {}),
    args: [
      '--repair-interval-ms', '1000', '--presence-timeout-ms', '5000', '--rate-limit', '1000', '--log-level', 'warn',
      '--compact-interval-ms', '1000', '--compact-max-lag', String(compactMaxLag),
    ],
  })
  log(`chaos: seed ${options.seed}, ${options.seconds} s, 5 nodes, replicas ${REPLICAS}, ${partitions ? 'partition' : 'crash'} nemesis, compaction every second keeping ${compactMaxLag} entries for a lagging replica`)

  const GROUPS = partitions ? PARTITION_GROUPS : CRASH_GROUPS
  const DMS = partitions ? PARTITION_DMS : CRASH_DMS
  const users = [...new Set([...Object.values(GROUPS).flat(), ...DMS.flat()])].sort((x, y) => Number(x.slice(3)) - Number(y.slice(3)))
  const tokens = new Map<string, string>()
  for (const [i, u] of users.entries()) tokens.set(u, await login(cluster.url(i), u))
  const channelsOf = new Map<string, string[]>(users.map((u) => [u, []]))
  const members = new Map<string, string[]>()
  for (const [name, list] of Object.entries(GROUPS)) {
    const r = await api(cluster.url(), 'POST', '/v1/groups', { name, members: list.slice(1) }, tokens.get(list[0]!))
    if (r.status !== 201) throw new Error(`group ${name}: ${r.status} ${r.text}`)
    members.set(r.body.channel.id, list)
  }
  // Canonical 1:1 ids: the two usernames sorted as strings (usr11 before usr4).
  for (const [a, b] of DMS) members.set(`dm:${[a!, b!].sort().join(':')}`, [a!, b!])
  for (const [channel, list] of members) for (const u of list) channelsOf.get(u)!.push(channel)

  try {
    return await workload(cluster, network, rng, members, tokens, users, channelsOf, options)
  } catch (err) {
    dumpLogs(cluster, log)
    throw err
  }
}

/** Writers and the nemesis, then the judgement. */
async function workload(
  cluster: TestCluster, network: Network | undefined, rng: Rng, members: Map<string, string[]>, tokens: Map<string, string>,
  users: string[], channelsOf: Map<string, string[]>, options: ChaosOptions,
): Promise<ChaosResult> {
  const { log } = options
  const sends: SendRecord[] = []
  const faults: Fault[] = []
  const start = Date.now()
  const until = start + options.seconds * 1000
  const running = () => cluster.running().map((n) => n.url)
  const writers = users.map((u) => new Writer(u, tokens.get(u)!, channelsOf.get(u)!, running, new Rng(rng.int(1, 2 ** 31)), sends))
  const writing = Promise.all(writers.map((w) => w.run(until, until + 90_000)))

  if (options.faults !== false) {
    while (Date.now() < until - 8000) {
      await sleep(rng.int(2000, 4000))
      const channels = [...members.keys()]
      const fault = network
        ? await partition(cluster, network, rng, rng.int(4000, 9000), (nodes) => ownedByAny(cluster, nodes, channels))
        : await inject(cluster, rng, channels)
      faults.push(fault)
      log(`chaos: +${((fault.at - start) / 1000).toFixed(1)} s ${fault.kind} ${(fault.nodes ?? [fault.node ?? '']).join(',')} (owned ${fault.ownedChannels.length} channels)`)
      await cluster.settled(undefined, 30_000).catch((err) => log(`chaos: not settled after fault: ${(err as Error).message}`))
    }
  }
  await writing
  log(`chaos: writers done after ${((Date.now() - start) / 1000).toFixed(1)} s; ${sends.length} sends`)
  return judge(cluster, members, tokens, users, channelsOf, sends, faults, options)
}

/** Heals, waits for the replicas to agree, gathers what the cluster kept, and checks it. */
async function judge(
  cluster: TestCluster, members: Map<string, string[]>, tokens: Map<string, string>, users: string[],
  channelsOf: Map<string, string[]>, sends: SendRecord[], faults: Fault[], options: ChaosOptions,
): Promise<ChaosResult> {
  const { log } = options

  await cluster.settled(undefined, 30_000)
  // Replicas that never agree are a violation too, but the message-level checks still run.
  const divergence = await converged(cluster, [...[...members.keys()].map((c) => `channel:${c}`), ...users.map((u) => `user:${u}`)], log).then(() => null, (err: Error) => err.message)
  const histories = new Map<string, Map<string, StoredMessage[]>>()
  for (const [channel, list] of members) {
    const byNode = new Map<string, StoredMessage[]>()
    for (const node of cluster.running()) byNode.set(node.id, await fullHistory(node.url, channel, tokens.get(list[0]!)!))
    histories.set(channel, byNode)
  }
  const inboxes = new Map<string, { events: InboxEvent[]; channels: string[] }>()
  const unreadable: string[] = []
  // Fan-out finishes after the heal, in the background, so inboxes are read again (for a bounded
  // time, all users together) until each holds every message of the user's channels. One that
  // still cannot be read (it points at a message its channel lost) or stays incomplete is a
  // violation.
  const started = Date.now()
  await Promise.all(users.map(async (u) => {
    const wanted = channelsOf.get(u)!.reduce((n, c) => n + (histories.get(c)?.values().next().value?.length ?? 0), 0)
    let events: InboxEvent[] | null = null
    let failure = ''
    await waitFor(async () => {
      try {
        events = await fullInbox(cluster.url(users.indexOf(u)), tokens.get(u)!)
        failure = ''
      } catch (err) {
        failure = (err as Error).message
        return false
      }
      return events.filter((e) => e.op === 'message').length >= wanted
    }, { timeout: Math.max(1000, started + 90_000 - Date.now()), every: 1000, what: `${u}'s inbox complete` }).catch(() => {
      log(`chaos: ${u}'s inbox ${events === null ? `unreadable (${failure})` : 'incomplete'} after ${((Date.now() - started) / 1000).toFixed(1)} s`)
    })
    if (events === null) unreadable.push(`${u}: inbox unreadable: ${failure}`)
    inboxes.set(u, { events: events ?? [], channels: events === null ? [] : channelsOf.get(u)! })
  }))
  log(`chaos: inboxes read ${((Date.now() - started) / 1000).toFixed(1)} s after the histories`)
  const result = check({ sends, histories, inboxes, faults })
  Object.assign(result.figures, await compactionFigures(cluster))
  if (unreadable.length > 0) {
    result.ok = false
    result.problems.unshift(...unreadable)
  }
  if (divergence) {
    result.ok = false
    result.problems.unshift(`replicas did not converge: ${divergence}`)
  }
  log(`chaos: seed ${options.seed} figures ${JSON.stringify(result.figures)}`)
  for (const p of summarize(result.problems).slice(0, 40)) log(`chaos: PROBLEM ${p}`)
  if (!result.ok) dumpLogs(cluster, log)
  return { ...result, seed: options.seed, faults, sends }
}

/**
 * What compaction did, summed over the running nodes' metrics (counters restart with a node, so
 * these are lower bounds): entries removed, and snapshots sent and installed.
 */
async function compactionFigures(cluster: TestCluster): Promise<Record<string, number>> {
  const out = { compactedEntries: 0, snapshotsSent: 0, snapshotsReceived: 0 }
  for (const node of cluster.running()) {
    const text = await fetch(`${node.url}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()).catch(() => '')
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0)
    out.compactedEntries += value(/^chat_replication_compacted_entries_total (\d+)/m)
    out.snapshotsSent += value(/^chat_replication_snapshots_total\{direction="sent"\} (\d+)/m)
    out.snapshotsReceived += value(/^chat_replication_snapshots_total\{direction="received"\} (\d+)/m)
  }
  return out
}

/** The warnings and errors each node logged, for a failed run. */
function dumpLogs(cluster: TestCluster, log: (s: string) => void): void {
  for (const node of cluster.nodes) {
    const p = node.proc
    log(`chaos: ${node.id} pid ${node.pid} ${p && (p.exitCode !== null || p.signalCode !== null) ? `exited (${p.exitCode ?? p.signalCode})` : 'running'}`)
    // Errors that are not the contract's (a bug's stack) first, then the latest warnings.
    const bugs = node.lines.filter((l) => /handler failed|request failed|"level":60|Error: (?!.*ChatError)/.test(l)).slice(-5)
    const lines = [...bugs, ...node.lines.filter((l) => /"level":(40|50)/.test(l) && !bugs.includes(l)).slice(-10)]
    for (const l of lines) log(`chaos: ${node.id} ${l.slice(0, 400)}`)
  }
}

/** One fault, healed before it returns. */
async function inject(cluster: TestCluster, rng: Rng, channels: string[]): Promise<Fault> {
  const kinds: Fault['kind'][] = ['kill', 'kill', 'kill', 'kill-wipe', 'pause', 'pause', 'nats-restart']
  const kind = rng.pick(kinds)
  if (kind === 'nats-restart') {
    const at = Date.now()
    await cluster.nats.restart()
    return { kind, node: null, at, healedAt: Date.now(), ownedChannels: [] }
  }
  const victim = rng.pick(cluster.running())
  const ownedChannels = await owned(cluster, victim.id, channels)
  const at = Date.now()
  if (kind === 'pause') {
    victim.signal('SIGSTOP')
    await sleep(rng.int(2000, 4000))
    victim.signal('SIGCONT')
    return { kind, node: victim.id, at, healedAt: Date.now(), ownedChannels }
  }
  await victim.kill()
  await sleep(rng.int(1500, 4000))
  if (kind === 'kill-wipe') rmSync(victim.dataDir, { recursive: true, force: true })
  await victim.launch(30_000)
  return { kind, node: victim.id, at, healedAt: Date.now(), ownedChannels }
}

/** The channels whose owner is one of `nodes` now. */
async function ownedByAny(cluster: TestCluster, nodes: string[], channels: string[]): Promise<string[]> {
  const all = await Promise.all(nodes.map((n) => owned(cluster, n, channels)))
  return [...new Set(all.flat())]
}

/** The channels whose owner is `node` now (first live member of the replica set). */
async function owned(cluster: TestCluster, node: string, channels: string[]): Promise<string[]> {
  const view = await (await fetch(`${cluster.url()}/v1/cluster`)).json() as { ringVersion: number; members: Array<{ id: string; live: boolean; http: string; grpc: string }> }
  const ring = new Ring({ version: view.ringVersion, members: view.members.map((m) => ({ id: m.id, http: m.http, grpc: m.grpc })) })
  const live = new Set(view.members.filter((m) => m.live).map((m) => m.id))
  return channels.filter((c) => ring.owner(`channel:${c}`, (id) => live.has(id), REPLICAS) === node)
}

/** Waits until every replica of every key reports the same applied position and state digest. */
async function converged(cluster: TestCluster, keys: string[], log: (s: string) => void): Promise<void> {
  const view = await (await fetch(`${cluster.url()}/v1/cluster`)).json() as { ringVersion: number; members: Array<{ id: string; http: string; grpc: string }> }
  const ring = new Ring({ version: view.ringVersion, members: view.members })
  const urls = new Map(cluster.running().map((n) => [n.id, n.url]))
  const started = Date.now()
  let apart: string[] = []
  await waitFor(async () => {
    apart = []
    for (const key of keys) {
      const reports = await Promise.all(ring.replicas(key, REPLICAS).map(async (id) => (await api(urls.get(id)!, 'GET', `/v1/internal/replica?key=${encodeURIComponent(key)}`, undefined, ADMIN_TOKEN)).body))
      if (!reports.every((r) => r && r.applied === reports[0].applied && r.digest === reports[0].digest && r.applied > 0)) {
        apart.push(`${key}: ${reports.map((r) => (r ? `${r.node} last ${r.last} commit ${r.commit} applied ${r.applied} promised ${r.promised?.n}/${r.promised?.node} ${String(r.digest).slice(0, 8)}` : 'no report')).join('; ')}`)
      }
    }
    return apart.length === 0
  }, { timeout: 90_000, every: 500, what: 'replicas converged' }).catch((err: Error) => {
    throw new Error(`${err.message}; apart: ${apart.slice(0, 5).join(' | ')}`)
  })
  log(`chaos: every replica set converged ${((Date.now() - started) / 1000).toFixed(1)} s after healing`)
}

/** Problems that differ only in their numbers, folded into one line with a count. */
function summarize(problems: string[]): string[] {
  const groups = new Map<string, { first: string; n: number }>()
  for (const p of problems) {
    const shape = p.replace(/\d+/g, '#')
    const g = groups.get(shape)
    if (g) g.n++
    else groups.set(shape, { first: p, n: 1 })
  }
  return [...groups.values()].map((g) => (g.n > 1 ? `${g.first} (and ${g.n - 1} more like it)` : g.first))
}
