/**
 * Every error code of the contract (PROTOCOL.md), with its HTTP status and whether a client
 * should retry the same request later. Pure data so the client SDK can import it too.
 */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, retryable: false },
  BAD_FRAME: { status: 400, retryable: false },
  UNAUTHORIZED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  USERNAME_TAKEN: { status: 409, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  MESSAGE_TOO_LARGE: { status: 413, retryable: false },
  GROUP_FULL: { status: 422, retryable: false },
  LIMIT_REACHED: { status: 422, retryable: false },
  RATE_LIMITED: { status: 429, retryable: true },
  INTERNAL: { status: 500, retryable: true },
  UNAVAILABLE: { status: 503, retryable: true },
} as const

export type ErrorCode = keyof typeof ERROR_CODES

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value)
}
