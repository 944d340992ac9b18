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

/** Rings (with their remembered placements) kept per member set; see `placement`. */
const RINGS_KEPT = 4

interface Placement { ring: HashRingLike; placed: Map<string, string[]> }

/**
 * Placement depends only on the member ids and vnodes, not on the record's version, and building
 * a ring hashes every virtual node (640 MD5s per member). Records often change without changing the
 * members (liveness, a leave and a rejoin, the previous record re-read), and nodes sharing one
 * process (tests, the simulator) build the same rings: each member set is built once and shared.
 */
const rings = new Map<string, Placement>()

function placement(members: string[], vnodes: number): Placement {
  const id = `${vnodes}\0${members.join('\0')}`
  let known = rings.get(id)
  if (known) {
    rings.delete(id)
  } else {
    const spec: Record<string, { vnodes: number }> = {}
    for (const m of members) spec[m] = { vnodes }
    known = { ring: new HashRing(spec), placed: new Map() }
    if (rings.size >= RINGS_KEPT) rings.delete(rings.keys().next().value!)
  }
  rings.set(id, known)
  return known
}

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
  private readonly placement: Placement | undefined

  constructor(record: RingRecord, vnodes: number = DEFAULT_VNODES) {
    if (!Number.isInteger(vnodes) || vnodes < 1) throw new RangeError(`vnodes must be a positive integer, got ${vnodes}`)
    this.version = record.version
    this.members = [...new Set(record.members.map((m) => m.id))].sort()
    if (this.members.length > 0) this.placement = placement(this.members, vnodes)
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
    if (this.placement === undefined || want <= 0) return []
    // Placement is asked on every call and the ring never changes: remember recent answers.
    const { ring, placed } = this.placement
    const memo = `${want}\0${key}`
    const known = placed.get(memo)
    if (known) return known
    // Frozen: callers share the remembered array.
    const set = Object.freeze(ring.range(key, want, true)) as string[]
    placed.set(memo, set)
    if (placed.size > PLACEMENT_MEMO) placed.delete(placed.keys().next().value!)
    return set
  }

  /**
   * The member that should serve the key now: the first live member of its `n`-replica set, or
   * undefined when none of them is live (the key is then unavailable, not moved elsewhere:
   * moving it off its replicas would serve it without its data).
   */
  owner(key: string, isLive: (id: string) => boolean, n: number): string | undefined {
    return this.replicas(key, n).find((id) => isLive(id))
  }
}
