/**
 * What the app keeps in the browser between visits: the login, a snapshot of the conversations
 * (so the app opens offline with them, and instantly online), and the messages not yet
 * acknowledged (sent again with the same clientMsgId at the next start, so never twice).
 * Storage failures (private mode, quota) only cost that convenience.
 */
import type { FriendView } from '@sdk'
import type { Conversation, SessionInfo, ShownMessage } from '../store/state'

const SESSION_KEY = 'chat.session'
const snapshotKey = (user: string) => `chat.snapshot.${user}`
const outboxKey = (user: string) => `chat.outbox.${user}`
const pushKey = (user: string) => `chat.push.${user}`
const promptKey = (user: string) => `chat.notify-prompt.${user}`

/** Messages per conversation kept in the snapshot. */
const SNAPSHOT_MESSAGES = 50

export interface Snapshot {
  conversations: Record<string, Conversation>
  messages: Record<string, ShownMessage[]>
  friends: FriendView[]
}

function read<T>(key: string): T | null {
  try {
    const raw = localStorage.getItem(key)
    return raw === null ? null : (JSON.parse(raw) as T)
  } catch {
    return null
  }
}

function write(key: string, value: unknown): void {
  try {
    if (value === null) localStorage.removeItem(key)
    else localStorage.setItem(key, JSON.stringify(value))
  } catch {
    // Storage is full or disabled: the app still works, it just remembers less.
  }
}

export function loadSession(): SessionInfo | null {
  const s = read<SessionInfo>(SESSION_KEY)
  return s !== null && typeof s.token === 'string' && typeof s.username === 'string' ? s : null
}

export function saveSession(session: SessionInfo | null): void {
  write(SESSION_KEY, session)
}

export function loadSnapshot(user: string): Snapshot | null {
  return read<Snapshot>(snapshotKey(user))
}

export function saveSnapshot(user: string, snapshot: Snapshot): void {
  const messages: Record<string, ShownMessage[]> = {}
  for (const [id, list] of Object.entries(snapshot.messages)) messages[id] = list.slice(-SNAPSHOT_MESSAGES)
  write(snapshotKey(user), { ...snapshot, messages })
}

export function loadOutbox(user: string): ShownMessage[] {
  return read<ShownMessage[]>(outboxKey(user)) ?? []
}

export function saveOutbox(user: string, outbox: ShownMessage[]): void {
  write(outboxKey(user), outbox.length === 0 ? null : outbox)
}

/** What this person turned on here: the server's id of this browser's push subscription. */
export interface PushRecord { subscriptionId: string }

export function loadPush(user: string): PushRecord | null {
  const p = read<PushRecord>(pushKey(user))
  return p !== null && typeof p.subscriptionId === 'string' ? p : null
}

export function savePush(user: string, record: PushRecord | null): void {
  write(pushKey(user), record)
}

export function loadPromptDismissed(user: string): boolean {
  return read<boolean>(promptKey(user)) === true
}

export function savePromptDismissed(user: string): void {
  write(promptKey(user), true)
}

/** Forgets everything of `user` on this browser (log out). */
export function forget(user: string): void {
  write(snapshotKey(user), null)
  write(outboxKey(user), null)
  write(pushKey(user), null)
  write(promptKey(user), null)
  write(SESSION_KEY, null)
}
