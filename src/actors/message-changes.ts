/**
 * Changes to a message already sent (PROTOCOL.md 4.4): edit, delete, react. The channel actor
 * stores each message once, as its current view (`m/<seq>`), and folds every change into it; the
 * change itself becomes a channel event, numbered and fanned out like a message. This file holds
 * the rules, pure of storage: who may change what, what a change does to the stored view, and
 * whether it changes anything at all (a repeated change is answered `ok` and emits nothing).
 */
import { errors } from '../errors.js'
import { LIMITS, type LiveMessage, type Message, type Reactions } from '../protocol/frames.js'
import { toggleReaction } from '../protocol/reactions.js'
import { checkText, codePoints } from './ids.js'
import type { ChannelEvent } from './messages.js'

/**
 * A message as stored: its current view. A deleted message keeps `from`, `ts` and `ev` (its place
 * and its author, for permissions) and loses everything else: text, clientMsgId, edits and
 * reactions are erased, not hidden.
 */
export interface StoredMessage {
  from: string
  text: string
  ts: number
  /** Absent once deleted. */
  clientMsgId?: string
  ev: number
  editedAt?: number
  /** Emoji to the users who reacted with it, in reaction order; absent when empty. */
  r?: Reactions
  deleted?: true
}

export type ChangeRequest =
  | { kind: 'edit'; by: string; seq: number; text: string }
  | { kind: 'delete'; by: string; seq: number }
  | { kind: 'react'; by: string; seq: number; emoji: string; on: boolean }

/** A change as recorded in the channel's event log (`e/<ev>`); bodies come from `m/<seq>`. */
export type StoredChange =
  | { t: 'edit'; seq: number; by: string; ts: number }
  | { t: 'delete'; seq: number; by: string; ts: number }
  | { t: 'reaction'; seq: number; user: string; emoji: string; on: boolean; ts: number }

/** What the channel needs to know about itself to judge a change. */
export interface ChannelFacts { kind: 'dm' | 'group'; createdBy: string }

/**
 * The message after `req`, and the event recording it; null when `req` changes nothing. Throws
 * the contract's refusals: NOT_FOUND for a message that is gone (editing or reacting to a deleted
 * message: there is nothing left to change), FORBIDDEN for someone who may not make the change,
 * BAD_FRAME for a malformed emoji, LIMIT_REACHED past the distinct emoji a message may carry.
 * Membership is the caller's check, made before this.
 */
export function applyChange(current: StoredMessage, req: ChangeRequest, channel: ChannelFacts, ts: number): { next: StoredMessage; event: StoredChange } | null {
  switch (req.kind) {
    case 'edit': {
      const text = checkText(req.text)
      if (current.deleted) throw errors.notFound(`message ${req.seq} was deleted`)
      if (current.from !== req.by) throw errors.forbidden('only the author may edit a message')
      if (current.text === text) return null
      return { next: { ...current, text, editedAt: ts }, event: { t: 'edit', seq: req.seq, by: req.by, ts } }
    }
    case 'delete': {
      const mayDelete = current.from === req.by || (channel.kind === 'group' && channel.createdBy === req.by)
      if (!mayDelete) throw errors.forbidden('only the author (or the group\'s creator) may delete a message')
      if (current.deleted) return null
      return { next: erased(current), event: { t: 'delete', seq: req.seq, by: req.by, ts } }
    }
    case 'react': {
      const emoji = checkEmoji(req.emoji)
      if (current.deleted) throw errors.notFound(`message ${req.seq} was deleted`)
      const r = toggled(current.r, emoji, req.by, req.on)
      if (r === current.r) return null
      const next: StoredMessage = { ...current, r }
      if (r === undefined) delete next.r
      return { next, event: { t: 'reaction', seq: req.seq, user: req.by, emoji, on: req.on, ts } }
    }
  }
}

/** The event members get for a change; an edit carries the message's text as it is now. */
export function changeEvent(channel: string, ev: number, change: StoredChange, message: StoredMessage): ChannelEvent {
  switch (change.t) {
    case 'edit': {
      const event: ChannelEvent = { ev, type: 'edit', channel, seq: change.seq, text: message.text, by: change.by, ts: change.ts }
      if (message.deleted) event.deleted = true
      return event
    }
    case 'delete': return { ev, type: 'delete', channel, seq: change.seq, by: change.by, ts: change.ts }
    case 'reaction': return { ev, type: 'reaction', channel, seq: change.seq, user: change.user, emoji: change.emoji, on: change.on, ts: change.ts }
  }
}

/**
 * An event still waiting for fan-out, with the text of message `seq` erased (it was deleted): a
 * delete must not be followed by its text going out to a member that had not received it yet.
 */
export function scrubbed(event: ChannelEvent, seq: number, view: Message): ChannelEvent {
  if (event.type === 'message' && event.message.seq === seq) return { ...event, message: view }
  if (event.type === 'edit' && event.seq === seq) return { ...event, text: '', deleted: true }
  return event
}

/** The view of a stored message that history, sync and search return. */
export function messageView(channel: string, seq: number, m: StoredMessage): Message {
  if (m.deleted) return { channel, seq, from: m.from, ts: m.ts, deleted: true, text: '' }
  const view: LiveMessage = { channel, seq, from: m.from, text: m.text, ts: m.ts, clientMsgId: m.clientMsgId ?? '' }
  if (m.editedAt !== undefined) view.editedAt = m.editedAt
  if (m.r !== undefined) view.reactions = m.r
  return view
}

/** A deleted message: what remains of it is its author, time and place. */
function erased(m: StoredMessage): StoredMessage {
  return { from: m.from, text: '', ts: m.ts, ev: m.ev, deleted: true }
}

/** Reactions after the toggle, refusing a new emoji past the per-message limit. */
function toggled(current: Reactions | undefined, emoji: string, user: string, on: boolean): Reactions | undefined {
  const isNew = on && current !== undefined && current[emoji] === undefined
  if (isNew && Object.keys(current).length >= LIMITS.reactionsPerMessage) {
    throw errors.limitReached(`a message carries at most ${LIMITS.reactionsPerMessage} different reactions`)
  }
  return toggleReaction(current, emoji, user, on)
}

const CONTROL = /[\p{Cc}\s]/u

/** An emoji: 1..16 code points, with no control characters or spaces. */
export function checkEmoji(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw errors.badFrame('emoji must be a non-empty string')
  if (codePoints(value) > LIMITS.emojiMaxCodePoints) throw errors.badFrame(`emoji must be at most ${LIMITS.emojiMaxCodePoints} code points`)
  if (CONTROL.test(value)) throw errors.badFrame('emoji must not contain spaces or control characters')
  return value
}
