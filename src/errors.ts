/**
 * The one place errors of the contract come from. Every layer throws `ChatError`s made here;
 * the gateway turns them into HTTP bodies or `error` frames, and the cluster carries their code
 * across nodes unchanged.
 */
import { ERROR_CODES, type ErrorCode, isErrorCode } from './protocol/codes.js'

export { ERROR_CODES, type ErrorCode }

export class ChatError extends Error {
  override readonly name = 'ChatError'
  readonly code: ErrorCode
  readonly status: number
  readonly retryable: boolean
  /** Seconds after which a retry may succeed: the HTTP `Retry-After` header. */
  readonly retryAfterSec: number | undefined

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterSec?: number }) {
    super(message, options)
    this.code = code
    this.status = ERROR_CODES[code].status
    this.retryable = ERROR_CODES[code].retryable
    this.retryAfterSec = options?.retryAfterSec
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message }
  }
}

export const errors = {
  badRequest: (message: string) => new ChatError('BAD_REQUEST', message),
  badFrame: (message: string) => new ChatError('BAD_FRAME', message),
  unauthorized: (message = 'missing, invalid or expired token') => new ChatError('UNAUTHORIZED', message),
  forbidden: (message: string) => new ChatError('FORBIDDEN', message),
  notFound: (message: string) => new ChatError('NOT_FOUND', message),
  usernameTaken: (username: string) => new ChatError('USERNAME_TAKEN', `username ${username} is taken`),
  groupFull: (max: number) => new ChatError('GROUP_FULL', `a group holds at most ${max} members`),
  limitReached: (message: string) => new ChatError('LIMIT_REACHED', message),
  messageTooLarge: (max: number) => new ChatError('MESSAGE_TOO_LARGE', `text is longer than ${max} code points`),
  rateLimited: (message = 'too many messages; slow down and retry', retryAfterSec?: number) =>
    new ChatError('RATE_LIMITED', message, retryAfterSec === undefined ? undefined : { retryAfterSec }),
  unavailable: (message = 'temporarily unavailable; nothing was stored, retry later', cause?: unknown, retryAfterSec?: number) =>
    new ChatError('UNAVAILABLE', message, { cause, ...(retryAfterSec === undefined ? {} : { retryAfterSec }) }),
  internal: (message = 'internal error', cause?: unknown) => new ChatError('INTERNAL', message, { cause }),
} as const

/**
 * Rebuilds a ChatError from its wire form (`{code, message}`), e.g. after a node-to-node hop. An
 * INTERNAL error's text is another node's failure, never for clients: it becomes the generic one.
 */
export function fromWire(value: { code: string; message: string }): ChatError {
  const code = isErrorCode(value.code) ? value.code : 'INTERNAL'
  return code === 'INTERNAL' ? errors.internal('internal error', new Error(value.message)) : new ChatError(code, value.message)
}

/** Longest quoted input an error message may carry. */
const QUOTE_CHARS = 40

/** A piece of client input for an error message: JSON-quoted and cut short (never the whole input). */
export function quote(value: unknown): string {
  let text: string
  try {
    text = typeof value === 'string' ? value : String(JSON.stringify(value))
  } catch {
    text = typeof value
  }
  return JSON.stringify(text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}...` : text)
}

/** Longest error message a client is sent. */
const MESSAGE_CHARS = 200

/**
 * The error as a client may see it: INTERNAL and UNAVAILABLE say nothing of the inside (which
 * node, which address, which exception), and no message is longer than MESSAGE_CHARS.
 */
export function publicError(err: ChatError): { code: ErrorCode; message: string } {
  if (err.code === 'INTERNAL') return { code: err.code, message: 'internal error' }
  if (err.code === 'UNAVAILABLE') return { code: err.code, message: 'temporarily unavailable; nothing was stored, retry later' }
  const message = err.message.length > MESSAGE_CHARS ? `${err.message.slice(0, MESSAGE_CHARS)}...` : err.message
  return { code: err.code, message }
}

/** Any thrown value as a ChatError; unknown failures become INTERNAL without leaking details. */
export function asChatError(err: unknown): ChatError {
  if (err instanceof ChatError) return err
  return errors.internal('internal error', err)
}
