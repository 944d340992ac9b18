/**
 * The shape of the app's state. Everything the screens show is here; the SDK's events and the
 * actions are the only writers (see actions.ts and wiring.ts).
 */
import type { FriendView, Message, PresenceView } from '@sdk'

export interface SessionInfo { token: string; username: string; displayName: string; deviceId: string }

export interface Conversation {
  id: string
  kind: 'dm' | 'group'
  /** The group's name, or the other person's username for a 1:1. */
  name: string
  members: string[]
  lastSeq: number
  readSeq: number
  /** The newest message known, for the preview. */
  last: Message | null
  /** Time of the newest activity (message, or joining), for the order of the sidebar. */
  activity: number
}

export type Delivery = 'sent' | 'pending' | 'failed'

/** A message as shown: a stored one (with seq) or one of ours still on its way. */
export interface ShownMessage {
  channel: string
  seq: number | null
  from: string
  text: string
  ts: number
  clientMsgId: string
  delivery: Delivery
  error?: string
}

export interface Timeline {
  /** Stored messages, ascending by seq, contiguous from the oldest loaded one to the newest. */
  messages: ShownMessage[]
  /** The oldest message of the channel is loaded. */
  atStart: boolean
  loadingOlder: boolean
  /** The newest page was fetched (otherwise only the preview is known). */
  loaded: boolean
}

export type Presence = Pick<PresenceView, 'status' | 'lastActiveAt'>

export type Tab = 'chats' | 'friends'
export type Dialog = null | 'new-group' | 'group-info'
export type NotificationState = 'default' | 'granted' | 'denied' | 'unsupported'
/**
 * This browser's Web Push subscription for the logged-in person: `off` until they turn it on
 * here, `unsupported` where the browser has no Push API (or no service worker), `failed` when
 * the browser or the server refused it (notifications then show only while a tab is open).
 */
export type PushState = 'off' | 'enabling' | 'on' | 'failed' | 'unsupported'

export interface AppState {
  session: SessionInfo | null
  /** Shown by the banner; `reconnecting` until the first connection too. */
  connection: 'connected' | 'reconnecting'
  conversations: Record<string, Conversation>
  timelines: Record<string, Timeline>
  /** Own messages not acknowledged yet (pending) or refused (failed), in send order. */
  outbox: ShownMessage[]
  friends: FriendView[]
  presence: Record<string, Presence>
  /** channel -> user -> time until which "typing" is shown */
  typing: Record<string, Record<string, number>>
  tab: Tab
  active: string | null
  dialog: Dialog
  /** A short message for the person (an error of the last action), cleared by the next. */
  notice: string | null
  authError: string | null
  busy: boolean
  notifications: NotificationState
  push: PushState
  /** "Not now" on the notifications banner (the bell in the header still offers them). */
  notifyPromptDismissed: boolean
}

export function initialState(session: SessionInfo | null, notifications: NotificationState, push: PushState = 'off'): AppState {
  return {
    session,
    connection: 'reconnecting',
    conversations: {},
    timelines: {},
    outbox: [],
    friends: [],
    presence: {},
    typing: {},
    tab: 'chats',
    active: null,
    dialog: null,
    notice: null,
    authError: null,
    busy: false,
    notifications,
    push,
    notifyPromptDismissed: false,
  }
}

/** The other person of a 1:1, or null for a group. */
export function peerOf(c: Pick<Conversation, 'kind' | 'members'>, me: string): string | null {
  if (c.kind !== 'dm') return null
  return c.members.find((m) => m !== me) ?? me
}

export function unreadOf(c: Conversation): number {
  return Math.max(0, c.lastSeq - c.readSeq)
}

/**
 * Whether the app may offer notifications: the browser has not been told no, and this person has
 * not turned them on here yet (permission may already be granted, by someone else on this browser
 * or for in-tab notifications: each person opts in to push for themself).
 */
export function canOfferNotifications(s: Pick<AppState, 'notifications' | 'push'>): boolean {
  if (s.notifications === 'default') return true
  return s.notifications === 'granted' && s.push === 'off'
}

/**
 * Whether the banner asks: never on a first load, only once the person has sent or received a
 * message (they know what the notifications would be for), and not after "Not now".
 */
export function showNotificationPrompt(s: Pick<AppState, 'notifications' | 'push' | 'notifyPromptDismissed' | 'conversations' | 'outbox'>): boolean {
  if (!canOfferNotifications(s) || s.notifyPromptDismissed) return false
  return s.outbox.length > 0 || Object.values(s.conversations).some((c) => c.lastSeq > 0)
}
