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
}

export function initialState(session: SessionInfo | null, notifications: NotificationState): AppState {
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
