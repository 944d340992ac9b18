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
import { type Granted, adoptLog, completeState, epochOwner, prepareAll, quorate, requireLiveMajority } from './takeover.js'
import { type Entry, type Epoch, type PrepareReply, PEER_KINDS, type StatusReply, compareEpochs, majority, sameEpoch } from './types.js'

const PREPARE_ATTEMPTS = 4
const TAKEOVER_ATTEMPTS = 3
const RECENT_ENTRIES = 64
/**
 * How long after the last commit of a burst followers are told of it. Each append carries the
 * commit position, so while writes go on no notice is sent (a follower applies each entry with the
 * next append); the last entry of a burst is applied this much later on the followers (they hold
 * it already: no commit waits on it).
 */
const COMMIT_NOTICE_MS = 100


export class OwnedLog {
  private fenced: string | null = null
  private lastEpoch: Epoch | null = null
  /** The newest entries this owner wrote, which followers are most likely to need next. */
  private readonly recent = new Map<number, Entry>()
  /** The log's end as adopted, before this owner's marker: 0 when the key had no data. */
  adoptedLast = 0
  private commitTimer: TimerHandle | null = null
  private lastCommitAt = 0
  /** The last commit's apply to this node's state while it is being written. */
  private applying: Promise<void> | null = null
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
        const log = await OwnedLog.takeoverOnce(ctx, key, onFenced)
        ctx.metrics?.takeovers.inc({ outcome: 'ok' })
        return log
      } catch (err) {
        const last = attempt >= TAKEOVER_ATTEMPTS || (err as { code?: string }).code !== 'UNAVAILABLE' || !ctx.view.replicaSet(key).includes(ctx.self)
        if (last) ctx.metrics?.takeovers.inc({ outcome: 'failed' })
        if (last) throw err
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
    requireLiveMajority(ctx, current, 'takeover')

    let epoch: Epoch = { n: ((await ctx.replica.meta(key)).promised?.n ?? 0) + 1, node: epochOwner(ctx) }
    let replies: PrepareReply[] = []
    for (let attempt = 1; ; attempt++) {
      replies = await prepareAll(ctx, key, epoch, current, previous)
      const refused = replies.filter((r): r is Extract<PrepareReply, { ok: false }> => !r.ok)
      if (refused.length === 0) break
      if (attempt >= PREPARE_ATTEMPTS) throw errors.unavailable(`could not take over ${key}: newer epochs keep appearing`)
      const highest = Math.max(...refused.map((r) => r.promised?.n ?? 0))
      epoch = { n: Math.max(highest, epoch.n) + 1, node: epochOwner(ctx) }
    }
    const granted = replies.filter((r): r is Granted => r.ok)
    if (!quorate(ctx, granted, current, previous)) {
      ctx.metrics?.quorumFailures.inc({ op: 'takeover' })
      throw errors.unavailable(`no majority of ${key}'s replicas answered`)
    }

    // Adopt the most up-to-date log among the majority: highest last epoch, then longest.
    const best = granted.reduce((a, b) => (compareEpochs(b.lastEpoch, a.lastEpoch) > 0 || (compareEpochs(b.lastEpoch, a.lastEpoch) === 0 && b.last > a.last) ? b : a))
    await completeState(ctx, key, best, granted)
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
    // The actor reads its state next: what the marker committed must be applied first.
    await log.applied()
    ctx.log.debug({ key, epoch, last: log.last }, 'took over')
    return log
  }

  /**
   * Stores `ops` as the next entry on a majority of the replica set; resolves once it is committed
   * there, with its apply to this node's state under way (`applied()`). The actor's reads wait for
   * that apply, so it sees its own writes; a failed apply steps the owner down, and the entry,
   * committed on a majority, is applied by the next owner's takeover.
   */
  async commit(ops: KvOp[], cfg?: number): Promise<void> {
    if (this.fenced) throw errors.unavailable(`owner of ${this.key} stepped down: ${this.fenced}`)
    requireLiveMajority(this.ctx, this.replicaSet, 'commit')
    const p = this.last + 1
    const entry: Entry = { p, e: this.epoch, ops, ...(cfg !== undefined ? { cfg } : {}) }
    const local = this.stored(() => this.ctx.replica.append({ key: this.key, epoch: this.epoch, prevP: this.last, prevE: this.lastEpoch, entries: [entry], commit: this.commitIndex }))
    this.last = p
    this.lastEpoch = this.epoch
    this.remember(entry)
    // The followers' appends go out while this node's own is written (as a Raft leader may): the
    // entry commits once a majority, this node included, stored it. Should the local write be
    // refused or fail, the owner steps down, which ends the wait for the followers too.
    const replicated = this.replicate(p)
    replicated.catch(() => {})
    if (!(await local).ok) {
      this.fence('the local replica refused the append')
      throw errors.unavailable(`owner of ${this.key} stepped down`)
    }
    await replicated
    this.commitIndex = p
    // Later writes to this key's replica wait behind this apply (the replica serializes them).
    const apply = this.stored(() => this.ctx.replica.commitTo(this.key, p, [entry])).then(
      () => undefined,
      () => undefined,
    )
    this.applying = apply
    void apply.then(() => {
      if (this.applying === apply) this.applying = null
    })
    this.lastCommitAt = this.ctx.clock.now()
    this.scheduleCommitNotice()
  }

  /**
   * While the last commit's apply is being written, a promise that resolves once every commit so
   * far is applied to this node's state (or failed to be, and the owner stepped down); else null.
   */
  applied(): Promise<void> | null {
    return this.applying
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

  /** Per follower, entries of this log it has not stored yet. */
  lag(): Array<[string, number]> {
    return this.followers.map((f) => [f.node, Math.max(0, this.last - f.matched)])
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
      this.ctx.metrics?.quorumFailures.inc({ op: 'commit' })
      this.fence('no majority within the commit timeout')
      throw errors.unavailable(`no majority of ${this.key}'s replicas stored the change in time`)
    }
  }

  /** Followers learn the last commit position shortly after, without waiting for another write. */
  private scheduleCommitNotice(delayMs = COMMIT_NOTICE_MS): void {
    if (this.commitTimer) return
    this.commitTimer = this.ctx.clock.setTimeout(() => {
      this.commitTimer = null
      // Writes still coming tell the followers themselves: wait until they pause.
      const quiet = this.ctx.clock.now() - this.lastCommitAt
      if (quiet < COMMIT_NOTICE_MS) return this.scheduleCommitNotice(COMMIT_NOTICE_MS - quiet)
      for (const f of this.followers) f.poke()
    }, delayMs)
    this.commitTimer.unref()
  }
}
