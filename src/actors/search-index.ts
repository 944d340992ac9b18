/**
 * A channel's inverted index, kept by the channel actor in its own key space, so it is written in
 * the same atomic commits as the messages it indexes and replicates with the channel.
 *
 * Layout (sub-keys of the channel; docs/STORAGE.md):
 * - `t/<seq>` -> {ts, n, w}: message `seq`'s time, its text's size in UTF-8 bytes and its folded
 *   words. Written with the message. An edit or a delete finds here exactly the postings the
 *   message has (whatever the tokenizer of the day would say), and a search for several words
 *   checks a candidate's other words with one small read. (An index from before blocks holds
 *   just the word list here.)
 * - `x/<word>/<ts>/<seq>` -> postings of `word`: a block of them, `[ts, seq, size]` triples
 *   counted down from the key's own time and seq, newest first; or the size alone, for one
 *   posting at the key's place (the only form before blocks). A row's key is the place of its
 *   newest posting (taking that one out moves the row, so no key keeps a deleted message's place),
 *   and the rows of one word never interleave: a reverse range is "newest first", and a search
 *   cursor becomes a range bound, exact at any depth. The size lets a search cut its page at a
 *   byte bound without reading any message body.
 * - `xs` -> seq: the sealed mark. Messages up to it have their postings in blocks; the few after
 *   it are found through their word lists. Every block's worth of messages (`BLOCK`, about 128),
 *   the send that reaches it also writes one block per word of the messages waiting and moves the
 *   mark. A message's words are then one row when it is sent, instead of one row per word, which
 *   were most of the rows of a send (docs/PERFORMANCE.md).
 *
 * Blocks never interleave because a channel's message times never go back (the channel actor
 * takes the later of its clock and its newest message's time), and because an edit that gives a
 * sealed message a new word puts the posting in the first row keyed at or above its place.
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

/**
 * Messages per block, on average: a block is written once this many messages wait past the sealed
 * mark. Each channel's own count is between half and one and a half times this, by its id, so that
 * channels busy at the same rate do not all write blocks in the same moment.
 */
export const BLOCK = 128

/** Most postings one seal writes (one commit, replicated in a cluster). */
export const SEAL_POSTINGS = 16_384

/** A channel's block size (BLOCK): the same on every activation and every replica. */
export function blockSizeOf(channel: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < channel.length; i++) h = Math.imul(h ^ channel.charCodeAt(i), 0x01000193) >>> 0
  return BLOCK / 2 + (h % BLOCK)
}

/** A message's word list, as stored: its time, text size and words; before blocks, the words. */
interface WordList { ts: number; n: number; w: string[] }
type StoredWords = WordList | string[]
/** A posting row's value: one posting's size, or a block of [ts, seq, size] triples. */
type PostingValue = number | number[]

const POSTING = 'x'
const WORDS = 't'
const SEALED = 'xs'
/** Above every digit: bounds "everything at this time". */
const TOP = '\xff'
const FIRST_CHUNK = 16
const MAX_CHUNK = 1024
/** Digits of a number in a key (keys.ts). */
const WIDTH = 16

const wordPrefix = (word: string) => `${POSTING}${SEP}${word}${SEP}`
const position = (ts: number, seq: number) => `${num(ts)}${SEP}${num(seq)}`
const wordsKey = (seq: number) => `${WORDS}${SEP}${num(seq)}`
const wordsIn = (stored: StoredWords | undefined): string[] => (stored === undefined ? [] : Array.isArray(stored) ? stored : stored.w)
/** Newest first: by time, then seq. */
const newestFirst = (a: Found, b: Found) => b.ts - a.ts || b.seq - a.seq

/** The order of search results: negative when `a` comes first (is newer). */
export function compareKeys(a: SearchKey, b: SearchKey): number {
  if (a.ts !== b.ts) return b.ts - a.ts
  if (a.channel !== b.channel) return a.channel < b.channel ? 1 : -1
  return b.seq - a.seq
}

/** The postings a row holds, newest first; `at` is its key after the word's prefix. */
function postingsOf(at: string, value: PostingValue): Found[] {
  const ts = parseNum(at.slice(0, WIDTH))
  const seq = parseNum(at.slice(WIDTH + 1))
  if (typeof value === 'number') return [{ ts, seq, bytes: value }]
  const out: Found[] = []
  for (let i = 0; i + 2 < value.length; i += 3) out.push({ ts: ts - value[i]!, seq: seq - value[i + 1]!, bytes: value[i + 2]! })
  return out
}

/** A row's value for `postings` (newest first) under the key at `ts`/`seq`, at or above them all. */
function rowValue(ts: number, seq: number, postings: readonly Found[]): PostingValue {
  const only = postings.length === 1 ? postings[0]! : undefined
  if (only && only.ts === ts && only.seq === seq) return only.bytes
  const out: number[] = []
  for (const p of postings) out.push(ts - p.ts, seq - p.seq, p.bytes)
  return out
}

export class SearchIndex {
  /** The sealed mark, once read; moved by a send's commit that wrote blocks. */
  private sealed: number | undefined
  /** Whether the mark is known stored (not inferred from an index older than blocks). */
  private markStored = false
  /** Word lists of the send batch being built, not yet stored. */
  private staged: Array<[number, WordList]> = []
  /** The mark the batch being built moves to, if it writes blocks. */
  private sealing: number | undefined

  constructor(private readonly store: ActorStore, private readonly channel: string, private readonly blockSize = blockSizeOf(channel)) {}

  /** Ops indexing message `seq`, sent at `ts`, with `text`: its word list. Part of a batch (`seal`, `settle`). */
  add(seq: number, ts: number, text: string): KvOp[] {
    const words = wordsOf(text)
    if (words.length === 0) return []
    const list: WordList = { ts, n: Buffer.byteLength(text), w: words }
    this.staged.push([seq, list])
    return [{ type: 'put', key: wordsKey(seq), value: list }]
  }

  /**
   * Ends a batch of `add`s, whose last message is `lastSeq`: once a block's worth wait past the
   * sealed mark, ops writing their postings as one block per word and moving the mark to
   * `lastSeq` (or to the last message sealed, when SEAL_POSTINGS cut them short). The batch's
   * commit is then reported with `settle`.
   */
  async seal(lastSeq: number): Promise<KvOp[]> {
    const sealed = await this.sealedThrough()
    if (lastSeq - sealed < this.blockSize) return []
    const lists = [...(await this.waiting(sealed)), ...this.staged]
    // A block's worth of long messages of distinct words (up to 1,000 each) would make one commit
    // too large to replicate: the oldest up to SEAL_POSTINGS are sealed, the rest wait for the next.
    let kept = lists.length
    for (let i = 0, postings = 0; i < lists.length; i++) {
      postings += lists[i]![1].w.length
      if (postings > SEAL_POSTINGS && i > 0) {
        kept = i
        break
      }
    }
    const mark = kept < lists.length ? lists[kept - 1]![0] : lastSeq
    lists.length = kept
    // Oldest first by seq, and so by time, which never goes back in a channel; should it have,
    // they are put in order here.
    if (lists.some(([, list], i) => i > 0 && list.ts < lists[i - 1]![1].ts)) lists.sort(([a, x], [b, y]) => x.ts - y.ts || a - b)
    // Each word's row as it fills, newest first: [ts, seq, size, ...], made relative below.
    const rows = new Map<string, number[]>()
    for (let i = lists.length - 1; i >= 0; i--) {
      const [seq, list] = lists[i]!
      for (const w of list.w) {
        const row = rows.get(w)
        if (row) row.push(list.ts, seq, list.n)
        else rows.set(w, [list.ts, seq, list.n])
      }
    }
    const ops: KvOp[] = []
    for (const [w, row] of rows) {
      const ts = row[0]!
      const seq = row[1]!
      for (let i = 0; i < row.length; i += 3) {
        row[i] = ts - row[i]!
        row[i + 1] = seq - row[i + 1]!
      }
      ops.push({ type: 'put', key: wordPrefix(w) + position(ts, seq), value: row.length === 3 ? row[2]! : row })
    }
    ops.push({ type: 'put', key: SEALED, value: mark })
    this.sealing = mark
    return ops
  }

  /** The batch's commit is done: `stored` if it was written. */
  settle(stored: boolean): void {
    if (stored && this.sealing !== undefined) {
      this.sealed = this.sealing
      this.markStored = true
    }
    this.sealing = undefined
    this.staged = []
  }

  /** Ops moving message `seq` from the words it is indexed under to those of `text` (an edit). */
  async edit(seq: number, ts: number, text: string): Promise<KvOp[]> {
    const sealed = await this.sealedThrough()
    const previous = wordsIn(await this.store.get<StoredWords>(wordsKey(seq)))
    const next = wordsOf(text)
    const bytes = Buffer.byteLength(text)
    const ops: KvOp[] = []
    if (seq <= sealed) {
      const keep = new Set(next)
      for (const w of previous) if (!keep.has(w)) ops.push(...(await this.unpost(w, ts, seq)))
      // Every posting is written again: each carries the text's new size.
      for (const w of next) ops.push(...(await this.post(w, { ts, seq, bytes })))
    }
    ops.push(next.length > 0 ? { type: 'put', key: wordsKey(seq), value: { ts, n: bytes, w: next } satisfies WordList } : { type: 'del', key: wordsKey(seq) })
    return [...ops, ...this.keepMark(sealed)]
  }

  /** Ops removing every trace of message `seq` from the index (a delete). */
  async remove(seq: number, ts: number): Promise<KvOp[]> {
    const sealed = await this.sealedThrough()
    const ops: KvOp[] = []
    if (seq <= sealed) {
      for (const w of wordsIn(await this.store.get<StoredWords>(wordsKey(seq)))) ops.push(...(await this.unpost(w, ts, seq)))
    }
    ops.push({ type: 'del', key: wordsKey(seq) })
    return [...ops, ...this.keepMark(sealed)]
  }

  /**
   * An inferred mark is stored by the first change: an edit rewrites a sealed message's word list
   * in today's form, which would make the next inference place the mark below it.
   */
  private keepMark(sealed: number): KvOp[] {
    return this.markStored ? [] : [{ type: 'put', key: SEALED, value: sealed }]
  }

  /**
   * Up to `limit` messages holding every one of `words`, newest first, within `bounds`: those
   * past the sealed mark through their word lists, the others through the postings. What is found
   * is as of the reads: the caller checks the bodies it reads afterwards (an edit or delete may
   * come in between).
   */
  async find(words: readonly string[], bounds: SearchBounds, limit: number): Promise<Found[]> {
    if (words.length === 0 || limit <= 0) return []
    const sealed = await this.sealedThrough()
    const below = this.upper(bounds.below)
    const above = this.lower(bounds.above)
    const found: Found[] = []
    for (const [seq, list] of await this.waiting(sealed)) {
      const at = position(list.ts, seq)
      if (at < below && at > above && words.every((w) => list.w.includes(w))) found.push({ seq, ts: list.ts, bytes: list.n })
    }
    // A send that sealed may be stored while this activation still holds the old mark: a message
    // is then both waiting and in a block, and is kept once.
    const seen = new Set(found.map((f) => f.seq))
    for (const f of await this.findSealed(words, bounds, limit)) if (!seen.has(f.seq)) found.push(f)
    return found.sort(newestFirst).slice(0, limit)
  }

  /**
   * The postings' part of `find`. One word is one range read. Several: reads a first small chunk
   * of each word's postings, walks those of the rarest and checks each candidate's word list, so
   * the cost follows the rarest word, not the most common one.
   */
  private async findSealed(words: readonly string[], bounds: SearchBounds, limit: number): Promise<Found[]> {
    if (words.length === 1) return this.postings(words[0]!, bounds, Math.min(limit, MAX_CHUNK))
    let chunk = FIRST_CHUNK
    const firsts = await Promise.all(words.map((w) => this.postings(w, bounds, chunk)))
    let driver = 0
    for (let i = 1; i < firsts.length; i++) if (firsts[i]!.length < firsts[driver]!.length) driver = i
    const out: Found[] = []
    let rows = firsts[driver]!
    while (rows.length > 0) {
      const lists = await this.store.getMany<StoredWords>(rows.map((r) => wordsKey(r.seq)))
      lists.forEach((stored, i) => {
        const list = wordsIn(stored)
        if (out.length < limit && words.every((w) => list.includes(w))) out.push(rows[i]!)
      })
      if (out.length >= limit || rows.length < chunk) break
      const last = rows[rows.length - 1]!
      chunk = Math.min(MAX_CHUNK, chunk * 4)
      rows = await this.postings(words[driver]!, bounds, chunk, last)
    }
    return out
  }

  /**
   * Up to `limit` postings of `word` within `bounds`, newest first, strictly older than `after`
   * when given. The block holding the newest of them may be keyed above the upper bound (by a
   * newer posting): it is the first row at or above that bound.
   */
  private async postings(word: string, bounds: SearchBounds, limit: number, after?: { ts: number; seq: number }): Promise<Found[]> {
    const prefix = wordPrefix(word)
    const below = after ? position(after.ts, after.seq) : this.upper(bounds.below)
    const above = this.lower(bounds.above)
    if (above >= below) return []
    const out: Found[] = []
    const take = (rows: Array<[string, PostingValue]>) => {
      for (const [key, value] of rows) {
        for (const p of postingsOf(key.slice(prefix.length), value)) {
          const at = position(p.ts, p.seq)
          if (at < below && at > above) out.push(p)
        }
      }
    }
    take(await this.store.range<PostingValue>({ gte: prefix + below, lt: prefix + TOP, limit: 1 }))
    let lt = prefix + below
    // Each pass reads rows strictly below the last one read, so it ends.
    while (out.length < limit) {
      const rows = await this.store.range<PostingValue>({ gt: prefix + above, lt, limit, reverse: true })
      take(rows)
      if (rows.length < limit) break
      lt = rows[rows.length - 1]![0]
    }
    return out.slice(0, limit)
  }

  /**
   * The sealed mark. Absent, it is the newest message with a word list from before blocks (its
   * postings, and all older ones, were written with it), or 0.
   */
  private async sealedThrough(): Promise<number> {
    if (this.sealed !== undefined) return this.sealed
    let mark = await this.store.get<number>(SEALED)
    if (mark !== undefined) this.markStored = true
    else {
      mark = 0
      let lt = WORDS + SEP + TOP
      // Each pass reads rows strictly below the last one read, so it ends; a channel without a
      // mark has at most a block's worth of newer word lists (then it writes one).
      for (let done = false; !done; ) {
        const rows = await this.store.range<StoredWords>({ gt: wordsKey(0), lt, limit: this.blockSize, reverse: true })
        const legacy = rows.find(([, v]) => Array.isArray(v))
        if (legacy) mark = parseNum(legacy[0].slice(2))
        done = legacy !== undefined || rows.length < this.blockSize
        if (!done) lt = rows[rows.length - 1]![0]
      }
    }
    // A commit that moved the mark while this read was under way has set it already.
    this.sealed ??= mark
    return this.sealed
  }

  /** Word lists of messages past the mark, oldest first. */
  private async waiting(sealed: number): Promise<Array<[number, WordList]>> {
    const rows = await this.store.range<StoredWords>({ gt: wordsKey(sealed), lt: WORDS + SEP + TOP })
    const out: Array<[number, WordList]> = []
    for (const [key, list] of rows) if (!Array.isArray(list)) out.push([parseNum(key.slice(2)), list])
    return out
  }

  /** Ops taking message `seq`'s posting out of `word`'s row that holds it (none if none does). */
  private async unpost(word: string, ts: number, seq: number): Promise<KvOp[]> {
    const row = await this.rowHolding(word, ts, seq)
    if (!row) return []
    const kept = row.postings.filter((p) => p.seq !== seq)
    if (kept.length === row.postings.length) return []
    const top = kept[0]
    if (!top) return [{ type: 'del', key: row.key }]
    if (top.ts === row.ts && top.seq === row.seq) return [{ type: 'put', key: row.key, value: rowValue(row.ts, row.seq, kept) }]
    // The row was keyed at this message's place, which would still tell that it had this word.
    return [{ type: 'del', key: row.key }, { type: 'put', key: wordPrefix(word) + position(top.ts, top.seq), value: rowValue(top.ts, top.seq, kept) }]
  }

  /** Ops putting `posting` into `word`'s postings: into the row that takes its place, else (the newest) a row of its own. */
  private async post(word: string, posting: Found): Promise<KvOp[]> {
    const row = await this.rowHolding(word, posting.ts, posting.seq)
    if (!row) return [{ type: 'put', key: wordPrefix(word) + position(posting.ts, posting.seq), value: posting.bytes }]
    const postings = row.postings.filter((p) => p.seq !== posting.seq)
    postings.push(posting)
    postings.sort(newestFirst)
    return [{ type: 'put', key: row.key, value: rowValue(row.ts, row.seq, postings) }]
  }

  /**
   * The row of `word` that holds, or would take, a posting at the place `ts`/`seq`: the first at or
   * above it. Every row below holds only postings below that place, so a posting put there keeps
   * the row's key its newest and the rows apart.
   */
  private async rowHolding(word: string, ts: number, seq: number): Promise<{ key: string; ts: number; seq: number; postings: Found[] } | undefined> {
    const prefix = wordPrefix(word)
    const at = position(ts, seq)
    const [row] = await this.store.range<PostingValue>({ gte: prefix + at, lt: prefix + TOP, limit: 1 })
    if (!row) return undefined
    const keyAt = row[0].slice(prefix.length)
    return { key: row[0], ts: parseNum(keyAt.slice(0, WIDTH)), seq: parseNum(keyAt.slice(WIDTH + 1)), postings: postingsOf(keyAt, row[1]) }
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
