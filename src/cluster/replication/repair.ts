/**
 * Anti-entropy: brings every live replica of every key this node holds up to this node's
 * committed log, in the background and at a bounded rate, so that after failures and restarts
 * every replica set again holds all acknowledged data, including keys nobody touches. Every node
 * holding a key compares the other live members of its replica set with its committed log; a node
 * that is no longer in the set (it left, or the ring moved) so hands its entries to the new members.
 * A replica that needs entries this node compacted away gets a snapshot of the state instead.
 * The same sweep compacts this node's logs (compactor.ts), with the positions it just learned.
 */
import type { Logger } from 'pino'
import { type TimerHandle, sleep } from '../../clock.js'
import type { Compactor } from './compactor.js'
import { type ReplicationContext, replicationCall } from './context.js'
import { pushSnapshot } from './snapshot.js'
import { type InstallRequest, PEER_KINDS, type ReplicaMeta, type StatusReply } from './types.js'

const PAGE = 500
const CHUNK_BYTES = 1 << 20

export interface RepairOptions {
  intervalMs: number
  bytesPerSec: number
  /** Activates a key this node owns whose ownership predates the current ring. */
  touch?: (key: string) => void
  /** Compacts this node's logs during sweeps; absent (a leaving node's handoff) never does. */
  compactor?: Compactor
}

/** Keys touched per sweep, so that a ring change does not activate everything at once. */
const TOUCHES_PER_SWEEP = 200

export class Repairer {
  private timer: TimerHandle | null = null
  private running: Promise<void> | null = null
  private again = false
  private budget = 0
  private budgetAt: number
  private stopped = false
  private touches = 0
  /** Counters for logs and tests. */
  readonly stats = { sweeps: 0, installs: 0, entries: 0, snapshots: 0 }

  constructor(private readonly ctx: ReplicationContext, private readonly options: RepairOptions, private readonly log: Logger) {
    this.budgetAt = ctx.clock.now()
  }

  start(): void {
    this.timer = this.ctx.clock.setInterval(() => this.trigger(), this.options.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    this.stopped = true
    this.ctx.clock.clearInterval(this.timer)
  }

  /** Runs a sweep soon; sweeps never overlap. */
  trigger(): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.sweep().catch((err) => this.log.warn({ err }, 'repair sweep failed')).finally(() => {
      this.running = null
      if (this.again) {
        this.again = false
        this.trigger()
      }
    })
  }

  /** Runs a full sweep now, after the one in progress if any; resolves when it is done. */
  async sweepNow(): Promise<void> {
    while (this.running) await this.running
    const run = this.sweep()
    this.running = run.catch(() => undefined).finally(() => { this.running = null })
    await run
  }

  /** One pass over every key held here; stops early at `deadline` (ms since epoch). */
  async sweep(deadline = Infinity): Promise<void> {
    this.stats.sweeps++
    this.touches = 0
    this.options.compactor?.begin(this.ctx.clock.now())
    let after = ''
    for (;;) {
      if (this.stopped || this.ctx.clock.now() > deadline) return
      const page = await this.ctx.replica.keys(after, PAGE)
      if (page.length === 0) return
      after = page[page.length - 1]![0]
      await this.repairPage(page, deadline)
    }
  }

  private async repairPage(page: Array<[string, ReplicaMeta]>, deadline: number): Promise<void> {
    const { view, self } = this.ctx
    const compactor = this.options.compactor
    const wanted = new Map<string, string[]>()
    const held = page.filter(([, meta]) => meta.commit > 0)
    for (const [key, meta] of held) {
      if (this.options.touch && this.touches < TOUCHES_PER_SWEEP && (meta.cfg ?? 0) < view.version && view.owner(key) === self && view.previousReplicaSet(key).length > 0) {
        this.touches++
        this.options.touch(key)
      }
      // Every holder checks the others: a new member of a replica set holds nothing and cannot
      // be the one to start. Installs are idempotent, so two holders repairing one node is harmless.
      for (const node of view.replicaSet(key)) {
        if (node !== self && view.isLive(node)) (wanted.get(node) ?? wanted.set(node, []).get(node)!).push(key)
      }
    }
    const reports = new Map<string, Map<string, StatusReply>>()
    for (const [node, keys] of wanted) {
      if (this.stopped || this.ctx.clock.now() > deadline) return
      let statuses: StatusReply[]
      try {
        const body = { keys }
        statuses = await replicationCall<StatusReply[]>(this.ctx, node, PEER_KINDS.status, body, () => this.ctx.replica.status(body.keys))
      } catch {
        continue
      }
      reports.set(node, new Map(statuses.filter(Boolean).map((s) => [s.key, s])))
    }
    for (const [key, meta] of held) {
      if (this.stopped || this.ctx.clock.now() > deadline) return
      const members = view.replicaSet(key).filter((n) => n !== self)
      for (const node of members) {
        const status = reports.get(node)?.get(key)
        if (status && (status.applied < meta.commit || (status.installing && !meta.installing))) {
          await this.install(node, key, status, meta.commit, deadline)
            .catch((err) => this.log.debug({ key, node, err: (err as Error).message }, 'repair of a replica failed'))
        }
      }
      const others = members.map((n) => reports.get(n)?.get(key))
      if (compactor) await compactor.consider(key, meta, others).catch((err) => this.log.warn({ key, err }, 'compaction failed'))
    }
  }

  /** Brings `node` up to `upTo`: committed entries chunk by chunk, or a snapshot when they were compacted, within the byte budget. */
  private async install(node: string, key: string, status: StatusReply, upTo: number, deadline: number): Promise<void> {
    let after = status.applied
    let snapshot = status.installing === true
    while (after < upTo && !this.stopped && this.ctx.clock.now() <= deadline) {
      const read = snapshot ? null : await this.ctx.replica.fetch({ key, after, upTo, maxBytes: CHUNK_BYTES })
      if (!read || after < read.base) {
        const { reply } = await pushSnapshot(this.ctx, node, key, null, (bytes) => this.spend(bytes))
        if (!reply.ok) return
        this.stats.snapshots++
        snapshot = false
        if (reply.applied <= after) return
        after = reply.applied
        continue
      }
      const entries = read.entries
      if (entries.length === 0) return
      await this.spend(entries.reduce((n, e) => n + JSON.stringify(e.ops).length, 0))
      const req: InstallRequest = { key, entries, commit: upTo }
      const result = await replicationCall<StatusReply>(this.ctx, node, PEER_KINDS.install, req, () => this.ctx.replica.install(req))
      this.stats.installs++
      this.stats.entries += entries.length
      this.ctx.metrics?.repairedEntries.inc(entries.length)
      if (result.applied <= after) return
      after = result.applied
    }
  }

  private async spend(bytes: number): Promise<void> {
    const rate = this.options.bytesPerSec
    const now = this.ctx.clock.now()
    this.budget = Math.min(rate, this.budget + ((now - this.budgetAt) / 1000) * rate)
    this.budgetAt = now
    this.budget -= bytes
    if (this.budget < 0) await sleep(this.ctx.clock, Math.min(5000, (-this.budget / rate) * 1000))
  }
}
