/**
 * The replica side of replication, one per node: for every actor key this node holds a copy of,
 * a durable promise, a log of entries, and the actor's state built from the committed prefix.
 *
 * Contract: a promise only moves up and is persisted before it is answered; an append under an
 * epoch below the promise is refused; an entry that conflicts with the owner's log (same position,
 * other epoch) is dropped with everything after it, but never at or below `applied` (committed
 * entries never change); state changes only by applying committed entries, in order, or by
 * installing a snapshot of a peer's committed state (replica-state.ts). Entries up to `applied`
 * may be compacted away (`base`); the log's end and its epoch stay in the bookkeeping, so takeovers
 * compare logs as before. Requests for one key run one at a time; different keys run
 * concurrently. Everything one request changes is written in one atomic batch.
 */
import { createHash } from 'node:crypto'
import { type Clock, systemClock } from '../../clock.js'
import { type Random, systemRandom } from '../../random.js'
import { actorPrefix, num, replicaLogPrefix, replicaMetaKey, wakeIndexOp } from '../../storage/keys.js'
import type { Kv, KvOp } from '../../storage/kv.js'
import { ReplicaState } from './replica-state.js'
import {
  type AppendReply, type AppendRequest, EMPTY_META, type Entry, type Epoch, type FetchReply, type FetchRequest,
  type InstallRequest, type PrepareReply, type PrepareRequest, type ReplicaMeta, type StatusReply,
  compareEpochs, sameEpoch,
} from './types.js'

export type Stored = { e: Epoch; ops: KvOp[]; cfg?: number }

export interface ReplicaOptions {
  clock?: Clock
  random?: Random
  onSnapshotInstalled?: () => void
}

/** Keys whose bookkeeping stays in memory: every replication request reads it. */
const META_CACHE = 50_000
/** The newest log entries of recently written keys stay in memory too: appends check the previous one and apply the last few. */
const RECENT_KEYS = 10_000
const RECENT_PER_KEY = 16
/** Entries removed by one compaction step, so that one batch stays small. */
const COMPACT_STEP = 10_000

export class ReplicaStore {
  private readonly locks = new Map<string, Promise<unknown>>()
  /** Cached bookkeeping, always equal to what is stored (only updated after a write succeeded). */
  private readonly metas = new Map<string, ReplicaMeta>()
  private readonly recent = new Map<string, Map<number, Stored>>()
  /** Snapshots: serving them to peers and installing theirs. */
  readonly state: ReplicaState

  private readonly promiseListeners = new Set<(key: string, epoch: Epoch) => void>()

  /** Snapshot sessions and transfers keep time on this clock. */
  readonly clock: Clock
  /** Snapshots of peers installed here completely since this store was opened. */
  snapshotsInstalled = 0
  private readonly installed: () => void

  constructor(readonly kv: Kv, readonly node: string, readonly incarnation: string, options: ReplicaOptions = {}) {
    this.clock = options.clock ?? systemClock
    this.installed = options.onSnapshotInstalled ?? (() => undefined)
    this.state = new ReplicaState(this, options.random ?? systemRandom)
  }

  /**
   * Called after this replica promised a newer epoch for a key (a prepare, or an append from a
   * newer owner): an owner on this node holding an older epoch is deposed and should know at once.
   */
  onPromise(listener: (key: string, epoch: Epoch) => void): () => void {
    this.promiseListeners.add(listener)
    return () => this.promiseListeners.delete(listener)
  }

  /** A peer's snapshot of a key was installed here completely (pushed or pulled). */
  onSnapshotInstalled(): void {
    this.snapshotsInstalled++
    this.installed()
  }

  /** Tells the listeners this replica promised `epoch` for `key` (also a snapshot's, replica-state.ts). */
  promised(key: string, epoch: Epoch): void {
    for (const l of this.promiseListeners) l(key, epoch)
  }

  /** A copy of the key's bookkeeping; callers change the copy and `save` it with their batch. */
  async meta(key: string): Promise<ReplicaMeta> {
    let meta = this.metas.get(key)
    if (!meta) {
      const stored = (await this.kv.get<ReplicaMeta>(replicaMetaKey(key))) ?? { ...EMPTY_META }
      // A write may have cached a newer value while this read was in flight: that one wins.
      meta = this.metas.get(key) ?? stored
      if (meta === stored) this.remember(key, stored)
    }
    return { ...meta }
  }

  /** Writes `batch`, which ends with the key's new bookkeeping, and caches that once it is stored. */
  async save(key: string, meta: ReplicaMeta, batch: KvOp[], written?: Map<number, Stored>): Promise<void> {
    batch.push({ type: 'put', key: replicaMetaKey(key), value: meta })
    await this.kv.batch(batch)
    this.remember(key, { ...meta })
    if (written && written.size > 0) {
      let recent = this.recent.get(key)
      if (!recent) {
        recent = new Map()
        this.recent.set(key, recent)
        if (this.recent.size > RECENT_KEYS) this.recent.delete(this.recent.keys().next().value!)
      }
      for (const [p, e] of written) if (p <= meta.last) recent.set(p, e)
      for (const p of recent.keys()) if (p <= meta.last - RECENT_PER_KEY) recent.delete(p)
    }
  }

  private remember(key: string, meta: ReplicaMeta): void {
    this.metas.delete(key)
    this.metas.set(key, meta)
    // Least recently used first: Map keeps insertion order.
    if (this.metas.size > META_CACHE) this.metas.delete(this.metas.keys().next().value!)
  }

  /** Forgets the cached newest entries of a key whose log was cut or replaced. */
  forgetRecent(key: string): void {
    this.recent.delete(key)
  }

  prepare(req: PrepareRequest): Promise<PrepareReply> {
    return this.locked(req.key, async () => {
      const meta = await this.meta(req.key)
      if (compareEpochs(req.epoch, meta.promised) < 0) return { ok: false, node: this.node, incarnation: this.incarnation, promised: meta.promised }
      if (!sameEpoch(req.epoch, meta.promised)) {
        meta.promised = req.epoch
        await this.save(req.key, meta, [])
        this.promised(req.key, req.epoch)
      }
      return {
        ok: true, node: this.node, incarnation: this.incarnation, last: meta.last, lastEpoch: meta.lastEpoch, commit: meta.commit,
        applied: meta.applied, cfg: meta.cfg ?? 0, base: meta.base ?? 0, installing: meta.installing !== undefined, restored: meta.restored ?? false,
      }
    })
  }

  append(req: AppendRequest): Promise<AppendReply> {
    return this.locked(req.key, async () => {
      const meta = await this.meta(req.key)
      if (compareEpochs(req.epoch, meta.promised) < 0) return { ok: false, reason: 'stale', promised: meta.promised }
      const newer = !sameEpoch(req.epoch, meta.promised)
      meta.promised = req.epoch
      const batch: KvOp[] = []
      const pending = new Map<number, Stored>()
      if (req.truncateAfter !== undefined && req.truncateAfter < meta.last) {
        await this.truncate(req.key, meta, Math.max(req.truncateAfter, meta.applied), batch)
      }
      if (req.prevP > meta.applied) {
        if (req.prevP > meta.last) return { ok: false, reason: 'mismatch', last: meta.last, applied: meta.applied }
        const prev = await this.entry(req.key, req.prevP)
        if (!prev || !sameEpoch(prev.e, req.prevE)) return { ok: false, reason: 'mismatch', last: meta.last, applied: meta.applied }
      }
      // An owner took this key over after a restore (with every replica's promise): the copy is current again.
      delete meta.restored
      await this.write(req.key, meta, req.entries, batch, pending)
      // Only what this request verified may be applied: the prefix up to its last entry.
      const verified = req.prevP + req.entries.length
      meta.commit = Math.max(meta.commit, Math.min(req.commit, verified, meta.last))
      await this.apply(req.key, meta, batch, pending)
      await this.save(req.key, meta, batch, pending)
      if (newer) this.promised(req.key, req.epoch)
      return { ok: true, last: meta.last }
    })
  }

  /**
   * The owner's own replica learns that its log is committed up to `upTo` and applies it.
   * `known` are entries the owner still holds in memory, so they need not be read back.
   */
  commitTo(key: string, upTo: number, known: Entry[]): Promise<void> {
    return this.locked(key, async () => {
      const meta = await this.meta(key)
      const next = Math.min(upTo, meta.last)
      if (next <= meta.commit && meta.applied >= next) return
      meta.commit = Math.max(meta.commit, next)
      const batch: KvOp[] = []
      const pending = new Map<number, Stored>(known.map((e) => [e.p, e]))
      await this.apply(key, meta, batch, pending)
      await this.save(key, meta, batch)
    })
  }

  /** Committed entries from a peer (repair, handoff): installed whatever the promise. */
  install(req: InstallRequest): Promise<StatusReply> {
    return this.locked(req.key, async () => {
      const meta = await this.meta(req.key)
      const entries = req.entries.filter((e) => e.p > meta.applied).sort((a, b) => a.p - b.p)
      const batch: KvOp[] = []
      const pending = new Map<number, Stored>()
      // Installed entries must continue what is already applied, or they would leave a hole; a
      // state that is being replaced by a snapshot takes no entries until that is complete.
      if (!meta.installing && entries.length > 0 && entries[0]!.p === meta.applied + 1) {
        await this.write(req.key, meta, entries, batch, pending)
        meta.commit = Math.max(meta.commit, Math.min(req.commit, entries[entries.length - 1]!.p))
        await this.apply(req.key, meta, batch, pending)
        await this.save(req.key, meta, batch, pending)
      }
      return statusOf(req.key, meta)
    })
  }

  /**
   * Entries in (after, upTo], at most about `maxBytes` of them (always at least one), with the
   * epoch of entry `after`; none when `after` is below the compaction base (a snapshot is needed).
   */
  fetch(req: FetchRequest): Promise<FetchReply> {
    return this.locked(req.key, async () => {
      const meta = await this.meta(req.key)
      const base = meta.base ?? 0
      if (req.after < base) return { base, prevE: null, entries: [] }
      const prefix = replicaLogPrefix(req.key)
      // One read returns entry `after` (for its epoch) and the entries after it.
      const from = req.after > base ? { gte: prefix + num(req.after) } : { gt: prefix + num(req.after) }
      const rows = await this.kv.range<Stored>({ ...from, lte: prefix + num(req.upTo), limit: 5000 })
      let prevE: Epoch | null = req.after === 0 ? null : req.after === base ? (meta.baseEpoch ?? null) : null
      const out: Entry[] = []
      let bytes = 0
      for (const [k, v] of rows) {
        const p = Number(k.slice(prefix.length))
        if (p === req.after) {
          prevE = v.e
          continue
        }
        const size = JSON.stringify(v.ops).length
        if (out.length > 0 && bytes + size > req.maxBytes) break
        out.push({ p, e: v.e, ops: v.ops, ...(v.cfg !== undefined ? { cfg: v.cfg } : {}) })
        bytes += size
      }
      return { base, prevE, entries: out }
    })
  }

  async status(keys: string[]): Promise<StatusReply[]> {
    const metas = await Promise.all(keys.map((key) => this.meta(key)))
    return keys.map((key, i) => statusOf(key, metas[i]!))
  }

  /** Actor keys this node holds replica data for, in key order, after `after`, up to `limit`. */
  async keys(after: string, limit: number): Promise<Array<[string, ReplicaMeta]>> {
    const rows = await this.kv.range<ReplicaMeta>({ gt: replicaMetaKey(after), lt: 'r\x01', limit })
    return rows.map(([k, m]) => [k.slice(2), m])
  }

  /**
   * Folds applied entries into the state for good: removes log entries up to `upTo` (never past
   * `applied`), remembering the epoch of the last one removed. Returns how many were removed.
   */
  compact(key: string, upTo: number): Promise<number> {
    return this.locked(key, async () => {
      const meta = await this.meta(key)
      const base = meta.base ?? 0
      const to = Math.min(upTo, meta.applied, base + COMPACT_STEP)
      if (meta.installing || to <= base) return 0
      const baseEpoch = await this.epochAt(key, meta, to)
      const prefix = replicaLogPrefix(key)
      const batch: KvOp[] = []
      for (let p = base + 1; p <= to; p++) batch.push({ type: 'del', key: prefix + num(p) })
      meta.base = to
      meta.baseEpoch = baseEpoch
      const recent = this.recent.get(key)
      if (recent) for (const p of recent.keys()) if (p <= to) recent.delete(p)
      await this.save(key, meta, batch)
      return to - base
    })
  }

  /** This node's copy of a key, summarized: its log marks and a digest of its applied state. */
  async report(key: string): Promise<ReplicaMeta & { node: string; digest: string; stateKeys: number }> {
    return this.locked(key, async () => {
      const meta = await this.meta(key)
      const prefix = actorPrefix(key)
      const rows = await this.kv.range<unknown>({ gte: prefix, lt: prefix + '\xff' })
      const hash = createHash('sha256')
      for (const [k, v] of rows) hash.update(k).update('\0').update(JSON.stringify(v)).update('\0')
      return { ...meta, node: this.node, digest: hash.digest('hex'), stateKeys: rows.length }
    })
  }

  async entry(key: string, p: number): Promise<Stored | undefined> {
    const cached = this.recent.get(key)?.get(p)
    if (cached) return cached
    return this.kv.get<Stored>(replicaLogPrefix(key) + num(p))
  }

  /** The epoch of entry `p` (0: none), also when it was compacted away as the base; null if unknown. */
  async epochAt(key: string, meta: ReplicaMeta, p: number, pending?: Map<number, Stored>): Promise<Epoch | null> {
    if (p === 0) return null
    if (p === (meta.base ?? 0)) return meta.baseEpoch ?? null
    return (pending?.get(p) ?? (await this.entry(key, p)))?.e ?? null
  }

  /** Writes `entries` into the log, dropping any conflicting tail first; tracks them in `pending`. */
  private async write(key: string, meta: ReplicaMeta, entries: Entry[], batch: KvOp[], pending: Map<number, Stored>): Promise<void> {
    const prefix = replicaLogPrefix(key)
    for (const entry of entries) {
      if (entry.p <= meta.applied) continue
      if (entry.p > meta.last + 1) break
      if (entry.p <= meta.last) {
        const existing = pending.get(entry.p) ?? (await this.entry(key, entry.p))
        if (existing && sameEpoch(existing.e, entry.e)) continue
        await this.truncate(key, meta, entry.p - 1, batch, pending)
      }
      const stored: Stored = { e: entry.e, ops: entry.ops, ...(entry.cfg !== undefined ? { cfg: entry.cfg } : {}) }
      batch.push({ type: 'put', key: prefix + num(entry.p), value: stored })
      this.flagWakeEarly(key, entry, batch)
      pending.set(entry.p, stored)
      meta.last = entry.p
      meta.lastEpoch = entry.e
    }
  }

  /**
   * An entry that flags its actor as having background work (a channel's fan-out) puts the key in
   * the wake index when it is written, not only when it is applied: followers apply an entry when
   * they next hear of its commit, and a node's wake pass after its owner died must already find
   * the key. Only puts come early; a clear waits for its entry to be applied. An early flag whose
   * entry is later cut from the log costs one wake of an actor with nothing to do.
   */
  private flagWakeEarly(key: string, entry: Entry, batch: KvOp[]): void {
    for (const op of entry.ops) {
      if (op.type !== 'put') continue
      const index = wakeIndexOp(key, op)
      if (index) batch.push(index)
    }
  }

  /** Drops log entries after `after` (never applied ones, so never compacted ones either). */
  private async truncate(key: string, meta: ReplicaMeta, after: number, batch: KvOp[], pending?: Map<number, Stored>): Promise<void> {
    // Rare (a deposed owner's tail): forget what is cached of this key rather than track the cut.
    this.recent.delete(key)
    const prefix = replicaLogPrefix(key)
    for (let p = after + 1; p <= meta.last; p++) {
      batch.push({ type: 'del', key: prefix + num(p) })
      pending?.delete(p)
    }
    meta.last = after
    meta.lastEpoch = await this.epochAt(key, meta, after, pending)
  }

  /** Applies committed, unapplied entries to the actor's state, in order (not while a snapshot is half installed). */
  async apply(key: string, meta: ReplicaMeta, batch: KvOp[], pending: Map<number, Stored>): Promise<void> {
    if (meta.installing) return
    const prefix = actorPrefix(key)
    const upTo = Math.min(meta.commit, meta.last)
    for (let p = meta.applied + 1; p <= upTo; p++) {
      const entry = pending.get(p) ?? (await this.entry(key, p))
      if (!entry) break
      for (const op of entry.ops) {
        batch.push({ ...op, key: prefix + op.key })
        const index = wakeIndexOp(key, op)
        if (index) batch.push(index)
      }
      if (entry.cfg !== undefined) meta.cfg = Math.max(meta.cfg ?? 0, entry.cfg)
      meta.applied = p
    }
  }

  /** Runs `fn` after every earlier request for `key` finished, before any later one starts. */
  locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    const tail = run.catch(() => undefined)
    this.locks.set(key, tail)
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key)
    })
    return run
  }
}

function statusOf(key: string, m: ReplicaMeta): StatusReply {
  return { key, last: m.last, commit: m.commit, applied: m.applied, promised: m.promised, base: m.base ?? 0, installing: m.installing !== undefined }
}
