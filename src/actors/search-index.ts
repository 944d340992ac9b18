/**
 * A channel's inverted index, kept by the channel actor in its own key space, so it is written in
 * the same atomic commit as the message it indexes and replicates with the channel.
 *
 * Layout (sub-keys of the channel; docs/STORAGE.md):
 * - `x/<word>/<ts>/<seq>` -> the message's text size in UTF-8 bytes: a posting. Within a word,
 *   keys sort by time then seq, so a reverse range is "newest first", and a search cursor becomes
 *   a range bound, exact at any depth. The size lets a search cut its page at a byte bound
 *   without reading any message body.
 * - `t/<seq>` -> [word]: the message's words, so an edit or a delete removes exactly the postings
 *   it made (whatever the tokenizer of the day would say), and a search for several words checks
 *   a candidate's other words with one small read.
 *
 * Words are folded (search-text.ts) and never contain the separator. A deleted message has
 * neither postings nor a word list: its words are gone from the index with its text.
 */
import { SEP, num, parseNum } from '../storage/keys.js'
import type { ActorStore } from '../storage/actor-store.js'
import type { KvOp } from '../storage/kv.js'
import { words as wordsOf } from './search-text.js'

/**
 * A place in the order of search results, newest first: by time, then channel id, then seq (all
 * descending). Two messages never share one.
 */
export interface SearchKey { ts: number; channel: string; seq: number }

/** Where to look: strictly older than `below`, strictly newer than `above` (both optional). */
export interface SearchBounds { below?: SearchKey; above?: SearchKey }

/** A message found: its place in the channel and its text's size in UTF-8 bytes. */
export interface Found { seq: number; ts: number; bytes: number }


const POSTING = 'x'
const WORDS = 't'
/** Above every digit: bounds "everything at this time". */
const TOP = '\xff'
const FIRST_CHUNK = 16
const MAX_CHUNK = 1024

const wordPrefix = (word: string) => `${POSTING}${SEP}${word}${SEP}`
const position = (ts: number, seq: number) => `${num(ts)}${SEP}${num(seq)}`
const wordsKey = (seq: number) => `${WORDS}${SEP}${num(seq)}`

/** The order of search results: negative when `a` comes first (is newer). */
export function compareKeys(a: SearchKey, b: SearchKey): number {
  if (a.ts !== b.ts) return b.ts - a.ts
  if (a.channel !== b.channel) return a.channel < b.channel ? 1 : -1
  return b.seq - a.seq
}

export class SearchIndex {
  constructor(private readonly store: ActorStore, private readonly channel: string) {}

  /** Ops indexing message `seq`, sent at `ts`, with `text`. */
  add(seq: number, ts: number, text: string): KvOp[] {
    const words = wordsOf(text)
    if (words.length === 0) return []
    const bytes = Buffer.byteLength(text)
    const ops: KvOp[] = words.map((w) => ({ type: 'put', key: wordPrefix(w) + position(ts, seq), value: bytes }))
    ops.push({ type: 'put', key: wordsKey(seq), value: words })
    return ops
  }

  /** Ops moving message `seq` from the words it is indexed under to those of `text` (an edit). */
  async edit(seq: number, ts: number, text: string): Promise<KvOp[]> {
    const previous = await this.entry(seq)
    const next = wordsOf(text)
    const keep = new Set(next)
    const ops: KvOp[] = previous.filter((w) => !keep.has(w)).map((w) => ({ type: 'del', key: wordPrefix(w) + position(ts, seq) }))
    // Every posting is written again: each carries the text's new size.
    const bytes = Buffer.byteLength(text)
    for (const w of next) ops.push({ type: 'put', key: wordPrefix(w) + position(ts, seq), value: bytes })
    ops.push(next.length > 0 ? { type: 'put', key: wordsKey(seq), value: next } : { type: 'del', key: wordsKey(seq) })
    return ops
  }

  /** Ops removing every trace of message `seq` from the index (a delete). */
  async remove(seq: number, ts: number): Promise<KvOp[]> {
    const ops: KvOp[] = (await this.entry(seq)).map((w) => ({ type: 'del', key: wordPrefix(w) + position(ts, seq) }))
    ops.push({ type: 'del', key: wordsKey(seq) })
    return ops
  }

  /** The words message `seq` is indexed under (none for a deleted or unindexed message). */
  private async entry(seq: number): Promise<string[]> {
    return (await this.store.get<string[]>(wordsKey(seq))) ?? []
  }

  /**
   * Up to `limit` messages holding every one of `words`, newest first, within `bounds`. One word
   * is one range read. Several: reads a first small chunk of each word's postings, walks those of
   * the rarest and checks each candidate's word list, so the cost follows the rarest word, not
   * the most common one. What is found is as of the reads: the caller checks the bodies it reads
   * afterwards (an edit or delete may come in between).
   */
  async find(words: readonly string[], bounds: SearchBounds, limit: number): Promise<Found[]> {
    if (words.length === 0 || limit <= 0) return []
    if (words.length === 1) return this.postings(words[0]!, bounds, Math.min(limit, MAX_CHUNK))
    let chunk = FIRST_CHUNK
    const firsts = await Promise.all(words.map((w) => this.postings(w, bounds, chunk)))
    let driver = 0
    for (let i = 1; i < firsts.length; i++) if (firsts[i]!.length < firsts[driver]!.length) driver = i
    const out: Found[] = []
    let rows = firsts[driver]!
    while (rows.length > 0) {
      const lists = await this.store.getMany<string[]>(rows.map((r) => wordsKey(r.seq)))
      lists.forEach((list, i) => {
        if (out.length < limit && list && words.every((w) => list.includes(w))) out.push(rows[i]!)
      })
      if (out.length >= limit || rows.length < chunk) break
      const last = rows[rows.length - 1]!
      chunk = Math.min(MAX_CHUNK, chunk * 4)
      rows = await this.postings(words[driver]!, bounds, chunk, last)
    }
    return out
  }

  /** Postings of `word` within `bounds`, newest first, strictly older than `after` when given. */
  private async postings(word: string, bounds: SearchBounds, limit: number, after?: { ts: number; seq: number }): Promise<Found[]> {
    const prefix = wordPrefix(word)
    const lt = prefix + (after ? position(after.ts, after.seq) : this.upper(bounds.below))
    const gt = prefix + this.lower(bounds.above)
    if (gt >= lt) return []
    const rows = await this.store.range<number>({ gt, lt, limit, reverse: true })
    return rows.map(([key, bytes]) => {
      const at = key.slice(prefix.length)
      return { ts: parseNum(at.slice(0, 16)), seq: parseNum(at.slice(17)), bytes }
    })
  }

  /** The position (after a word's prefix) that this channel's results older than `k` stay below. */
  private upper(k: SearchKey | undefined): string {
    if (!k) return TOP
    if (k.channel === this.channel) return position(k.ts, k.seq)
    // At k's time, this channel's messages come after k (older) only if its id sorts below k's.
    return this.channel < k.channel ? num(k.ts) + SEP + TOP : num(k.ts)
  }

  /** The position that this channel's results newer than `k` stay above. */
  private lower(k: SearchKey | undefined): string {
    if (!k) return ''
    if (k.channel === this.channel) return position(k.ts, k.seq)
    return this.channel > k.channel ? num(k.ts) : num(k.ts) + SEP + TOP
  }
}
