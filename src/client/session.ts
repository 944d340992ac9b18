/**
 * One WebSocket connection, from opening to close: waits for `ready`, correlates replies with
 * requests by `ref`, and hands every other frame to the owner. The reconnecting `ChatClient`
 * makes a new `Session` per attempt, so no state leaks from a dead socket into a new one.
 */
import type {
  AckFrame, ClientFrame, ClientOp, HistoryReplyFrame, OkFrame, PongFrame, PresenceReplyFrame,
  ReadyFrame, Ref, SearchReplyFrame, ServerFrame, SyncReplyFrame,
} from '../protocol/frames.js'
import { ChatError } from './errors.js'

// Method syntax makes the handler parameter bivariant, so both the DOM WebSocket and the `ws`
// package's class (whose event types carry more fields) fit this interface.
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack']

/** The part of the standard WebSocket API the SDK uses (browsers, Node 22+, the `ws` package). */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: Handler<unknown> | null
  onmessage: Handler<{ data: unknown }> | null
  onclose: Handler<{ code: number; reason: string }> | null
  onerror: Handler<unknown> | null
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

/** The reply frame of each request op (an `error` frame rejects instead). */
export interface ReplyMap {
  send: AckFrame
  sync: SyncReplyFrame
  history: HistoryReplyFrame
  read: OkFrame
  presence: PresenceReplyFrame
  ping: PongFrame
  typing: OkFrame
  edit: OkFrame
  delete: OkFrame
  react: OkFrame
  search: SearchReplyFrame
}

const REPLY_OP: { [K in ClientOp]: ReplyMap[K]['op'] } = {
  send: 'ack', sync: 'sync', history: 'history', read: 'ok', presence: 'presence', ping: 'pong', typing: 'ok',
  edit: 'ok', delete: 'ok', react: 'ok', search: 'search',
}

/** Any client frame without its `ref` (the session assigns one), as a union keyed on `op`. */
export type RequestFrame = { [Op in ClientOp]: Omit<Extract<ClientFrame, { op: Op }>, 'ref'> }[ClientOp]

export interface SessionClose {
  code: number
  reason: string
  /** Whether the socket ever opened; a refused upgrade never does. */
  opened: boolean
  /** The last transport error text, when the platform gives one (`ws` does, browsers do not). */
  error: string | undefined
}

export interface SessionHooks {
  /**
   * The `ready` frame, called synchronously before `ready` resolves: frames that arrived in the
   * same network read are dispatched right after it, before any promise continuation runs, so the
   * owner must be ready for pushes by then.
   */
  onReady(frame: ReadyFrame): void
  /** Every frame after `ready` that is not a reply to a pending request. */
  onPush(frame: ServerFrame): void
  /** A frame that is not a JSON object with an `op`. */
  onBadFrame(error: Error): void
}

interface Pending {
  expect: string
  resolve(frame: ServerFrame): void
  reject(error: Error): void
  timer: ReturnType<typeof setTimeout>
}

const OPEN = 1
/** Close code for connections the client gives up on (timeouts, protocol errors). */
export const CLIENT_ABANDON_CODE = 4000

export class Session {
  /** Resolves with the server's first frame; rejects if the socket closes or times out first. */
  readonly ready: Promise<ReadyFrame>
  /** Resolves once, when the socket is closed or abandoned. Never rejects. */
  readonly closed: Promise<SessionClose>
  private readonly pending = new Map<Ref, Pending>()
  private nextRef = 1
  private opened = false
  private gotReady = false
  private lastError: string | undefined
  private finished = false
  private resolveReady!: (frame: ReadyFrame) => void
  private rejectReady!: (error: Error) => void
  private resolveClosed!: (info: SessionClose) => void
  private readonly readyTimer: ReturnType<typeof setTimeout>

  constructor(private readonly socket: WebSocketLike, private readonly hooks: SessionHooks, readyTimeoutMs: number) {
    this.ready = new Promise((resolve, reject) => { this.resolveReady = resolve; this.rejectReady = reject })
    this.ready.catch(() => {}) // the owner learns the reason from `closed`
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve })
    this.readyTimer = setTimeout(() => this.abandon(CLIENT_ABANDON_CODE, 'no ready frame in time'), readyTimeoutMs)
    socket.onopen = () => { this.opened = true }
    socket.onerror = (event) => { this.lastError = (event as { message?: unknown })?.message as string | undefined }
    socket.onclose = (event) => this.finish(event.code, event.reason)
    socket.onmessage = (event) => this.receive(event.data)
  }

  get isOpen(): boolean {
    return !this.finished && this.gotReady && this.socket.readyState === OPEN
  }

  /** Sends a request and resolves with its reply; `error` frames reject with a `ChatError`. */
  request<F extends RequestFrame>(frame: F, timeoutMs: number): Promise<ReplyMap[F['op']]> {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new ChatError('DISCONNECTED', `cannot ${frame.op}: not connected`))
        return
      }
      const ref = this.nextRef++
      const timer = setTimeout(() => {
        this.pending.delete(ref)
        reject(new ChatError('TIMEOUT', `no reply to ${frame.op} within ${timeoutMs} ms`, { ref }))
      }, timeoutMs)
      const expect = REPLY_OP[frame.op]
      this.pending.set(ref, { expect, resolve: resolve as (f: ServerFrame) => void, reject, timer })
      try {
        this.socket.send(JSON.stringify({ ...frame, ref }))
      } catch (err) {
        clearTimeout(timer)
        this.pending.delete(ref)
        reject(new ChatError('DISCONNECTED', `cannot ${frame.op}: ${(err as Error).message}`, { ref, cause: err }))
      }
    })
  }

  /** Closes the socket without waiting for the peer; `closed` resolves at once with `code`. */
  abandon(code: number, reason: string): void {
    if (this.finished) return
    this.socket.onopen = this.socket.onmessage = this.socket.onclose = null
    // Not null: `ws` emits an `error` when a socket is closed mid-handshake, and an EventEmitter
    // `error` without a listener crashes the process.
    this.socket.onerror = () => {}
    try {
      this.socket.close(code, reason)
    } catch {
      // Already closing; nothing more to do with this socket.
    }
    this.finish(code, reason)
  }

  private receive(data: unknown): void {
    if (this.finished) return
    const frame = parseFrame(data)
    if (frame instanceof Error) {
      this.hooks.onBadFrame(frame)
      return
    }
    if (!this.gotReady) {
      if (frame.op !== 'ready') {
        this.abandon(CLIENT_ABANDON_CODE, `first frame was ${frame.op}, not ready`)
        return
      }
      this.gotReady = true
      clearTimeout(this.readyTimer)
      this.hooks.onReady(frame)
      this.resolveReady(frame)
      return
    }
    const ref = (frame as { ref?: Ref }).ref
    if (ref === undefined || ref === null) {
      this.hooks.onPush(frame)
      return
    }
    const pending = this.pending.get(ref)
    if (pending === undefined) return // a reply that arrived after its timeout
    this.pending.delete(ref)
    clearTimeout(pending.timer)
    if (frame.op === 'error') pending.reject(new ChatError(frame.code, frame.message, { ref }))
    else if (frame.op !== pending.expect) pending.reject(new ChatError('BAD_RESPONSE', `expected ${pending.expect}, got ${frame.op}`, { ref }))
    else pending.resolve(frame)
  }

  private finish(code: number, reason: string): void {
    if (this.finished) return
    this.finished = true
    clearTimeout(this.readyTimer)
    const error = new ChatError('DISCONNECTED', `socket closed (${code}${reason === '' ? '' : ` ${reason}`})`)
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer)
      pending.reject(error)
    }
    this.pending.clear()
    if (!this.gotReady) this.rejectReady(error)
    this.resolveClosed({ code, reason, opened: this.opened, error: this.lastError })
  }
}

function parseFrame(data: unknown): ServerFrame | Error {
  let text: string
  if (typeof data === 'string') text = data
  else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) text = new TextDecoder().decode(data)
  else return new Error('binary frame of an unsupported type')
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value === 'object' && value !== null && typeof (value as { op?: unknown }).op === 'string') return value as ServerFrame
    return new Error('frame without an op')
  } catch (err) {
    return new Error(`frame is not JSON: ${(err as Error).message}`)
  }
}
