/**
 * The WebSocket sessions of this node: where pushes for local devices land, and the presence
 * clock. Liveness is tracked here, per frame, without telling anyone; a user actor hears only when
 * a device connects, goes silent past the presence timeout, speaks again, or disconnects.
 */
import { type Clock, type TimerHandle, systemClock } from '../clock.js'
import type { LocalSessions } from '../cluster/local-sessions.js'
import { CLOSE_CODES } from '../protocol/frames.js'
import type { DeviceSession } from './device-session.js'

export class SessionRegistry implements LocalSessions {
  private readonly sessions = new Map<string, DeviceSession>()
  private readonly sweeper: TimerHandle
  private lastSweepAt: number
  constructor(
    private readonly presenceTimeoutMs: number,
    private readonly clock: Clock = systemClock,
    /** Told how many sockets each resync request closed (for the metric). */
    private readonly onResync: (closed: number) => void = () => {},
  ) {
    // At most a second apart: token expiry is enforced by this sweep too.
    const every = Math.max(20, Math.min(1000, Math.floor(presenceTimeoutMs / 4)))
    this.lastSweepAt = clock.now()
    this.sweeper = clock.setInterval(() => this.sweep(every), every)
    this.sweeper.unref()
  }

  get size(): number {
    return this.sessions.size
  }

  add(session: DeviceSession): void {
    this.sessions.set(session.id, session)
  }

  has(sessionId: string): boolean {
    return this.sessions.has(sessionId)
  }

  remove(session: DeviceSession): void {
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id)
  }

  /** Pushes one pre-serialized frame to the named local sessions; unknown ids are gone already. */
  push(sessionIds: readonly string[], frame: string): void {
    for (const id of sessionIds) this.sessions.get(id)?.push(frame)
  }

  /**
   * Closes the named local sessions with 1013: pushes meant for them may have been lost between
   * nodes, and a device that reconnects syncs from its cursor. Returns how many were open.
   */
  resync(sessionIds: readonly string[]): number {
    let closed = 0
    for (const id of sessionIds) {
      const s = this.sessions.get(id)
      if (!s) continue
      s.close(CLOSE_CODES.TRY_AGAIN_LATER, 'pushes were lost; reconnect and sync')
      closed++
    }
    this.onResync(closed)
    return closed
  }

  all(): DeviceSession[] {
    return [...this.sessions.values()]
  }

  /** Closes every socket with `code` (1012 when the node leaves) and stops the presence clock. */
  closeAll(code: number, reason: string): void {
    this.clock.clearInterval(this.sweeper)
    for (const s of this.sessions.values()) s.close(code, reason)
  }

  private sweep(every: number): void {
    const now = this.clock.now()
    // A late sweep means this process was stalled, and frames that arrived meanwhile are still
    // unread: the stall is not the devices' silence, so it does not count against them.
    const lateBy = Math.max(0, now - this.lastSweepAt - every)
    this.lastSweepAt = now
    const cutoff = now - this.presenceTimeoutMs - lateBy
    for (const s of this.sessions.values()) {
      // A token that expired closes its socket (4401) at the next sweep, within a second.
      if (s.expiresAt <= now) s.expire('token expired')
      else if (s.live && s.lastFrameAt < cutoff) s.markIdle()
    }
  }
}
