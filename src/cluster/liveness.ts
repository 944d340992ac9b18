import type { Heartbeat, LiveMember, MembershipEvent } from './membership.js'

interface Peer extends LiveMember {
  alive: boolean
}

/**
 * The liveness rules every Membership implementation shares, kept free of I/O and timers so the
 * NATS and in-memory implementations cannot drift apart. The owner feeds it heartbeats, bus
 * connectivity and periodic sweeps, and emits the events it returns.
 *
 * A peer is down when nothing was heard from it for `deadAfterMs`, counted from the later of its
 * last heartbeat and the last time this observer regained contact. Contact is lost when the bus
 * reports a disconnect, and also when this member's own heartbeats stop coming back to it: a
 * stalled event loop or a half-open connection then freezes the view instead of killing everyone.
 */
export class LivenessView {
  private readonly peers = new Map<string, Peer>()
  private connected = true
  /** Liveness is judged from here on; moves forward whenever contact is regained. */
  private graceFrom: number
  private selfEchoAt: number | undefined
  private echoLost = false

  constructor(
    private readonly selfId: string,
    private readonly deadAfterMs: number,
    private readonly now: () => number,
  ) {
    this.graceFrom = now()
  }

  /** Applies one heartbeat; returns the events it causes. */
  observe(hb: Heartbeat): MembershipEvent[] {
    const now = this.now()
    if (hb.id === this.selfId) {
      this.selfEchoAt = now
      if (this.echoLost) {
        this.echoLost = false
        this.graceFrom = now
      }
      return []
    }
    const prev = this.peers.get(hb.id)
    const alive = !hb.leaving
    const peer: Peer = { ...hb, lastSeen: now, alive }
    if (hb.region === undefined) delete peer.region
    this.peers.set(hb.id, peer)
    if (prev?.alive === true && !alive) return [{ type: 'down', id: hb.id }]
    if (prev?.alive !== true && alive) return [{ type: 'up', member: toLive(peer) }]
    return []
  }

  /** Declares silent peers down, unless the view is frozen. */
  sweep(): MembershipEvent[] {
    if (this.frozen()) return []
    const events: MembershipEvent[] = []
    for (const peer of this.peers.values()) {
      if (peer.alive && this.silentFor(peer.id) > this.deadAfterMs) {
        peer.alive = false
        events.push({ type: 'down', id: peer.id })
      }
    }
    return events
  }

  /** Bus connectivity. Regaining it restarts every peer's grace period. */
  setConnected(connected: boolean): void {
    if (connected && !this.connected) this.graceFrom = this.now()
    this.connected = connected
  }

  /** True while liveness must not change: disconnected, or our own heartbeats are not returning. */
  frozen(): boolean {
    if (!this.connected) return true
    if (!this.echoLost && this.now() - Math.max(this.selfEchoAt ?? 0, this.graceFrom) > this.deadAfterMs) {
      this.echoLost = true
    }
    return this.echoLost
  }

  /**
   * How long this observer has fairly waited for the member: since its last heartbeat (or since
   * the view was created, for a member never heard), but never from before contact was regained.
   */
  silentFor(id: string): number {
    const last = this.peers.get(id)?.lastSeen ?? 0
    return this.now() - Math.max(last, this.graceFrom)
  }

  isLive(id: string): boolean {
    return this.peers.get(id)?.alive === true
  }

  live(): LiveMember[] {
    return [...this.peers.values()].filter((p) => p.alive).map(toLive)
  }

  /** Any member heard from, alive or not: addresses of members not (yet) in the record. */
  known(id: string): LiveMember | undefined {
    const p = this.peers.get(id)
    return p === undefined ? undefined : toLive(p)
  }
}

function toLive(p: Peer): LiveMember {
  const { alive: _alive, ...rest } = p
  return rest
}
