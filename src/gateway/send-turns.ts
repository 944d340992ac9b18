/**
 * Turns at sending: at most `limit` sessions of this node have sends being handled at once
 * (`--send-concurrency`); the others wait in arrival order, their frames queued in their session,
 * and a session whose turn comes takes every send to the channel that waited meanwhile as one batch.
 *
 * Without it, every socket's sends went to their channels as they arrived: at 200 senders with 10
 * in flight each, some 2,000 messages were in the commit path at once (their frames, promises and
 * rows), alive for hundreds of ms, so each young collection copied them and then promoted them, and
 * garbage collection took a quarter of the main thread. Work waiting its turn is a parsed frame per
 * message; the messages in the commit path are a few batches, each one commit for its channel.
 * docs/PERFORMANCE.md has the measurements.
 *
 * A turn costs no allocation while one is free. It only orders sends: admission control
 * (load-shedder.ts) still counts a waiting send as admitted, and refuses new ones past its bounds.
 */
export class SendTurns {
  private running = 0
  private readonly queue: Array<() => void> = []

  /** `limit` sessions at once; 0 is no limit. */
  constructor(private readonly limit: number) {}

  /** Sessions waiting for a turn (for metrics). */
  get waiting(): number {
    return this.queue.length
  }

  /**
   * Takes a turn: undefined when it is the caller's at once, else a promise settled when it is.
   * Every turn taken is given back with `give`, once.
   */
  take(): Promise<void> | undefined {
    if (this.limit === 0) return undefined
    if (this.running < this.limit) {
      this.running++
      return undefined
    }
    return new Promise((resolve) => this.queue.push(resolve))
  }

  /** Gives a turn back: the longest waiting session has it next. */
  give(): void {
    if (this.limit === 0) return
    const next = this.queue.shift()
    if (next) next()
    else this.running--
  }
}
