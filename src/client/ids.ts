/**
 * Identifiers the client makes itself: message ids for idempotent sends and 1:1 channel ids.
 */

const ID_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'

/**
 * A fresh `clientMsgId`: base36 milliseconds (ids from one device sort roughly by time) plus 12
 * random characters (~71 bits), all within the contract's `[A-Za-z0-9_-]{1,64}`.
 */
export function newClientMsgId(): string {
  const bytes = new Uint8Array(12)
  const crypto = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto
  if (typeof crypto?.getRandomValues === 'function') crypto.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
  let random = ''
  for (const byte of bytes) random += ID_ALPHABET[byte % ID_ALPHABET.length]
  return `${Date.now().toString(36)}-${random}`
}

/** The canonical 1:1 channel id of two distinct users: `dm:<a>:<b>` with the names sorted. */
export function dmChannelId(a: string, b: string): string {
  if (a === b) throw new RangeError('a 1:1 channel needs two distinct users')
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`
}

/** Rewrites `dm:bob:alice` to `dm:alice:bob`, as the server does; other ids are returned unchanged. */
export function canonicalChannelId(channel: string): string {
  const parts = channel.split(':')
  if (parts.length !== 3 || parts[0] !== 'dm' || parts[1] === parts[2]) return channel
  return dmChannelId(parts[1] as string, parts[2] as string)
}
