/**
 * Pushes frames to devices wherever their sockets are: straight into this node's sessions, and
 * for other nodes gathered for one tick and sent as one batch per node. Never blocks; a lost push
 * is repaired by the device's next sync (its inboxSeq shows the gap).
 */
import type { Logger } from 'pino'
import type { Pusher } from '../actors/env.js'
import type { DeviceRef } from '../actors/messages.js'
import type { Clock } from '../clock.js'
import type { LocalSessions } from './local-sessions.js'
import type { PushBatch, Transport } from './transport.js'
import type { ClusterView } from './view.js'

const PUSH_DEADLINE_MS = 5000

export class ClusterPusher implements Pusher {
  private readonly outgoing = new Map<string, PushBatch['pushes']>()
  private scheduled = false

  constructor(
    private readonly view: ClusterView,
    private readonly sessions: LocalSessions,
    private readonly transport: Transport,
    private readonly log: Logger,
    private readonly clock: Clock,
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
      this.transport.peer(address).push({ pushes }, PUSH_DEADLINE_MS)
        .catch((err) => this.log.debug({ err, node }, 'push to node failed; devices will sync'))
    }
    this.outgoing.clear()
  }
}
