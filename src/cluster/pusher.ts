/**
 * Pushes frames to devices wherever their sockets are: straight into this node's sessions, and
 * for other nodes gathered for one tick and sent as one batch per node.
 *
 * In order: one push call per node is in flight at a time, and what is pushed meanwhile waits and
 * leaves as one batch when it is answered. Concurrent calls could be handled out of order by the
 * receiving node, so a device would see a later inbox event before an earlier one (a gap, then a
 * repeat) and sync for nothing.
 *
 * Never silent: a push to another node that fails, times out, is dropped by the bound below or
 * cannot be sent (the node looks dead) may have left a live socket without an event of its inbox,
 * and a device only notices a missing event when a later one shows the gap. So the devices of
 * every such push are named to their node in a resync request, retried with backoff until that
 * node has it: the node closes those sockets with 1013, and each device reconnects and syncs from
 * its cursor. A node that never answers again has lost its sockets with it; the request is given
 * up after RESYNC_GIVE_UP_MS.
 *
 * Bounded: at most MAX_IN_FLIGHT_BYTES of pushes to one node may be awaiting its answer or waiting
 * behind the call in flight. A node
 * that is slow or unreachable (but not yet declared dead) would otherwise collect a batch per tick
 * for up to the push deadline; past the bound, pushes to it are dropped, counted and resynced.
 */
import type { Logger } from 'pino'
import type { Pusher } from '../actors/env.js'
import type { DeviceRef } from '../actors/messages.js'
import type { Clock, TimerHandle } from '../clock.js'
import type { Random } from '../random.js'
import type { LocalSessions } from './local-sessions.js'
import type { PushBatch, Transport } from './transport.js'
import type { ClusterView } from './view.js'

const PUSH_DEADLINE_MS = 5000
export const MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024
const RESYNC_FIRST_DELAY_MS = 50
const RESYNC_MAX_DELAY_MS = 2000
export const RESYNC_GIVE_UP_MS = 120_000

export interface PusherEvents {
  /** Pushes dropped by the in-flight bound. */
  dropped(pushes: number): void
  /** Pushes to another node that failed or could not be sent; their devices are resynced. */
  failed(pushes: number): void
  /** Resync requests given up on (the node never answered again). */
  abandoned(sessions: number): void
}

const noEvents: PusherEvents = { dropped: () => {}, failed: () => {}, abandoned: () => {} }

/** Sessions of one node waiting to be told to resync. */
interface Resync { sessions: Set<string>; since: number; attempts: number; timer: TimerHandle | null; sending: boolean }

export class ClusterPusher implements Pusher {
  private readonly outgoing = new Map<string, PushBatch['pushes']>()
  private scheduled = false
  /** Bytes of pushes to each node sent and not yet answered, or waiting behind such a call. */
  private readonly inFlight = new Map<string, number>()
  /** Pushes to a node that wait for its call in flight to be answered. */
  private readonly waiting = new Map<string, PushBatch['pushes']>()
  /** Nodes with a push call in flight. */
  private readonly sending = new Set<string>()
  private readonly resyncs = new Map<string, Resync>()
  private stopped = false

  constructor(
    private readonly view: ClusterView,
    private readonly sessions: LocalSessions,
    private readonly transport: Transport,
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly events: PusherEvents = noEvents,
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

  /** Stops retrying resync requests (the node is stopping). */
  stop(): void {
    this.stopped = true
    for (const r of this.resyncs.values()) if (r.timer) this.clock.clearTimeout(r.timer)
    this.resyncs.clear()
  }

  /** Sessions on other nodes still waiting to be told to resync (for tests and status). */
  get resyncBacklog(): number {
    let n = 0
    for (const r of this.resyncs.values()) n += r.sessions.size
    return n
  }

  private flush(): void {
    this.scheduled = false
    for (const [node, pushes] of this.outgoing) {
      if (!this.view.address(node) || !this.view.isLive(node)) {
        this.fail(node, pushes)
        continue
      }
      const bytes = bytesOf(pushes)
      const busy = this.inFlight.get(node) ?? 0
      if (busy > 0 && busy + bytes > MAX_IN_FLIGHT_BYTES) {
        this.events.dropped(pushes.length)
        this.log.debug({ node, busy }, 'pushes to a slow node dropped; its devices will resync')
        this.fail(node, pushes)
        continue
      }
      this.inFlight.set(node, busy + bytes)
      if (this.sending.has(node)) {
        const queue = this.waiting.get(node)
        if (queue) queue.push(...pushes)
        else this.waiting.set(node, pushes)
      } else {
        this.send(node, pushes, bytes)
      }
    }
    this.outgoing.clear()
  }

  /** One call to `node`; when it is answered, what waited behind it goes next. */
  private send(node: string, pushes: PushBatch['pushes'], bytes: number): void {
    const address = this.view.address(node)
    if (!address || !this.view.isLive(node) || this.stopped) {
      this.release(node, bytes)
      this.fail(node, pushes)
      return this.next(node)
    }
    this.sending.add(node)
    this.transport.peer(address).push({ pushes }, PUSH_DEADLINE_MS)
      .catch((err) => {
        this.log.debug({ err, node }, 'push to node failed; its devices will resync')
        this.fail(node, pushes)
      })
      .finally(() => {
        this.sending.delete(node)
        this.release(node, bytes)
        this.next(node)
      })
  }

  private next(node: string): void {
    const queue = this.waiting.get(node)
    if (!queue) return
    this.waiting.delete(node)
    this.send(node, queue, bytesOf(queue))
  }

  private release(node: string, bytes: number): void {
    const left = (this.inFlight.get(node) ?? bytes) - bytes
    if (left > 0) this.inFlight.set(node, left)
    else this.inFlight.delete(node)
  }

  private fail(node: string, pushes: PushBatch['pushes']): void {
    if (this.stopped) return
    this.events.failed(pushes.length)
    let r = this.resyncs.get(node)
    if (!r) this.resyncs.set(node, r = { sessions: new Set(), since: this.clock.now(), attempts: 0, timer: null, sending: false })
    for (const p of pushes) for (const s of p.sessions) r.sessions.add(s)
    if (!r.timer && !r.sending) this.schedule(node, r)
  }

  private schedule(node: string, r: Resync): void {
    const delay = Math.min(RESYNC_MAX_DELAY_MS, RESYNC_FIRST_DELAY_MS * 2 ** r.attempts)
    r.timer = this.clock.setTimeout(() => this.sendResync(node, r), Math.round(delay * (0.5 + this.random.next() / 2)))
    r.timer.unref()
  }

  private sendResync(node: string, r: Resync): void {
    r.timer = null
    if (this.stopped || this.resyncs.get(node) !== r) return
    if (this.clock.now() - r.since > RESYNC_GIVE_UP_MS) {
      this.resyncs.delete(node)
      this.events.abandoned(r.sessions.size)
      this.log.warn({ node, sessions: r.sessions.size }, 'gave up telling an unreachable node to resync its devices')
      return
    }
    const address = this.view.address(node)
    // A node no record names any more has left, and its sockets were closed with it.
    if (!address) { this.resyncs.delete(node); return }
    r.attempts++
    const sessions = [...r.sessions]
    r.sessions.clear()
    r.sending = true
    this.transport.peer(address).push({ pushes: [], resync: sessions }, PUSH_DEADLINE_MS).then(
      () => {
        r.sending = false
        if (r.sessions.size === 0) this.resyncs.delete(node)
        else { r.attempts = 0; r.since = this.clock.now(); this.schedule(node, r) }
      },
      (err: unknown) => {
        r.sending = false
        this.log.debug({ err, node }, 'resync request failed; retrying')
        for (const s of sessions) r.sessions.add(s)
        this.schedule(node, r)
      },
    )
  }
}

/** What a batch of pushes counts against the in-flight bound: frames plus session ids. */
function bytesOf(pushes: PushBatch['pushes']): number {
  let bytes = 0
  for (const p of pushes) bytes += p.frame.length + 40 * p.sessions.length
  return bytes
}
