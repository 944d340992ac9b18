/**
 * Loading a conversation's messages: the newest page when it opens, older pages when scrolling
 * up, and a window around one message further back (a search result), from which newer pages load
 * when scrolling down, or "Jump to latest" goes back to the end. Through the SDK's `history`.
 */
import type { ChatClient } from '@sdk'
import * as r from './reducers'
import type { AppState } from './state'
import type { Store } from './store'

/** Messages per history page. */
export const PAGE = 50
/** Messages loaded on each side of a message jumped to. */
const CONTEXT = 25

export class HistoryActions {
  constructor(private readonly store: Store, private readonly client: () => ChatClient | null) {}

  private get state(): AppState {
    return this.store.get()
  }

  private lastSeq(channel: string): number {
    return this.state.conversations[channel]?.lastSeq ?? 0
  }

  /** The newest page (a conversation opens, or the connection is back). Whether it was loaded. */
  async loadNewest(id: string): Promise<boolean> {
    const client = this.client()
    if (client === null || this.lastSeq(id) === 0) {
      this.store.update((s) => (s.timelines[id]?.loaded ? {} : r.withHistory(s, id, [], 'newest', PAGE)))
      return false
    }
    try {
      const messages = await client.history(id, { limit: PAGE })
      this.store.update((s) => r.withHistory(s, id, messages, 'newest', PAGE))
      return true
    } catch {
      // Not connected: the cached messages stay; the next connection loads again.
      return false
    }
  }

  /** The page before the oldest loaded message (scrolling up). */
  async loadOlder(id: string): Promise<void> {
    const client = this.client()
    const t = this.state.timelines[id]
    if (client === null || t === undefined || !t.loaded || t.atStart || t.loadingOlder) return
    const before = t.messages[0]?.seq
    if (before === undefined || before === null) return
    this.store.update((s) => r.withLoadingOlder(s, id, true))
    try {
      const messages = await client.history(id, { before, limit: PAGE })
      this.store.update((s) => r.withHistory(s, id, messages, 'older', PAGE))
    } catch {
      this.store.update((s) => r.withLoadingOlder(s, id, false))
    }
  }

  /** The page after the newest loaded message, while a window further back is shown (scrolling down). */
  async loadNewer(id: string): Promise<void> {
    const client = this.client()
    const t = this.state.timelines[id]
    if (client === null || t === undefined || !t.loaded || t.atEnd || t.loadingNewer) return
    const after = t.messages[t.messages.length - 1]?.seq
    if (after === undefined || after === null) return
    this.store.update((s) => r.withLoadingNewer(s, id, true))
    try {
      const messages = await client.history(id, { after, limit: PAGE })
      this.store.update((s) => r.withNewer(s, id, messages, PAGE, this.lastSeq(id)))
    } catch {
      this.store.update((s) => r.withLoadingNewer(s, id, false))
    }
  }

  /**
   * Brings message `seq` of `channel` on screen: the loaded messages when they hold it, else the
   * window around it. The message list scrolls to it and highlights it (`jump`).
   */
  async jumpTo(channel: string, seq: number): Promise<void> {
    this.store.update(() => ({ jump: { channel, seq, at: Date.now() } }))
    const t = this.state.timelines[channel]
    if (t?.loaded === true && t.messages.some((m) => m.seq === seq)) return
    const client = this.client()
    if (client === null) return
    try {
      const messages = await client.history(channel, { after: Math.max(0, seq - CONTEXT - 1), before: seq + CONTEXT, limit: 2 * CONTEXT })
      this.store.update((s) => r.withWindow(s, channel, messages, Math.max(this.lastSeq(channel), seq)))
    } catch {
      this.store.update(() => ({ notice: 'Cannot load that message right now. Check your connection and try again.' }))
    }
  }

  /** The message jumped to was shown and highlighted (`at` tells which jump, a newer one may follow). */
  jumped(at: number): void {
    this.store.update((s) => (s.jump?.at === at ? { jump: null } : {}))
  }

  /**
   * Back from a window further back to the newest messages. Offline, the window is dropped
   * instead, so the next connection loads the end (and new messages, ours included, show there).
   */
  async jumpToLatest(id: string): Promise<void> {
    if (!(await this.loadNewest(id))) this.store.update((s) => r.withoutWindow(s, id))
  }
}
