/**
 * The parameters of a search (HTTP `GET /v1/search` and the WebSocket `search` op), checked once
 * for both: the query's words, the paging cursor and the page size.
 *
 * The cursor (`next` in a reply, `before` in the next request) is `<ts>.<channel>.<seq>`: the
 * place of the last message returned. Channel ids never contain a dot. A bare `<ts>` (a number,
 * or digits) is accepted too and means "older than this time".
 */
import { parseChannelId } from '../actors/ids.js'
import type { SearchKey } from '../actors/search-index.js'
import { queryWords } from '../actors/search-text.js'
import { LIMITS } from '../protocol/frames.js'

export interface SearchParams { words: string[]; channel?: string; before?: SearchKey; limit: number }

export interface RawSearch { q: unknown; channel?: unknown; before?: unknown; limit?: unknown }

const CURSOR = /^(\d{1,16})(?:\.([^.]{1,200})\.(\d{1,16}))?$/

/** The checked parameters, or what is wrong with them (the caller picks the error code). */
export function searchParams(raw: RawSearch): SearchParams | { problem: string } {
  if (typeof raw.q !== 'string') return { problem: 'q must be a string' }
  const q = queryWords(raw.q, LIMITS.searchMaxQueryCodePoints, LIMITS.searchMaxWords)
  if ('problem' in q) return q
  const params: SearchParams = { words: q.words, limit: LIMITS.searchDefaultLimit }
  if (raw.limit !== undefined) {
    if (typeof raw.limit !== 'number' || !Number.isSafeInteger(raw.limit) || raw.limit < 1) return { problem: 'limit must be a positive integer' }
    params.limit = Math.min(raw.limit, LIMITS.searchMaxLimit)
  }
  if (raw.channel !== undefined) {
    if (typeof raw.channel !== 'string') return { problem: 'channel must be a string' }
    params.channel = raw.channel
  }
  if (raw.before !== undefined) {
    const before = parseCursor(raw.before)
    if (!before) return { problem: 'before must be a cursor from a previous reply\'s next, or a time in ms' }
    params.before = before
  }
  return params
}

export function formatCursor(key: SearchKey): string {
  return `${key.ts}.${key.channel}.${key.seq}`
}

function parseCursor(raw: unknown): SearchKey | null {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) && raw >= 0 ? { ts: raw, channel: '', seq: 0 } : null
  if (typeof raw !== 'string') return null
  const m = CURSOR.exec(raw)
  if (!m) return null
  const ts = Number(m[1])
  if (m[2] === undefined) return { ts, channel: '', seq: 0 }
  try {
    return { ts, channel: parseChannelId(m[2]).id, seq: Number(m[3]) }
  } catch {
    return null
  }
}
