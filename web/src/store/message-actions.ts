/**
 * Changing a message already sent: edit it in place (Up arrow in an empty composer, or the
 * message's menu), delete it after a confirmation, and put a reaction on or off. Through the
 * SDK's `edit`, `deleteMessage` and `react`; each is idempotent, so a retry is always safe. The
 * change shows on this device once the server said ok, and on every device by its inbox event.
 */
import { ChatError, LIMITS, type ChatClient } from '@sdk'
import { codePoints } from '../lib/format'
import { findShown, withOwnChange } from './changes'
import { describe } from './errors'
import { mayDelete, mayEdit, type AppState } from './state'
import type { Store } from './store'

export class MessageActions {
  constructor(private readonly store: Store, private readonly client: () => ChatClient | null) {}

  private get state(): AppState {
    return this.store.get()
  }

  private get me(): string {
    return this.state.session?.username ?? ''
  }

  // ---- edit ----

  /** Opens the editor on one of my messages. */
  startEdit(channel: string, seq: number): void {
    const m = findShown(this.state, channel, seq)
    if (m === undefined || !mayEdit(m, this.me)) return
    this.store.update(() => ({ editing: { channel, seq, saving: false, error: null } }))
  }

  /** Up arrow in an empty composer: my newest message here that can still be edited. Whether there was one. */
  editLast(channel: string): boolean {
    const messages = this.state.timelines[channel]?.messages ?? []
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i]!
      if (mayEdit(m, this.me)) {
        this.startEdit(channel, m.seq!)
        return true
      }
    }
    return false
  }

  cancelEdit(): void {
    this.store.update(() => ({ editing: null }))
  }

  /** Saves the editor's text. Unchanged text just closes it; errors stay in the editor. */
  async saveEdit(text: string): Promise<void> {
    const editing = this.state.editing
    if (editing === null || editing.saving) return
    const { channel, seq } = editing
    const m = findShown(this.state, channel, seq)
    if (m === undefined || m.deleted === true) return this.store.update(() => ({ editing: null }))
    const problem = checkText(text)
    if (problem !== null) return this.setEditing({ error: problem })
    if (text === m.text) return this.store.update(() => ({ editing: null }))
    const client = this.client()
    if (client === null) return this.setEditing({ error: OFFLINE })
    this.setEditing({ saving: true, error: null })
    try {
      await client.edit(channel, seq, text)
      this.store.update((s) => ({
        ...withOwnChange(s, { op: 'edit', inboxSeq: 0, channel, seq, text, by: this.me, ts: Date.now() }, m),
        editing: s.editing?.channel === channel && s.editing.seq === seq ? null : s.editing,
      }))
    } catch (err) {
      this.setEditing({ saving: false, error: changeError(err) })
    }
  }

  private setEditing(change: Partial<NonNullable<AppState['editing']>>): void {
    this.store.update((s) => (s.editing === null ? {} : { editing: { ...s.editing, ...change } }))
  }

  // ---- delete ----

  /** Asks "Delete this message?" (the dialog). */
  askDelete(channel: string, seq: number): void {
    const m = findShown(this.state, channel, seq)
    if (m === undefined || !mayDelete(m, this.state.conversations[channel], this.me)) return
    this.store.update(() => ({ deleting: { channel, seq, busy: false, error: null }, editing: null }))
  }

  cancelDelete(): void {
    this.store.update(() => ({ deleting: null }))
  }

  /** The dialog's Delete: the message is erased for everyone. Errors stay in the dialog. */
  async confirmDelete(): Promise<void> {
    const deleting = this.state.deleting
    if (deleting === null || deleting.busy) return
    const { channel, seq } = deleting
    const m = findShown(this.state, channel, seq)
    const client = this.client()
    if (client === null) return this.setDeleting({ error: OFFLINE })
    this.setDeleting({ busy: true, error: null })
    try {
      await client.deleteMessage(channel, seq)
      this.store.update((s) => ({
        ...(m === undefined ? {} : withOwnChange(s, { op: 'delete', inboxSeq: 0, channel, seq, by: this.me, ts: Date.now() }, m)),
        deleting: null,
      }))
    } catch (err) {
      this.setDeleting({ busy: false, error: changeError(err) })
    }
  }

  private setDeleting(change: Partial<NonNullable<AppState['deleting']>>): void {
    this.store.update((s) => (s.deleting === null ? {} : { deleting: { ...s.deleting, ...change } }))
  }

  // ---- react ----

  /** Puts my `emoji` on the message, or takes it off when it is already on. */
  async toggleReaction(channel: string, seq: number, emoji: string): Promise<void> {
    const m = findShown(this.state, channel, seq)
    if (m === undefined || m.seq === null || m.deleted === true) return
    const on = !(m.reactions?.[emoji]?.includes(this.me) ?? false)
    const client = this.client()
    if (client === null) return this.store.update(() => ({ notice: OFFLINE }))
    try {
      await client.react(channel, seq, emoji, on)
      this.store.update((s) => withOwnChange(s, { op: 'reaction', inboxSeq: 0, channel, seq, user: this.me, emoji, on, ts: Date.now() }, m))
    } catch (err) {
      this.store.update(() => ({ notice: changeError(err) }))
    }
  }
}

const OFFLINE = describe(new ChatError('DISCONNECTED', 'not connected'))

/** Why an edited text cannot be saved, or null. */
function checkText(text: string): string | null {
  if (text.trim() === '') return 'A message cannot be empty. To remove it, delete it instead.'
  if (text.length > LIMITS.textMaxCodePoints && codePoints(text) > LIMITS.textMaxCodePoints) {
    return `Messages can be at most ${LIMITS.textMaxCodePoints.toLocaleString('en-US')} characters.`
  }
  return null
}

/** Errors of a change, in the words of the message it was about. */
function changeError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (code === 'NOT_FOUND') return 'This message was deleted, so it can no longer be changed.'
  if (code === 'FORBIDDEN') return 'You are not allowed to change this message.'
  if (code === 'LIMIT_REACHED') return `This message already has ${LIMITS.reactionsPerMessage} different reactions.`
  return describe(err)
}
