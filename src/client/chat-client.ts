/**
 * `ChatClient`: a WebSocket connection to the chat cluster that survives node failures.
 */
import type { AckFrame, ChangeEvent, InboxEvent, Message, PresenceView, ServerFrame } from '../protocol/frames.js'
import { LIMITS } from '../protocol/frames.js'
import { backoffDelay, type BackoffOptions } from './backoff.js'
import { EchoWatch } from './echo-watch.js'
import { MessageCache, DEFAULT_CACHE_PER_CHANNEL } from './cache.js'
import { applyChange } from './changes.js'
import { Connector, type AttemptResult } from './connector.js'
import { Endpoint } from './discovery.js'
import { TypedEmitter, type Listener } from './emitter.js'
import { ChatError } from './errors.js'
import type { HistoryWindow } from './http.js'
import { canonicalChannelId, newClientMsgId } from './ids.js'
import { InboxSync } from './inbox.js'
import { checkSend, Outbox, type PendingSend } from './outbox.js'
import { CLIENT_ABANDON_CODE, Session, type ReplyMap, type RequestFrame, type WebSocketConstructor } from './session.js'
import type { ChatClientEvents, ChatClientOptions, ConnectionState, ReadyInfo, SearchOptions, SearchResult, StateChange } from './types.js'

/**
 * A chat connection with these guarantees:
 *
 * - **Reconnect.** After any drop it reconnects with exponential backoff and full jitter (through
 *   discovery when configured), until `close()` or until the server rejects the token (close
 *   code 4401, or a refused upgrade), which emits `auth_failed` and stops for good.
 * - **Exactly-once, in-order inbox.** After every (re)connect it syncs from its cursor, paging to
 *   the end. Pushed and synced events go through one path that drops any `inboxSeq` already
 *   applied and turns a gap in pushes into a sync. It also syncs when the event of an acked
 *   message of its own has not arrived within `echoWaitMs` (a push lost on the way, with no later
 *   event to show the gap). The `event` listeners therefore see every inbox event after the
 *   starting cursor once, in `inboxSeq` order, across reconnects.
 * - **No lost sends.** `send` keeps each message in an outbox until its ack. After a reconnect
 *   (and its catch-up sync) every unacked message is sent again, in the order of the `send` calls,
 *   with the same `clientMsgId`, so the server stores it once and the promise resolves once, with
 *   the original `seq`. Retried: timeouts, a dropped socket, and retryable error codes
 *   (`UNAVAILABLE`, `RATE_LIMITED`, `INTERNAL`), with backoff, for as long as the client runs;
 *   each such failure other than a dropped socket is also emitted on `error`. Any other error
 *   code rejects the promise and drops the message. A message retried after an error may land
 *   after messages sent later.
 *
 * - **Message changes.** Edit, delete and reaction events update the cached message they name
 *   (see `cachedMessages`) before `change` is emitted, so the cache shows what history shows.
 *
 * Other requests (`history`, `read`, `presence`, `ping`, `edit`, `deleteMessage`, `react`,
 * `search`, `request`) are not queued: when the socket is down they reject with `DISCONNECTED`.
 * `edit`, `deleteMessage` and `react` are idempotent, so they are safe to repeat after a timeout.
 */
export class ChatClient {
  private readonly emitter = new TypedEmitter<ChatClientEvents>((err, event) => {
    if (event !== 'error') this.emitter.emit('error', toError(err))
  })
  private readonly connector: Connector
  private readonly outbox: Outbox
  private readonly cache: MessageCache
  private readonly inbox: InboxSync
  /** Per channel, when `typing` last sent a frame. */
  private readonly typingSentAt = new Map<string, number>()
  /** Per channel, the oldest seq `olderMessages` has reached (1 = the beginning). */
  private readonly olderCursor = new Map<string, number>()
  private readonly requestTimeoutMs: number
  private readonly keepAliveMs: number
  private readonly backoff: BackoffOptions
  private readonly random: () => number
  private session: Session | undefined
  /** True once the current session's catch-up sync is done: sends may go out. */
  private flushing = false
  private readyInfo: ReadyInfo | undefined
  private stopped = false
  private started = false
  private waiters: Array<{ resolve(info: ReadyInfo): void; reject(err: Error): void }> = []
  private wake: (() => void) | undefined
  private readonly echoes: EchoWatch | undefined

  constructor(options: ChatClientOptions) {
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (WebSocketImpl === undefined) throw new TypeError('no WebSocket available: pass options.WebSocket')
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000
    this.keepAliveMs = options.keepAliveMs ?? 5_000
    this.backoff = options.backoff ?? {}
    this.random = options.random ?? Math.random
    this.cache = new MessageCache(options.cacheSize ?? DEFAULT_CACHE_PER_CHANNEL)
    this.outbox = new Outbox({
      session: () => (this.flushing && this.session?.isOpen === true ? this.session : undefined),
      requestTimeoutMs: this.requestTimeoutMs,
      retryDelay: (failures) => backoffDelay(failures, this.backoff, this.random),
      onAck: ({ text }, ack) => {
        this.echoes?.acked(ack.channel, ack.seq)
        const from = this.readyInfo?.user
        if (from !== undefined) this.cache.add({ channel: ack.channel, seq: ack.seq, from, text, ts: ack.ts, clientMsgId: ack.clientMsgId })
      },
      onRetry: ({ channel, clientMsgId }, err) => {
        this.emitter.emit('error', new ChatError(err.code, `send ${clientMsgId} to ${channel} will be retried: ${err.message}`, { ref: err.ref, cause: err }))
      },
    })
    const echoWaitMs = options.echoWaitMs ?? 3_000
    if (echoWaitMs > 0) this.echoes = new EchoWatch(echoWaitMs, () => this.resyncForEcho())
    this.inbox = new InboxSync(options.inboxSeq, (event) => this.deliver(event), options.syncPageSize ?? LIMITS.syncDefaultLimit)
    const endpoint = new Endpoint({
      url: options.url, discover: options.discover, region: options.region, fetch: options.fetch, timeoutMs: this.requestTimeoutMs,
    })
    this.connector = new Connector({
      endpoint,
      WebSocket: WebSocketImpl,
      token: options.token,
      deviceId: options.deviceId,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      onReady: (session, ready) => this.onReady(session, ready),
      onPush: (session, frame) => this.onPush(session, frame),
      onBadFrame: (err) => this.emitter.emit('error', err),
    })
  }

  /** The last `ready` frame's content; undefined before the first connection. */
  get ready(): ReadyInfo | undefined {
    return this.readyInfo
  }

  /** The cursor: `inboxSeq` of the last event delivered to `event` listeners. Persist it to resume. */
  get inboxSeq(): number | undefined {
    return this.inbox.inboxSeq
  }

  /** `open` while a socket is ready; `closed` before `connect()` and after stopping. */
  get state(): ConnectionState {
    if (this.session?.isOpen === true) return 'open'
    return this.started && !this.stopped ? 'connecting' : 'closed'
  }

  on<K extends keyof ChatClientEvents>(event: K, listener: Listener<ChatClientEvents[K]>): () => void {
    return this.emitter.on(event, listener)
  }

  once<K extends keyof ChatClientEvents>(event: K, listener: Listener<ChatClientEvents[K]>): () => void {
    return this.emitter.once(event, listener)
  }

  off<K extends keyof ChatClientEvents>(event: K, listener: Listener<ChatClientEvents[K]>): void {
    this.emitter.off(event, listener)
  }

  /**
   * Starts connecting (once; later calls join) and resolves with the next `ready`. Failed
   * attempts are retried; the promise rejects only if the client stops (`close()`: `CLOSED`,
   * token rejected: `UNAUTHORIZED`). Catch-up sync continues after it resolves (see `synced`).
   */
  connect(): Promise<ReadyInfo> {
    if (this.stopped) return Promise.reject(new ChatError('CLOSED', 'client is closed'))
    if (this.session?.isOpen === true && this.readyInfo !== undefined) return Promise.resolve(this.readyInfo)
    const promise = new Promise<ReadyInfo>((resolve, reject) => this.waiters.push({ resolve, reject }))
    if (!this.started) {
      this.started = true
      this.run().catch((err) => this.emitter.emit('error', toError(err)))
    }
    return promise
  }

  /** Stops for good: closes the socket, rejects pending sends and requests with `CLOSED`. */
  close(): void {
    this.stop(new ChatError('CLOSED', 'client closed'), { state: 'closed', reason: 'closed' })
  }

  /**
   * Sends a message; resolves with its ack once the server stored it (see the class doc for what
   * is retried). Reusing a `clientMsgId` still pending in the same channel returns the first
   * call's promise.
   */
  send(channel: string, text: string, options: { clientMsgId?: string } = {}): Promise<AckFrame> {
    if (this.stopped) return Promise.reject(new ChatError('CLOSED', 'client is closed'))
    const clientMsgId = options.clientMsgId ?? newClientMsgId()
    const invalid = checkSend(text, clientMsgId)
    if (invalid !== undefined) return Promise.reject(invalid)
    return this.outbox.enqueue({ channel: canonicalChannelId(channel), text, clientMsgId })
  }

  /** Messages not acknowledged yet, in send order: persist them to send again after a restart. */
  pendingSends(): PendingSend[] {
    return this.outbox.snapshot()
  }

  /**
   * Sends any request and resolves with its reply (an `error` frame rejects with `ChatError`).
   * Bypasses the outbox: a `send` made here is not retried.
   */
  request<F extends RequestFrame>(frame: F, options: { timeoutMs?: number } = {}): Promise<ReplyMap[F['op']]> {
    const session = this.session
    if (session === undefined || !session.isOpen) return Promise.reject(new ChatError('DISCONNECTED', `cannot ${frame.op}: not connected`))
    return session.request(frame, options.timeoutMs ?? this.requestTimeoutMs)
  }

  /** A window of a channel's history (ascending by seq); the messages also fill the cache. */
  async history(channel: string, window: HistoryWindow = {}): Promise<Message[]> {
    const reply = await this.request({ op: 'history', channel: canonicalChannelId(channel), ...window })
    this.cache.addAll(reply.messages)
    return reply.messages
  }

  /**
   * The page of messages just older than anything seen so far in this channel (the oldest cached
   * one, or the last page returned here); the newest page when nothing is cached. Returns `[]`
   * at the beginning of the channel. Pages beyond the cache size are not kept in the cache.
   */
  async olderMessages(channel: string, limit: number = LIMITS.historyDefaultLimit): Promise<Message[]> {
    const id = canonicalChannelId(channel)
    const bounds = [this.cache.oldestSeq(id), this.olderCursor.get(id)].filter((n): n is number => n !== undefined)
    const before = bounds.length === 0 ? undefined : Math.min(...bounds)
    if (before !== undefined && before <= 1) return []
    const messages = await this.history(id, before === undefined ? { limit } : { before, limit })
    this.olderCursor.set(id, messages[0]?.seq ?? 1)
    return messages
  }

  /** The cached recent messages of a channel, ascending by seq, without duplicates. */
  cachedMessages(channel: string): Message[] {
    return this.cache.messages(canonicalChannelId(channel))
  }

  /** Marks `channel` read up to `seq` (the server only moves it forward). */
  async read(channel: string, seq: number): Promise<void> {
    await this.request({ op: 'read', channel: canonicalChannelId(channel), seq })
  }

  /** Presence of friends and users sharing a channel; others are left out of the answer. */
  async presence(users: string[]): Promise<PresenceView[]> {
    return (await this.request({ op: 'presence', users })).presence
  }

  /**
   * Tells the channel's other members that this user is typing. Call it on every keystroke: it
   * sends at most one `typing` frame per channel every `LIMITS.typingIntervalMs` (the server
   * forwards no more than that) and never while disconnected (a stale notice is worthless).
   */
  async typing(channel: string): Promise<void> {
    const id = canonicalChannelId(channel)
    const now = Date.now()
    const last = this.typingSentAt.get(id)
    if ((last !== undefined && now - last < LIMITS.typingIntervalMs) || this.session?.isOpen !== true) return
    this.typingSentAt.set(id, now)
    await this.request({ op: 'typing', channel: id })
  }

  /**
   * Replaces the text of one of your own messages (others' are `FORBIDDEN`). Every member's
   * devices get an `edit` event; repeating it changes nothing. `NOT_FOUND` for a message that
   * does not exist or was deleted.
   */
  async edit(channel: string, seq: number, text: string): Promise<void> {
    await this.request({ op: 'edit', channel: canonicalChannelId(channel), seq, text })
  }

  /**
   * Deletes a message: yours, or in a group you created anyone's. Its text is erased for every
   * member (a `delete` event); its `seq` stays. Deleting it again changes nothing.
   */
  async deleteMessage(channel: string, seq: number): Promise<void> {
    await this.request({ op: 'delete', channel: canonicalChannelId(channel), seq })
  }

  /**
   * Puts your reaction `emoji` (1..16 code points) on a message (`on` true, the default) or takes
   * it off. Every member gets a `reaction` event when it changes anything.
   */
  async react(channel: string, seq: number, emoji: string, on = true): Promise<void> {
    await this.request({ op: 'react', channel: canonicalChannelId(channel), seq, emoji, on })
  }

  /**
   * Messages of your channels (or of `options.channel`) containing every word of `q`, matched
   * without regard to case or accents, newest first. Page on with `before: result.next` while
   * `result.more`. Deleted messages are never found; edited ones by their newest text.
   */
  async search(q: string, options: SearchOptions = {}): Promise<SearchResult> {
    const channel = options.channel === undefined ? undefined : canonicalChannelId(options.channel)
    const { messages, more, next } = await this.request({ op: 'search', q, channel, before: options.before, limit: options.limit })
    return { messages, more, next }
  }

  /** Round trip time in ms. */
  async ping(): Promise<number> {
    const start = Date.now()
    await this.request({ op: 'ping' })
    return Date.now() - start
  }

  private async run(): Promise<void> {
    let failures = 0
    let last: AttemptResult | undefined
    while (!this.stopped) {
      const delayMs = last === undefined ? 0 : backoffDelay(failures, this.backoff, this.random)
      const closeCode = last !== undefined && 'code' in last ? last.code : undefined
      this.setState({ state: 'connecting', attempt: failures, delayMs, ...(closeCode === undefined ? {} : { closeCode }) })
      if (delayMs > 0) await this.sleep(delayMs)
      if (this.stopped) return
      last = await this.connector.attempt(() => this.stopped, (session, ready) => this.serve(session, ready))
      if (last.kind === 'auth_failed') {
        const error = new ChatError('UNAUTHORIZED', `token rejected (${last.detail})`)
        this.emitter.emit('auth_failed', error)
        this.stop(error, { state: 'closed', reason: 'auth_failed' })
        return
      }
      if (last.kind === 'failed' && last.error !== undefined) this.emitter.emit('error', last.error)
      failures = last.kind === 'served' ? 0 : failures + 1
    }
  }

  /** Synchronous, so that pushes arriving right behind `ready` find the session in place. */
  private onReady(session: Session, ready: ReadyInfo): void {
    if (this.stopped) return
    this.session = session
    this.readyInfo = ready
    this.inbox.adopt(ready.inboxSeq)
  }

  /** Runs one ready session until it closes. Returns whether it caught up (a healthy connection). */
  private async serve(session: Session, ready: ReadyInfo): Promise<boolean> {
    this.setState({ state: 'open', ready })
    for (const waiter of this.waiters.splice(0)) waiter.resolve(ready)
    const keepAlive = this.keepAliveMs > 0 ? setInterval(() => this.keepAlive(session), this.keepAliveMs) : undefined
    let caughtUp = false
    try {
      await this.inbox.sync(session, this.requestTimeoutMs)
      caughtUp = true
      this.emitter.emit('synced', { inboxSeq: this.inbox.inboxSeq ?? 0 })
      this.flushing = true
      this.outbox.flush()
    } catch (err) {
      this.dropSession(session, err)
    }
    await session.closed
    clearInterval(keepAlive)
    this.flushing = false
    if (this.session === session) this.session = undefined
    return caughtUp
  }

  private onPush(session: Session, frame: ServerFrame): void {
    if (session !== this.session) return
    switch (frame.op) {
      case 'message':
      case 'member_added':
      case 'member_removed':
      case 'edit':
      case 'delete':
      case 'reaction':
        if (this.inbox.push(frame)) {
          this.inbox.sync(session, this.requestTimeoutMs).then(
            () => this.emitter.emit('synced', { inboxSeq: this.inbox.inboxSeq ?? 0 }),
            (err) => this.dropSession(session, err),
          )
        }
        return
      case 'presence':
        if ('user' in frame) this.emitter.emit('presence', frame)
        return
      case 'read':
        this.emitter.emit('read', frame)
        return
      case 'typing':
        this.emitter.emit('typing', frame)
        return
      case 'error':
        this.emitter.emit('error', new ChatError(frame.code, frame.message))
        return
      default:
        // Unknown or unsolicited frames are ignored so that newer servers can add pushes.
    }
  }

  private deliver(event: InboxEvent): void {
    this.emitter.emit('event', event)
    switch (event.op) {
      case 'message': {
        if (event.from === this.readyInfo?.user) this.echoes?.seen(event.channel, event.seq)
        const { op: _op, inboxSeq: _inboxSeq, ...message } = event
        this.cache.add(message)
        this.emitter.emit('message', event)
        return
      }
      case 'member_added':
      case 'member_removed':
        this.emitter.emit('member', event)
        return
      case 'edit':
        this.emitter.emit('edit', event)
        return this.changed(event)
      case 'delete':
        this.emitter.emit('delete', event)
        return this.changed(event)
      case 'reaction':
        this.emitter.emit('reaction', event)
        return this.changed(event)
    }
  }

  private changed(event: ChangeEvent): void {
    const message = this.cache.update(event.channel, event.seq, (m) => applyChange(m, event))
    this.emitter.emit('change', { event, message })
  }

  /** An own message's event is overdue: sync the open session (a reconnect syncs anyway). */
  private resyncForEcho(): void {
    const session = this.session
    if (session === undefined || !session.isOpen || !this.flushing || this.stopped) return
    this.inbox.sync(session, this.requestTimeoutMs).then(
      () => this.emitter.emit('synced', { inboxSeq: this.inbox.inboxSeq ?? 0 }),
      (err) => this.dropSession(session, err),
    )
  }

  /** A session whose sync failed is closed so that the next one starts with a fresh catch-up. */
  private dropSession(session: Session, err: unknown): void {
    if (session !== this.session || this.stopped) return
    if (!(err instanceof ChatError && err.code === 'DISCONNECTED')) this.emitter.emit('error', toError(err))
    session.abandon(CLIENT_ABANDON_CODE, 'sync failed')
  }

  private keepAlive(session: Session): void {
    if (session !== this.session || !session.isOpen) return
    session.request({ op: 'ping' }, this.requestTimeoutMs).catch((err: unknown) => {
      if (!(err instanceof ChatError) || err.code !== 'TIMEOUT' || session !== this.session) return
      this.emitter.emit('error', new ChatError('TIMEOUT', 'keepalive ping unanswered; reconnecting'))
      session.abandon(CLIENT_ABANDON_CODE, 'keepalive timeout')
    })
  }

  private stop(error: ChatError, state: StateChange): void {
    if (this.stopped) return
    this.stopped = true
    this.echoes?.stop()
    this.wake?.()
    this.session?.abandon(1000, 'client closed')
    this.connector.abort()
    this.outbox.close(error)
    for (const waiter of this.waiters.splice(0)) waiter.reject(error)
    this.setState(state)
  }

  private setState(change: StateChange): void {
    this.emitter.emit('state', change)
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.wake = done
    })
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
