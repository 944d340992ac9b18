/**
 * Pushes frames to devices wherever their sockets are: straight into this node's sessions, and
 * for other nodes gathered for one tick and sent as one batch per node. Never blocks; a lost push
 * is repaired by the device's next sync (its inboxSeq shows the gap).
 *
 * Bounded: at most MAX_IN_FLIGHT_BYTES of pushes to one node may be awaiting its answer. A node
 * that is slow or unreachable (but not yet declared dead) would otherwise collect a batch per tick
 * for up to the push deadline; past the bound, pushes to it are dropped and counted.
 */
import type { Logger } from 'pino'
import type { Pusher } from '../actors/env.js'
import type { DeviceRef } from '../actors/messages.js'
import type { Clock } from '../clock.js'
import type { LocalSessions } from './local-sessions.js'
import type { PushBatch, Transport } from './transport.js'
import type { ClusterView } from './view.js'

const PUSH_DEADLINE_MS = 5000
export const MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024

export class ClusterPusher implements Pusher {
  private readonly outgoing = new Map<string, PushBatch['pushes']>()
  private scheduled = false
  private readonly inFlight = new Map<string, number>()

  constructor(
    private readonly view: ClusterView,
    private readonly sessions: LocalSessions,
    private readonly transport: Transport,
    private readonly log: Logger,
    private readonly clock: Clock,
    /** Called with the number of pushes dropped by the bound (for the metric). */
    private readonly onDropped: (pushes: number) => void = () => {},
  ) {}

  push(devices: readonly DeviceRef[], frame: string): void {
    const byNode = new Map<string, string[]>()
    for (const d of devices) (byNode.get(d.node) ?? byNode.set(d.node, []).get(d.node)!).push(d.sessionId)
    for (const [node, sessions] of byNode) {
      if (node === this.view.self) {
        this.sessions.push(sessions, frame)
        continue
      }
      const list = this.outgoing.get(node) ?? this.outgoing.set(node, []).get(node)!
      list.push({ sessions, frame })
    }
    if (this.outgoing.size > 0 && !this.scheduled) {
      this.scheduled = true
      this.clock.setImmediate(() => this.flush())
    }
  }

  private flush(): void {
    this.scheduled = false
    for (const [node, pushes] of this.outgoing) {
      const address = this.view.address(node)
      if (!address || !this.view.isLive(node)) continue
      let bytes = 0
      for (const p of pushes) bytes += p.frame.length + 40 * p.sessions.length
      const busy = this.inFlight.get(node) ?? 0
      if (busy > 0 && busy + bytes > MAX_IN_FLIGHT_BYTES) {
        this.onDropped(pushes.length)
        this.log.debug({ node, busy }, 'pushes to a slow node dropped; devices will sync')
        continue
      }
      this.inFlight.set(node, busy + bytes)
      this.transport.peer(address).push({ pushes }, PUSH_DEADLINE_MS)
        .catch((err) => this.log.debug({ err, node }, 'push to node failed; devices will sync'))
        .finally(() => {
          const left = (this.inFlight.get(node) ?? bytes) - bytes
          if (left > 0) this.inFlight.set(node, left)
          else this.inFlight.delete(node)
        })
    }
    this.outgoing.clear()
  }
}
