/**
 * How an edit, delete or reaction event changes a message an application holds: the same rules
 * the server applies to its stored view, so a cache (or an app's own store) that applies every
 * inbox event in order shows what history shows.
 */
import type { ChangeEvent, Message } from '../protocol/frames.js'
import { toggleReaction } from '../protocol/reactions.js'

/**
 * `message` after `event`; the same object when the event changes nothing (a reaction already
 * on, an edit of a message already deleted). Never mutates `message`.
 */
export function applyChange(message: Message, event: ChangeEvent): Message {
  // Sync rebuilds an edit from the message as it is now: deleted since means gone already.
  if (event.op === 'delete' || (event.op === 'edit' && event.deleted)) {
    if (message.deleted) return message
    return { channel: message.channel, seq: message.seq, from: message.from, ts: message.ts, deleted: true, text: '' }
  }
  if (message.deleted) return message
  if (event.op === 'edit') {
    if (message.text === event.text && message.editedAt === event.ts) return message
    return { ...message, text: event.text, editedAt: event.ts }
  }
  const reactions = toggleReaction(message.reactions, event.emoji, event.user, event.on)
  if (reactions === message.reactions) return message
  const next = { ...message, reactions }
  if (reactions === undefined) delete next.reactions
  return next
}
