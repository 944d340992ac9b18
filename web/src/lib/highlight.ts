/**
 * Which words of a search result to highlight: the words of the text that the server matched,
 * found with the server's own folding (src/actors/search-text.ts: case, accents, compatibility
 * forms), so `creme` marks `Crème` and `strasse` marks `Straße`. The output is plain pieces of
 * text for the component to render as text nodes, never HTML.
 */
import { LIMITS } from '@sdk'
import { words } from '../../../src/actors/search-text'

export interface Piece { text: string; match: boolean }

/** A run of letters, numbers and marks, with apostrophes inside it (`don't` is one word). */
const TOKEN = /[\p{L}\p{N}\p{M}]+(?:['’][\p{L}\p{N}\p{M}]+)*/gu
/** Characters of a result shown before its first match, and in all. */
const LEAD = 60
const SNIPPET = 280

/** The folded words of a query, as the server reads them (one more than allowed, to tell "too many"). */
export function queryWords(query: string): string[] {
  return words(query, LIMITS.searchMaxWords + 1)
}

/** Whether `text` holds every one of the folded words `wanted` (the server's rule for a result). */
export function matches(text: string, wanted: string[]): boolean {
  const have = new Set(words(text))
  return wanted.every((w) => have.has(w))
}

/**
 * `text` cut into pieces, the words in `wanted` (folded query words) marked. A long text is cut
 * to an excerpt around its first match, with ellipses.
 */
export function highlight(text: string, wanted: string[]): Piece[] {
  const want = new Set(wanted)
  const hits: Array<[number, number]> = []
  for (const m of text.matchAll(TOKEN)) {
    if (words(m[0]).some((w) => want.has(w))) hits.push([m.index, m.index + m[0].length])
  }
  let from = 0
  let to = text.length
  if (text.length > SNIPPET) {
    from = Math.max(0, (hits[0]?.[0] ?? 0) - LEAD)
    to = Math.min(text.length, from + SNIPPET)
  }
  const pieces: Piece[] = []
  if (from > 0) pieces.push({ text: '…', match: false })
  let at = from
  for (const [start, end] of hits) {
    if (end <= from || start >= to) continue
    if (start > at) pieces.push({ text: text.slice(at, start), match: false })
    pieces.push({ text: text.slice(Math.max(start, at), Math.min(end, to)), match: true })
    at = Math.min(end, to)
  }
  if (at < to) pieces.push({ text: text.slice(at, to), match: false })
  if (to < text.length) pieces.push({ text: '…', match: false })
  return pieces
}
