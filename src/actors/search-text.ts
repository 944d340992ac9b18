/**
 * Words for search: how a message's text and a query are cut into words and folded, the same way
 * for both, so that a query matches case- and accent-insensitively (`CAFÉ` finds `café`, `lodz`
 * finds `Łódź`, `strasse` finds `Straße`).
 *
 * Folding: compatibility decomposition (NFKD: `ﬁ` is `fi`, full-width `Ａ` is `A`), combining
 * marks removed, case folded (upper then lower, which also turns `ß` into `ss`), and a few Latin
 * letters that do not decompose mapped to their base (`ø`, `ł`, `đ`, `æ`...).
 *
 * Cutting: scripts written with spaces are cut at anything that is not a letter, a number or a
 * mark (an apostrophe inside a word joins it: `don't` is `dont`), a few microseconds a message.
 * Text with scripts written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) goes
 * through `Intl.Segmenter`'s dictionary-based word breaks instead, which is much slower (about
 * 200 µs a message), so it is used only where it is needed.
 */

/** Longest word kept (UTF-16 units); longer ones are cut to this, in the index and in queries alike. */
export const MAX_WORD_LENGTH = 64
/** Distinct words indexed per message; a longer message is searchable by its first ones. */
export const MAX_WORDS_PER_MESSAGE = 1000

const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u
const ASCII = /^[\x00-\x7f]*$/
const ASCII_WORD = /[a-z0-9]+/g
const WORD = /[\p{L}\p{N}]+/gu
const JOINING_APOSTROPHE = /(?<=[\p{L}\p{N}])['’](?=[\p{L}\p{N}])/gu
const MARKS = /\p{M}+/gu
const LETTERS: Record<string, string> = {
  ø: 'o', ł: 'l', đ: 'd', ð: 'd', ħ: 'h', ı: 'i', ŀ: 'l', ŧ: 't', þ: 'th', æ: 'ae', œ: 'oe', ĸ: 'k',
}
const SPECIAL_LETTERS = new RegExp(`[${Object.keys(LETTERS).join('')}]`, 'gu')

let segmenter: Intl.Segmenter | undefined

/** Text folded for comparison (case, accents, compatibility forms); words keep their places. */
export function fold(text: string): string {
  if (ASCII.test(text)) return text.toLowerCase()
  return text.normalize('NFKD').replace(MARKS, '').toUpperCase().toLowerCase().replace(SPECIAL_LETTERS, (c) => LETTERS[c]!)
}

/** The folded words of `text`, in order of first appearance, each once, at most `max`. */
export function words(text: string, max = MAX_WORDS_PER_MESSAGE): string[] {
  const out = new Set<string>()
  for (const w of foldedWords(text)) {
    out.add(w.length > MAX_WORD_LENGTH ? w.slice(0, MAX_WORD_LENGTH) : w)
    if (out.size >= max) break
  }
  return [...out]
}

function foldedWords(raw: string): string[] {
  const text = raw.includes("'") || raw.includes('’') ? raw.replace(JOINING_APOSTROPHE, '') : raw
  if (!UNSPACED.test(text)) return split(fold(text))
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'word' })
  const out: string[] = []
  for (const s of segmenter.segment(text)) {
    // A segment may still hold punctuation glued to it (`e-mail`): cut it like spaced text.
    if (s.isWordLike) out.push(...split(fold(s.segment)))
  }
  return out
}

function split(folded: string): string[] {
  return (ASCII.test(folded) ? folded.match(ASCII_WORD) : folded.match(WORD)) ?? []
}

/** A query's words, or why it cannot be searched (for a 400 answer). */
export function queryWords(q: string, maxCodePoints: number, maxWords: number): { words: string[] } | { problem: string } {
  if ([...q].length > maxCodePoints) return { problem: `q is longer than ${maxCodePoints} characters` }
  const found = words(q, maxWords + 1)
  if (found.length === 0) return { problem: 'q has no words to search for (letters or digits)' }
  if (found.length > maxWords) return { problem: `q has more than ${maxWords} words` }
  return { words: found }
}
