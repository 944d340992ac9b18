/**
 * Gathers the replication requests this node sends within one tick into one request per
 * destination node (`repl.batch`): under load many actors' owners append at once, and one gRPC
 * call carrying them all costs far less than one each.
 */
import type { Clock } from '../../clock.js'
import { errors, fromWire } from '../../errors.js'
import type { PeerClient, Reply } from '../transport.js'
import { PEER_KINDS } from './types.js'

interface Waiting { kind: string; body: unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }

export interface BatcherDeps {
  self: string
  peer(node: string): PeerClient | undefined
  ringVersion(): number
  timeoutMs: number
  clock: Clock
}

export class ReplicationBatcher {
  private readonly queues = new Map<string, Waiting[]>()
  private scheduled = false

  constructor(private readonly deps: BatcherDeps) {}

  call<T>(node: string, kind: string, body: unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const queue = this.queues.get(node) ?? this.queues.set(node, []).get(node)!
      queue.push({ kind, body, resolve: resolve as (v: unknown) => void, reject })
      if (!this.scheduled) {
        this.scheduled = true
        this.deps.clock.setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    for (const [node, waiting] of this.queues) void this.send(node, waiting)
    this.queues.clear()
  }

  private async send(node: string, waiting: Waiting[]): Promise<void> {
    const client = this.deps.peer(node)
    if (!client) {
      for (const w of waiting) w.reject(errors.unavailable(`no address for node ${node}`))
      return
    }
    try {
      const reply = await client.peer({
        kind: PEER_KINDS.batch, body: { requests: waiting.map((w) => ({ kind: w.kind, body: w.body })) },
        ringVersion: this.deps.ringVersion(), from: this.deps.self,
      }, this.deps.timeoutMs)
      if (!reply.ok) throw fromWire(reply.error)
      const replies = reply.body as Reply[]
      waiting.forEach((w, i) => {
        const r = replies[i]
        if (r?.ok) w.resolve(r.body)
        else w.reject(errors.unavailable(`${w.kind} refused by ${node}: ${r ? r.error.message : 'no reply'}`))
      })
    } catch (err) {
      const e = errors.unavailable(`replication batch to ${node} failed: ${(err as Error).message}`, err)
      for (const w of waiting) w.reject(e)
    }
  }
}
