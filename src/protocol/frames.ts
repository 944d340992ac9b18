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

/** `message` object of the contract. */
export interface Message {
  channel: string
  seq: number
  from: string
  text: string
  ts: number
  clientMsgId: string
}

export type PresenceStatus = 'online' | 'offline'

export interface PresenceView { user: string; status: PresenceStatus; lastActiveAt: number | null }

// ---- inbox events (numbered by the user's inboxSeq) ----

export interface MessageEvent extends Message { op: 'message'; inboxSeq: number }

export interface MemberEvent {
  op: 'member_added' | 'member_removed'
  inboxSeq: number
  channel: string
  user: string
  by: string
  ts: number
}

export type InboxEvent = MessageEvent | MemberEvent

// ---- client to server ----

export interface SendFrame { op: 'send'; ref?: Ref; channel: string; clientMsgId: string; text: string }
export interface SyncFrame { op: 'sync'; ref?: Ref; since: number; limit?: number }
export interface HistoryFrame { op: 'history'; ref?: Ref; channel: string; before?: number; after?: number; limit?: number }
export interface ReadFrame { op: 'read'; ref?: Ref; channel: string; seq: number }
export interface PresenceQueryFrame { op: 'presence'; ref?: Ref; users: string[] }
export interface PingFrame { op: 'ping'; ref?: Ref }
/** "I am typing in `channel`" (PROTOCOL.md 4.3): forwarded to the other members, never stored. */
export interface TypingFrame { op: 'typing'; ref?: Ref; channel: string }

export type ClientFrame = SendFrame | SyncFrame | HistoryFrame | ReadFrame | PresenceQueryFrame | PingFrame | TypingFrame
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

export type ServerFrame =
  | ReadyFrame | AckFrame | SyncReplyFrame | HistoryReplyFrame | OkFrame | ReadPushFrame
  | PresenceReplyFrame | PresencePushFrame | PongFrame | ErrorFrame | TypingPushFrame | InboxEvent

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
  syncDefaultLimit: 200,
  syncMaxLimit: 1000,
  historyDefaultLimit: 50,
  historyMaxLimit: 200,
  maxFrameBytes: 2 * 1024 * 1024,
  /** At most one `typing` push per user and channel in this window. */
  typingIntervalMs: 2000,
} as const
