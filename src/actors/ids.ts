/** Channel ids and the validation rules the actors enforce (PROTOCOL.md sections 2 and 3). */
import { errors, quote } from '../errors.js'
import { LIMITS } from '../protocol/frames.js'

export type ChannelId =
  | { kind: 'dm'; id: string; a: string; b: string }
  | { kind: 'group'; id: string }

const GROUP_ID = /^g:[A-Za-z0-9_-]{1,64}$/

export function isUsername(value: unknown): value is string {
  return typeof value === 'string' && LIMITS.usernamePattern.test(value)
}

/**
 * Parses a channel id. A 1:1 id in non-canonical order is accepted and canonicalized
 * (`dm:bob:alice` is `dm:alice:bob`); malformed ids and `dm:x:x` are BAD_FRAME.
 */
export function parseChannelId(raw: unknown): ChannelId {
  if (typeof raw !== 'string') throw errors.badFrame('channel must be a string')
  if (raw.startsWith('dm:')) {
    const parts = raw.split(':')
    const [, x, y] = parts
    if (parts.length !== 3 || !isUsername(x) || !isUsername(y)) throw errors.badFrame(`malformed channel id ${quote(raw)}`)
    if (x === y) throw errors.badFrame('a 1:1 channel needs two distinct users')
    const [a, b] = x < y ? [x, y] : [y, x]
    return { kind: 'dm', id: `dm:${a}:${b}`, a, b }
  }
  if (GROUP_ID.test(raw)) return { kind: 'group', id: raw }
  throw errors.badFrame(`malformed channel id ${quote(raw)}`)
}

export function dmId(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`
}

/** Unicode code points in `text`, counting a surrogate pair once, without allocating. */
export function codePoints(text: string): number {
  let n = text.length
  for (let i = 0; i < text.length - 1; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--
        i++
      }
    }
  }
  return n
}

export function checkText(text: unknown): string {
  if (typeof text !== 'string') throw errors.badFrame('text must be a string')
  if (text.length === 0) throw errors.badFrame('text must not be empty')
  // Two UTF-16 units per code point at most: anything shorter than the limit is within it.
  if (text.length > LIMITS.textMaxCodePoints && codePoints(text) > LIMITS.textMaxCodePoints) {
    throw errors.messageTooLarge(LIMITS.textMaxCodePoints)
  }
  return text
}

export function checkClientMsgId(value: unknown): string {
  if (typeof value !== 'string' || !LIMITS.clientMsgIdPattern.test(value)) {
    throw errors.badFrame('clientMsgId must be 1..64 characters of [A-Za-z0-9_-]')
  }
  return value
}

/**
 * Characters a display name may not hold: control characters (C0, C1, DEL), line and paragraph
 * separators, and the bidirectional controls (embeddings, overrides, isolates, marks), which can
 * make a name display as something else ("alice\u202Egnp.exe"). Joiners stay allowed: emoji need them.
 */
const UNSAFE_NAME = /[\p{Cc}\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/u

export function checkDisplayName(name: string): string {
  if (UNSAFE_NAME.test(name)) throw errors.badRequest('displayName must not contain control or text-direction characters')
  return name
}
