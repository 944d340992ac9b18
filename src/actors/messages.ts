/**
 * The typed messages between the gateway, the router and the actors, defined once. Each actor
 * kind has a request union keyed on `kind` and a map from kind to reply type, so a caller gets
 * the reply type of the request it sends, and a remote hop can carry both as JSON.
 */
import type { ChannelView, Message, PresenceView, UserView, ChannelKind } from '../protocol/frames.js'
import type { PushOp } from '../push/types.js'
import type { Found, SearchKey } from './search-index.js'

/** A connected device: where its socket lives, so pushes can reach it. */
export interface DeviceRef {
  sessionId: string
  deviceId: string
  node: string
  /** The id and generation of the token the socket was opened with (revocation closes it). */
  tid?: string
  gen?: number
}

export type FriendState = 'requested' | 'pending' | 'friends'

/** A change of a channel that its members must see, numbered by the channel's event counter. */
export type ChannelEvent =
  | { ev: number; type: 'message'; message: Message }
  | { ev: number; type: 'member_added' | 'member_removed'; channel: string; user: string; by: string; ts: number }
  /** `text` is the message's text after the edit; `text: ""` and `deleted` once it was deleted since. */
  | { ev: number; type: 'edit'; channel: string; seq: number; text: string; by: string; ts: number; deleted?: true }
  | { ev: number; type: 'delete'; channel: string; seq: number; by: string; ts: number }
  | { ev: number; type: 'reaction'; channel: string; seq: number; user: string; emoji: string; on: boolean; ts: number }

// ---- user actor: key `user:<username>` ----

export type UserRequest =
  | { kind: 'signup'; passwordHash: string; displayName: string }
  /** Starts a login: the password hash to check, or how long this username is throttled. */
  | { kind: 'credentials' }
  | { kind: 'loginResult'; attempt: string; outcome: 'ok' | 'failed' | 'cancelled' }
  /** Whether a token (by its id and generation) is still good; UNAUTHORIZED if revoked. */
  | { kind: 'checkToken'; tid: string; gen: number }
  | { kind: 'revokeToken'; tid: string; exp: number; deviceId?: string }
  | { kind: 'revokeAll' }
  | { kind: 'block'; user: string }
  | { kind: 'unblock'; user: string }
  | { kind: 'blocks' }
  /** May `by` add this user to a group? NOT_FOUND if no such user, FORBIDDEN if blocked. */
  | { kind: 'admit'; by: string }
  | { kind: 'profile' }
  | { kind: 'updateProfile'; displayName: string }
  | { kind: 'friendReceived'; from: string }
  | { kind: 'friendSent'; to: string; theirState: FriendState }
  | { kind: 'friends' }
  | { kind: 'deliver'; channel: string; events: ChannelEvent[] }
  /**
   * A device registering. `since`: it registers again after the user's key moved, having seen
   * the inbox up to there; the owner pushes it what came after (catch-up) when it can.
   */
  | { kind: 'connect'; device: DeviceRef; at: number; since?: number }
  | { kind: 'activity'; sessionId: string; live: boolean; at: number }
  | { kind: 'disconnect'; sessionId: string; lastActiveAt: number }
  | { kind: 'dropNode'; node: string }
  | { kind: 'sync'; since: number; limit: number }
  /** Messages of the user's channels (or of `channel` only) holding every word, newest first. */
  | { kind: 'search'; words: string[]; channel?: string; before?: SearchKey; limit: number }
  | { kind: 'read'; channel: string; seq: number; sessionId: string | null }
  | { kind: 'channels' }
  | { kind: 'presence' }
  | { kind: 'presenceFor'; requester: string; requesterChannels: string[] }
  | { kind: 'presenceQuery'; users: string[] }
  | { kind: 'presenceChanged'; presence: PresenceView }
  /** Push subscriptions and pending notifications (src/push/types.ts; replies in PushReplies). */
  | { kind: 'push'; op: PushOp }
  /** Someone else is typing in a channel of this user: pushed to live devices, not stored. */
  | { kind: 'typing'; channel: string; from: string }
  /** Only activates the actor (finishing background work, taking ownership under a new ring). */
  | { kind: 'wake' }

export interface SyncResult { events: import('../protocol/frames.js').InboxEvent[]; next: number; more: boolean }

/**
 * A channel's search answer: the messages found (places and text sizes, not bodies), and the time
 * of the channel's newest message, which tells a later search whether the channel can have
 * anything newer than what it already found.
 */
export interface ChannelSearchResult { found: Found[]; lastTs: number | null }

/** A page of search results: `more` when older matches may remain, `next` the last one's key. */
export interface SearchPage { messages: Message[]; more: boolean; next: SearchKey | null }

export interface UserReplies {
  /** The new account, and the generation its first token carries (user-auth.ts). */
  signup: { user: UserView; gen: number }
  credentials:
    | { kind: 'go'; attempt: string; passwordHash: string; user: UserView; gen: number }
    | { kind: 'throttled'; retryAfterSec: number }
  loginResult: null
  checkToken: null
  revokeToken: null
  revokeAll: null
  block: string[]
  unblock: string[]
  blocks: string[]
  admit: UserView
  profile: UserView
  updateProfile: UserView
  friendReceived: FriendState
  friendSent: FriendState
  friends: Array<{ username: string; state: FriendState }>
  deliver: { cursor: number }
  /** `caughtUp`: every event after the device's `since` was pushed to it (only with `since`). */
  connect: { inboxSeq: number; caughtUp?: boolean }
  activity: null
  disconnect: null
  dropNode: null
  sync: SyncResult
  search: SearchPage
  read: { seq: number }
  channels: Array<{ id: string; readSeq: number }>
  presence: PresenceView
  presenceFor: PresenceView | null
  presenceQuery: PresenceView[]
  presenceChanged: null
  push: unknown
  typing: null
  wake: null
}

// ---- channel actor: key `channel:<id>` ----

export interface ChannelInfo { view: ChannelView; lastSeq: number }

export interface SendAck { channel: string; seq: number; ts: number; clientMsgId: string }

export type ChannelRequest =
  | { kind: 'create'; name: string; by: string; members: string[] }
  | { kind: 'addMember'; by: string; user: string }
  | { kind: 'removeMember'; by: string; user: string }
  | { kind: 'send'; from: string; clientMsgId: string; text: string }
  /** Consecutive sends of one device, answered one by one in order, stored in one commit. */
  | { kind: 'sendMany'; sends: Array<{ from: string; clientMsgId: string; text: string }> }
  | { kind: 'history'; user: string; before?: number; after?: number; limit: number }
  | { kind: 'info'; user?: string }
  | { kind: 'messages'; seqs: number[] }
  /** `user` is typing: checked for membership, throttled, forwarded to the others; not stored. */
  | { kind: 'typing'; user: string }
  /** A 1:1 channel: `by` blocks (on) or unblocks the other member from sending here. */
  | { kind: 'setBlock'; by: string; on: boolean }
  /** Changes to a sent message (PROTOCOL.md 4.4); each is answered null, a repeat changes nothing. */
  | { kind: 'edit'; by: string; seq: number; text: string }
  | { kind: 'delete'; by: string; seq: number }
  | { kind: 'react'; by: string; seq: number; emoji: string; on: boolean }
  /** Up to `limit` messages holding every word (folded), newest first, between the keys: their places and sizes. */
  | { kind: 'search'; user: string; words: string[]; below?: SearchKey; above?: SearchKey; limit: number }
  | { kind: 'wake' }

/** A history page: `more` when the size bound cut it short of `limit`. */
export interface HistoryPage { messages: Message[]; more: boolean }

export interface ChannelReplies {
  create: ChannelView
  addMember: ChannelView
  removeMember: ChannelView
  send: SendAck
  sendMany: Array<{ ok: true; value: SendAck } | { ok: false; error: { code: string; message: string } }>
  history: HistoryPage
  info: ChannelInfo
  messages: Message[]
  typing: null
  setBlock: null
  edit: null
  delete: null
  react: null
  search: ChannelSearchResult
  wake: null
}

export type UserKey = `user:${string}`
export type ChannelKey = `channel:${string}`

export const userKey = (username: string): UserKey => `user:${username}`
export const channelKey = (id: string): ChannelKey => `channel:${id}`

export type { ChannelKind }
