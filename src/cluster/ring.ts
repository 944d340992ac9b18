import { createRequire } from 'node:module'
import type { RingRecord } from './membership.js'

/** The part of the untyped `hashring` package this file relies on. */
interface HashRingLike {
  /** Up to `size` distinct servers clockwise from the key's point; `size` 0 means "all". */
  range(key: string, size?: number, unique?: boolean): string[]
}
type HashRingCtor = new (servers: Record<string, { vnodes: number }>) => HashRingLike

// hashring is CommonJS without type declarations; loading it through require keeps the
// untyped surface confined to the two declarations above.
const HashRing = createRequire(import.meta.url)('hashring') as HashRingCtor

/**
 * Virtual nodes per member. hashring places 4 points per virtual node, so 160 gives 640 points per
 * member: enough that 10,000 keys over 5 members land within about 10% of the mean.
 */
export const DEFAULT_VNODES = 160

/** Replica sets remembered per ring (a few MiB at most). */
const PLACEMENT_MEMO = 50_000

/**
 * Placement over one version of the ring record. A pure function of `(record, vnodes)`: members
 * are sorted by id before the ring is built, so every node that holds the same record computes the
 * same replica set for every key, whatever order the record listed them in.
 *
 * Immutable: build a new Ring when the record changes.
 */
export class Ring {
  readonly version: number
  /** Member ids, sorted. */
  readonly members: string[]
  private readonly ring: HashRingLike | undefined

  constructor(record: RingRecord, vnodes: number = DEFAULT_VNODES) {
    if (!Number.isInteger(vnodes) || vnodes < 1) throw new RangeError(`vnodes must be a positive integer, got ${vnodes}`)
    this.version = record.version
    this.members = [...new Set(record.members.map((m) => m.id))].sort()
    if (this.members.length > 0) {
      const spec: Record<string, { vnodes: number }> = {}
      for (const id of this.members) spec[id] = { vnodes }
      this.ring = new HashRing(spec)
    }
  }

  get size(): number {
    return this.members.length
  }

  has(id: string): boolean {
    return this.members.includes(id)
  }

  /**
   * The key's replica set: the first `n` distinct members clockwise from the key, in ring order
   * (the first is the preferred owner). `n` is capped at the member count; empty for an empty ring.
   */
  replicas(key: string, n: number): string[] {
    const want = Math.min(Math.floor(n), this.members.length)
    // hashring reads a size of 0 as "all servers", so small sizes are answered here.
    if (this.ring === undefined || want <= 0) return []
    // Placement is asked on every call and the ring never changes: remember recent answers.
    const memo = `${want}\0${key}`
    const known = this.placed.get(memo)
    if (known) return known
    // Frozen: callers share the remembered array.
    const set = Object.freeze(this.ring.range(key, want, true)) as string[]
    this.placed.set(memo, set)
    if (this.placed.size > PLACEMENT_MEMO) this.placed.delete(this.placed.keys().next().value!)
    return set
  }

  private readonly placed = new Map<string, string[]>()

  /**
   * The member that should serve the key now: the first live member of its `n`-replica set, or
   * undefined when none of them is live (the key is then unavailable, not moved elsewhere:
   * moving it off its replicas would serve it without its data).
   */
  owner(key: string, isLive: (id: string) => boolean, n: number): string | undefined {
    return this.replicas(key, n).find((id) => isLive(id))
  }
}
