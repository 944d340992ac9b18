/**
 * The chat cluster's client SDK. Runs in browsers and in Node 20+ (pass `WebSocket` from the `ws`
 * package where there is no global one).
 *
 * ```ts
 * const api = new HttpApi({ baseUrl: 'http://127.0.0.1:8080' })
 * const { token } = await api.login({ username: 'alice', password: 'secret123' }) // or api.register(...) for a new account
 * const client = new ChatClient({ token, discover: api.baseUrl, WebSocket })
 * client.on('message', (m) => console.log(m.from, m.text))
 * client.on('change', ({ event, message }) => console.log(event.op, message)) // edits, deletes, reactions
 * await client.connect()
 * const { seq } = await client.send(dmChannelId('alice', 'bob'), 'hi')
 * await client.edit(dmChannelId('alice', 'bob'), seq, 'hi bob')
 * await client.react(dmChannelId('alice', 'bob'), seq, '👋')
 * const { messages, more, next } = await client.search('bob', { limit: 20 })
 * ```
 */
export { ChatClient } from './chat-client.js'
export type {
  ChatClientEvents, ChatClientOptions, ConnectionState, MessageChange, ReadyInfo, SearchOptions, SearchResult,
  StateChange,
} from './types.js'
export { applyChange } from './changes.js'
export { HttpApi } from './http.js'
export type {
  ChannelSummary, ClusterMember, ClusterView, DiscoverResult, FriendState, FriendView, HistoryWindow,
  HttpApiOptions, SessionInfo,
} from './http.js'
export { PushApi, base64UrlToBytes } from './push.js'
export { conversationUrl, installPushHandlers, isOpenConversationMessage, notificationContent, parsePayload, SEEN_CACHE } from './push-sw.js'
export type { NotificationContent, NotificationData, OpenConversationMessage, PushHandlerOptions, PushPayload, PushWorkerScope } from './push-sw.js'
export type {
  BrowserPushSubscriptionLike, CreatedPushSubscription, PushNotification, PushRegistrationLike, PushSubscriptionInfo, PushSubscriptionKind, WebPushSubscriptionJSON,
} from './push.js'
export { ApiError, ChatError, CLIENT_ERROR_CODES, isRetryableCode } from './errors.js'
export type { ClientErrorCode, SdkErrorCode } from './errors.js'
export { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from './backoff.js'
export type { BackoffOptions } from './backoff.js'
export { MessageCache, DEFAULT_CACHE_PER_CHANNEL } from './cache.js'
export { TypedEmitter } from './emitter.js'
export type { Listener } from './emitter.js'
export { canonicalChannelId, dmChannelId, newClientMsgId } from './ids.js'
export type { PendingSend } from './outbox.js'
export type { DiscoverOption } from './discovery.js'
export type { ReplyMap, RequestFrame, WebSocketConstructor, WebSocketLike } from './session.js'
export { CLOSE_CODES, LIMITS } from '../protocol/frames.js'
export type {
  AckFrame, ChangeEvent, ChannelView, DeleteEvent, DeletedMessage, EditEvent, InboxEvent, LiveMessage, MemberEvent,
  Message, MessageEvent, PresencePushFrame, PresenceView, ReactionEvent, Reactions, ReadPushFrame, TypingPushFrame, UserView,
} from '../protocol/frames.js'
export { ERROR_CODES } from '../protocol/codes.js'
export type { ErrorCode } from '../protocol/codes.js'
