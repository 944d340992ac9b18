/**
 * Log compaction policy. Every entry of a key's log is applied to the actor's state on each
 * replica, so once applied the entry itself is needed only by a replica that has not applied it
 * yet, to catch up by the log instead of by a snapshot. A node therefore removes its own applied
 * entries up to what every other replica of the key has applied, except that a replica that is
 * further behind than `maxLag` entries (or that did not answer) holds back at most `maxLag` of
 * them: beyond that it is caught up from a snapshot of the state. Each node decides for its own
 * copy only; nothing is coordinated, and correctness never depends on it (replication works on a
 * compacted log, see replica.ts), only how often snapshots are sent does.
 *
 * It runs in the repair sweep, which already asks the other replicas where they are.
 */
import type { ReplicationContext } from './context.js'
import type { ReplicaMeta, StatusReply } from './types.js'

export interface CompactionOptions {
  /** How often this node compacts its logs, at most; 0 never does (every entry stays beside the state). */
  intervalMs: number
  /** Entries kept for a replica that lags or does not answer; further behind, it gets a snapshot. */
  maxLag: number
}

export const COMPACTION_DEFAULTS: CompactionOptions = { intervalMs: 60_000, maxLag: 10_000 }

/** Up to where `own` may remove entries, given the other replicas' reports (undefined: no answer). */
export function compactionTarget(own: ReplicaMeta, others: Array<StatusReply | undefined>, maxLag: number): number {
  const floor = own.applied - maxLag
  let target = own.applied
  for (const s of others) {
    // A replica mid-install will stand at its snapshot's point, not at what it reports as applied.
    const needs = s && !s.installing ? s.applied : -Infinity
    target = Math.min(target, Math.max(needs, floor))
  }
  return Math.max(target, own.base ?? 0)
}

export class Compactor {
  private lastRun = 0
  private running = false
  private forced = false
  readonly stats = { runs: 0, entries: 0 }

  constructor(private readonly ctx: ReplicationContext, private readonly options: CompactionOptions) {}

  /** The next sweep compacts whatever the interval (an operator asked, `chat-node compact`). */
  force(): void {
    this.forced = true
  }

  /** Called at the start of a sweep (`now` on the node's clock): whether this sweep compacts. */
  begin(now: number): boolean {
    this.running = this.forced || (this.options.intervalMs > 0 && now - this.lastRun >= this.options.intervalMs)
    this.forced = false
    if (this.running) {
      this.lastRun = now
      this.stats.runs++
    }
    return this.running
  }

  /** Whether `meta` has anything a compaction could remove. */
  wants(meta: ReplicaMeta): boolean {
    return this.running && !meta.installing && meta.applied > (meta.base ?? 0)
  }

  /** Compacts `key` as far as the other replicas allow. */
  async consider(key: string, meta: ReplicaMeta, others: Array<StatusReply | undefined>): Promise<void> {
    if (!this.wants(meta)) return
    const target = compactionTarget(meta, others, this.options.maxLag)
    if (target <= (meta.base ?? 0)) return
    // Each step removes a bounded number of entries, in a batch of its own.
    for (;;) {
      const removed = await this.ctx.replica.compact(key, target)
      if (removed === 0) return
      this.stats.entries += removed
      this.ctx.metrics?.compactedEntries.inc(removed)
    }
  }
}
