/**
 * Pure functions from (state, something that happened) to the changed part of the state. The SDK
 * wiring and the actions call them; nothing here talks to the network.
 */
import type { ChannelSummary, ChannelView, FriendView, Message, PresenceView } from '@sdk'
import type { AppState, Conversation, ShownMessage, Timeline } from './state'

/** How long "typing..." stays after the last notice (the server forwards one per 2 s at most). */
export const TYPING_SHOWN_MS = 6000

const EMPTY_TIMELINE: Timeline = { messages: [], atStart: false, loadingOlder: false, loaded: false }

export function shown(m: Message): ShownMessage {
  return { channel: m.channel, seq: m.seq, from: m.from, text: m.text, ts: m.ts, clientMsgId: m.clientMsgId ?? '', delivery: 'sent' }
}

function kindOf(id: string): 'dm' | 'group' {
  return id.startsWith('dm:') ? 'dm' : 'group'
}

/** A conversation known only from an id (an event that came before the channel list). */
export function bareConversation(id: string, me: string, activity: number): Conversation {
  const members = kindOf(id) === 'dm' ? id.slice(3).split(':') : [me]
  return { id, kind: kindOf(id), name: kindOf(id) === 'dm' ? members.find((m) => m !== me) ?? me : 'Group', members, lastSeq: 0, readSeq: 0, last: null, activity }
}

/** Inserts messages by seq, keeping one per seq, ascending. */
function mergeMessages(list: ShownMessage[], add: ShownMessage[]): ShownMessage[] {
  const bySeq = new Map<number, ShownMessage>()
  for (const m of list) if (m.seq !== null) bySeq.set(m.seq, m)
  for (const m of add) if (m.seq !== null) bySeq.set(m.seq, m)
  return [...bySeq.values()].sort((a, b) => a.seq! - b.seq!)
}

/** A message of a channel arrived (pushed, synced, or acknowledged to us). */
export function withMessage(s: AppState, m: Message): Partial<AppState> {
  const me = s.session?.username ?? ''
  const old = s.conversations[m.channel] ?? bareConversation(m.channel, me, m.ts)
  const newest = old.last === null || m.seq >= old.last.seq
  const conversation: Conversation = {
    ...old,
    lastSeq: Math.max(old.lastSeq, m.seq),
    // Our own message was read by us, on whichever device sent it.
    readSeq: m.from === me ? Math.max(old.readSeq, m.seq) : old.readSeq,
    last: newest ? m : old.last,
    activity: Math.max(old.activity, m.ts),
  }
  const out: Partial<AppState> = {
    conversations: { ...s.conversations, [m.channel]: conversation },
    outbox: s.outbox.some((o) => o.clientMsgId === m.clientMsgId && o.channel === m.channel)
      ? s.outbox.filter((o) => !(o.clientMsgId === m.clientMsgId && o.channel === m.channel))
      : s.outbox,
  }
  const timeline = s.timelines[m.channel]
  if (timeline?.loaded) out.timelines = { ...s.timelines, [m.channel]: { ...timeline, messages: mergeMessages(timeline.messages, [shown(m)]) } }
  const typers = s.typing[m.channel]
  if (typers?.[m.from] !== undefined) {
    const { [m.from]: _gone, ...rest } = typers
    out.typing = { ...s.typing, [m.channel]: rest }
  }
  return out
}

/**
 * A page of history. `newest`: the latest page (replaces a cached timeline it does not touch, so
 * the timeline stays contiguous); `older`: the page before the oldest loaded message.
 */
export function withHistory(s: AppState, channel: string, messages: Message[], page: 'newest' | 'older', pageSize: number): Partial<AppState> {
  const timeline = s.timelines[channel] ?? EMPTY_TIMELINE
  const add = messages.map(shown)
  const lastCached = timeline.messages[timeline.messages.length - 1]?.seq ?? 0
  const disjoint = page === 'newest' && add.length > 0 && add[0]!.seq! > lastCached + 1
  const base = disjoint ? [] : timeline.messages
  const merged = mergeMessages(base, add)
  const reachedStart = messages.length < pageSize || messages[0]?.seq === 1 || (merged[0]?.seq ?? 1) === 1
  const next: Timeline = {
    messages: merged,
    atStart: page === 'older' ? reachedStart : (disjoint ? reachedStart : timeline.atStart || reachedStart),
    loadingOlder: page === 'older' ? false : timeline.loadingOlder,
    loaded: true,
  }
  const out: Partial<AppState> = { timelines: { ...s.timelines, [channel]: next } }
  const newest = messages[messages.length - 1]
  if (page === 'newest' && newest !== undefined) Object.assign(out, withPreview({ ...s, ...out }, channel, newest))
  return out
}

/** The newest message of a channel, for the sidebar's preview. */
export function withPreview(s: AppState, channel: string, m: Message): Partial<AppState> {
  const c = s.conversations[channel]
  if (c === undefined || (c.last !== null && c.last.seq >= m.seq)) return {}
  return { conversations: { ...s.conversations, [channel]: { ...c, last: m, lastSeq: Math.max(c.lastSeq, m.seq), activity: Math.max(c.activity, m.ts) } } }
}

export function withLoadingOlder(s: AppState, channel: string, loading: boolean): Partial<AppState> {
  const timeline = s.timelines[channel] ?? EMPTY_TIMELINE
  return { timelines: { ...s.timelines, [channel]: { ...timeline, loadingOlder: loading } } }
}

/**
 * The server's channel list: the truth about membership, names and read positions. Local drafts
 * (a 1:1 opened from the friends list, with no message yet) are kept, and so are conversations
 * whose activity is newer than `askedAt`, when the list was asked for.
 */
export function withChannelList(s: AppState, list: ChannelSummary[], askedAt = 0): Partial<AppState> {
  const me = s.session?.username ?? ''
  const conversations: Record<string, Conversation> = {}
  for (const c of list) {
    const old = s.conversations[c.id]
    conversations[c.id] = {
      ...(old ?? bareConversation(c.id, me, 0)),
      ...conversationFields(c, me),
      lastSeq: Math.max(old?.lastSeq ?? 0, c.lastSeq),
      readSeq: Math.max(old?.readSeq ?? 0, c.readSeq),
    }
  }
  // Kept too: what an event brought in after the list was asked for (the list predates it).
  for (const [id, c] of Object.entries(s.conversations)) {
    if (conversations[id] === undefined && ((c.lastSeq === 0 && c.kind === 'dm') || (askedAt > 0 && c.activity >= askedAt))) conversations[id] = c
  }
  const active = s.active !== null && conversations[s.active] === undefined ? null : s.active
  return { conversations, active, dialog: active === null && s.dialog === 'group-info' ? null : s.dialog }
}

function conversationFields(c: ChannelView, me: string): Pick<Conversation, 'id' | 'kind' | 'name' | 'members'> {
  const name = c.kind === 'dm' ? c.members.find((m) => m !== me) ?? me : c.name
  return { id: c.id, kind: c.kind, name, members: [...c.members] }
}

/** A group we created or changed: its new membership. */
export function withChannel(s: AppState, c: ChannelView, activity: number): Partial<AppState> {
  const me = s.session?.username ?? ''
  if (!c.members.includes(me)) return withoutConversation(s, c.id)
  const old = s.conversations[c.id] ?? bareConversation(c.id, me, activity)
  return { conversations: { ...s.conversations, [c.id]: { ...old, ...conversationFields(c, me) } } }
}

export function withoutConversation(s: AppState, id: string): Partial<AppState> {
  const { [id]: _gone, ...conversations } = s.conversations
  const active = s.active === id ? null : s.active
  return { conversations, active, dialog: s.active === id ? null : s.dialog }
}

export function withRead(s: AppState, channel: string, seq: number): Partial<AppState> {
  const c = s.conversations[channel]
  if (c === undefined || c.readSeq >= seq) return {}
  return { conversations: { ...s.conversations, [channel]: { ...c, readSeq: seq, lastSeq: Math.max(c.lastSeq, seq) } } }
}

export function withFriends(s: AppState, friends: FriendView[]): Partial<AppState> {
  const presence = { ...s.presence }
  for (const f of friends) if (f.status !== undefined) presence[f.username] = { status: f.status, lastActiveAt: f.lastActiveAt ?? null }
  return { friends, presence }
}

export function withPresence(s: AppState, p: PresenceView): Partial<AppState> {
  return { presence: { ...s.presence, [p.user]: { status: p.status, lastActiveAt: p.lastActiveAt } } }
}

export function withTyping(s: AppState, channel: string, user: string, now: number): Partial<AppState> {
  return { typing: { ...s.typing, [channel]: { ...s.typing[channel], [user]: now + TYPING_SHOWN_MS } } }
}

/** Drops typing notices that ran out; returns {} when none did. */
export function withoutExpiredTyping(s: AppState, now: number): Partial<AppState> {
  let changed = false
  const typing: AppState['typing'] = {}
  for (const [channel, users] of Object.entries(s.typing)) {
    const kept = Object.fromEntries(Object.entries(users).filter(([, until]) => until > now))
    if (Object.keys(kept).length !== Object.keys(users).length) changed = true
    if (Object.keys(kept).length > 0) typing[channel] = kept
  }
  return changed ? { typing } : {}
}

/** Replaces (or adds) one of our outgoing messages. */
export function withOutgoing(s: AppState, m: ShownMessage): Partial<AppState> {
  const at = s.outbox.findIndex((o) => o.clientMsgId === m.clientMsgId)
  const outbox = at < 0 ? [...s.outbox, m] : s.outbox.map((o, i) => (i === at ? m : o))
  return { outbox }
}

export function withoutOutgoing(s: AppState, clientMsgId: string): Partial<AppState> {
  return { outbox: s.outbox.filter((o) => o.clientMsgId !== clientMsgId) }
}
