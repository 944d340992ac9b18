/**
 * Errors the SDK throws. Server codes come from the contract (../protocol/codes.ts); the SDK adds
 * a few of its own for failures that never reach a server.
 */
import { ERROR_CODES, isErrorCode, type ErrorCode } from '../protocol/codes.js'

/** Codes the SDK raises itself, never sent by a server. */
export const CLIENT_ERROR_CODES = {
  /** No reply within the request timeout. The server may still have acted on the request. */
  TIMEOUT: { retryable: true },
  /** The socket closed (or was not open) before a reply arrived. */
  DISCONNECTED: { retryable: true },
  /** The client was closed by the application, or stopped after an authentication failure. */
  CLOSED: { retryable: false },
  /** The HTTP request did not get an answer (DNS, refused connection, aborted). */
  NETWORK_ERROR: { retryable: true },
  /** The server answered with something that is not the contract's JSON. */
  BAD_RESPONSE: { retryable: false },
} as const

export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES

/**
 * Every code an SDK error can carry. Unknown strings are passed through so that a newer server's
 * codes are not lost (`string & {}` keeps editor completion for the known ones).
 */
export type SdkErrorCode = ErrorCode | ClientErrorCode | (string & {})

/**
 * Whether repeating the same request later can succeed. Retrying a `send` is always safe because
 * the server deduplicates on `(channel, clientMsgId)`.
 */
export function isRetryableCode(code: string): boolean {
  if (isErrorCode(code)) return ERROR_CODES[code].retryable
  if (Object.hasOwn(CLIENT_ERROR_CODES, code)) return CLIENT_ERROR_CODES[code as ClientErrorCode].retryable
  // An unknown code is not retried: repeating a request the client does not understand loops.
  return false
}

/** A failed WebSocket request: an `error` frame from the server, or a client-side failure. */
export class ChatError extends Error {
  override readonly name = 'ChatError'
  readonly code: SdkErrorCode
  /** The request's `ref`, when the failure belongs to one. */
  readonly ref: string | number | undefined

  constructor(code: SdkErrorCode, message: string, options: { ref?: string | number, cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.ref = options.ref
  }

  get retryable(): boolean {
    return isRetryableCode(this.code)
  }
}

/** A failed HTTP API call. `status` is 0 when no HTTP answer arrived. */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  readonly status: number
  readonly code: SdkErrorCode

  constructor(status: number, code: SdkErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.status = status
    this.code = code
  }

  get retryable(): boolean {
    return isRetryableCode(this.code)
  }
}
