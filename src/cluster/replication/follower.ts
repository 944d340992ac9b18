/**
 * Keeps one follower's copy of an owned log in step with the owner's: sends entries in order,
 * one request in flight, backing up on a mismatch (as Raft's nextIndex does) and retrying
 * transport failures with backoff until stopped. When the entries the follower needs were
 * compacted away here, it sends a snapshot of the owner's state instead (as Raft's
 * InstallSnapshot) and goes on from its point. Commits wait on `reach(p)`.
 */
import { sleep } from '../../clock.js'
import type { ReplicationContext } from './context.js'
import { replicationCall } from './context.js'
import { pushSnapshot } from './snapshot.js'
import { type AppendReply, type Entry, type Epoch, PEER_KINDS } from './types.js'

const MAX_BATCH_BYTES = 1 << 20

export class FollowerSync {
  private next: number
  private match = 0
  /** The highest commit position an acknowledged append carried: what the follower knows of it. */
  private sentCommit = 0
  private target = 0
  private running = false
  private stopped = false
  private waiters: Array<{ p: number; resolve: () => void }> = []

  constructor(
    private readonly ctx: ReplicationContext,
    readonly node: string,
    private readonly key: string,
    private readonly epoch: Epoch,
    start: number,
    private readonly owner: {
      commitIndex(): number
      fence(reason: string): void
      recentEntries(after: number, upTo: number): { prevE: Epoch | null; entries: Entry[] } | null
    },
  ) {
    this.next = start
  }

  get matched(): number {
    return this.match
  }

  /** Resolves once the follower holds the log up to `p`; never rejects (the caller times out). */
  reach(p: number): Promise<void> {
    if (this.match >= p) return Promise.resolve()
    this.target = Math.max(this.target, p)
    const done = new Promise<void>((resolve) => this.waiters.push({ p, resolve }))
    void this.run()
    return done
  }

  /**
   * Sends the owner's commit position once more, so the follower applies the last entries; not
   * when an append since the commit carried it already.
   */
  poke(): void {
    if (this.sentCommit >= this.owner.commitIndex()) return
    if (this.match > 0 && this.match >= this.target) {
      this.target = this.match
      this.pokeNeeded = true
      void this.run()
    }
  }

  stop(): void {
    this.stopped = true
    for (const w of this.waiters) w.resolve()
    this.waiters = []
  }

  private pokeNeeded = false

  private async run(): Promise<void> {
    if (this.running) return
    this.running = true
    let delay = 25
    try {
      while (!this.stopped && (this.match < this.target || this.pokeNeeded)) {
        this.pokeNeeded = false
        try {
          await this.step()
          delay = 25
        } catch {
          await sleep(this.ctx.clock, delay)
          delay = Math.min(1000, delay * 2)
        }
      }
    } finally {
      this.running = false
    }
  }

  private async step(): Promise<void> {
    const { replica } = this.ctx
    const prevP = this.next - 1
    const upTo = Math.max(this.target, prevP)
    let prevE: Epoch | null = null
    let entries: Entry[]
    const cached = this.owner.recentEntries(prevP, upTo)
    if (cached) ({ prevE, entries } = cached)
    else {
      const read = await replica.fetch({ key: this.key, after: prevP, upTo, maxBytes: MAX_BATCH_BYTES })
      if (prevP < read.base) return this.sendSnapshot()
      if (prevP >= 1 && read.prevE === null) throw new Error(`entry ${prevP} is missing from the owner's log`)
      prevE = read.prevE
      entries = read.entries
    }
    const req = { key: this.key, epoch: this.epoch, prevP, prevE, entries, commit: this.owner.commitIndex() }
    const reply = await replicationCall<AppendReply>(this.ctx, this.node, PEER_KINDS.append, req, () => replica.append(req))
    if (reply.ok) {
      this.match = Math.max(this.match, prevP + entries.length)
      this.sentCommit = Math.max(this.sentCommit, Math.min(req.commit, this.match))
      this.next = this.match + 1
      this.wake()
      return
    }
    if (reply.reason === 'stale') {
      this.owner.fence(`${this.node} promised a newer epoch`)
      this.stop()
      return
    }
    // Back up: to the follower's end when it is short, else to its last applied (known to match).
    this.next = Math.max(1, reply.last < prevP ? reply.last + 1 : Math.min(prevP, reply.applied + 1))
  }

  /** The follower needs entries this owner no longer has: it gets the owner's state instead. */
  private async sendSnapshot(): Promise<void> {
    const { reply, at } = await pushSnapshot(this.ctx, this.node, this.key, this.epoch)
    if (reply.ok) {
      this.match = Math.max(this.match, at.p)
      this.next = this.match + 1
      this.wake()
      return
    }
    switch (reply.reason) {
      case 'stale':
        this.owner.fence(`${this.node} promised a newer epoch`)
        this.stop()
        return
      case 'skip':
        // It already holds that point or later: go on from what it applied.
        this.next = Math.max(this.next, reply.applied + 1)
        return
      case 'restart':
        throw new Error(`${this.node} is installing another snapshot of ${this.key}`)
    }
  }

  private wake(): void {
    const still: typeof this.waiters = []
    for (const w of this.waiters) (w.p <= this.match ? w.resolve() : still.push(w))
    this.waiters = still
  }
}
