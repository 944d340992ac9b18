/**
 * Nodes in the test's own process, built from src/ (never a stale dist/): each a real ChatNode with
 * its real gateway on a free port of 127.0.0.1, so tests talk to it as clients do (HTTP and
 * WebSocket, through the SDK or raw frames), with its data in LevelDB in a temp dir. A cluster's
 * nodes share an in-memory membership bus and node-to-node network (MemoryBus, MemoryNetwork)
 * instead of NATS and gRPC; the real-process tests (node-process.ts, cluster.ts) prove those.
 *
 * Same surface as NodeProcess and TestCluster, so a test moves between them by its import. A kill
 * is a crash as far as one process allows: the node's timers stop, its sockets are cut, peers can
 * no longer reach it and its storage is closed as it is.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import webpush from 'web-push'
import { MemoryBus, MemoryMembership } from '../../src/cluster/membership-memory.js'
import { MemoryNetwork, MemoryTransport } from '../../src/cluster/transport-memory.js'
import { parseConfig } from '../../src/config.js'
import { ChatNode } from '../../src/node.js'
import { waitFor } from './wait.js'

interface Teardown { teardown(fn: () => unknown): void }

export const SECRET = 'test-cluster-secret-0123456789'
/** The admin token of every in-process cluster node (`/v1/internal/*`), as of the real test clusters. */
export const ADMIN_TOKEN = 'test-cluster-admin-token-0123456789'

/** The VAPID pair of in-process clusters: real ones share it through NATS, these have none. */
const VAPID = webpush.generateVAPIDKeys()

export interface InProcessOptions {
  id?: string
  dataDir?: string
  /** Extra flags, as the binary takes them, e.g. ['--presence-timeout-ms', '500']. */
  args?: string[]
  secret?: string
  /** Cluster nodes only: the shared medium of their cluster. */
  cluster?: { bus: MemoryBus; network: MemoryNetwork }
}

export interface ReadyLine { http: string; grpc: string | null; nodeId: string }

export class InProcessNode {
  node: ChatNode | null = null
  ready: ReadyLine | null = null
  readonly lines: string[] = []
  private port = 0

  private constructor(readonly options: InProcessOptions & { id: string; dataDir: string }) {}

  /** Starts a node and registers its crash and the removal of its data dir as teardown of `t`. */
  static async start(t: Teardown, options: InProcessOptions = {}): Promise<InProcessNode> {
    const id = options.id ?? `n${Math.random().toString(36).slice(2, 8)}`
    const ownDir = options.dataDir === undefined
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `chat-${id}-`))
    const node = new InProcessNode({ ...options, id, dataDir })
    t.teardown(async () => {
      await node.kill()
      if (ownDir) rmSync(dataDir, { recursive: true, force: true })
    })
    await node.launch()
    return node
  }

  get url(): string { return this.ready!.http }
  get wsUrl(): string { return this.ready!.http.replace(/^http/, 'ws') + '/ws' }
  get id(): string { return this.options.id }
  get dataDir(): string { return this.options.dataDir }
  get log(): string { return this.lines.join('\n') }
  get running(): boolean { return this.node !== null }

  /** Starts the node (again, on the same port and data dir after a stop or kill). */
  async launch(): Promise<void> {
    const o = this.options
    const cluster = o.cluster
    const argv = ['--id', o.id, '--host', '127.0.0.1', '--port', String(this.port), '--grpc-port', '0', '--data-dir', o.dataDir, ...(o.args ?? [])]
    if (cluster) argv.push('--nats', 'memory://in-process', '--vapid-public-key', VAPID.publicKey, '--vapid-private-key', VAPID.privateKey)
    if (o.secret ?? (cluster ? SECRET : undefined)) argv.push('--secret', o.secret ?? SECRET)
    const config = parseConfig(argv, {})
    const log = pino({ level: config.logLevel, base: { node: config.id }, timestamp: pino.stdTimeFunctions.epochTime }, {
      write: (line: string) => {
        if (this.lines.length > 20_000) this.lines.splice(0, 10_000)
        this.lines.push(line.trimEnd())
      },
    })
    this.ready = null
    this.node = await ChatNode.start(config, {
      log,
      ...(cluster ? {
        membership: (self, own) => new MemoryMembership({ bus: cluster.bus, cluster: config.cluster, self, heartbeatMs: config.heartbeatMs, deadAfterMs: config.deadAfterMs, logger: log, ...own }),
        transport: new MemoryTransport(cluster.network),
      } : {}),
    })
    const ready = this.lines.map((l) => JSON.parse(l) as ReadyLine & { msg: string }).find((l) => l.msg === 'ready')
    if (!ready) throw new Error(`node ${o.id} started without a ready line`)
    this.ready = { http: ready.http, grpc: ready.grpc, nodeId: ready.nodeId }
    this.port = Number(new URL(ready.http).port)
  }

  /** Graceful leave (what SIGTERM does); resolves like a process exiting 0. `_timeoutMs` as NodeProcess takes it. */
  async stop(_timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const node = this.node
    this.node = null
    await node?.stop()
    return { code: 0, signal: null }
  }

  /** A crash (what SIGKILL does, as far as a shared process allows). */
  async kill(): Promise<void> {
    const node = this.node
    this.node = null
    await node?.crash()
  }
}

export interface InProcessClusterOptions {
  nodes: number
  replicas?: number
  /** Extra flags for every node. */
  args?: string[]
  heartbeatMs?: number
  deadAfterMs?: number
}

/** A cluster of in-process nodes over one MemoryBus and MemoryNetwork. */
export class InProcessCluster {
  readonly nodes: InProcessNode[] = []
  readonly bus = new MemoryBus()
  readonly network = new MemoryNetwork()

  private constructor(private readonly t: Teardown, private readonly options: InProcessClusterOptions) {}

  static async start(t: Teardown, options: InProcessClusterOptions): Promise<InProcessCluster> {
    const cluster = new InProcessCluster(t, options)
    for (let i = 1; i <= options.nodes; i++) await cluster.add(`n${i}`)
    await cluster.settled()
    return cluster
  }

  /** Starts (and adds to the ring) a node with this id. */
  async add(id: string, dataDir?: string): Promise<InProcessNode> {
    const o = this.options
    const node = await InProcessNode.start(this.t, {
      id, ...(dataDir ? { dataDir } : {}), cluster: { bus: this.bus, network: this.network },
      args: ['--admin-token', ADMIN_TOKEN, '--replicas', String(o.replicas ?? 3), '--heartbeat-ms', String(o.heartbeatMs ?? 200), '--dead-after-ms', String(o.deadAfterMs ?? 1000), ...(o.args ?? [])],
    })
    const at = this.nodes.findIndex((n) => n.id === id)
    if (at >= 0) this.nodes[at] = node
    else this.nodes.push(node)
    return node
  }

  node(id: string): InProcessNode {
    const n = this.nodes.find((x) => x.id === id)
    if (!n) throw new Error(`no node ${id}`)
    return n
  }

  running(): InProcessNode[] {
    return this.nodes.filter((n) => n.running)
  }

  url(i = 0): string {
    return this.running()[i % this.running().length]!.url
  }

  /** Waits until every running node sees the same ring, listing `expected` (default: running ids), all live. */
  async settled(expected?: string[], timeout = 20_000): Promise<void> {
    const want = (expected ?? this.running().map((n) => n.id)).slice().sort()
    await waitFor(async () => {
      const views = await Promise.all(this.running().map(async (n) => (await fetch(`${n.url}/v1/cluster`)).json() as Promise<any>))
      return views.every((v) => {
        const members = v.members.map((m: any) => m.id).sort()
        return v.ringVersion === views[0].ringVersion && members.join() === want.join() && v.members.every((m: any) => m.live === this.running().some((n) => n.id === m.id))
      })
    }, { timeout, every: 50, what: `ring of ${want.join(',')} settled` })
  }
}
