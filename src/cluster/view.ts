/**
 * This node's view of the cluster: the ring built from the current record, the ring of the record
 * before it (replication must reach a majority of both while they differ), and liveness. Placement
 * is a pure function of (key, ring, liveness); every node holding the same record computes the
 * same replica sets.
 */
import type { Logger } from 'pino'
import type { Membership, MemberInfo, RingRecord } from './membership.js'
import { Ring } from './ring.js'

export class ClusterView {
  private current: { record: RingRecord; ring: Ring }
  private previous: { record: RingRecord; ring: Ring } | null = null
  private settling: Promise<void> = Promise.resolve()
  private readonly listeners = new Set<() => void>()

  constructor(readonly membership: Membership, readonly replicas: number, readonly self: string, private readonly log: Logger) {
    const record = membership.ring()
    this.current = { record, ring: new Ring(record) }
  }

  /** Follows ring changes; resolves once the previous record is known too. */
  async start(): Promise<void> {
    this.membership.on((e) => {
      if (e.type === 'ring') this.adopt(e.ring)
      if (e.type === 'ring' || e.type === 'up' || e.type === 'down') for (const l of this.listeners) l()
    })
    this.adopt(this.membership.ring())
    await this.settling
  }

  /** Called after every ring or liveness change. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Resolves once the view has both the current and the previous record. */
  settled(): Promise<void> {
    return this.settling
  }

  get version(): number {
    return this.current.ring.version
  }

  get ring(): Ring {
    return this.current.ring
  }

  members(): MemberInfo[] {
    return this.current.record.members
  }

  isLive(id: string): boolean {
    return this.membership.isLive(id)
  }

  /** The first live member of the key's replica set; undefined when none is live. */
  owner(key: string): string | undefined {
    return this.current.ring.owner(key, (id) => this.membership.isLive(id), this.replicas)
  }

  replicaSet(key: string): string[] {
    return this.current.ring.replicas(key, this.replicas)
  }

  /**
   * The key's replica set under the previous record; empty when it did not change. A takeover
   * needs a majority of it too, unless the key's log already shows a takeover under the current
   * record (replication/owner.ts).
   */
  previousReplicaSet(key: string): string[] {
    if (!this.previous) return []
    const prev = this.previous.ring.replicas(key, this.replicas)
    const cur = this.replicaSet(key)
    return prev.length === cur.length && prev.every((id) => cur.includes(id) && this.sameIncarnation(id)) ? [] : prev
  }

  /** The incarnation of `id` in the current (or previous) record. */
  incarnation(id: string, previous = false): string | undefined {
    const record = previous ? this.previous?.record : this.current.record
    return record?.members.find((m) => m.id === id)?.incarnation
  }

  /** The gRPC address of a member of either record, or of a live node not yet in them. */
  address(id: string): string | undefined {
    return this.current.record.members.find((m) => m.id === id)?.grpc
      ?? this.previous?.record.members.find((m) => m.id === id)?.grpc
      ?? this.membership.live().find((m) => m.id === id)?.grpc
  }

  private sameIncarnation(id: string): boolean {
    return this.incarnation(id) === this.incarnation(id, true)
  }

  private adopt(record: RingRecord): void {
    if (record.version < this.current.record.version) return
    if (record.version === this.current.record.version && this.previous) return
    const before = this.current
    this.current = { record, ring: new Ring(record) }
    const fetched = this.membership.previous(record.version).then((prev) => {
      if (this.current.record.version !== record.version) return
      this.previous = { record: prev, ring: new Ring(prev) }
    }, (err) => {
      // The record we replaced is the best guess at the previous one.
      this.log.warn({ err }, 'could not read the previous ring record')
      if (this.current.record.version === record.version && before.record.version < record.version) this.previous = before
    })
    this.settling = this.settling.then(() => fetched)
    this.log.info({ version: record.version, members: record.members.map((m) => m.id) }, 'ring changed')
  }
}
