/**
 * Sends that are not acknowledged yet, in the order the application made them, and the rules for
 * sending them again.
 */
import { LIMITS, type AckFrame } from '../protocol/frames.js'
import { ChatError } from './errors.js'
import type { Session } from './session.js'

/** A message waiting for its ack. Persist these to carry unsent messages across app restarts. */
export interface PendingSend { channel: string; text: string; clientMsgId: string }

interface Entry extends PendingSend {
  readonly promise: Promise<AckFrame>
  /** A `send` frame is on the wire and its reply has not come back. */
  inFlight: boolean
  resolve(ack: AckFrame): void
  reject(error: Error): void
}

export interface OutboxOptions {
  /** The session sends may use now (open and caught up), or undefined. */
  session(): Session | undefined
  requestTimeoutMs: number
  /** Delay before retrying after `failures` retryable failures in a row on a live session. */
  retryDelay(failures: number): number
  /** Called with every ack before the send's promise resolves. */
  onAck(send: PendingSend, ack: AckFrame): void
  /**
   * Called with each retryable failure except a dropped socket (which the reconnect reports),
   * so that a send the server keeps refusing is visible; the send stays queued.
   */
  onRetry?(send: PendingSend, error: ChatError): void
}

/**
 * Keyed by `(channel, clientMsgId)` like the server's deduplication, so sending the same id twice
 * shares one entry and one promise instead of racing two frames. An entry leaves the outbox when
 * acked or when it fails with a non-retryable code; retryable failures (timeouts, a closed socket,
 * `RATE_LIMITED`, `UNAVAILABLE`, `INTERNAL`) keep it, with its `clientMsgId`, for the next try.
 *
 * A retryable refusal on a live session pauses the whole outbox on that session, not just the
 * refused entry: a backlog of N sends then waits one backoff delay and goes out again in send
 * order, instead of N independent timers hammering a server that asked us to wait.
 */
export class Outbox {
  private readonly entries = new Map<string, Entry>()
  private closedWith: Error | undefined
  /** Sends on `session` wait for `timer` (a new session is not held back by an old pause). */
  private pause: { session: Session; timer: ReturnType<typeof setTimeout> } | undefined
  /** Retryable refusals in a row on live sessions; an ack resets it. */
  private failures = 0

  constructor(private readonly options: OutboxOptions) {}

  get size(): number {
    return this.entries.size
  }

  /** Queues a send, or joins the pending one with the same id, and transmits it if possible. */
  enqueue(send: PendingSend): Promise<AckFrame> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith)
    const key = keyOf(send.channel, send.clientMsgId)
    const existing = this.entries.get(key)
    if (existing !== undefined) return existing.promise
    let resolve!: (ack: AckFrame) => void
    let reject!: (error: Error) => void
    const promise = new Promise<AckFrame>((res, rej) => { resolve = res; reject = rej })
    const entry: Entry = {
      ...send,
      promise,
      inFlight: false,
      resolve: (ack) => { this.remove(key, entry); resolve(ack) },
      reject: (error) => { this.remove(key, entry); reject(error) },
    }
    this.entries.set(key, entry)
    this.transmit(entry)
    return promise
  }

  /** Transmits every entry that is not in flight, in the order they were added. */
  flush(): void {
    for (const entry of this.entries.values()) this.transmit(entry)
  }

  snapshot(): PendingSend[] {
    return [...this.entries.values()].map(({ channel, text, clientMsgId }) => ({ channel, text, clientMsgId }))
  }

  /** Rejects and drops every entry; later sends reject with the same error. */
  close(error: Error): void {
    this.closedWith ??= error
    clearTimeout(this.pause?.timer)
    this.pause = undefined
    for (const entry of [...this.entries.values()]) entry.reject(error)
  }

  private transmit(entry: Entry): void {
    const session = this.options.session()
    if (session === undefined || entry.inFlight || this.closedWith !== undefined) return
    if (this.pause?.session === session) return
    entry.inFlight = true
    const { channel, clientMsgId, text } = entry
    session.request({ op: 'send', channel, clientMsgId, text }, this.options.requestTimeoutMs).then((ack) => {
      entry.inFlight = false
      this.failures = 0
      this.options.onAck(entry, ack)
      entry.resolve(ack)
    }, (err: unknown) => {
      entry.inFlight = false
      if (this.closedWith !== undefined) return
      if (!(err instanceof ChatError) || !err.retryable) {
        entry.reject(err instanceof Error ? err : new Error(String(err)))
        return
      }
      if (err.code !== 'DISCONNECTED') this.options.onRetry?.(entry, err)
      // Still connected: the server asked us to wait. Otherwise the next catch-up flush resends it.
      if (session === this.options.session() && this.pause?.session !== session) {
        const timer = setTimeout(() => {
          this.pause = undefined
          this.flush()
        }, this.options.retryDelay(++this.failures))
        this.pause = { session, timer }
      }
    })
  }

  private remove(key: string, entry: Entry): void {
    if (this.entries.get(key) === entry) this.entries.delete(key)
  }
}

/**
 * Rejects locally what the server would refuse, so a send that can never succeed does not sit in
 * the outbox, and a frame never nears the socket's size limit.
 */
export function checkSend(text: string, clientMsgId: string): ChatError | undefined {
  if (!LIMITS.clientMsgIdPattern.test(clientMsgId)) return new ChatError('BAD_FRAME', 'clientMsgId must be 1..64 of [A-Za-z0-9_-]')
  let codePoints = 0
  for (const _ of text) if (++codePoints > LIMITS.textMaxCodePoints) break
  if (codePoints === 0) return new ChatError('BAD_FRAME', 'text is empty')
  if (codePoints > LIMITS.textMaxCodePoints) return new ChatError('MESSAGE_TOO_LARGE', `text is over ${LIMITS.textMaxCodePoints} code points`)
  return undefined
}

function keyOf(channel: string, clientMsgId: string): string {
  // A NUL cannot occur in a valid channel id, so the key is unambiguous.
  return `${channel}\u0000${clientMsgId}`
}
