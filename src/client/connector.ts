/**
 * One connection attempt of `ChatClient`: find a node, open a socket, wait for `ready`, hand the
 * session over, and classify how it ended so the reconnect loop knows whether to back off,
 * reset its backoff, or stop because the token was rejected.
 */
import { CLOSE_CODES, type ServerFrame } from '../protocol/frames.js'
import type { Endpoint } from './discovery.js'
import { socketUrl } from './discovery.js'
import { ChatError } from './errors.js'
import { Session, type WebSocketConstructor } from './session.js'
import type { ReadyInfo } from './types.js'

export type AttemptResult =
  /** The session caught up (catch-up sync done) and later closed with `code`. */
  | { kind: 'served'; code: number }
  /** No usable session: discovery failed, the socket did not open, or it closed before catching up. */
  | { kind: 'failed'; code?: number; error?: Error }
  /** The server rejected the token. */
  | { kind: 'auth_failed'; code?: number; detail: string }
  /** The client was closed during the attempt. */
  | { kind: 'stopped' }

export interface ConnectorOptions {
  endpoint: Endpoint
  WebSocket: WebSocketConstructor
  token: string | (() => string | Promise<string>)
  deviceId: string | undefined
  connectTimeoutMs: number
  /** Synchronous: pushes may follow at once (see `SessionHooks.onReady`). */
  onReady(session: Session, ready: ReadyInfo): void
  onPush(session: Session, frame: ServerFrame): void
  onBadFrame(error: Error): void
}

export class Connector {
  /** Reused on every attempt after the server assigned one, so reconnects stay the same device. */
  private deviceId: string | undefined
  private current: Session | undefined

  constructor(private readonly options: ConnectorOptions) {
    this.deviceId = options.deviceId
  }

  /**
   * Makes one attempt. `serve` runs the ready session and resolves, after it closed, with whether
   * it caught up. `isStopped` is checked after every wait so a `close()` ends the attempt.
   */
  async attempt(isStopped: () => boolean, serve: (session: Session, ready: ReadyInfo) => Promise<boolean>): Promise<AttemptResult> {
    const { endpoint, token: tokenOption } = this.options
    let wsUrl: string
    let token: string
    try {
      wsUrl = await endpoint.resolve()
      token = typeof tokenOption === 'function' ? await tokenOption() : tokenOption
    } catch (err) {
      return { kind: 'failed', error: new ChatError('DISCONNECTED', `no node to connect to: ${messageOf(err)}`, { cause: err }) }
    }
    if (isStopped()) return { kind: 'stopped' }
    let session: Session | undefined
    try {
      const socket = new this.options.WebSocket(socketUrl(wsUrl, token, this.deviceId))
      session = new Session(socket, {
        onReady: (frame) => {
          this.deviceId = frame.deviceId
          const { user, deviceId, node, inboxSeq } = frame
          if (session !== undefined) this.options.onReady(session, { user, deviceId, node, inboxSeq })
        },
        onPush: (frame) => { if (session !== undefined) this.options.onPush(session, frame) },
        onBadFrame: (error) => this.options.onBadFrame(error),
      }, this.options.connectTimeoutMs)
    } catch (err) {
      return { kind: 'failed', error: new ChatError('DISCONNECTED', `cannot open ${wsUrl}: ${messageOf(err)}`, { cause: err }) }
    }
    this.current = session
    try {
      let ready
      try {
        ready = await session.ready
      } catch {
        return await this.failedBeforeReady(session, wsUrl, token, isStopped)
      }
      if (isStopped()) {
        session.abandon(1000, 'client closed')
        return { kind: 'stopped' }
      }
      const { user, deviceId, node, inboxSeq } = ready
      const caughtUp = await serve(session, { user, deviceId, node, inboxSeq })
      const closed = await session.closed
      if (closed.code === CLOSE_CODES.UNAUTHORIZED) return { kind: 'auth_failed', code: closed.code, detail: 'close code 4401' }
      return caughtUp ? { kind: 'served', code: closed.code } : { kind: 'failed', code: closed.code }
    } finally {
      this.current = undefined
    }
  }

  /** Ends the attempt in progress, if any, before its `ready`. */
  abort(): void {
    this.current?.abandon(1000, 'client closed')
  }

  private async failedBeforeReady(session: Session, wsUrl: string, token: string, isStopped: () => boolean): Promise<AttemptResult> {
    const closed = await session.closed
    if (isStopped()) return { kind: 'stopped' }
    if (closed.code === CLOSE_CODES.UNAUTHORIZED) return { kind: 'auth_failed', code: closed.code, detail: 'close code 4401' }
    if (!closed.opened) {
      // A refused upgrade: `ws` names the HTTP status in its error; browsers hide it, so ask HTTP.
      if (/\b401\b/.test(closed.error ?? '')) return { kind: 'auth_failed', code: closed.code, detail: 'HTTP 401 on upgrade' }
      if (await this.options.endpoint.rejectsToken(wsUrl, token)) return { kind: 'auth_failed', code: closed.code, detail: 'HTTP 401 from /v1/me' }
    }
    const why = closed.error ?? `close code ${closed.code}${closed.reason === '' ? '' : ` ${closed.reason}`}`
    return { kind: 'failed', code: closed.code, error: new ChatError('DISCONNECTED', `connection to ${wsUrl} failed: ${why}`) }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
