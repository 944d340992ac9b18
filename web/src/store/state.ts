/**
 * The shape of the app's state. Everything the screens show is here; the SDK's events and the
 * actions are the only writers (see actions.ts and wiring.ts).
 */
import type { FriendView, Message, PresenceView, Reactions } from '@sdk'

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
  /**
   * Who created the group, when this app knows it (it created the group, or saw an event that
   * tells): the creator may delete anyone's message there. The channel list does not say.
   */
  createdBy?: string
}

export type Delivery = 'sent' | 'pending' | 'failed'

/** What every shown message has. */
interface ShownBase {
  channel: string
  /** Null while one of ours is on its way (pending or failed). */
  seq: number | null
  from: string
  ts: number
  delivery: Delivery
  error?: string
}

/** A message with its text: a stored one as it stands now (edits, reactions), or one of ours on its way. */
export interface LiveShown extends ShownBase {
  text: string
  clientMsgId: string
  editedAt?: number
  reactions?: Reactions
  deleted?: undefined
}

/** A deleted message: it keeps its place, with no text, no clientMsgId, no reactions. */
export interface DeletedShown extends ShownBase {
  seq: number
  text: ''
  clientMsgId: null
  deleted: true
  editedAt?: undefined
  reactions?: undefined
}

/** A message as shown: test `deleted` (the SDK's `Message` union, plus delivery). */
export type ShownMessage = LiveShown | DeletedShown

export interface Timeline {
  /** Stored messages, ascending by seq, contiguous from the oldest loaded one to the newest loaded. */
  messages: ShownMessage[]
  /** The oldest message of the channel is loaded. */
  atStart: boolean
  /**
   * The newest message of the channel is loaded, so new ones are appended. False while a window
   * further back is shown (a search result's context): newer pages load on scrolling down.
   */
  atEnd: boolean
  loadingOlder: boolean
  loadingNewer: boolean
  /** A page was fetched (otherwise only the preview or the saved snapshot is known). */
  loaded: boolean
}

/** The message being edited in place. */
export interface Editing { channel: string; seq: number; saving: boolean; error: string | null }

/** The message a "Delete?" dialog asks about. */
export interface DeleteRequest { channel: string; seq: number; busy: boolean; error: string | null }

/** The search box and its results (newest first); null when no search is shown. */
export interface SearchState {
  query: string
  /** Only this conversation (its header's search button), or null for all of them. */
  channel: string | null
  /** The query the results are for (the box may have changed since), and where it looked. */
  searched: string
  searchedIn: string | null
  results: Message[]
  more: boolean
  next: string | null
  loading: boolean
  error: string | null
  /** Bumped to ask the search box to take the focus. */
  focus: number
}

/** A message to bring into view and highlight (a search result's click); `at` tells two clicks apart. */
export interface JumpTarget { channel: string; seq: number; at: number }

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
  outbox: LiveShown[]
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
  editing: Editing | null
  deleting: DeleteRequest | null
  search: SearchState | null
  jump: JumpTarget | null
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
    editing: null,
    deleting: null,
    search: null,
    jump: null,
  }
}

/** The other person of a 1:1, or null for a group. */
export function peerOf(c: Pick<Conversation, 'kind' | 'members'>, me: string): string | null {
  if (c.kind !== 'dm') return null
  return c.members.find((m) => m !== me) ?? me
}

/** Whether `me` may delete `m` (the contract: its author, or in a group the group's creator). */
export function mayDelete(m: Pick<ShownMessage, 'from' | 'seq' | 'deleted'>, c: Pick<Conversation, 'kind' | 'createdBy'> | undefined, me: string): boolean {
  if (m.seq === null || m.deleted === true) return false
  return m.from === me || (c?.kind === 'group' && c.createdBy === me)
}

/** Whether `me` may edit `m`: only its author, once it is stored, while it is not deleted. */
export function mayEdit(m: Pick<ShownMessage, 'from' | 'seq' | 'deleted'>, me: string): boolean {
  return m.seq !== null && m.deleted !== true && m.from === me
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
