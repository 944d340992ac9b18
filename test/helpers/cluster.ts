/**
 * A real cluster for tests: one nats-server with JetStream and a few `bin/chat-node` processes,
 * all on 127.0.0.1 with free ports and temp data dirs, all killed in the test's teardown.
 */
import type { Network } from './netns.js'
import { NodeProcess } from './node-process.js'
import { startNats, type NatsServer } from './nats.js'
import { waitFor } from './wait.js'

interface Teardown { teardown(fn: () => unknown): void }

export const SECRET = 'test-cluster-secret-0123456789'
/** The admin token of every test cluster node (`/v1/internal/*`). */
export const ADMIN_TOKEN = 'test-cluster-admin-token-0123456789'

export interface ClusterOptions {
  nodes: number
  replicas?: number
  /** Extra flags for every node. */
  args?: string[]
  heartbeatMs?: number
  deadAfterMs?: number
  /** Runs nats-server and every node in a namespace of its own on this network (host names `nats`, `n1`...). */
  network?: Network
}

export class TestCluster {
  readonly nodes: NodeProcess[] = []

  private constructor(private readonly t: Teardown, readonly nats: NatsServer, private readonly options: ClusterOptions) {}

  static async start(t: Teardown, options: ClusterOptions): Promise<TestCluster> {
    const net = options.network
    const natsHost = net?.addHost('nats')
    const nats = await startNats(natsHost ? { host: natsHost.ip, wrap: net!.exec('nats') } : undefined)
    t.teardown(() => nats.stop())
    const cluster = new TestCluster(t, nats, options)
    // One at a time: each join is a compare-and-set on the ring record; in parallel they only retry.
    for (let i = 1; i <= options.nodes; i++) await cluster.add(`n${i}`)
    await cluster.settled()
    return cluster
  }

  /** Starts (and adds to the ring) a node with this id. */
  async add(id: string, dataDir?: string): Promise<NodeProcess> {
    const o = this.options
    const host = o.network?.addHost(id)
    const node = await NodeProcess.start(this.t, {
      id, nats: this.nats.url, secret: SECRET, ...(dataDir ? { dataDir } : {}),
      ...(host ? { host: host.ip, wrap: o.network!.exec(id) } : {}),
      args: ['--admin-token', ADMIN_TOKEN, '--replicas', String(o.replicas ?? 3), '--heartbeat-ms', String(o.heartbeatMs ?? 200), '--dead-after-ms', String(o.deadAfterMs ?? 1000), ...(o.args ?? [])],
    })
    const at = this.nodes.findIndex((n) => n.id === id)
    if (at >= 0) this.nodes[at] = node
    else this.nodes.push(node)
    return node
  }

  node(id: string): NodeProcess {
    const n = this.nodes.find((x) => x.id === id)
    if (!n) throw new Error(`no node ${id}`)
    return n
  }

  running(): NodeProcess[] {
    return this.nodes.filter((n) => n.proc && n.proc.exitCode === null && n.proc.signalCode === null)
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
    }, { timeout, every: 100, what: `ring of ${want.join(',')} settled` })
  }
}
