/**
 * The replica side of replication, one per node: for every actor key this node holds a copy of,
 * a durable promise, a log of entries, and the actor's state built from the committed prefix.
 *
 * Contract: a promise only moves up and is persisted before it is answered; an append under an
 * epoch below the promise is refused; an entry that conflicts with the owner's log (same position,
 * other epoch) is dropped with everything after it, but never at or below `applied` (committed
 * entries never change); state changes only by applying committed entries, in order. Requests for
 * one key run one at a time; different keys run concurrently. Everything one request changes is
 * written in one atomic batch.
 */
import { createHash } from 'node:crypto'
import { actorPrefix, num, replicaLogPrefix, replicaMetaKey, wakeIndexOp } from '../../storage/keys.js'
import type { Kv, KvOp } from '../../storage/kv.js'
import {
  type AppendReply, type AppendRequest, EMPTY_META, type Entry, type Epoch, type FetchRequest,
  type InstallRequest, type PrepareReply, type PrepareRequest, type ReplicaMeta, type StatusReply,
  compareEpochs, sameEpoch,
} from './types.js'

type Stored = { e: Epoch; ops: KvOp[]; cfg?: number }

/** Keys whose bookkeeping stays in memory: every replication request reads it. */
const META_CACHE = 50_000
/** The newest log entries of recently written keys stay in memory too: appends check the previous one and apply the last few. */
const RECENT_KEYS = 10_000
const RECENT_PER_KEY = 16

export class ReplicaStore {
  private readonly locks = new Map<string, Promise<unknown>>()
  /** Cached bookkeeping, always equal to what is stored (only updated after a write succeeded). */
  private readonly metas = new Map<string, ReplicaMeta>()
  private readonly recent = new Map<string, Map<number, Stored>>()

  private readonly promiseListeners = new Set<(key: string, epoch: Epoch) => void>()

  constructor(private readonly kv: Kv, readonly node: string, readonly incarnation: string) {}

  /**
   * Called after this replica promised a newer epoch for a key (a prepare, or an append from a
   * newer owner): an owner on this node holding an older epoch is deposed and should know at once.
   */
  onPromise(listener: (key: string, epoch: Epoch) => void): () => void {
    this.promiseListeners.add(listener)
    return () => this.promiseListeners.delete(listener)
  }

  private promised(key: string, epoch: Epoch): void {
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
  private async save(key: string, meta: ReplicaMeta, batch: KvOp[], written?: Map<number, Stored>): Promise<void> {
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

  prepare(req: PrepareRequest): Promise<PrepareReply> {
    return this.locked(req.key, async () => {
      const meta = await this.meta(req.key)
      if (compareEpochs(req.epoch, meta.promised) < 0) return { ok: false, node: this.node, incarnation: this.incarnation, promised: meta.promised }
      if (!sameEpoch(req.epoch, meta.promised)) {
        meta.promised = req.epoch
        await this.save(req.key, meta, [])
        this.promised(req.key, req.epoch)
      }
      return { ok: true, node: this.node, incarnation: this.incarnation, last: meta.last, lastEpoch: meta.lastEpoch, commit: meta.commit, applied: meta.applied, cfg: meta.cfg ?? 0 }
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
      // Installed entries must continue what is already applied, or they would leave a hole.
      if (entries.length > 0 && entries[0]!.p === meta.applied + 1) {
        await this.write(req.key, meta, entries, batch, pending)
        meta.commit = Math.max(meta.commit, Math.min(req.commit, entries[entries.length - 1]!.p))
        await this.apply(req.key, meta, batch, pending)
        await this.save(req.key, meta, batch, pending)
      }
      return { key: req.key, last: meta.last, commit: meta.commit, applied: meta.applied }
    })
  }

  /** Entries in (after, upTo], at most about `maxBytes` of them (always at least one). */
  async fetch(req: FetchRequest): Promise<Entry[]> {
    const prefix = replicaLogPrefix(req.key)
    const rows = await this.kv.range<Stored>({ gt: prefix + num(req.after), lte: prefix + num(req.upTo), limit: 5000 })
    const out: Entry[] = []
    let bytes = 0
    for (const [k, v] of rows) {
      const size = JSON.stringify(v.ops).length
      if (out.length > 0 && bytes + size > req.maxBytes) break
      out.push({ p: Number(k.slice(prefix.length)), e: v.e, ops: v.ops, ...(v.cfg !== undefined ? { cfg: v.cfg } : {}) })
      bytes += size
    }
    return out
  }

  async status(keys: string[]): Promise<StatusReply[]> {
    const metas = await Promise.all(keys.map((key) => this.meta(key)))
    return keys.map((key, i) => {
      const m = metas[i]!
      return { key, last: m.last, commit: m.commit, applied: m.applied, promised: m.promised }
    })
  }

  /** Actor keys this node holds replica data for, in key order, after `after`, up to `limit`. */
  async keys(after: string, limit: number): Promise<Array<[string, ReplicaMeta]>> {
    const rows = await this.kv.range<ReplicaMeta>({ gt: replicaMetaKey(after), lt: 'r\x01', limit })
    return rows.map(([k, m]) => [k.slice(2), m])
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
      pending.set(entry.p, stored)
      meta.last = entry.p
      meta.lastEpoch = entry.e
    }
  }

  /** Drops log entries after `after` (never applied ones). */
  private async truncate(key: string, meta: ReplicaMeta, after: number, batch: KvOp[], pending?: Map<number, Stored>): Promise<void> {
    // Rare (a deposed owner's tail): forget what is cached of this key rather than track the cut.
    this.recent.delete(key)
    const prefix = replicaLogPrefix(key)
    for (let p = after + 1; p <= meta.last; p++) {
      batch.push({ type: 'del', key: prefix + num(p) })
      pending?.delete(p)
    }
    meta.last = after
    meta.lastEpoch = after === 0 ? null : ((pending?.get(after) ?? (await this.entry(key, after)))?.e ?? null)
  }

  /** Applies committed, unapplied entries to the actor's state, in order. */
  private async apply(key: string, meta: ReplicaMeta, batch: KvOp[], pending: Map<number, Stored>): Promise<void> {
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

  private locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
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
