/**
 * Search across a user's channels: each channel searches its own index (search-index.ts) and the
 * answers are merged, newest first, into one page.
 *
 * Fan-out is bounded: channels are asked in waves (8, then 16, 32, then at most 64 at once; one
 * request per node and wave in a cluster, see Router.callMany), each for at most `limit + 1`
 * results, and every wave after the first only for results newer than the page's current last
 * place, so channels whose matches are all older than what was found answer from an empty range.
 * The extra result tells whether there is a next page. Channels are asked most recently active
 * first (the caller's `recency` hint: the time of each channel's newest message it knows of);
 * once the page is full, channels whose newest message is older than its last place cannot add
 * anything and are not asked at all, so a search for a common word touches the few channels that
 * were active lately. Channels answer places and sizes only; the bodies of the page's messages
 * are fetched at the end, from their channels, so no reply carries texts that do not make the
 * page. A page also stops before its texts pass PAGE_BYTES, like a history page.
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
import { words } from './search-text.js'

/**
 * Channels asked at once: the first wave is small (the most recently active channels usually fill
 * a page by themselves), the next ones grow up to the most.
 */
export const FIRST_WAVE = 8
export const CHANNELS_PER_WAVE = 64
/** Bytes (UTF-8) of message text a page holds at most; one message always fits. */
export const PAGE_BYTES = 1024 * 1024
/**
 * Slack for the recency hint: message times come from the clocks of whichever nodes owned a
 * channel, so its newest message may be a little older than an earlier one (nodes keep their
 * clocks within milliseconds with NTP; this allows far worse). A channel is skipped only when its
 * newest message is this much older than the page's last place.
 */
export const CLOCK_SKEW_MS = 10_000

export interface SearchQuery { words: string[]; before?: SearchKey; limit: number }

type Hit = SearchKey & { bytes: number }

const placeOf = (h: Hit): SearchKey => ({ ts: h.ts, channel: h.channel, seq: h.seq })

/**
 * One page of `user`'s messages in `channels` holding every word. With a single channel (asked
 * for by name) its refusal is the answer (FORBIDDEN for a non-member, NOT_FOUND...); with the
 * user's whole list, a channel that says the user is not (or no longer) a member is skipped.
 */
export async function searchChannels(
  actors: Actors, user: string, channels: string[], query: SearchQuery & { channel?: string }, recency = new Map<string, number>(),
): Promise<SearchPage> {
  const want = query.limit + 1
  let best: Hit[] = []
  // Unknown recency first: such a channel may well be the newest.
  const known = (c: string) => recency.get(c) ?? Infinity
  const order = [...channels].sort((x, y) => known(y) - known(x))
  for (let at = 0, size = FIRST_WAVE; at < order.length; at += size, size = Math.min(CHANNELS_PER_WAVE, size * 2)) {
    const above = best.length >= want ? placeOf(best[want - 1]!) : undefined
    let wave = order.slice(at, at + size)
    if (above) wave = wave.filter((c) => known(c) + CLOCK_SKEW_MS >= above.ts)
    if (wave.length === 0) break // sorted by recency: every channel left is older still
    const answers = await actors.channels(wave, { kind: 'search', user, words: query.words, below: query.before, above, limit: want })
    answers.forEach((r, i) => {
      const channel = wave[i]!
      if (r.ok) {
        recency.set(channel, Math.max(recency.get(channel) ?? 0, r.value.lastTs ?? 0))
        best = mergeNewest(best, r.value.found.map((h) => ({ ...h, channel })), want)
        return
      }
      const error = asChatError(r.error)
      if (query.channel === undefined && (error.code === 'FORBIDDEN' || error.code === 'NOT_FOUND')) return
      // Anything else (UNAVAILABLE during a failover) fails the page: a page missing a channel
      // would move the cursor past its matches for good.
      throw error
    })
  }
  const page = cut(best, query.limit)
  const last = page[page.length - 1]
  return { messages: await bodies(actors, page, query.words), more: best.length > page.length, next: last ? placeOf(last) : null }
}

/** The newest `max` of two lists that are each newest first. */
function mergeNewest(a: Hit[], b: Hit[], max: number): Hit[] {
  const out: Hit[] = []
  let i = 0
  let j = 0
  while (out.length < max && (i < a.length || j < b.length)) {
    if (j >= b.length || (i < a.length && compareKeys(a[i]!, b[j]!) <= 0)) out.push(a[i++]!)
    else out.push(b[j++]!)
  }
  return out
}

/** The first `limit` hits, fewer if their texts would pass PAGE_BYTES (never none). */
function cut(found: Hit[], limit: number): Hit[] {
  const page: Hit[] = []
  let bytes = 0
  for (const h of found.slice(0, limit)) {
    if (page.length > 0 && bytes + h.bytes > PAGE_BYTES) break
    page.push(h)
    bytes += h.bytes
  }
  return page
}

/**
 * The page's messages, read from their channels as they are now. One deleted since the channel
 * answered, or edited so that it no longer holds every word, is left out (the page's cursor
 * still moves past it).
 */
async function bodies(actors: Actors, page: Hit[], query: string[]): Promise<Message[]> {
  const byChannel = new Map<string, number[]>()
  for (const h of page) (byChannel.get(h.channel) ?? byChannel.set(h.channel, []).get(h.channel)!).push(h.seq)
  const found = new Map<string, Message>()
  await Promise.all([...byChannel].map(async ([channel, seqs]) => {
    for (const m of await actors.channel(channel, { kind: 'messages', seqs })) found.set(`${channel}/${m.seq}`, m)
  }))
  return page.flatMap((h) => {
    const m = found.get(`${h.channel}/${h.seq}`)
    if (!m || m.deleted) return []
    const has = new Set(words(m.text))
    return query.every((w) => has.has(w)) ? [m] : []
  })
}
