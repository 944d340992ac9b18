/**
 * A simulated cluster in one process, on virtual time: nodes (real NodeCore code) over an in-memory
 * disk each, the memory network and bus run by the virtual clock, and the means to hurt them:
 * crash a node (its process stops dead: timers, storage handle, network endpoint), restart it on
 * the same disk or a wiped one, pause it, cut links, cut it from the bus, fail its disk writes.
 *
 * Every node process is an owner on the virtual clock (`n1#2` is n1's second life), and everything
 * that reaches a process (a message, a client's request, a storage write's completion) is a timer
 * of that owner, so a paused process receives nothing and a dead one nothing ever again.
 */
import { pino, type Logger } from 'pino'
import { VirtualTime } from '../clock-virtual.js'
import { MemoryBus, MemoryMembership } from '../cluster/membership-memory.js'
import { MemoryNetwork, MemoryTransport } from '../cluster/transport-memory.js'
import { parseConfig } from '../config.js'
import { asChatError } from '../errors.js'
import { NodeCore } from '../node-core.js'
import { DEFAULT_PUSH_POLICY } from '../push/types.js'
import { SeededRandom } from '../random.js'
import { MemoryDisk, MemoryKv } from '../storage/memory-kv.js'
import { SimLinks } from './links.js'

export interface WorldOptions {
  seed: number
  nodes: number
  replicas: number
  heartbeatMs: number
  deadAfterMs: number
  repairIntervalMs: number
  passivateAfterMs: number
  /** Log compaction: how often, and the entries kept for a lagging replica (0: every lagging replica gets a snapshot). */
  compactIntervalMs: number
  compactMaxLag: number
  /** pino level for the nodes' logs (to stderr, stamped with virtual time); 'silent' by default. */
  logLevel?: string
}

/** What a client's request to a node came to. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string }

interface Process {
  owner: string
  kv: MemoryKv
  transport: MemoryTransport
  core: NodeCore | null
}

export class SimNode {
  disk = new MemoryDisk()
  process: Process | null = null
  lives = 0
  /** Probability that one storage write of this node fails (the disk-fail fault). */
  diskFailRate = 0

  constructor(readonly id: string) {}

  get address(): string {
    return `${this.id}:${GRPC_PORT}`
  }

  /** Up and serving (not crashed, not starting). A paused node is still up. */
  get up(): boolean {
    return this.process?.core?.serving === true
  }
}

const GRPC_PORT = 7000
/** Simulated users subscribe to no push service: notifications go nowhere. */
const NO_PUSH = { notifier: { operatorWebhook: false, submit() {}, cancel() {} }, policy: DEFAULT_PUSH_POLICY, stop() {} }
/** Token secret of the simulated cluster (never a real one). */
const SECRET = 'simulated-cluster-secret-0000000000'

export class World {
  readonly time = new VirtualTime()
  readonly rng: SeededRandom
  readonly links: SimLinks
  readonly network = new MemoryNetwork()
  readonly bus: MemoryBus
  readonly nodes: SimNode[]
  /** Failures of the harness itself (a node that could not start): reported with the violations. */
  readonly problems: string[] = []
  private readonly diskRng: SeededRandom

  constructor(readonly options: WorldOptions) {
    this.rng = new SeededRandom(options.seed)
    this.links = new SimLinks(this.rng.fork())
    this.diskRng = this.rng.fork()
    this.network.faults = this.links
    const links = this.links
    this.bus = new MemoryBus({ latencyMs: () => links.busDelay(), detectMs: 2 * options.deadAfterMs })
    this.nodes = Array.from({ length: options.nodes }, (_, i) => new SimNode(`n${i + 1}`))
  }

  node(id: string): SimNode {
    const n = this.nodes.find((x) => x.id === id)
    if (!n) throw new Error(`no node ${id}`)
    return n
  }

  /** Starts a process of `node` on its disk (a first start, or a restart after a crash). */
  launch(node: SimNode): void {
    if (node.process) throw new Error(`${node.id} is running`)
    const owner = `${node.id}#${++node.lives}`
    const clock = this.time.clock(owner)
    const kv = new MemoryKv(node.disk, { clock, failWrites: () => node.diskFailRate > 0 && this.diskRng.next() < node.diskFailRate })
    const transport = new MemoryTransport(this.network, clock)
    const process: Process = { owner, kv, transport, core: null }
    node.process = process
    const o = this.options
    const config = parseConfig([
      '--id', node.id, '--host', node.id, '--port', '0', '--grpc-port', String(GRPC_PORT), '--data-dir', `sim/${node.id}`,
      '--nats', 'memory://sim', '--secret', SECRET, '--replicas', String(o.replicas),
      '--heartbeat-ms', String(o.heartbeatMs), '--dead-after-ms', String(o.deadAfterMs), '--repair-interval-ms', String(o.repairIntervalMs),
      '--passivate-after-ms', String(o.passivateAfterMs), '--rate-limit', '1000000', '--rate-burst', '1000000',
      '--compact-interval-ms', String(o.compactIntervalMs), '--compact-max-lag', String(o.compactMaxLag),
    ], {})
    const log = this.logger(owner)
    const random = this.rng.fork()
    this.time.at(owner, 0, () => {
      void (async () => {
        const core = await NodeCore.create(config, {
          log, kv, clock, random, transport, push: () => NO_PUSH,
          membership: (self, own) => new MemoryMembership({
            bus: this.bus, cluster: config.cluster, self, heartbeatMs: config.heartbeatMs, deadAfterMs: config.deadAfterMs, logger: log, ...own,
          }),
        })
        process.core = core
        await core.start(`sim://${node.id}`)
      })().catch((err) => {
        if (node.process === process) this.problems.push(`${owner} failed to start: ${(err as Error).stack ?? err}`)
      })
    })
  }

  /** Kills `node`'s process: nothing it scheduled runs, its storage handle and endpoint go dead. */
  crash(node: SimNode): void {
    const p = node.process
    if (!p) return
    this.count(p)
    node.process = null
    this.time.halt(p.owner)
    p.kv.kill()
    void p.transport.close()
  }

  /** Log entries compacted away and snapshots installed, by every process so far (the dead ones' and the living ones'). */
  compaction(): { compactedEntries: number; snapshotsInstalled: number } {
    const out = { ...this.compactionOfDead }
    for (const node of this.nodes) {
      const stats = node.process?.core?.cluster?.stats()
      if (stats) {
        out.compactedEntries += stats.compactedEntries
        out.snapshotsInstalled += stats.snapshotsInstalled
      }
    }
    return out
  }

  private readonly compactionOfDead = { compactedEntries: 0, snapshotsInstalled: 0 }

  private count(p: Process): void {
    const stats = p.core?.cluster?.stats()
    if (!stats) return
    this.compactionOfDead.compactedEntries += stats.compactedEntries
    this.compactionOfDead.snapshotsInstalled += stats.snapshotsInstalled
  }

  /** A new, empty disk: the machine was replaced (same id, new incarnation). */
  wipe(node: SimNode): void {
    if (node.process) throw new Error(`${node.id} is running`)
    node.disk = new MemoryDisk()
  }

  pause(node: SimNode): void {
    if (node.process) this.time.pause(node.process.owner)
  }

  resume(node: SimNode): void {
    if (node.process) this.time.resume(node.process.owner)
  }

  isPaused(node: SimNode): boolean {
    return node.process !== null && this.time.isPaused(node.process.owner)
  }

  /**
   * A client's request to `node`'s gateway: it travels to the node (held while the node is paused,
   * lost if it is dead), runs there, and its answer travels back to the client. A node with no
   * process refuses the connection; no answer within `timeoutMs` is a timeout.
   */
  request<T>(client: string, node: SimNode, work: (core: NodeCore) => Promise<T>, timeoutMs: number): Promise<Outcome<T>> {
    const clock = this.time.clock(client)
    return new Promise((resolve) => {
      let done = false
      const finish = (outcome: Outcome<T>): void => {
        if (done) return
        done = true
        clock.clearTimeout(timer)
        resolve(outcome)
      }
      const timer = clock.setTimeout(() => finish({ ok: false, code: 'TIMEOUT' }), timeoutMs)
      const p = node.process
      const back = (outcome: Outcome<T>): void => void this.time.at(client, this.links.busDelay(), () => finish(outcome))
      if (!p) return back({ ok: false, code: 'CLOSED' })
      this.time.at(p.owner, this.links.busDelay(), () => {
        const core = p.core
        if (!core?.serving) return back({ ok: false, code: 'CLOSED' })
        work(core).then((value) => back({ ok: true, value }), (err) => back({ ok: false, code: asChatError(err).code }))
      })
    })
  }

  /** Nodes up now, in id order. */
  up(): SimNode[] {
    return this.nodes.filter((n) => n.up)
  }

  private logger(owner: string): Logger {
    const level = this.options.logLevel ?? 'silent'
    if (level === 'silent') return pino({ level, timestamp: false })
    const time = this.time
    return pino({ level, base: { node: owner }, timestamp: () => `,"vt":${time.now() - this.startedAt}` }, pino.destination({ fd: 2, sync: true }))
  }

  private readonly startedAt = this.time.now()
}
