import { MembershipBase, type RecordChange } from './membership-base.js'
import {
  MembershipError, parseRecordValue, sortMembers,
  type Heartbeat, type MemberInfo, type MembershipOptions, type RingRecord,
} from './membership.js'

interface BusEndpoint {
  heartbeat(hb: Heartbeat): void
  record(r: RingRecord): void
  connected(up: boolean): void
}

/**
 * The shared medium of in-process members: it stands for both the KV bucket (one versioned record,
 * compare-and-set) and the heartbeat subject. Deliveries are asynchronous, like a network's, and in
 * send order. One bus per simulated cluster; nothing is global.
 */
export class MemoryBus {
  private version = 0
  private members: MemberInfo[] = []
  private readonly history: RingRecord[] = []
  private up = true
  private readonly endpoints = new Set<BusEndpoint>()

  get connected(): boolean {
    return this.up
  }

  /** Simulates losing (or regaining) the bus for every member: heartbeats are dropped and record changes fail. */
  setConnected(up: boolean): void {
    if (up === this.up) return
    this.up = up
    for (const ep of this.endpoints) setImmediate(() => ep.connected(up))
  }

  read(): RingRecord {
    if (!this.up) throw new MembershipError('bus unreachable')
    return { version: this.version, members: this.members }
  }

  /** Replaces the record if it is still at `expected`; returns the new version. */
  compareAndSet(expected: number, members: MemberInfo[]): number {
    if (!this.up) throw new MembershipError('bus unreachable')
    if (expected !== this.version) throw new MembershipError(`version conflict: expected ${expected}, at ${this.version}`)
    this.version++
    this.members = sortMembers(members)
    const record = { version: this.version, members: this.members, changedAt: Date.now() }
    this.history.push(record)
    for (const ep of this.endpoints) setImmediate(() => ep.record(record))
    return this.version
  }

  /** The record in force just before `version`. */
  previous(version: number): RingRecord {
    if (!this.up) throw new MembershipError('bus unreachable')
    return [...this.history].reverse().find((r) => r.version < version) ?? { version: 0, members: [] }
  }

  publish(hb: Heartbeat): void {
    if (!this.up) return
    const copy = { ...hb }
    for (const ep of this.endpoints) setImmediate(() => ep.heartbeat(copy))
  }

  attach(ep: BusEndpoint): () => void {
    this.endpoints.add(ep)
    return () => this.endpoints.delete(ep)
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

  async start(): Promise<void> {
    if (this.started) throw new MembershipError('start() may be called once')
    this.started = true
    this.detach = this.bus.attach({
      heartbeat: (hb) => { if (!this.abort.signal.aborted) this.onHeartbeat(hb) },
      record: (r) => this.setRecord(r),
      connected: (up) => {
        if (this.abort.signal.aborted) return
        this.setConnected(up)
        if (up) this.refresh().catch(() => undefined)
      },
    })
    this.startTimers()
    if (!this.bus.connected) this.setConnected(false)
    await this.join()
  }

  async refresh(): Promise<RingRecord> {
    await this.retry('refresh', this.opDeadline(), async () => this.setRecord(this.bus.read()))
    return this.record
  }

  async previous(version: number): Promise<RingRecord> {
    return this.retry('previous', this.opDeadline(), async () => this.bus.previous(version))
  }

  protected sendHeartbeat(hb: Heartbeat): void {
    this.bus.publish(hb)
  }

  protected async flushHeartbeats(): Promise<void> {}

  protected async compareAndSet(_what: string, change: RecordChange): Promise<void> {
    // Read, change and write happen in one synchronous step, so the bus never sees a conflict here.
    const current = this.bus.read()
    this.setRecord(current)
    const next = change(current.members)
    if (next === null) return
    this.setRecord(parseRecordValue(this.bus.compareAndSet(current.version, next), { members: next }, Date.now()))
  }

  protected async closeTransport(): Promise<void> {
    this.detach?.()
  }
}
