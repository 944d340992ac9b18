/**
 * The owner side of replication for one activated actor key. Taking over: pick a new epoch, get it
 * promised by a majority of the key's replica set (and of its previous replica set while the
 * ring is changing), adopt the most up-to-date log among those replicas, then commit a marker
 * entry under the new epoch to a majority, which commits everything before it. Only then does the
 * actor serve. Committing: append under the epoch, wait for a majority (this node included).
 *
 * Contract: `commit` resolves only after a majority of the replica set stored the change; it
 * rejects with UNAVAILABLE when it cannot, and the owner then steps down for good (`fenced`): a
 * new activation with a new epoch must take over. A paused-then-resumed owner cannot commit
 * anything, because the replicas that promised a newer epoch refuse it.
 */
import { type TimerHandle, sleep } from '../../clock.js'
import { ChatError, errors } from '../../errors.js'
import type { KvOp } from '../../storage/kv.js'
import { type ReplicationContext, replicationCall } from './context.js'
import { FollowerSync } from './follower.js'
import {
  type AppendReply, type Entry, type Epoch, type PrepareReply, PEER_KINDS, type StatusReply, compareEpochs, majority, sameEpoch,
} from './types.js'

const PREPARE_ATTEMPTS = 4
const TAKEOVER_ATTEMPTS = 3
const RECENT_ENTRIES = 64
const FETCH_BYTES = 4 << 20

export class OwnedLog {
  private fenced: string | null = null
  private lastEpoch: Epoch | null = null
  /** The newest entries this owner wrote, which followers are most likely to need next. */
  private readonly recent = new Map<number, Entry>()
  /** The log's end as adopted, before this owner's marker: 0 when the key had no data. */
  adoptedLast = 0
  private commitTimer: TimerHandle | null = null
  private readonly followers: FollowerSync[]

  private constructor(
    private readonly ctx: ReplicationContext,
    readonly key: string,
    readonly epoch: Epoch,
    /** The replica set this ownership was taken over for; a new ring means a new takeover. */
    readonly replicaSet: string[],
    private last: number,
    private commitIndex: number,
    private readonly onFenced: (reason: string) => void,
  ) {
    const self = {
      commitIndex: () => this.commitIndex,
      fence: (reason: string) => this.fence(reason),
      recentEntries: (after: number, upTo: number) => this.recentEntries(after, upTo),
    }
    this.followers = replicaSet.filter((n) => n !== ctx.self).map((n) => new FollowerSync(ctx, n, key, epoch, last + 1, self))
  }

  /** Takes ownership of `key`, retrying a few times when too few replicas answered in time. */
  static async takeover(ctx: ReplicationContext, key: string, onFenced: (reason: string) => void): Promise<OwnedLog> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await OwnedLog.takeoverOnce(ctx, key, onFenced)
      } catch (err) {
        if (attempt >= TAKEOVER_ATTEMPTS || (err as { code?: string }).code !== 'UNAVAILABLE' || !ctx.view.replicaSet(key).includes(ctx.self)) throw err
        ctx.log.debug({ key, attempt, err: (err as Error).message }, 'takeover failed; retrying')
        await sleep(ctx.clock, 100 * attempt)
      }
    }
  }

  private static async takeoverOnce(ctx: ReplicationContext, key: string, onFenced: (reason: string) => void): Promise<OwnedLog> {
    await ctx.view.settled()
    const current = ctx.view.replicaSet(key)
    const previous = ctx.view.previousReplicaSet(key)
    if (!current.includes(ctx.self)) throw errors.unavailable(`${ctx.self} holds no replica of ${key}`)
    requireLiveMajority(ctx, current)

    let epoch: Epoch = { n: ((await ctx.replica.meta(key)).promised?.n ?? 0) + 1, node: ctx.self }
    let replies: PrepareReply[] = []
    for (let attempt = 1; ; attempt++) {
      replies = await prepareAll(ctx, key, epoch, current, previous)
      const refused = replies.filter((r): r is Extract<PrepareReply, { ok: false }> => !r.ok)
      if (refused.length === 0) break
      if (attempt >= PREPARE_ATTEMPTS) throw errors.unavailable(`could not take over ${key}: newer epochs keep appearing`)
      const highest = Math.max(...refused.map((r) => r.promised?.n ?? 0))
      epoch = { n: Math.max(highest, epoch.n) + 1, node: ctx.self }
    }
    const granted = replies.filter((r): r is Extract<PrepareReply, { ok: true }> => r.ok)
    if (!quorate(ctx, granted, current, previous)) {
      throw errors.unavailable(`no majority of ${key}'s replicas answered`)
    }

    // Adopt the most up-to-date log among the majority: highest last epoch, then longest.
    const best = granted.reduce((a, b) => (compareEpochs(b.lastEpoch, a.lastEpoch) > 0 || (compareEpochs(b.lastEpoch, a.lastEpoch) === 0 && b.last > a.last) ? b : a))
    const local = await ctx.replica.meta(key)
    if (best.node !== ctx.self && (compareEpochs(best.lastEpoch, local.lastEpoch) !== 0 || best.last !== local.last)) {
      await adoptLog(ctx, key, epoch, best.node, best.last, best.commit)
    }
    const adopted = await ctx.replica.meta(key)
    const log = new OwnedLog(ctx, key, epoch, current, adopted.last, adopted.applied, onFenced)
    log.adoptedLast = adopted.last
    log.lastEpoch = adopted.lastEpoch
    // The marker commits, under this epoch, everything adopted before it.
    await log.commit([], ctx.view.version)
    ctx.log.debug({ key, epoch, last: log.last }, 'took over')
    return log
  }

  /** Stores `ops` as the next entry on a majority of the replica set, then applies it here. */
  async commit(ops: KvOp[], cfg?: number): Promise<void> {
    if (this.fenced) throw errors.unavailable(`owner of ${this.key} stepped down: ${this.fenced}`)
    requireLiveMajority(this.ctx, this.replicaSet)
    const p = this.last + 1
    const entry: Entry = { p, e: this.epoch, ops, ...(cfg !== undefined ? { cfg } : {}) }
    const local = await this.stored(() => this.ctx.replica.append({ key: this.key, epoch: this.epoch, prevP: this.last, prevE: this.lastEpoch, entries: [entry], commit: this.commitIndex }))
    if (!local.ok) {
      this.fence('the local replica refused the append')
      throw errors.unavailable(`owner of ${this.key} stepped down`)
    }
    this.last = p
    this.lastEpoch = this.epoch
    this.remember(entry)
    await this.replicate(p)
    this.commitIndex = p
    await this.stored(() => this.ctx.replica.commitTo(this.key, p, [entry]))
    this.scheduleCommitNotice()
  }

  /**
   * Confirms that this owner is still the key's owner, writing nothing: a majority of its replica
   * set (itself included) answers that its promise is exactly this owner's epoch. Promises only
   * rise and a newer owner needs a majority of them, so no newer owner had taken over when those
   * answers were given, and what this owner holds is everything committed. A replica that promised
   * a newer epoch deposes it; too few answers is UNAVAILABLE (the caller retries). Replicas of
   * a newer ring refuse the question, as they refuse appends.
   */
  async confirm(): Promise<void> {
    if (this.fenced) throw errors.unavailable(`owner of ${this.key} stepped down: ${this.fenced}`)
    const { ctx, key, epoch } = this
    const need = majority(this.replicaSet.length)
    let same = 0
    let answered = 0
    let newer = false
    await new Promise<void>((resolve) => {
      const body = { keys: [key] }
      for (const node of this.replicaSet) {
        replicationCall<StatusReply[]>(ctx, node, PEER_KINDS.status, body, () => ctx.replica.status(body.keys))
          .then(([s]) => {
            if (compareEpochs(s?.promised ?? null, epoch) > 0) newer = true
            else if (sameEpoch(s?.promised ?? null, epoch)) same++
          }, () => undefined)
          .finally(() => {
            answered++
            if (newer || same >= need || answered === this.replicaSet.length) resolve()
          })
      }
    })
    if (newer) this.fence('a replica promised a newer epoch')
    if (this.fenced) throw errors.unavailable(`owner of ${key} stepped down: ${this.fenced}`)
    if (same < need) throw errors.unavailable(`could not confirm the owner of ${key} with a majority of its replicas; retry`)
  }

  /**
   * A write to this node's own storage. If it fails (a full or failing disk), the owner steps down:
   * the entry may be committed on the other replicas already while this node's state lacks it, and
   * an actor that went on from its own state would reuse its seq. The next activation takes over
   * and reads the key back from a majority.
   */
  private async stored<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write()
    } catch (err) {
      if (err instanceof ChatError) throw err
      this.fence(`a storage write failed: ${(err as Error).message}`)
      throw errors.unavailable(`owner of ${this.key} stepped down: its storage failed`, err)
    }
  }

  /**
   * Entries (after, upTo] with the epoch of entry `after`, from memory when this owner still holds
   * them all; null when they must be read from storage.
   */
  recentEntries(after: number, upTo: number): { prevE: Epoch | null; entries: Entry[] } | null {
    if (after === 0 || upTo > this.last) return null
    const prev = this.recent.get(after)
    if (!prev) return null
    const entries: Entry[] = []
    for (let p = after + 1; p <= upTo; p++) {
      const e = this.recent.get(p)
      if (!e) return null
      entries.push(e)
    }
    return { prevE: prev.e, entries }
  }

  private remember(entry: Entry): void {
    this.recent.set(entry.p, entry)
    this.recent.delete(entry.p - RECENT_ENTRIES)
  }

  close(): void {
    this.ctx.clock.clearTimeout(this.commitTimer)
    for (const f of this.followers) f.stop()
  }

  get isFenced(): boolean {
    return this.fenced !== null
  }

  fence(reason: string): void {
    if (this.fenced) return
    this.fenced = reason
    this.ctx.log.info({ key: this.key, epoch: this.epoch, reason }, 'owner stepped down')
    this.close()
    this.onFenced(reason)
  }

  /** Waits until a majority (this node included) holds position `p`, or steps down. */
  private async replicate(p: number): Promise<void> {
    const need = majority(this.replicaSet.length) - 1
    if (need <= 0) return
    let reached = 0
    let timer: TimerHandle | undefined
    const ok = await new Promise<boolean>((resolve) => {
      timer = this.ctx.clock.setTimeout(() => resolve(false), this.ctx.commitTimeoutMs)
      for (const f of this.followers) {
        void f.reach(p).then(() => {
          if (f.matched >= p && ++reached >= need) resolve(true)
        })
      }
    })
    this.ctx.clock.clearTimeout(timer)
    if (this.fenced) throw errors.unavailable(`owner of ${this.key} stepped down: ${this.fenced}`)
    if (!ok) {
      this.fence('no majority within the commit timeout')
      throw errors.unavailable(`no majority of ${this.key}'s replicas stored the change in time`)
    }
  }

  /** Followers learn the last commit position shortly after, without waiting for another write. */
  private scheduleCommitNotice(): void {
    if (this.commitTimer) return
    this.commitTimer = this.ctx.clock.setTimeout(() => {
      this.commitTimer = null
      for (const f of this.followers) f.poke()
    }, 20)
    this.commitTimer.unref()
  }
}

function requireLiveMajority(ctx: ReplicationContext, set: string[]): void {
  const live = set.filter((n) => ctx.view.isLive(n)).length
  if (live < majority(set.length)) throw errors.unavailable(`a majority of the replicas is down (${live} of ${set.length} live)`)
}

/**
 * Enough promises to take over: a majority of the current replica set, and a majority of the
 * previous record's replica set unless the promises already show a takeover committed under the
 * current record (a marker with cfg at the current version: whoever wrote it had gathered the
 * previous set's majority and adopted all it held, so nothing committed under the old set can be
 * missed). This way a changed ring needs the old replicas once per key, not forever.
 */
function quorate(ctx: ReplicationContext, granted: Array<Extract<PrepareReply, { ok: true }>>, current: string[], previous: string[]): boolean {
  if (!hasQuorum(ctx, granted, current, false)) return false
  if (previous.length === 0 || granted.some((r) => current.includes(r.node) && r.cfg >= ctx.view.version)) return true
  return hasQuorum(ctx, granted, previous, true)
}

/** Counts promises from members of `set` whose incarnation matches the record's. */
function hasQuorum(ctx: ReplicationContext, granted: Array<Extract<PrepareReply, { ok: true }>>, set: string[], previous: boolean): boolean {
  if (set.length === 0) return true
  const ok = granted.filter((r) => set.includes(r.node) && (ctx.view.incarnation(r.node, previous) ?? r.incarnation) === r.incarnation)
  return ok.length >= majority(set.length)
}

/** Asks every replica of both sets to promise `epoch`; resolves once both have a majority or all answered. */
async function prepareAll(ctx: ReplicationContext, key: string, epoch: Epoch, current: string[], previous: string[]): Promise<PrepareReply[]> {
  const targets = [...new Set([...current, ...previous])]
  const replies: PrepareReply[] = []
  let pending = targets.length
  return new Promise((resolve) => {
    const timer = ctx.clock.setTimeout(() => resolve([...replies]), ctx.rpcTimeoutMs + 100)
    const settle = () => {
      const granted = replies.filter((r): r is Extract<PrepareReply, { ok: true }> => r.ok)
      const refused = replies.some((r) => !r.ok)
      if (pending === 0 || refused || quorate(ctx, granted, current, previous)) {
        ctx.clock.clearTimeout(timer)
        resolve([...replies])
      }
    }
    for (const node of targets) {
      const req = { key, epoch }
      replicationCall<PrepareReply>(ctx, node, PEER_KINDS.prepare, req, () => ctx.replica.prepare(req))
        .then((r) => replies.push(r), () => undefined)
        .finally(() => {
          pending--
          settle()
        })
    }
  })
}

/** Replaces this node's unapplied log with `source`'s, page by page. */
async function adoptLog(ctx: ReplicationContext, key: string, epoch: Epoch, source: string, upTo: number, commit: number): Promise<void> {
  const local = await ctx.replica.meta(key)
  let after = local.applied
  let prevE: Epoch | null = null
  let first = true
  while (after < upTo) {
    const req = { key, after, upTo, maxBytes: FETCH_BYTES }
    const entries = await replicationCall<Entry[]>(ctx, source, PEER_KINDS.fetch, req, () => ctx.replica.fetch(req))
    if (entries.length === 0 || entries[0]!.p !== after + 1) throw errors.unavailable(`${source} could not hand over ${key} from ${after + 1}`)
    const reply: AppendReply = await ctx.replica.append({
      key, epoch, prevP: after, prevE, entries, commit, ...(first ? { truncateAfter: local.applied } : {}),
    })
    if (!reply.ok) throw errors.unavailable(`could not adopt ${key}'s log: ${reply.reason}`)
    first = false
    const tail = entries[entries.length - 1]!
    after = tail.p
    prevE = tail.e
  }
}
