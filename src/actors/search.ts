/**
 * Search across a user's channels: each channel searches its own index (search-index.ts) and the
 * answers are merged, newest first, into one page.
 *
 * Fan-out is bounded: channels are asked in waves of CHANNELS_PER_WAVE (one request per node and
 * wave in a cluster, see Router.callMany), each for at most `limit + 1` results, and every wave
 * after the first only for results newer than the page's current last place, so channels whose
 * matches are all older than what was found stop early. The extra result tells whether there is
 * a next page. A page also stops before its texts pass PAGE_BYTES, like a history page.
 *
 * Paging is by place, not by count: `before` is the last result's key (time, channel, seq), and
 * every channel bounds its index range by it, so a deep page costs what a first one does, and a
 * message sent meanwhile never shifts the pages.
 */
import { asChatError } from '../errors.js'
import type { Message } from '../protocol/frames.js'
import type { Actors } from './env.js'
import type { SearchPage } from './messages.js'
import { type SearchKey, compareKeys } from './search-index.js'

/** Channels asked at once. */
export const CHANNELS_PER_WAVE = 32
/** Bytes (UTF-8) of message text a page holds at most; one message always fits. */
export const PAGE_BYTES = 1024 * 1024

export interface SearchQuery { words: string[]; before?: SearchKey; limit: number }

export const keyOf = (m: Message): SearchKey => ({ ts: m.ts, channel: m.channel, seq: m.seq })

/**
 * One page of `user`'s messages in `channels` holding every word. With a single channel (asked
 * for by name) its refusal is the answer (FORBIDDEN for a non-member, NOT_FOUND...); with the
 * user's whole list, a channel that says the user is not (or no longer) a member is skipped.
 */
export async function searchChannels(actors: Actors, user: string, channels: string[], query: SearchQuery & { channel?: string }): Promise<SearchPage> {
  const want = query.limit + 1
  let best: Message[] = []
  for (let at = 0; at < channels.length; at += CHANNELS_PER_WAVE) {
    const wave = channels.slice(at, at + CHANNELS_PER_WAVE)
    const above = best.length >= want ? keyOf(best[want - 1]!) : undefined
    const answers = await actors.channels(wave, { kind: 'search', user, words: query.words, below: query.before, above, limit: want })
    for (const r of answers) {
      if (r.ok) {
        best = mergeNewest(best, r.value, want)
        continue
      }
      const error = asChatError(r.error)
      if (query.channel === undefined && (error.code === 'FORBIDDEN' || error.code === 'NOT_FOUND')) continue
      // Anything else (UNAVAILABLE during a failover) fails the page: a page missing a channel
      // would move the cursor past its matches for good.
      throw error
    }
  }
  return cut(best, query.limit)
}

/** The newest `max` of two lists that are each newest first. */
function mergeNewest(a: Message[], b: Message[], max: number): Message[] {
  const out: Message[] = []
  let i = 0
  let j = 0
  while (out.length < max && (i < a.length || j < b.length)) {
    if (j >= b.length || (i < a.length && compareKeys(keyOf(a[i]!), keyOf(b[j]!)) <= 0)) out.push(a[i++]!)
    else out.push(b[j++]!)
  }
  return out
}

function cut(found: Message[], limit: number): SearchPage {
  const messages: Message[] = []
  let bytes = 0
  for (const m of found.slice(0, limit)) {
    const size = Buffer.byteLength(m.text)
    if (messages.length > 0 && bytes + size > PAGE_BYTES) break
    messages.push(m)
    bytes += size
  }
  const last = messages[messages.length - 1]
  return { messages, more: found.length > messages.length, next: last ? keyOf(last) : null }
}
