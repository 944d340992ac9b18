/**
 * Anti-entropy: brings every live replica of every key this node holds up to this node's
 * committed log, in the background and at a bounded rate, so that after failures and restarts
 * every replica set again holds all acknowledged data, including keys nobody touches. Every node
 * holding a key compares the other live members of its replica set with its committed log; a node
 * that is no longer in the set (it left, or the ring moved) so hands its entries to the new members.
 */
import type { Logger } from 'pino'
import { type TimerHandle, sleep } from '../../clock.js'
import { type ReplicationContext, replicationCall } from './context.js'
import { type Entry, type InstallRequest, PEER_KINDS, type ReplicaMeta, type StatusReply } from './types.js'

const PAGE = 500
const CHUNK_BYTES = 1 << 20

export interface RepairOptions {
  intervalMs: number
  bytesPerSec: number
  /** Activates a key this node owns whose ownership predates the current ring. */
  touch?: (key: string) => void
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
  readonly stats = { sweeps: 0, installs: 0, entries: 0 }

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

  /** One pass over every key held here; stops early at `deadline` (ms since epoch). */
  async sweep(deadline = Infinity): Promise<void> {
    this.stats.sweeps++
    this.touches = 0
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
    const wanted = new Map<string, Array<[string, ReplicaMeta]>>()
    for (const [key, meta] of page) {
      if (meta.commit === 0) continue
      if (this.options.touch && this.touches < TOUCHES_PER_SWEEP && (meta.cfg ?? 0) < view.version && view.owner(key) === self && view.previousReplicaSet(key).length > 0) {
        this.touches++
        this.options.touch(key)
      }
      // Every holder checks the others: a new member of a replica set holds nothing and cannot
      // be the one to start. Installs are idempotent, so two holders repairing one node is harmless.
      for (const node of view.replicaSet(key)) {
        if (node !== self && view.isLive(node)) (wanted.get(node) ?? wanted.set(node, []).get(node)!).push([key, meta])
      }
    }
    for (const [node, keys] of wanted) {
      if (this.stopped || this.ctx.clock.now() > deadline) return
      let statuses: StatusReply[]
      try {
        const body = { keys: keys.map(([k]) => k) }
        statuses = await replicationCall<StatusReply[]>(this.ctx, node, PEER_KINDS.status, body, () => this.ctx.replica.status(body.keys))
      } catch {
        continue
      }
      for (const [i, [key, meta]] of keys.entries()) {
        const status = statuses[i]
        if (status && status.applied < meta.commit) await this.install(node, key, status.applied, meta.commit, deadline).catch(() => undefined)
      }
    }
  }

  /** Sends committed entries (after, upTo] to `node`, chunk by chunk, within the byte budget. */
  private async install(node: string, key: string, after: number, upTo: number, deadline: number): Promise<void> {
    while (after < upTo && !this.stopped && this.ctx.clock.now() <= deadline) {
      const entries: Entry[] = await this.ctx.replica.fetch({ key, after, upTo, maxBytes: CHUNK_BYTES })
      if (entries.length === 0) return
      await this.spend(entries.reduce((n, e) => n + JSON.stringify(e.ops).length, 0))
      const req: InstallRequest = { key, entries, commit: upTo }
      const status = await replicationCall<StatusReply>(this.ctx, node, PEER_KINDS.install, req, () => this.ctx.replica.install(req))
      this.stats.installs++
      this.stats.entries += entries.length
      if (status.applied <= after) return
      after = status.applied
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
