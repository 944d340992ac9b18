/**
 * The WebSocket wire format of PROTOCOL.md section 3, defined once for the gateway and the
 * client SDK. Every frame is one JSON object with an `op`.
 */
import type { ErrorCode } from './codes.js'

export type Ref = string | number

/** `user` object of the contract. */
export interface UserView { username: string; displayName: string }

export type ChannelKind = 'dm' | 'group'

/** `channel` object of the contract. */
export interface ChannelView { id: string; kind: ChannelKind; name: string; members: string[] }

/** Who reacted with which emoji: `{emoji: [username, ...]}`, users in the order they reacted. */
export type Reactions = Record<string, string[]>

/**
 * `message` object of the contract, as it stands now: with its newest `text` and `editedAt`
 * once edited, and `reactions` once anyone reacted (PROTOCOL.md 4.4).
 */
export interface LiveMessage {
  channel: string
  seq: number
  from: string
  text: string
  ts: number
  clientMsgId: string
  /** Time of the newest edit (ms since the epoch); absent if never edited. */
  editedAt?: number
  /** Present only when at least one reaction is on. */
  reactions?: Reactions
  deleted?: undefined
}

/** A deleted message: its place in the channel stays (`seq` never changes); its text is gone. */
export interface DeletedMessage {
  channel: string
  seq: number
  from: string
  ts: number
  deleted: true
  text: ''
  clientMsgId?: undefined
  editedAt?: undefined
  reactions?: undefined
}

/** What history, sync and search return for a message: live or deleted (test `deleted`). */
export type Message = LiveMessage | DeletedMessage

export type PresenceStatus = 'online' | 'offline'

export interface PresenceView { user: string; status: PresenceStatus; lastActiveAt: number | null }

// ---- inbox events (numbered by the user's inboxSeq) ----

export type MessageEvent = Message & { op: 'message'; inboxSeq: number }

export interface MemberEvent {
  op: 'member_added' | 'member_removed'
  inboxSeq: number
  channel: string
  user: string
  by: string
  ts: number
}

/**
 * `text` is the message's text after this edit when pushed live; `sync` returns the newest text
 * (what history shows), and for a message deleted since, `text: ""` with `deleted: true`.
 */
export interface EditEvent { op: 'edit'; inboxSeq: number; channel: string; seq: number; text: string; by: string; ts: number; deleted?: true }
export interface DeleteEvent { op: 'delete'; inboxSeq: number; channel: string; seq: number; by: string; ts: number }
export interface ReactionEvent { op: 'reaction'; inboxSeq: number; channel: string; seq: number; user: string; emoji: string; on: boolean; ts: number }

/** A change to a message already sent (PROTOCOL.md 4.4). */
export type ChangeEvent = EditEvent | DeleteEvent | ReactionEvent

export type InboxEvent = MessageEvent | MemberEvent | ChangeEvent

// ---- client to server ----

export interface SendFrame { op: 'send'; ref?: Ref; channel: string; clientMsgId: string; text: string }
export interface SyncFrame { op: 'sync'; ref?: Ref; since: number; limit?: number }
export interface HistoryFrame { op: 'history'; ref?: Ref; channel: string; before?: number; after?: number; limit?: number }
export interface ReadFrame { op: 'read'; ref?: Ref; channel: string; seq: number }
export interface PresenceQueryFrame { op: 'presence'; ref?: Ref; users: string[] }
export interface PingFrame { op: 'ping'; ref?: Ref }
export interface EditFrame { op: 'edit'; ref?: Ref; channel: string; seq: number; text: string }
export interface DeleteFrame { op: 'delete'; ref?: Ref; channel: string; seq: number }
export interface ReactFrame { op: 'react'; ref?: Ref; channel: string; seq: number; emoji: string; on: boolean }
/** `before` is a cursor from an earlier reply's `next`, or a time in ms (messages older than it). */
export interface SearchFrame { op: 'search'; ref?: Ref; q: string; channel?: string; before?: string | number; limit?: number }

/** "I am typing in `channel`" (PROTOCOL.md 4.3): forwarded to the other members, never stored. */
export interface TypingFrame { op: 'typing'; ref?: Ref; channel: string }

export type ClientFrame =
  | SendFrame | SyncFrame | HistoryFrame | ReadFrame | PresenceQueryFrame | PingFrame
  | TypingFrame | EditFrame | DeleteFrame | ReactFrame | SearchFrame
export type ClientOp = ClientFrame['op']

// ---- server to client ----

export interface ReadyFrame { op: 'ready'; user: string; deviceId: string; node: string; inboxSeq: number }
export interface AckFrame { op: 'ack'; ref?: Ref; channel: string; seq: number; ts: number; clientMsgId: string }
export interface SyncReplyFrame { op: 'sync'; ref?: Ref; events: InboxEvent[]; next: number; more: boolean }
export interface HistoryReplyFrame { op: 'history'; ref?: Ref; channel: string; messages: Message[]; more?: true }
export interface OkFrame { op: 'ok'; ref?: Ref }
export interface ReadPushFrame { op: 'read'; channel: string; seq: number }
export interface PresenceReplyFrame { op: 'presence'; ref?: Ref; presence: PresenceView[] }
export interface PresencePushFrame { op: 'presence'; user: string; status: PresenceStatus; lastActiveAt: number | null }
export interface PongFrame { op: 'pong'; ref?: Ref }
/** `user` is typing in `channel`: pushed to the other members' live devices, at most every 2 s. */
export interface TypingPushFrame { op: 'typing'; channel: string; user: string }
export interface ErrorFrame { op: 'error'; ref?: Ref; code: ErrorCode; message: string }
/**
 * Search results, newest first. `more`: older matches may remain; pass `next` as `before` for
 * them. `next` is the cursor of the last message returned (null when none was).
 */
export interface SearchReplyFrame { op: 'search'; ref?: Ref; messages: Message[]; more: boolean; next: string | null }

export type ServerFrame =
  | ReadyFrame | AckFrame | SyncReplyFrame | HistoryReplyFrame | OkFrame | ReadPushFrame
  | PresenceReplyFrame | PresencePushFrame | PongFrame | ErrorFrame | TypingPushFrame | SearchReplyFrame | InboxEvent

/** WebSocket close codes the server uses, and what a client should do after each. */
export const CLOSE_CODES = {
  /** Token missing, bad or expired: log in again, do not reconnect with the same token. */
  UNAUTHORIZED: 4401,
  /** The node is leaving (graceful restart): reconnect, preferably through discovery, then sync. */
  SERVICE_RESTART: 1012,
  /** The device could not keep up with its pushes: reconnect and sync. */
  TRY_AGAIN_LATER: 1013,
  /** A frame over the size limit. */
  MESSAGE_TOO_BIG: 1009,
  /** The user already has `--max-devices` sockets open: close one, then reconnect. */
  TOO_MANY_DEVICES: 4429,
} as const

/** Limits of the contract. */
export const LIMITS = {
  textMaxCodePoints: 100_000,
  clientMsgIdPattern: /^[A-Za-z0-9_-]{1,64}$/,
  usernamePattern: /^[a-z0-9_]{3,32}$/,
  /** A device id chosen by the client (login, sign-up, `/ws?deviceId=`). */
  deviceIdPattern: /^[A-Za-z0-9_.:-]{1,64}$/,
  syncDefaultLimit: 200,
  syncMaxLimit: 1000,
  historyDefaultLimit: 50,
  historyMaxLimit: 200,
  maxFrameBytes: 2 * 1024 * 1024,
  /** At most one `typing` push per user and channel in this window. */
  typingIntervalMs: 2000,
  /** An emoji (reaction) is 1..16 code points. */
  emojiMaxCodePoints: 16,
  /** Distinct emoji on one message, at most. */
  reactionsPerMessage: 50,
  searchDefaultLimit: 20,
  searchMaxLimit: 100,
  /** A search query is at most this many code points and this many words. */
  searchMaxQueryCodePoints: 200,
  searchMaxWords: 10,
} as const
