import { type Clock, type TimerHandle, sleep, systemClock } from '../clock.js'
import { type Random, systemRandom } from '../random.js'
import { LivenessView } from './liveness.js'
import {
  MEMBERSHIP_DEFAULTS, MembershipError, sameMemberInfo, silentLogger, toMemberInfo, validateCluster, withMember,
  withoutMember,
  type Heartbeat, type LiveMember, type MemberAddresses, type MemberInfo, type MemberLoad, type Membership, type MembershipEvent,
  type MembershipLogger, type MembershipOptions, type RingRecord,
} from './membership.js'

/** Returns the new member list, or null when the record needs no change. */
export type RecordChange = (members: MemberInfo[]) => MemberInfo[] | null

/**
 * What the NATS and in-memory implementations share: heartbeat and sweep timers, the liveness
 * view, the local copy of the record (versions only move forward), events, and the record
 * changes expressed as compare-and-set edits. A subclass supplies the transport: how heartbeats
 * travel, how one compare-and-set is attempted, and how the record is read.
 */
export abstract class MembershipBase implements Membership {
  private me: MemberInfo
  protected readonly heartbeatMs: number
  protected readonly deadAfterMs: number
  protected readonly log: MembershipLogger
  protected readonly clock: Clock
  protected readonly random: Random
  protected readonly now: () => number
  protected readonly abort = new AbortController()
  protected view: LivenessView
  protected record: RingRecord = { version: 0, members: [] }
  protected leaving = false
  protected started = false
  private readonly listeners = new Set<(e: MembershipEvent) => void>()
  private readonly timers: TimerHandle[] = []
  private load: MemberLoad = { connections: 0, actors: 0 }
  private autoRemoving = false

  constructor(protected readonly options: MembershipOptions & { opTimeoutMs?: number }) {
    validateCluster(options.cluster)
    const { id, region, incarnation, http, grpc } = options.self
    if (typeof id !== 'string' || id.length === 0) throw new TypeError('self needs a non-empty id')
    this.me = { id, http: http ?? '', grpc: grpc ?? '', ...(region ? { region } : {}), ...(incarnation ? { incarnation } : {}) }
    this.heartbeatMs = options.heartbeatMs ?? MEMBERSHIP_DEFAULTS.heartbeatMs
    this.deadAfterMs = options.deadAfterMs ?? MEMBERSHIP_DEFAULTS.deadAfterMs
    this.log = options.logger ?? silentLogger
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? systemRandom
    this.now = () => this.clock.now()
    this.view = new LivenessView(id, this.deadAfterMs, this.now)
  }

  get self(): MemberInfo {
    return this.me
  }

  /** Takes the addresses `start` was given; this member may not join without both. */
  protected bind(addresses: MemberAddresses | undefined): void {
    const self = toMemberInfo({ ...this.me, ...addresses })
    if (self === undefined) throw new TypeError('a member needs non-empty http and grpc addresses to start')
    this.me = self
  }

  abstract start(addresses?: MemberAddresses): Promise<void>
  abstract refresh(): Promise<RingRecord>
  abstract previous(version: number): Promise<RingRecord>
  /** Sends one heartbeat; may drop it silently while disconnected. */
  protected abstract sendHeartbeat(hb: Heartbeat): void
  /** Resolves once sent heartbeats have left this process, as far as the transport can tell. */
  protected abstract flushHeartbeats(): Promise<void>
  /** Applies `change` to the current record by compare-and-set, retrying conflicts itself. */
  protected abstract compareAndSet(what: string, change: RecordChange): Promise<void>
  protected abstract closeTransport(): Promise<void>

  ring(): RingRecord {
    return this.record
  }

  live(): LiveMember[] {
    const peers = this.view.live()
    if (!this.isLive(this.self.id)) return peers
    return [{ ...this.self, ...this.load, lastSeen: this.now(), leaving: false }, ...peers]
  }

  isLive(id: string): boolean {
    if (id === this.self.id) return this.started && !this.abort.signal.aborted && !this.leaving
    return this.view.isLive(id)
  }

  on(listener: (e: MembershipEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  setLoad(load: MemberLoad): void {
    this.load = { connections: load.connections, actors: load.actors }
  }

  async leave(): Promise<void> {
    this.leaving = true
    this.heartbeat()
    await this.flushHeartbeats().catch(() => undefined)
    await this.retry('leave', this.opDeadline(), () => this.compareAndSet('leave', (members) =>
      members.some((m) => m.id === this.self.id) ? withoutMember(members, this.self.id) : null))
    this.log.info({ id: this.self.id, version: this.record.version }, 'left the ring record')
  }

  async remove(id: string): Promise<void> {
    await this.retry(`remove ${id}`, this.opDeadline(), () => this.compareAndSet(`remove ${id}`, (members) =>
      members.some((m) => m.id === id) ? withoutMember(members, id) : null))
    this.log.info({ id, version: this.record.version }, 'removed a member from the ring record')
  }

  async stop(): Promise<void> {
    if (this.abort.signal.aborted) return
    this.abort.abort()
    for (const t of this.timers) this.clock.clearInterval(t)
    await this.closeTransport().catch((err) => this.log.warn({ err }, 'closing the membership transport failed'))
  }

  /** Heartbeats start before the join, so peers see a joining member before the record has it. */
  protected startTimers(): void {
    this.view = new LivenessView(this.self.id, this.deadAfterMs, this.now)
    this.heartbeat()
    this.timers.push(this.clock.setInterval(() => this.heartbeat(), this.heartbeatMs))
    const sweepMs = Math.max(10, Math.min(this.heartbeatMs, this.deadAfterMs / 4))
    this.timers.push(this.clock.setInterval(() => this.sweep(), sweepMs))
  }

  /**
   * Joins, or refreshes this member's addresses, until the local record contains self. First it
   * hears the record's members: once in the record, peers send it actors at once, and a member it
   * has not heard yet would count as down to it (it would place their keys elsewhere and fail
   * pushes to their sockets).
   */
  protected async join(): Promise<void> {
    await this.hearMembers()
    // Until the record holds this member as it is now: a node back with new addresses or a new
    // incarnation (wiped or restored disk) must update its entry, not just find its id there.
    while (!this.record.members.some((m) => m.id === this.self.id && sameMemberInfo(m, this.self))) {
      await this.retry('join', Infinity, () => this.compareAndSet('join', (members) => {
        const mine = members.find((m) => m.id === this.self.id)
        return mine !== undefined && sameMemberInfo(mine, this.self) ? null : withMember(members, this.self)
      }))
    }
    this.log.info({ id: this.self.id, version: this.record.version }, 'joined the ring record')
  }

  /**
   * Waits until every other member of the record has been heard (peers answer a newcomer's first
   * heartbeat at once, see onHeartbeat), for at most `deadAfterMs`: one not heard by then would be
   * down by the liveness rules anyway, and is judged so.
   */
  private async hearMembers(): Promise<void> {
    await this.refresh().catch(() => undefined)
    const deadline = this.now() + this.deadAfterMs
    const unheard = () => this.record.members.filter((m) => m.id !== this.self.id && this.view.known(m.id) === undefined)
    while (unheard().length > 0 && this.now() < deadline) {
      if (this.abort.signal.aborted) throw new MembershipError('join: membership stopped')
      await sleep(this.clock, Math.min(25, this.heartbeatMs), this.abort.signal).catch(() => undefined)
    }
    const missing = unheard().map((m) => m.id)
    if (missing.length > 0) this.log.warn({ missing }, 'joining without having heard these members; they count as down until they speak')
  }

  /** A member heard for the first time (or back) is answered at once rather than at the next beat. */
  protected onHeartbeat(hb: Heartbeat): void {
    const events = this.view.observe(hb)
    for (const e of events) this.emit(e)
    if (events.some((e) => e.type === 'up')) this.heartbeat()
  }

  protected setConnected(connected: boolean): void {
    this.view.setConnected(connected)
    if (connected) this.heartbeat()
    this.emit({ type: 'nats', connected })
  }

  /** Adopts a record if it is newer than the one held. */
  protected setRecord(next: RingRecord): void {
    if (next.version <= this.record.version) return
    this.record = next
    this.emit({ type: 'ring', ring: next })
  }

  protected emit(e: MembershipEvent): void {
    for (const l of this.listeners) {
      try {
        l(e)
      } catch (err) {
        this.log.error({ err, event: e.type }, 'membership listener threw')
      }
    }
  }

  protected opDeadline(): number {
    return this.now() + (this.options.opTimeoutMs ?? 10_000)
  }

  /** Retries `op` with capped exponential backoff until it succeeds, the deadline passes or stop(). */
  protected async retry<T>(what: string, deadline: number, op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.abort.signal.aborted) throw new MembershipError(`${what}: membership stopped`)
      try {
        return await op()
      } catch (err) {
        if (this.abort.signal.aborted) throw new MembershipError(`${what}: membership stopped`, { cause: err })
        if (this.now() >= deadline) throw new MembershipError(`${what}: the store stayed unreachable`, { cause: err })
        this.log.warn({ err, attempt }, `${what} failed; retrying`)
        const backoff = Math.min(2000, 50 * 2 ** Math.min(attempt, 6)) * (0.5 + this.random.next() / 2)
        await sleep(this.clock, backoff, this.abort.signal)
      }
    }
  }

  private heartbeat(): void {
    if (!this.started || this.abort.signal.aborted) return
    this.sendHeartbeat({ ...this.self, ...this.load, leaving: this.leaving })
  }

  private sweep(): void {
    for (const e of this.view.sweep()) this.emit(e)
    this.autoRemove()
  }

  /** The lowest-id live member removes record members that stayed down for autoRemoveAfterMs. */
  private autoRemove(): void {
    const after = this.options.autoRemoveAfterMs
    if (after === undefined || this.autoRemoving || !this.isLive(this.self.id) || this.view.frozen()) return
    if (this.view.live().some((m) => m.id < this.self.id)) return
    const overdue = (id: string) =>
      id !== this.self.id && !this.view.isLive(id) && this.view.silentFor(id) > this.deadAfterMs + after
    const victim = this.record.members.find((m) => overdue(m.id))
    if (victim === undefined) return
    this.autoRemoving = true
    this.log.warn({ id: victim.id, silentMs: this.view.silentFor(victim.id) }, 'removing a long-down member')
    this.retry(`auto-remove ${victim.id}`, this.opDeadline(), () => this.compareAndSet(`auto-remove ${victim.id}`,
      (members) => (members.some((m) => m.id === victim.id) && overdue(victim.id) ? withoutMember(members, victim.id) : null)))
      .catch((err) => this.log.warn({ err, id: victim.id }, 'auto-remove failed'))
      .finally(() => { this.autoRemoving = false })
  }
}
