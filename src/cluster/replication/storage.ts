/**
 * Actor storage for a cluster node: opening an actor's store takes ownership of its key
 * (OwnedLog.takeover), reads come from this node's copy of the actor's state, and commits go
 * through the owned log to a majority of the replica set. Same interface as the standalone
 * storage, so actor code does not change.
 */
import { PrefixedStore, type ActorStorage, type ActorStore } from '../../storage/actor-store.js'
import type { Kv, KvOp } from '../../storage/kv.js'
import type { ReplicationContext } from './context.js'
import { OwnedLog } from './owner.js'

class ReplicatedStore extends PrefixedStore {
  constructor(kv: Kv, key: string, private readonly log: OwnedLog) {
    super(kv, key)
  }

  override commit(ops: KvOp[]): Promise<void> {
    return this.log.commit(ops)
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
    const log = await OwnedLog.takeover(this.ctx, key, () => this.onFenced(key))
    this.owned.get(key)?.close()
    this.owned.set(key, log)
    return new ReplicatedStore(this.kv, key, log)
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
}
