/**
 * Public types of `ChatClient`: its options, its events and what they carry.
 */
import type {
  ChangeEvent, DeleteEvent, EditEvent, InboxEvent, MemberEvent, Message, MessageEvent, PresencePushFrame,
  ReactionEvent, ReadPushFrame, TypingPushFrame,
} from '../protocol/frames.js'
import type { BackoffOptions } from './backoff.js'
import type { DiscoverOption } from './discovery.js'
import type { ChatError } from './errors.js'
import type { WebSocketConstructor } from './session.js'

export interface ChatClientOptions {
  /** Bearer token from `POST /v1/sessions`, or a function asked before every connection attempt. */
  token: string | (() => string | Promise<string>)
  /** A fixed WebSocket URL, `ws://host:port/ws`. Give this or `discover`. */
  url?: string
  /**
   * Pick the node before every (re)connect: HTTP base URL(s) whose `GET /v1/discover` names the
   * node (tried in turn when one fails), or a function returning a WebSocket URL.
   */
  discover?: DiscoverOption
  /** Passed to `/v1/discover` to prefer nodes in this region. */
  region?: string
  /** Keep the same device across connections. Default: the id the server gives in `ready`. */
  deviceId?: string
  /**
   * The `inboxSeq` of the last event the application applied (persisted from `client.inboxSeq`).
   * The client syncs from there, so nothing after it is missed. Omitted: start at the server's
   * newest event, with no replay (load recent messages with `history`).
   */
  inboxSeq?: number
  /** WebSocket implementation; default the global `WebSocket`. In Node 20 pass `(await import('ws')).default`. */
  WebSocket?: WebSocketConstructor
  /** HTTP implementation for discovery; default the global `fetch`. */
  fetch?: typeof fetch
  /** Delays between reconnect attempts and between retries of a failed send. Default base 200 ms, cap 10 s. */
  backoff?: BackoffOptions
  /** Reply timeout of every request, in ms. Default 10000. */
  requestTimeoutMs?: number
  /** Time allowed from starting an attempt to the `ready` frame, in ms. Default 10000. */
  connectTimeoutMs?: number
  /**
   * Interval of `ping` frames, in ms (default 5000; 0 turns them off). They keep the device
   * online for presence and detect dead connections: a ping without a pong within
   * `requestTimeoutMs` drops the socket and reconnects.
   */
  keepAliveMs?: number
  /**
   * How long after an ack of its own message the client waits for the message's inbox event
   * before it syncs, in ms (default 3000; 0 turns the check off). A push lost between nodes would
   * otherwise stay unseen until a later event showed the gap.
   */
  echoWaitMs?: number
  /** Messages kept per channel in the local cache. Default 200. */
  cacheSize?: number
  /** Page size of `sync` requests. Default 200 (the server caps it at 1000). */
  syncPageSize?: number
  /** Source of randomness for jitter, in [0, 1). Default Math.random. */
  random?: () => number
}

/** What the server said in its `ready` frame. */
/** The payload of the `change` event. */
export interface MessageChange { event: ChangeEvent; message: Message | undefined }

/** `search` options. */
export interface SearchOptions {
  /** Only this channel (you must be a member). Default: every channel you are in. */
  channel?: string
  /** The `next` of the previous page, for the page after it; or a time in ms: older messages only. */
  before?: string | number
  /** Results per page, 1..100; default 20. */
  limit?: number
}

/** A page of search results. */
export interface SearchResult {
  /** Newest first. */
  messages: Message[]
  /** Older matches may remain: ask again with `before: next`. */
  more: boolean
  /** Cursor of the last message returned; null when the page is empty. */
  next: string | null
}

export interface ReadyInfo { user: string; deviceId: string; node: string; inboxSeq: number }

export type ConnectionState = 'connecting' | 'open' | 'closed'

export type StateChange =
  /** Waiting `delayMs` before attempt number `attempt` (0 = first try after a good connection). */
  | { state: 'connecting'; attempt: number; delayMs: number; closeCode?: number }
  /** `ready` arrived; catch-up sync and outbox flush follow. */
  | { state: 'open'; ready: ReadyInfo }
  /** Stopped for good: `close()` was called, or the token was rejected. */
  | { state: 'closed'; reason: 'closed' | 'auth_failed' }

/** Events of `ChatClient`, by name, with their payload. */
export interface ChatClientEvents {
  /** Every inbox event, exactly once per client, in `inboxSeq` order (pushed or synced alike). */
  event: InboxEvent
  /** Each `message` inbox event, right after its `event`. */
  message: MessageEvent
  /** Each `member_added` / `member_removed` inbox event, right after its `event`. */
  member: MemberEvent
  /** Each `edit` inbox event (someone changed a message's text), right after its `event`. */
  edit: EditEvent
  /** Each `delete` inbox event (a message's text is gone), right after its `event`. */
  delete: DeleteEvent
  /** Each `reaction` inbox event (`user` put `emoji` on or off), right after its `event`. */
  reaction: ReactionEvent
  /**
   * After each `edit`, `delete` or `reaction` event: the message as the local cache holds it now
   * (`message`, already changed; undefined when the message is not cached). An app that renders
   * from `cachedMessages` re-renders `channel` on this; one with its own store applies `event`
   * (see `applyChange`).
   */
  change: MessageChange
  /** A friend's status changed (not an inbox event: may be missed while disconnected). */
  presence: PresencePushFrame
  /** Another device of this user read `channel` up to `seq`. */
  read: ReadPushFrame
  /** Another member is typing in `channel` (not an inbox event; the server sends at most one per 2 s). */
  typing: TypingPushFrame
  state: StateChange
  /** A catch-up sync finished; the app has seen every event up to `inboxSeq`. */
  synced: { inboxSeq: number }
  /**
   * Something went wrong that the client handles itself (it keeps reconnecting, or retries a
   * send): for logs.
   */
  error: Error
  /** The server rejected the token; the client has stopped. Pending sends are still readable in the listener. */
  auth_failed: ChatError
}
