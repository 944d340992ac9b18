/**
 * The checker's rules for changes to messages already sent (edits, deletes, reactions) and for
 * searches, as the simulator's clients make them (history.ts says how: a message is edited at most
 * once, changed no more once its delete was tried, and reactions are only ever turned on).
 *
 * - an acknowledged delete leaves the message deleted; an acknowledged edit leaves its text
 *   (unless deleted); an acknowledged reaction is on the message (unless deleted);
 * - a message's text is what was sent or what an edit asked for; a reaction on it was asked for by
 *   that user; a deleted message was deleted by a delete someone tried;
 * - a change refused as NOT_FOUND was made to a message that is deleted; nothing else is refused;
 * - every member's inbox holds, for every message, one delete event if it is deleted (none
 *   otherwise), one edit event if its text was edited (none if not; at most one if deleted), and
 *   one reaction event per reaction on it (a repeat emits nothing; at most one each if deleted);
 * - a search answers only messages of the asker's channels, each one that history holds at that
 *   place (the same message, or deleted since), holding every word asked for.
 */
import { words as wordsOf } from '../actors/search-text.js'
import type { ChangeRecord, InboxEvent, SearchRecord, SendRecord, StoredMessage } from './history.js'

export interface ChangesInput {
  sends: SendRecord[]
  changes: ChangeRecord[]
  searches: SearchRecord[]
  /** Channel -> its history as the first node served it (position i holds seq i + 1). */
  canonical: Map<string, StoredMessage[]>
  inboxes: Map<string, { events: InboxEvent[]; channels: string[] }>
}

export interface ChangesFigures {
  changes: number
  changesAcked: number
  searches: number
  changeProblems: number
}

/** Texts a message at `channel/seq` may hold: what was sent, or what an edit of it asked for. */
export function allowedTexts(changes: ChangeRecord[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const c of changes) {
    if (c.kind !== 'edit') continue
    const place = `${c.channel}/${c.seq}`
    ;(out.get(place) ?? out.set(place, new Set()).get(place)!).add(c.text!)
  }
  return out
}

export function checkChanges(input: ChangesInput, note: (problem: string) => void): ChangesFigures {
  let problems = 0
  const fail = (p: string): void => { problems++; note(p) }
  const at = (channel: string, seq: number): StoredMessage | undefined => input.canonical.get(channel)?.[seq - 1]
  const asked = new Map<string, ChangeRecord[]>()
  for (const c of input.changes) {
    const place = `${c.channel}/${c.seq}`
    ;(asked.get(place) ?? asked.set(place, []).get(place)!).push(c)
  }

  for (const c of input.changes) {
    const m = at(c.channel, c.seq)
    const what = `${c.kind} of ${c.channel}/${c.seq} by ${c.by}${c.emoji ? ` (${c.emoji})` : ''}`
    if (!m) { fail(`${what}: no such message in history`); continue }
    if (c.refused !== null && !(c.refused === 'NOT_FOUND' && m.deleted)) fail(`${what}: refused with ${c.refused}`)
    if (c.ackAt === null || m.deleted) continue
    if (c.kind === 'delete') fail(`${what}: acknowledged, yet the message is not deleted`)
    if (c.kind === 'edit' && m.text !== c.text) fail(`${what}: acknowledged, yet the text is not the edit's`)
    if (c.kind === 'react' && !(m.reactions?.[c.emoji!] ?? []).includes(c.by)) fail(`${what}: acknowledged, yet the reaction is not on the message`)
  }

  const sent = new Map(input.sends.map((s) => [`${s.channel}/${s.clientMsgId}`, s]))
  for (const [channel, msgs] of input.canonical) {
    for (const m of msgs) {
      const tried = asked.get(`${channel}/${m.seq}`) ?? []
      if (m.deleted) {
        if (!tried.some((c) => c.kind === 'delete')) fail(`${channel}/${m.seq}: deleted, yet no client tried to delete it`)
        continue
      }
      for (const [emoji, users] of Object.entries(m.reactions ?? {})) {
        for (const u of users) if (!tried.some((c) => c.kind === 'react' && c.by === u && c.emoji === emoji)) fail(`${channel}/${m.seq}: reaction ${emoji} of ${u} that no client asked for`)
      }
      const original = sent.get(`${channel}/${m.clientMsgId}`)
      if (original && m.text !== original.text && !tried.some((c) => c.kind === 'edit' && c.text === m.text)) fail(`${channel}/${m.seq}: text that was neither sent nor asked for by an edit`)
    }
  }

  for (const [user, { events, channels }] of input.inboxes) {
    const count = new Map<string, number>()
    const bump = (k: string): void => void count.set(k, (count.get(k) ?? 0) + 1)
    for (const e of events) {
      if (e.op === 'edit' || e.op === 'delete') bump(`${e.op} ${e.channel}/${e.seq}`)
      else if (e.op === 'reaction') bump(`reaction ${e.channel}/${e.seq} ${e.user} ${e.emoji} ${e.on}`)
    }
    for (const channel of channels) {
      for (const m of input.canonical.get(channel) ?? []) {
        const place = `${channel}/${m.seq}`
        const n = (k: string): number => count.get(k) ?? 0
        const edited = !m.deleted && m.text !== sent.get(`${channel}/${m.clientMsgId}`)?.text
        if (n(`delete ${place}`) !== (m.deleted ? 1 : 0)) fail(`${user}: ${place} (${m.deleted ? 'deleted' : 'not deleted'}) has ${n(`delete ${place}`)} delete events`)
        const edits = n(`edit ${place}`)
        if (m.deleted ? edits > 1 : edits !== (edited ? 1 : 0)) fail(`${user}: ${place} (${edited ? 'edited' : m.deleted ? 'deleted' : 'not edited'}) has ${edits} edit events`)
        for (const [emoji, users] of Object.entries(m.reactions ?? {})) {
          for (const u of users) if (n(`reaction ${place} ${u} ${emoji} true`) !== 1) fail(`${user}: reaction ${emoji} of ${u} on ${place} is in the inbox ${n(`reaction ${place} ${u} ${emoji} true`)} times`)
        }
      }
    }
    for (const [k, n] of count) {
      if (!k.startsWith('reaction ')) continue
      const [, place, u, emoji, on] = k.split(' ')
      const [channel, seq] = [place!.slice(0, place!.lastIndexOf('/')), Number(place!.slice(place!.lastIndexOf('/') + 1))]
      const m = at(channel, seq)
      const onMessage = on === 'true' && (m?.reactions?.[emoji!] ?? []).includes(u!)
      // Repeats of a reaction the message carries were counted above; a deleted message's at most once.
      if (!m || (!m.deleted && !onMessage)) fail(`${user}: reaction event ${emoji} of ${u} on ${place} that the message does not carry`)
      else if (m.deleted && n > 1) fail(`${user}: reaction ${emoji} of ${u} on deleted ${place} is in the inbox ${n} times`)
    }
  }

  for (const s of input.searches) {
    for (const f of s.found) {
      const what = `search by ${s.user} for ${s.words.join(' ')}: ${f.channel}/${f.seq}`
      const channels = input.inboxes.get(s.user)?.channels
      if (channels && !channels.includes(f.channel)) { fail(`${what}: not one of the asker's channels`); continue }
      const m = at(f.channel, f.seq)
      if (!m) { fail(`${what}: history has no such message`); continue }
      if (!m.deleted && !f.deleted && m.clientMsgId !== f.clientMsgId) fail(`${what}: answered ${f.clientMsgId}, history holds ${m.clientMsgId}`)
      if (!f.deleted && !s.words.every((w) => wordsOf(f.text).includes(w))) fail(`${what}: its text lacks a word asked for`)
    }
  }

  return {
    changes: input.changes.length,
    changesAcked: input.changes.filter((c) => c.ackAt !== null).length,
    searches: input.searches.length,
    changeProblems: problems,
  }
}
