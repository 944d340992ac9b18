/**
 * Parsing and validation of client frames (PROTOCOL.md section 3). Anything malformed becomes a
 * BAD_FRAME ChatError carrying the frame's `ref` when one could be read, so the reply can echo it.
 */
import { ChatError, errors, quote } from '../errors.js'
import { type ClientFrame, LIMITS, type Ref } from '../protocol/frames.js'

export class FrameError extends ChatError {
  constructor(readonly ref: Ref | undefined, cause: ChatError) {
    super(cause.code, cause.message)
  }
}

type Obj = Record<string, unknown>

const OPS = new Set(['send', 'sync', 'history', 'read', 'presence', 'ping', 'typing', 'edit', 'delete', 'react', 'search'])

function int(frame: Obj, field: string, required: boolean): number | undefined {
  const v = frame[field]
  if (v === undefined && !required) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw errors.badFrame(`${field} must be a non-negative integer`)
  }
  return v
}

function str(frame: Obj, field: string): string {
  const v = frame[field]
  if (typeof v !== 'string') throw errors.badFrame(`${field} must be a string`)
  return v
}

function readRef(frame: Obj): Ref | undefined {
  const ref = frame.ref
  if (typeof ref === 'string' || (typeof ref === 'number' && Number.isFinite(ref))) return ref
  return undefined
}

/** Parses one text frame into a typed client frame, or throws FrameError. */
export function parseFrame(text: string): ClientFrame {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new FrameError(undefined, errors.badFrame('frame is not valid JSON'))
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FrameError(undefined, errors.badFrame('frame must be a JSON object'))
  }
  const frame = value as Obj
  const ref = readRef(frame)
  try {
    if (frame.ref !== undefined && ref === undefined) throw errors.badFrame('ref must be a string or a number')
    if (typeof frame.op !== 'string' || !OPS.has(frame.op)) throw errors.badFrame(`unknown op ${quote(frame.op)}`)
    return validate(frame.op as ClientFrame['op'], frame, ref)
  } catch (err) {
    throw new FrameError(ref, err instanceof ChatError ? err : errors.badFrame('malformed frame'))
  }
}

function validate(op: ClientFrame['op'], f: Obj, ref: Ref | undefined): ClientFrame {
  switch (op) {
    case 'send':
      return { op, ref, channel: str(f, 'channel'), clientMsgId: str(f, 'clientMsgId'), text: str(f, 'text') }
    case 'sync': {
      const limit = int(f, 'limit', false)
      if (limit === 0) throw errors.badFrame('limit must be at least 1')
      return { op, ref, since: int(f, 'since', true)!, limit: Math.min(limit ?? LIMITS.syncDefaultLimit, LIMITS.syncMaxLimit) }
    }
    case 'history': {
      const limit = int(f, 'limit', false)
      if (limit === 0) throw errors.badFrame('limit must be at least 1')
      return {
        op, ref, channel: str(f, 'channel'), before: int(f, 'before', false), after: int(f, 'after', false),
        limit: Math.min(limit ?? LIMITS.historyDefaultLimit, LIMITS.historyMaxLimit),
      }
    }
    case 'read':
      return { op, ref, channel: str(f, 'channel'), seq: int(f, 'seq', true)! }
    case 'presence': {
      const users = f.users
      if (!Array.isArray(users) || users.length > 1000 || !users.every((u) => typeof u === 'string')) {
        throw errors.badFrame('users must be an array of at most 1000 usernames')
      }
      return { op, ref, users: users as string[] }
    }
    case 'ping':
      return { op, ref }
    case 'typing':
      return { op, ref, channel: str(f, 'channel') }
    case 'edit':
      return { op, ref, channel: str(f, 'channel'), seq: int(f, 'seq', true)!, text: str(f, 'text') }
    case 'delete':
      return { op, ref, channel: str(f, 'channel'), seq: int(f, 'seq', true)! }
    case 'react': {
      if (typeof f.on !== 'boolean') throw errors.badFrame('on must be true or false')
      return { op, ref, channel: str(f, 'channel'), seq: int(f, 'seq', true)!, emoji: str(f, 'emoji'), on: f.on }
    }
    case 'search': {
      // The query itself is checked with the HTTP search's rules (search-params.ts) when handled.
      const before = f.before
      if (before !== undefined && typeof before !== 'string' && typeof before !== 'number') throw errors.badFrame('before must be a cursor string or a time')
      return { op, ref, q: str(f, 'q'), channel: f.channel === undefined ? undefined : str(f, 'channel'), before, limit: int(f, 'limit', false) }
    }
  }
}
