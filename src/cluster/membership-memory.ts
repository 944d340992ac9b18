import type { Clock } from '../clock.js'
import { MembershipBase, type RecordChange } from './membership-base.js'
import {
  MembershipError, parseRecordValue, sortMembers,
  type Heartbeat, type MemberAddresses, type MemberInfo, type MembershipOptions, type RingRecord,
} from './membership.js'

interface BusEndpoint {
  heartbeat(hb: Heartbeat): void
  record(r: RingRecord): void
  connected(up: boolean): void
}

interface Attached { id: string; endpoint: BusEndpoint; clock: Clock }

export interface MemoryBusOptions {
  /** Delay of each delivery (ms); none by default (the next turn). */
  latencyMs?: () => number
  /** How long a member cut from the bus takes to notice (a NATS client's missed pings). */
  detectMs?: number
}

/**
 * The shared medium of in-process members: it stands for both the KV bucket (one versioned record,
 * compare-and-set) and the heartbeat subject. Deliveries are asynchronous, like a network's, and
 * run on the receiving member's clock (so a paused member receives nothing until it resumes). The
 * whole bus can go down (NATS restarted), or one member can be cut from it (a partition between a
 * node and NATS only): its heartbeats are lost, it hears nothing, its record changes fail, and
 * after `detectMs` it is told it lost the connection. One bus per cluster; nothing is global.
 */
export class MemoryBus {
  private version = 0
  private members: MemberInfo[] = []
  private readonly history: RingRecord[] = []
  private up = true
  private readonly cut = new Set<string>()
  private readonly endpoints = new Set<Attached>()

  constructor(private readonly options: MemoryBusOptions = {}) {}

  get connected(): boolean {
    return this.up
  }

  /** Whether member `id` reaches the bus now. */
  reaches(id: string): boolean {
    return this.up && !this.cut.has(id)
  }

  /** Simulates losing (or regaining) the bus for every member: heartbeats are dropped and record changes fail. */
  setConnected(up: boolean): void {
    if (up === this.up) return
    this.up = up
    for (const a of this.endpoints) if (!this.cut.has(a.id)) this.deliver(a, () => a.endpoint.connected(up))
  }

  /** Cuts member `id` from the bus, or heals the cut. */
  setCut(id: string, cut: boolean): void {
    if (cut === this.cut.has(id)) return
    if (cut) this.cut.add(id)
    else this.cut.delete(id)
    for (const a of this.endpoints) {
      if (a.id !== id || !this.up) continue
      if (cut) a.clock.setTimeout(() => { if (this.cut.has(id)) a.endpoint.connected(false) }, this.options.detectMs ?? 0)
      else this.deliver(a, () => a.endpoint.connected(true))
    }
  }

  /** The record, as member `by` reads it. */
  read(by?: string): RingRecord {
    this.reachable(by)
    return { version: this.version, members: this.members }
  }

  /** Replaces the record if it is still at `expected`; returns the new version. */
  compareAndSet(expected: number, members: MemberInfo[], by?: string): number {
    this.reachable(by)
    if (expected !== this.version) throw new MembershipError(`version conflict: expected ${expected}, at ${this.version}`)
    this.version++
    this.members = sortMembers(members)
    const record = { version: this.version, members: this.members }
    this.history.push(record)
    for (const a of this.endpoints) if (!this.cut.has(a.id)) this.deliver(a, () => a.endpoint.record(record))
    return this.version
  }

  /** The record in force just before `version`. */
  previous(version: number, by?: string): RingRecord {
    this.reachable(by)
    return [...this.history].reverse().find((r) => r.version < version) ?? { version: 0, members: [] }
  }

  publish(hb: Heartbeat): void {
    if (!this.reaches(hb.id)) return
    for (const a of this.endpoints) {
      if (this.cut.has(a.id)) continue
      const copy = { ...hb }
      this.deliver(a, () => a.endpoint.heartbeat(copy))
    }
  }

  attach(id: string, endpoint: BusEndpoint, clock: Clock): () => void {
    const a: Attached = { id, endpoint, clock }
    this.endpoints.add(a)
    return () => this.endpoints.delete(a)
  }

  private reachable(by: string | undefined): void {
    if (!this.up || (by !== undefined && this.cut.has(by))) throw new MembershipError('bus unreachable')
  }

  private deliver(a: Attached, fn: () => void): void {
    const delay = this.options.latencyMs?.() ?? 0
    if (delay > 0) a.clock.setTimeout(fn, delay)
    else a.clock.setImmediate(fn)
  }
}

export interface MemoryMembershipOptions extends MembershipOptions {
  bus: MemoryBus
  opTimeoutMs?: number
}

/**
 * Membership for several members in one process, sharing a MemoryBus. Same contract and same
 * liveness rules as NatsMembership (both build on MembershipBase), without sockets or servers.
 */
export class MemoryMembership extends MembershipBase {
  private readonly bus: MemoryBus
  private detach: (() => void) | undefined

  constructor(opts: MemoryMembershipOptions) {
    super(opts)
    this.bus = opts.bus
  }

  async start(addresses?: MemberAddresses): Promise<void> {
    if (this.started) throw new MembershipError('start() may be called once')
    this.bind(addresses)
    this.started = true
    this.detach = this.bus.attach(this.self.id, {
      heartbeat: (hb) => { if (!this.abort.signal.aborted) this.onHeartbeat(hb) },
      record: (r) => this.setRecord(r),
      connected: (up) => {
        if (this.abort.signal.aborted) return
        this.setConnected(up)
        if (up) this.refresh().catch(() => undefined)
      },
    }, this.clock)
    this.startTimers()
    if (!this.bus.reaches(this.self.id)) this.setConnected(false)
    await this.join()
  }

  async refresh(): Promise<RingRecord> {
    await this.retry('refresh', this.opDeadline(), async () => this.setRecord(this.bus.read(this.self.id)))
    return this.record
  }

  async previous(version: number): Promise<RingRecord> {
    return this.retry('previous', this.opDeadline(), async () => this.bus.previous(version, this.self.id))
  }

  protected sendHeartbeat(hb: Heartbeat): void {
    this.bus.publish(hb)
  }

  protected async flushHeartbeats(): Promise<void> {}

  protected async compareAndSet(_what: string, change: RecordChange): Promise<void> {
    // Read, change and write happen in one synchronous step, so the bus never sees a conflict here.
    const current = this.bus.read(this.self.id)
    this.setRecord(current)
    const next = change(current.members)
    if (next === null) return
    this.setRecord(parseRecordValue(this.bus.compareAndSet(current.version, next, this.self.id), { members: next }))
  }

  protected async closeTransport(): Promise<void> {
    this.detach?.()
  }
}
