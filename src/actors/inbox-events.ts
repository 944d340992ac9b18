/**
 * How a channel's events become a user's inbox: the entry stored under `i/<inboxSeq>`, the frame
 * pushed to devices when it is appended, and the event `sync` rebuilds from the entry later.
 *
 * Entries that carry message text are pointers: a message is `{c, s}` and an edit
 * `{op: "edit", c, s, by, ts}`, and `sync` reads the text from the channel as it is now. So the
 * text lives in one place (the channel's current view), a delete erases it from every inbox at
 * once, and an edit's event always shows the newest text, as history does. Everything else
 * (member events, deletes, reactions) holds no text and is stored whole.
 */
import type { InboxEvent, Message } from '../protocol/frames.js'
import type { ChannelEvent } from './messages.js'

export type InboxEntry =
  | { c: string; s: number; op?: undefined }
  | { op: 'edit'; c: string; s: number; by: string; ts: number }
  | { op: 'member_added' | 'member_removed'; channel: string; user: string; by: string; ts: number }
  | { op: 'delete'; channel: string; seq: number; by: string; ts: number }
  | { op: 'reaction'; channel: string; seq: number; user: string; emoji: string; on: boolean; ts: number }

export type PointerEntry = Extract<InboxEntry, { c: string }>

export function isPointer(e: InboxEntry): e is PointerEntry {
  return 'c' in e
}

/** The inbox entry recording `e`. */
export function inboxEntry(e: ChannelEvent): InboxEntry {
  switch (e.type) {
    case 'message': return { c: e.message.channel, s: e.message.seq }
    case 'edit': return { op: 'edit', c: e.channel, s: e.seq, by: e.by, ts: e.ts }
    case 'member_added': case 'member_removed': return { op: e.type, channel: e.channel, user: e.user, by: e.by, ts: e.ts }
    case 'delete': return { op: 'delete', channel: e.channel, seq: e.seq, by: e.by, ts: e.ts }
    case 'reaction': return { op: 'reaction', channel: e.channel, seq: e.seq, user: e.user, emoji: e.emoji, on: e.on, ts: e.ts }
  }
}

/** The frame pushed to the user's devices for `e`, numbered `inboxSeq`. */
export function inboxFrame(e: ChannelEvent, inboxSeq: number): InboxEvent {
  switch (e.type) {
    case 'message': return { op: 'message', inboxSeq, ...e.message }
    case 'edit': {
      const { ev: _ev, type: _type, ...rest } = e
      return { op: 'edit', inboxSeq, ...rest }
    }
    case 'member_added': case 'member_removed': return { op: e.type, inboxSeq, channel: e.channel, user: e.user, by: e.by, ts: e.ts }
    case 'delete': return { op: 'delete', inboxSeq, channel: e.channel, seq: e.seq, by: e.by, ts: e.ts }
    case 'reaction': return { op: 'reaction', inboxSeq, channel: e.channel, seq: e.seq, user: e.user, emoji: e.emoji, on: e.on, ts: e.ts }
  }
}

/** Each message's body as JSON, made once however many members' frames carry it. */
const messageJson = new WeakMap<Message, string>()

/**
 * `inboxFrame(e, inboxSeq)` as JSON text. A group message goes to every member numbered apart, so
 * its body is serialized once (events are never changed once made: a rewrite makes new ones) and
 * each frame is its own head plus that text.
 */
export function inboxFrameJson(e: ChannelEvent, inboxSeq: number): string {
  if (e.type !== 'message') return JSON.stringify(inboxFrame(e, inboxSeq))
  let body = messageJson.get(e.message)
  if (body === undefined) {
    body = JSON.stringify(e.message)
    messageJson.set(e.message, body)
  }
  return `{"op":"message","inboxSeq":${inboxSeq},${body.slice(1)}`
}

/** The event `sync` returns for a pointer entry, with the body of the message it points at now. */
export function eventOf(e: PointerEntry, inboxSeq: number, body: Message): InboxEvent {
  if (e.op === undefined) return { op: 'message', inboxSeq, ...body }
  const event: InboxEvent = { op: 'edit', inboxSeq, channel: e.c, seq: e.s, text: body.text, by: e.by, ts: e.ts }
  if (body.deleted) event.deleted = true
  return event
}
