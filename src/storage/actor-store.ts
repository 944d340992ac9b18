/**
 * The storage an actor sees: its own key space (sub-keys below its prefix) with atomic commits.
 * Standalone nodes commit to the local LevelDB; a cluster commits through replication, to a
 * majority of the key's replicas, behind this same interface, so actor code never changes.
 */
import type { Kv, KvOp, RangeOptions } from './kv.js'
import { actorPrefix, wakeIndexOp } from './keys.js'

export interface ActorStore {
  readonly actorKey: string
  get<T>(sub: string): Promise<T | undefined>
  getMany<T>(subs: string[]): Promise<Array<T | undefined>>
  /** Entries whose sub-keys fall in the range, as [sub, value]. */
  range<T>(options: RangeOptions): Promise<Array<[string, T]>>
  /**
   * Applies all ops or none (sub-keys). Resolves once the change is as durable as the
   * implementation promises (a majority of replicas in a cluster); rejects with a ChatError
   * (UNAVAILABLE) when it cannot, and then nothing is acknowledged to anyone.
   */
  commit(ops: KvOp[]): Promise<void>
  /**
   * Resolves once what this store reads is known to be the key's current state, so that a refusal
   * decided on it (no such message, not a member) is right. Standalone: at once. In a cluster an
   * owner may have been deposed without knowing it yet (paused, cut off) and lack what a newer
   * owner stored: it asks a majority of the replicas whether they still hold its epoch (or, for a
   * key it never wrote, whether they still never saw it), writing nothing, and rejects with
   * UNAVAILABLE when a newer owner took over or too few answered.
   */
  confirm(): Promise<void>
}

/** Opens actor stores; opening may do work first (a cluster owner's takeover). */
export interface ActorStorage {
  open(actorKey: string): Promise<ActorStore>
  /** Called when an activation ends (passivation or handoff). */
  release?(actorKey: string): void
}

/** Stores over one node's Kv with no replication: the standalone node. */
export class LocalActorStorage implements ActorStorage {
  constructor(private readonly kv: Kv) {}

  async open(actorKey: string): Promise<ActorStore> {
    return new PrefixedStore(this.kv, actorKey)
  }
}

/** An actor's key space inside a Kv. Shared by the local and the replicated storage. */
export class PrefixedStore implements ActorStore {
  private readonly prefix: string

  constructor(private readonly kv: Kv, readonly actorKey: string) {
    this.prefix = actorPrefix(actorKey)
  }

  get<T>(sub: string): Promise<T | undefined> {
    return this.kv.get<T>(this.prefix + sub)
  }

  getMany<T>(subs: string[]): Promise<Array<T | undefined>> {
    return this.kv.getMany<T>(subs.map((s) => this.prefix + s))
  }

  async range<T>(options: RangeOptions): Promise<Array<[string, T]>> {
    const p = this.prefix
    const bounded: RangeOptions = { limit: options.limit, reverse: options.reverse }
    if (options.gt !== undefined) bounded.gt = p + options.gt
    if (options.gte !== undefined) bounded.gte = p + options.gte
    if (options.lt !== undefined) bounded.lt = p + options.lt
    if (options.lte !== undefined) bounded.lte = p + options.lte
    // Never read past this actor's own key space.
    if (bounded.gt === undefined && bounded.gte === undefined) bounded.gte = p
    if (bounded.lt === undefined && bounded.lte === undefined) bounded.lt = p + '\xff'
    const rows = await this.kv.range<T>(bounded)
    return rows.map(([k, v]) => [k.slice(p.length), v])
  }

  commit(ops: KvOp[]): Promise<void> {
    const index = this.indexOps(ops)
    // Usually none: the ops go as they are, under this store's prefix, with nothing copied.
    if (index.length === 0) return this.kv.batch(ops, this.prefix)
    return this.kv.batch([...this.qualified(ops), ...index])
  }

  /** One node's copy is the state. */
  async confirm(): Promise<void> {}

  /** The ops with full keys, plus the node-level index ops they imply. */
  qualify(ops: KvOp[]): KvOp[] {
    return [...this.qualified(ops), ...this.indexOps(ops)]
  }

  private qualified(ops: KvOp[]): KvOp[] {
    return ops.map((op) => ({ ...op, key: this.prefix + op.key }))
  }

  /** The node-level index ops that `ops` imply (the wake index mirrors the wake sub-key). */
  private indexOps(ops: KvOp[]): KvOp[] {
    const out: KvOp[] = []
    for (const op of ops) {
      const index = wakeIndexOp(this.actorKey, op)
      if (index) out.push(index)
    }
    return out
  }
}
