/**
 * Pure reducers for changes to messages already sent: edits, deletes and reactions, whether they
 * come from the SDK's inbox events (on every device of every member) or from this device's own
 * request once the server said ok. Each applies the SDK's `applyChange` (the server's own rule),
 * so the store ends at what history shows, wherever the message appears: the open timeline, the
 * sidebar's preview and the search results.
 */
import { applyChange, type ChangeEvent, type Message } from '@sdk'
import { matches, queryWords } from '../lib/highlight'
import { shown } from './reducers'
import type { AppState, ShownMessage } from './state'

/** The stored message a shown one stands for (a pending one stands for none). */
function stored(m: ShownMessage): Message | null {
  if (m.seq === null) return null
  if (m.deleted === true) return { channel: m.channel, seq: m.seq, from: m.from, ts: m.ts, deleted: true, text: '' }
  const out: Message = { channel: m.channel, seq: m.seq, from: m.from, text: m.text, ts: m.ts, clientMsgId: m.clientMsgId }
  if (m.editedAt !== undefined) out.editedAt = m.editedAt
  if (m.reactions !== undefined) out.reactions = m.reactions
  return out
}

/** `m` after `event`; the same object when nothing changed. */
export function changedShown(m: ShownMessage, event: ChangeEvent): ShownMessage {
  const before = stored(m)
  if (before === null) return m
  const after = applyChange(before, event)
  return after === before ? m : shown(after)
}

/** An edit, delete or reaction event (or this device's own change, confirmed). */
export function withChange(s: AppState, event: ChangeEvent): Partial<AppState> {
  const out: Partial<AppState> = {}
  const timeline = s.timelines[event.channel]
  const at = timeline?.messages.findIndex((m) => m.seq === event.seq) ?? -1
  if (timeline !== undefined && at >= 0) {
    const old = timeline.messages[at]!
    const next = changedShown(old, event)
    if (next !== old) {
      const messages = timeline.messages.slice()
      messages[at] = next
      out.timelines = { ...s.timelines, [event.channel]: { ...timeline, messages } }
    }
  }
  const c = s.conversations[event.channel]
  if (c?.last != null && c.last.seq === event.seq) {
    const last = applyChange(c.last, event)
    if (last !== c.last) out.conversations = { ...s.conversations, [event.channel]: { ...c, last } }
  }
  if (s.search !== null && s.search.results.some((m) => m.channel === event.channel && m.seq === event.seq)) {
    // As the server would answer now: a deleted message is never a result, and an edited one
    // only while its new text still holds every word searched for.
    const wanted = queryWords(s.search.searched)
    const results = s.search.results
      .map((m) => (m.channel === event.channel && m.seq === event.seq ? applyChange(m, event) : m))
      .filter((m) => !m.deleted && (m.seq !== event.seq || m.channel !== event.channel || event.op !== 'edit' || matches(m.text, wanted)))
    out.search = { ...s.search, results }
  }
  // Nothing left to edit or to ask about once the message is gone.
  if (event.op === 'delete' || (event.op === 'edit' && event.deleted === true)) {
    if (s.editing?.channel === event.channel && s.editing.seq === event.seq) out.editing = null
    if (s.deleting?.channel === event.channel && s.deleting.seq === event.seq) out.deleting = null
  }
  return out
}

/**
 * This device's own change, once the server said ok, so the person sees it at once (its event
 * follows and changes nothing more). Applied only while the message is still `expected`, as it was
 * when the request went out: if any event changed it meanwhile, the events alone are the truth
 * (they come in the server's order, which a local guess could get wrong).
 */
export function withOwnChange(s: AppState, event: ChangeEvent, expected: ShownMessage): Partial<AppState> {
  const current = s.timelines[event.channel]?.messages.find((m) => m.seq === event.seq)
  if (current !== expected && event.op !== 'delete') return {}
  return withChange(s, event)
}

/** Looks up a loaded message by channel and seq. */
export function findShown(s: AppState, channel: string, seq: number): ShownMessage | undefined {
  return s.timelines[channel]?.messages.find((m) => m.seq === seq)
}
