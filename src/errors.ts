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

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.status = ERROR_CODES[code].status
    this.retryable = ERROR_CODES[code].retryable
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
  rateLimited: () => new ChatError('RATE_LIMITED', 'too many messages; slow down and retry'),
  unavailable: (message = 'temporarily unavailable; nothing was stored, retry later', cause?: unknown) =>
    new ChatError('UNAVAILABLE', message, { cause }),
  internal: (message = 'internal error', cause?: unknown) => new ChatError('INTERNAL', message, { cause }),
} as const

/** Rebuilds a ChatError from its wire form (`{code, message}`), e.g. after a node-to-node hop. */
export function fromWire(value: { code: string; message: string }): ChatError {
  return new ChatError(isErrorCode(value.code) ? value.code : 'INTERNAL', value.message)
}

/** Any thrown value as a ChatError; unknown failures become INTERNAL without leaking details. */
export function asChatError(err: unknown): ChatError {
  if (err instanceof ChatError) return err
  return errors.internal('internal error', err)
}
