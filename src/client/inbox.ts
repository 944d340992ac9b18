/**
 * The client's view of its inbox: the cursor of the last applied event, and the one path through
 * which pushed and synced events reach the application.
 */
import type { InboxEvent } from '../protocol/frames.js'
import type { Session } from './session.js'

/** Sync rounds in a row that may bring nothing before the client stops waiting for a gap to fill. */
const MAX_IDLE_ROUNDS = 3

/**
 * Delivers every inbox event exactly once, in `inboxSeq` order:
 * - an event at or below the cursor is a duplicate (a push that a sync already returned, or the
 *   reverse) and is dropped;
 * - a push above `cursor + 1` means events in between are missing: it is dropped too, and a sync
 *   fetches the whole range in order;
 * - a sync reply is the server's authoritative list after `since`, so its events are applied even
 *   if the server skipped a number.
 */
export class InboxSync {
  private cursor: number | undefined
  /** Highest inboxSeq seen in a push that could not be applied yet. */
  private wanted = 0
  private running: { session: Session; done: Promise<void> } | undefined

  constructor(
    cursor: number | undefined,
    private readonly deliver: (event: InboxEvent) => void,
    private readonly pageLimit: number,
  ) {
    this.cursor = cursor
  }

  /** The `inboxSeq` of the last event delivered (or adopted from `ready`). */
  get inboxSeq(): number | undefined {
    return this.cursor
  }

  /** Without a cursor, start from the server's newest event rather than replaying the whole inbox. */
  adopt(serverInboxSeq: number): void {
    if (this.cursor === undefined) this.cursor = serverInboxSeq
  }

  /** Applies a pushed event. Returns true when the caller must run `sync` to fill a gap. */
  push(event: InboxEvent): boolean {
    const cursor = this.cursor ?? 0
    if (event.inboxSeq <= cursor) return false
    if (event.inboxSeq === cursor + 1) {
      this.apply(event)
      return false
    }
    this.wanted = Math.max(this.wanted, event.inboxSeq)
    return true
  }

  /**
   * Pages `sync` from the cursor until the server has nothing newer and every gap seen in pushes
   * is filled. Concurrent calls on one session share one run; pushes that reveal a gap while it
   * runs extend it. Rejects with the request's error (the caller then drops the session).
   */
  async sync(session: Session, timeoutMs: number): Promise<void> {
    const running = this.running
    if (running !== undefined) {
      if (running.session === session) return await running.done
      await running.done.catch(() => {})
    }
    const done = this.loop(session, timeoutMs)
    const entry = { session, done }
    this.running = entry
    try {
      await done
    } finally {
      if (this.running === entry) this.running = undefined
    }
  }

  private async loop(session: Session, timeoutMs: number): Promise<void> {
    let idleRounds = 0
    do {
      const before = this.cursor ?? 0
      let since = before
      for (;;) {
        const reply = await session.request({ op: 'sync', since, limit: this.pageLimit }, timeoutMs)
        for (const event of reply.events) {
          if (event.inboxSeq > (this.cursor ?? 0)) this.apply(event)
        }
        // A server that says `more` without moving `next` would keep us here forever.
        if (!reply.more || reply.next <= since) break
        since = reply.next
      }
      idleRounds = (this.cursor ?? 0) > before ? 0 : idleRounds + 1
    } while ((this.cursor ?? 0) < this.wanted && idleRounds < MAX_IDLE_ROUNDS)
    if ((this.cursor ?? 0) >= this.wanted) this.wanted = 0
  }

  private apply(event: InboxEvent): void {
    // Move the cursor first so a listener that persists `inboxSeq` saves this event as applied.
    this.cursor = event.inboxSeq
    this.deliver(event)
  }
}
