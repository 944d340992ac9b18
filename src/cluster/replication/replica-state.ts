/**
 * Snapshots of an actor's state, both ways: serving this replica's applied state to a peer in
 * bounded chunks read from one point-in-time LevelDB snapshot, and installing a peer's state over
 * this replica's own (a replica far behind, new, or wiped, whose missing entries were compacted).
 *
 * Installing is crash-safe without staging: each chunk is one atomic batch that rewrites the
 * sub-keys it covers (deleting the old ones it does not have) and records how far it got
 * (`installing` in the bookkeeping). Until the last chunk the state is a mix of old and new, so
 * nothing is applied to it, it is never served, and an owner never activates on it (replication
 * treats it as missing). The last chunk makes the state that of the snapshot point `p`; the log
 * is kept after `p` if its entry at `p` has the snapshot's epoch (then it continues that state),
 * and dropped otherwise (it then holds no committed entry after `p`: a committed one would imply
 * the same entry at `p`).
 */
import type { Random } from '../../random.js'
import { HIGH, actorPrefix, num, replicaLogPrefix, wakeIndexOp } from '../../storage/keys.js'
import type { KvOp, KvSnapshot } from '../../storage/kv.js'
import type { ReplicaStore, Stored } from './replica.js'
import {
  type SnapshotChunk, type SnapshotPoint, type SnapshotReadReply, type SnapshotReadRequest, type SnapshotReply,
  compareEpochs, sameEpoch,
} from './types.js'

/** An install that received a chunk this recently blocks another transfer from starting over it. */
const BUSY_MS = 10_000
/** A pulled snapshot nobody asked for more of within this long is closed. */
const SESSION_IDLE_MS = 30_000
const MAX_SESSIONS = 64

export interface SnapshotReader {
  readonly key: string
  readonly at: SnapshotPoint
  /** The next rows, about `maxBytes` of them (at least one while any remain). */
  next(maxBytes: number): Promise<{ after: string | null; rows: Array<[string, unknown]>; done: boolean }>
  close(): Promise<void>
}

interface Session { reader: SnapshotReader; id: string; seq: number; usedAt: number }

export class ReplicaState {
  /** Transfers in progress into this replica, by key: which one, and when it was last heard from. */
  private readonly incoming = new Map<string, { id: string; at: number }>()
  /** Snapshots peers are pulling from this replica. */
  private readonly sessions = new Map<string, Session>()

  constructor(private readonly replica: ReplicaStore, private readonly random: Random) {}

  /** A reader of this replica's applied state of `key`, fixed at this moment; refused while the state is mid-install. */
  open(key: string): Promise<SnapshotReader> {
    return this.replica.locked(key, async () => {
      const meta = await this.replica.meta(key)
      if (meta.installing) throw new Error(`the state of ${key} here is being replaced; it cannot be a snapshot source`)
      const at: SnapshotPoint = { p: meta.applied, e: await this.replica.epochAt(key, meta, meta.applied), cfg: meta.cfg ?? 0 }
      // Taken inside the key's lock: every write of this key before it is complete, none after is seen.
      return reader(key, at, this.replica.kv.snapshot())
    })
  }

  /** Serves the next chunk of a snapshot a peer pulls (a new owner far behind). */
  async read(req: SnapshotReadRequest): Promise<SnapshotReadReply> {
    this.expire()
    let session = req.session ? this.sessions.get(req.session) : undefined
    if (req.session && !session) return { ok: false, reason: 'unknown snapshot session (expired or this node restarted)' }
    if (!session) {
      if (this.sessions.size >= MAX_SESSIONS) return { ok: false, reason: 'too many snapshots being read' }
      const r = await this.open(req.key)
      session = { reader: r, id: this.random.bytes(8).toString('hex'), seq: 0, usedAt: this.replica.clock.now() }
      this.sessions.set(session.id, session)
    }
    session.usedAt = this.replica.clock.now()
    const { after, rows, done } = await session.reader.next(req.maxBytes)
    const chunk: SnapshotChunk = { key: req.key, id: session.id, seq: session.seq++, at: session.reader.at, epoch: null, after, rows, done }
    if (done) {
      this.sessions.delete(session.id)
      await session.reader.close()
    }
    return { ok: true, session: session.id, chunk }
  }

  /**
   * Writes one chunk of a peer's snapshot over this replica's state of the key. A transfer that
   * began while another one was still arriving is refused (`restart`), unless `preempt` (this
   * node pulls it to take the key over, which matters more than whoever was pushing).
   */
  install(chunk: SnapshotChunk, preempt = false): Promise<SnapshotReply> {
    const { replica } = this
    return replica.locked(chunk.key, async () => {
      const meta = await replica.meta(chunk.key)
      const newer = chunk.epoch !== null && !sameEpoch(chunk.epoch, meta.promised)
      if (chunk.epoch) {
        if (compareEpochs(chunk.epoch, meta.promised) < 0) return { ok: false, reason: 'stale', promised: meta.promised }
        meta.promised = chunk.epoch
      }
      const base = meta.base ?? 0
      const busy = this.incoming.get(chunk.key)
      if (chunk.seq === 0) {
        // Useful only if it moves the state forward (or completes a mixed one) and the log can go on from it.
        if (chunk.at.p < base || (!meta.installing && chunk.at.p <= meta.applied)) return { ok: false, reason: 'skip', applied: meta.applied, base }
        if (!preempt && busy && busy.id !== chunk.id && replica.clock.now() - busy.at < BUSY_MS) return { ok: false, reason: 'restart' }
        meta.installing = { id: chunk.id, p: chunk.at.p, cursor: null }
      } else if (meta.installing?.id !== chunk.id || meta.installing.cursor !== chunk.after) {
        return { ok: false, reason: 'restart' }
      }
      this.incoming.set(chunk.key, { id: chunk.id, at: replica.clock.now() })
      const batch = await this.rewrite(chunk)
      if (!chunk.done) {
        meta.installing = { ...meta.installing!, cursor: chunk.rows.length > 0 ? chunk.rows[chunk.rows.length - 1]![0] : chunk.after }
        await replica.save(chunk.key, meta, batch)
        if (newer) replica.promised(chunk.key, chunk.epoch!)
        return { ok: true, applied: meta.applied, last: meta.last }
      }
      await this.finish(chunk, meta, batch)
      if (newer) replica.promised(chunk.key, chunk.epoch!)
      this.incoming.delete(chunk.key)
      replica.onSnapshotInstalled()
      return { ok: true, applied: meta.applied, last: meta.last }
    })
  }

  /** The ops that make the sub-keys this chunk covers exactly its rows. */
  private async rewrite(chunk: SnapshotChunk): Promise<KvOp[]> {
    const prefix = actorPrefix(chunk.key)
    const last = chunk.rows.length > 0 ? chunk.rows[chunk.rows.length - 1]![0] : null
    const upper = chunk.done ? { lt: prefix + HIGH } : last !== null ? { lte: prefix + last } : null
    const batch: KvOp[] = []
    const incoming = new Set(chunk.rows.map(([sub]) => sub))
    if (upper) {
      const existing = await this.replica.kv.range<unknown>({ gt: prefix + (chunk.after ?? ''), ...upper })
      for (const [k] of existing) {
        const sub = k.slice(prefix.length)
        if (incoming.has(sub)) continue
        batch.push({ type: 'del', key: k })
        const index = wakeIndexOp(chunk.key, { type: 'del', key: sub })
        if (index) batch.push(index)
      }
    }
    for (const [sub, value] of chunk.rows) {
      batch.push({ type: 'put', key: prefix + sub, value })
      const index = wakeIndexOp(chunk.key, { type: 'put', key: sub })
      if (index) batch.push(index)
    }
    return batch
  }

  /** The last chunk: the state is the snapshot's; the log is made to continue from it. */
  private async finish(chunk: SnapshotChunk, meta: Awaited<ReturnType<ReplicaStore['meta']>>, batch: KvOp[]): Promise<void> {
    const { replica } = this
    const { key, at } = chunk
    const base = meta.base ?? 0
    const prefix = replicaLogPrefix(key)
    const keepTail = meta.last >= at.p && sameEpoch(await replica.epochAt(key, meta, at.p), at.e)
    const drop = keepTail ? at.p : meta.last
    for (let p = base + 1; p <= drop; p++) batch.push({ type: 'del', key: prefix + num(p) })
    if (!keepTail) {
      meta.last = at.p
      meta.lastEpoch = at.e
    }
    replica.forgetRecent(key)
    meta.base = at.p
    meta.baseEpoch = at.e
    meta.applied = at.p
    meta.commit = Math.max(meta.commit, at.p)
    meta.cfg = Math.max(meta.cfg ?? 0, at.cfg)
    delete meta.installing
    // Committed entries of the kept tail can be applied on top at once.
    await replica.apply(key, meta, batch, new Map<number, Stored>())
    await replica.save(key, meta, batch)
  }

  private expire(): void {
    const cutoff = this.replica.clock.now() - SESSION_IDLE_MS
    for (const [id, s] of this.sessions) {
      if (s.usedAt >= cutoff) continue
      this.sessions.delete(id)
      void s.reader.close().catch(() => undefined)
    }
  }

  /** Closes every open snapshot (the node is stopping). */
  async close(): Promise<void> {
    const open = [...this.sessions.values()]
    this.sessions.clear()
    await Promise.all(open.map((s) => s.reader.close().catch(() => undefined)))
  }
}

/** Reads one key's state from a point-in-time store snapshot, chunk by chunk, in key order. */
function reader(key: string, at: SnapshotPoint, snap: KvSnapshot): SnapshotReader {
  const prefix = actorPrefix(key)
  let after: string | null = null
  let finished = false
  return {
    key,
    at,
    async next(maxBytes) {
      const rows: Array<[string, unknown]> = []
      const from: string | null = after
      let bytes = 0
      // Rows come in pages; a page is cut at maxBytes (at least one row per chunk).
      while (!finished) {
        const page = await snap.rawRange({ gt: prefix + (after ?? ''), lt: prefix + HIGH, limit: 256 })
        if (page.length === 0) {
          finished = true
          break
        }
        let full = false
        for (const [k, text] of page) {
          const size = k.length + text.length
          if (rows.length > 0 && bytes + size > maxBytes) {
            full = true
            break
          }
          const sub = k.slice(prefix.length)
          rows.push([sub, JSON.parse(text) as unknown])
          bytes += size
          after = sub
        }
        if (full) break
        if (page.length < 256) {
          finished = true
          break
        }
      }
      return { after: from, rows, done: finished }
    },
    close: () => snap.close(),
  }
}
