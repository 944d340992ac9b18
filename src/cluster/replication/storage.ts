/**
 * Actor storage for a cluster node: opening an actor's store takes ownership of its key
 * (OwnedLog.takeover), reads come from this node's copy of the actor's state, and commits go
 * through the owned log to a majority of the replica set. Same interface as the standalone
 * storage, so actor code does not change.
 */
import { PrefixedStore, type ActorStorage, type ActorStore } from '../../storage/actor-store.js'
import type { Kv, KvOp, RangeOptions } from '../../storage/kv.js'
import { errors } from '../../errors.js'
import { type ReplicationContext, replicationCall } from './context.js'
import { OwnedLog } from './owner.js'
import { type Epoch, PEER_KINDS, type StatusReply, compareEpochs, majority } from './types.js'

class ReplicatedStore extends PrefixedStore {
  private log: Promise<OwnedLog> | null = null
  /** The owned log once a commit went through it: reads wait for its last apply. */
  private owned: OwnedLog | null = null

  constructor(
    kv: Kv,
    key: string,
    private readonly claim: () => Promise<OwnedLog>,
    /** Opened on a key nobody had written: not owned until its first commit. */
    private readonly unclaimed: { stillUntouched: () => Promise<boolean> } | null,
    claimed: OwnedLog | null = null,
  ) {
    super(kv, key)
    this.owned = claimed
  }

  override async confirm(): Promise<void> {
    // Read as empty and never written since by this activation: empty is current if a majority
    // still never saw the key (checking writes nothing, so unknown keys cost no storage).
    if (this.unclaimed && this.log === null) {
      if (await this.unclaimed.stillUntouched()) return
      throw errors.unavailable(`${this.actorKey} was written elsewhere since it was read; retry`)
    }
    const log = await (this.log ??= this.claim().catch((err) => {
      this.log = null
      throw err
    }))
    await log.confirm()
  }

  override async commit(ops: KvOp[]): Promise<void> {
    // A failed claim is not remembered: the actor is deactivated (fenced) or the next commit retries.
    const log = await (this.log ??= this.claim().catch((err) => {
      this.log = null
      throw err
    }))
    this.owned = log
    return log.commit(ops)
  }

  override get<T>(sub: string): Promise<T | undefined> {
    return this.afterApply(() => super.get<T>(sub))
  }

  override getMany<T>(subs: string[]): Promise<Array<T | undefined>> {
    return this.afterApply(() => super.getMany<T>(subs))
  }

  override range<T>(options: RangeOptions): Promise<Array<[string, T]>> {
    return this.afterApply(() => super.range<T>(options))
  }

  /** A commit resolves before its apply to this node's state is written: a read waits for it. */
  private afterApply<T>(read: () => Promise<T>): Promise<T> {
    const pending = this.owned?.applied()
    return pending ? pending.then(read) : read()
  }
}

export class ReplicatedActorStorage implements ActorStorage {
  private readonly owned = new Map<string, OwnedLog>()

  constructor(
    private readonly ctx: ReplicationContext,
    private readonly kv: Kv,
    /** Called when an owner steps down, so the node can deactivate the actor. */
    private readonly onFenced: (key: string) => void,
  ) {}

  async open(key: string): Promise<ActorStore> {
    // A key nobody ever wrote (a login attempt for an unknown name) is read without writing
    // anything; ownership is taken only when the actor first commits.
    if (await this.untouched(key)) return new ReplicatedStore(this.kv, key, () => this.claim(key, true), { stillUntouched: () => this.untouched(key) })
    const log = await this.claim(key, false)
    return new ReplicatedStore(this.kv, key, () => Promise.resolve(log), null, log)
  }

  /** Takes ownership of `key`; when the actor was opened on an untouched key, it must still be empty. */
  private async claim(key: string, expectEmpty: boolean): Promise<OwnedLog> {
    const log = await OwnedLog.takeover(this.ctx, key, () => this.onFenced(key))
    this.owned.get(key)?.close()
    this.owned.set(key, log)
    if (expectEmpty && log.adoptedLast > 0) {
      // Someone wrote the key since it was found empty: the actor's state is stale; start over.
      log.fence('the key was written since it was read as empty')
      throw errors.unavailable(`${key} changed while it was being opened; retry`)
    }
    return log
  }

  /** Whether a majority of the key's replicas (of both sets while the ring changes) never saw it. */
  private async untouched(key: string): Promise<boolean> {
    const { ctx } = this
    const local = await ctx.replica.meta(key)
    if (local.last > 0 || local.promised) return false
    const current = ctx.view.replicaSet(key)
    const previous = ctx.view.previousReplicaSet(key)
    const targets = [...new Set([...current, ...previous])]
    const empty = new Set<string>()
    let touched = false
    await Promise.all(targets.map(async (node) => {
      try {
        const body = { keys: [key] }
        const [status] = await replicationCall<StatusReply[]>(ctx, node, PEER_KINDS.status, body, () => ctx.replica.status(body.keys))
        if (status && status.last === 0 && !status.promised) empty.add(node)
        else touched = true
      } catch {
        // unknown: counts for neither
      }
    }))
    const enough = (set: string[]) => set.length === 0 || set.filter((n) => empty.has(n)).length >= majority(set.length)
    return !touched && enough(current) && enough(previous)
  }

  /**
   * A replica on this node promised `epoch` for `key`: another node took the key over. An owner
   * here with an older epoch steps down now rather than at its next write, so that its actor is
   * deactivated and its unfinished work (fan-out) is woken on the key's current owner; an actor
   * left active would go on serving its old state until someone wrote to it.
   */
  superseded(key: string, epoch: Epoch): void {
    const log = this.owned.get(key)
    if (log && epoch.node !== this.ctx.self && compareEpochs(log.epoch, epoch) < 0) log.fence(`${epoch.node} took the key over (epoch ${epoch.n})`)
  }

  release(key: string): void {
    this.owned.get(key)?.close()
    this.owned.delete(key)
  }

  /** Whether `key` is owned under another replica set than `current` (the ring changed since takeover). */
  replicaSetChanged(key: string, current: string[]): boolean {
    const log = this.owned.get(key)
    if (!log) return false
    return log.replicaSet.length !== current.length || log.replicaSet.some((n, i) => n !== current[i])
  }

  /** Keys this node currently owns. */
  keys(): string[] {
    return [...this.owned.keys()]
  }

  /** Per peer, log entries of the keys this node owns that the peer has not stored yet. */
  lag(): Map<string, number> {
    const out = new Map<string, number>()
    for (const log of this.owned.values()) {
      if (log.isFenced) continue
      for (const [peer, n] of log.lag()) out.set(peer, (out.get(peer) ?? 0) + n)
    }
    return out
  }
}
