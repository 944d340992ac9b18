/**
 * One device's WebSocket. Frames are handled one at a time in arrival order (a device's sends are
 * numbered in the order it sent them); listeners are attached in the constructor, before any
 * await, so no frame is lost during set-up. Pushes never wait on the socket: past
 * `maxQueuedBytes` of unsent data the socket is closed with 1013 and the device re-syncs later.
 */
import type { Logger } from 'pino'
import type { WebSocket, RawData } from 'ws'
import { type Actors, REREGISTER_FRAME, REVOKED_FRAME } from '../actors/env.js'
import { parseChannelId } from '../actors/ids.js'
import type { DeviceRef, UserReplies } from '../actors/messages.js'
import { type ChatError, asChatError, errors, publicError } from '../errors.js'
import { CLOSE_CODES, type ClientFrame, type Ref, type SendFrame } from '../protocol/frames.js'
import { type Clock, type TimerHandle, sleep } from '../clock.js'
import type { Metrics } from '../metrics.js'
import type { Random } from '../random.js'
import type { ChatService } from './chat-service.js'
import { FrameError, parseFrame } from './frames.js'
import { formatCursor, searchParams } from './search-params.js'
import { TokenBucket } from './rate-limit.js'
import type { SessionRegistry } from './sessions.js'
import type { LoadShedder } from './load-shedder.js'
import type { SendTurns } from './send-turns.js'
import type { TokenClaims } from './tokens.js'

export interface SessionDeps {
  nodeId: string
  service: ChatService
  actors: Actors
  registry: SessionRegistry
  metrics: Metrics
  log: Logger
  rateLimitPerSec: number
  rateBurst: number
  maxQueuedBytes: number
  /** Admission control for writes (absent: every write is admitted). */
  shedder?: LoadShedder
  /** Turns at sending among the node's sessions (absent: sends are handled as they come). */
  turns?: SendTurns
  now(): number
  /** Timers (read throttling) and session ids. */
  clock: Clock
  random: Random
}

/**
 * A frame as it arrived: parsed, or the error to answer it with; `at` is when it arrived (the ack
 * latency metric starts there) and `req` names it in log lines.
 */
type Waiting = ({ frame: ClientFrame } | { error: ChatError; ref: Ref | undefined }) & {
  at: number
  req: string
  /** Ends the write's admission (load-shedder.ts) once it is answered. */
  release?: () => void
}

/** Queued sends to one channel handed over together, at most (one commit for all of them). */
const MAX_SENDS_TOGETHER = 64

/** Ops that store something and fan out to every member: they share the per-device send rate. */
const WRITES: ReadonlySet<string> = new Set(['send', 'edit', 'delete', 'react'])

/** Frames waiting to be handled before new ones are refused with RATE_LIMITED. */
const MAX_WAITING_FRAMES = 1000

/**
 * Frames of any kind one device may send: far above what a client needs, low enough that a
 * flooding socket cannot take the node's event loop from everyone else. Past the budget the
 * socket is not read for a while, so the flood waits in TCP buffers and costs this node nothing.
 * The budget never undercuts the send rate limit: an operator who raises that (a benchmark) gets
 * room for the frames around the sends too.
 */
const FRAME_RATE_PER_SEC = 1000
const FRAME_BURST = 2000
const THROTTLE_MS = 100
/** Pauses before each retry of a re-registration answered UNAVAILABLE (about 1 s in all). */
const REREGISTER_RETRY_MS = [50, 200, 800]

export class DeviceSession {
  readonly id: string
  lastFrameAt: number
  live = true
  private started = false
  private closed = false
  /**
   * The highest inboxSeq this device has been told of (its `ready`, then each inbox event pushed):
   * when the user's key moves, the next owner's answer shows whether events were committed that
   * never reached this socket.
   */
  private seenInboxSeq = 0
  /**
   * A re-registration asked for before the first registration was answered: the owner that took
   * it may have stepped down while its answer was on the way, and the next owner would not know
   * this device. Done as soon as the session has started.
   */
  private reregisterWhenStarted = false
  private readonly waiting: Waiting[] = []
  private readonly early: string[] = []
  private handling = false
  private presenceChain: Promise<unknown> = Promise.resolve()
  private readonly sends: TokenBucket
  private readonly frames: TokenBucket
  private throttle: TimerHandle | null = null
  /** Log lines of this session carry its user and device (never message text). */
  private readonly log: Logger
  private frameCount = 0
  private warnedOversize = false
  /** When the token this socket was opened with expires (ms); the registry closes it then. */
  readonly expiresAt: number

  constructor(
    private readonly socket: WebSocket,
    readonly user: string,
    readonly deviceId: string,
    private readonly token: Pick<TokenClaims, 'tid' | 'gen' | 'exp'>,
    private readonly deps: SessionDeps,
  ) {
    this.id = deps.random.uuid()
    this.log = deps.log.child({ user, device: deviceId, session: this.id.slice(0, 8) })
    this.expiresAt = token.exp
    this.lastFrameAt = deps.now()
    this.sends = new TokenBucket(deps.rateLimitPerSec, deps.rateBurst, deps.now)
    this.frames = new TokenBucket(Math.max(FRAME_RATE_PER_SEC, 2 * deps.rateLimitPerSec), Math.max(FRAME_BURST, 2 * deps.rateBurst), deps.now)
    socket.on('message', (data, isBinary) => this.onFrame(data, isBinary))
    socket.on('ping', () => this.touch())
    socket.on('close', () => this.onClose())
    socket.on('error', (err) => this.onSocketError(err))
  }

  private get ref() {
    return { sessionId: this.id, deviceId: this.deviceId, node: this.deps.nodeId, tid: this.token.tid, gen: this.token.gen }
  }

  /** A frame over the limit is the client's mistake, not the node's: one warning line, no stack. */
  private onSocketError(err: Error & { code?: string }): void {
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      this.deps.metrics.bounds.inc({ bound: 'oversize_frame' })
      if (!this.warnedOversize) this.log.warn('frame over the size limit; socket closed with 1009')
      this.warnedOversize = true
      return
    }
    this.log.debug({ code: err.code, message: err.message }, 'socket error')
  }

  /** Registers the device with its user actor, sends `ready`, then handles queued frames. */
  async start(): Promise<void> {
    const { registry, actors, nodeId } = this.deps
    registry.add(this)
    try {
      const { inboxSeq } = await this.presence(() => actors.user(this.user, { kind: 'connect', device: this.ref, at: this.lastFrameAt }))
      if (this.closed) return
      this.seenInboxSeq = Math.max(this.seenInboxSeq, inboxSeq)
      this.send({ op: 'ready', user: this.user, deviceId: this.deviceId, node: nodeId, inboxSeq })
      this.started = true
      for (const frame of this.early.splice(0)) this.sendRaw(frame)
      if (this.reregisterWhenStarted) this.reregister()
      void this.drain()
    } catch (err) {
      const e = asChatError(err)
      if (e.code === 'LIMIT_REACHED') {
        this.deps.metrics.bounds.inc({ bound: 'max_devices' })
        return this.close(CLOSE_CODES.TOO_MANY_DEVICES, 'too many devices connected')
      }
      if (e.code === 'NOT_FOUND' || e.code === 'UNAUTHORIZED') return this.close(CLOSE_CODES.UNAUTHORIZED, 'logged out')
      this.log.warn({ code: e.code }, 'session start failed')
      this.close(CLOSE_CODES.TRY_AGAIN_LATER, 'try again later')
    }
  }

  /** A pre-serialized frame for this device; never blocks. */
  push(frame: string): void {
    if (this.closed) return
    if (frame === REREGISTER_FRAME) return this.reregister()
    if (frame === REVOKED_FRAME) return this.expire('logged out')
    if (!this.admitInboxEvent(frame)) {
      this.deps.metrics.duplicatePushes.inc()
      return
    }
    if (!this.started) {
      this.early.push(frame)
      return
    }
    this.deps.metrics.pushes.inc()
    this.observeDelivery(frame)
    this.sendRaw(frame)
  }

  /** A pushed message's age since it was stored (its `ts`, the last one in the frame: text cannot hide an unescaped quote). */
  private observeDelivery(frame: string): void {
    if (!frame.startsWith('{"op":"message"')) return
    const at = frame.lastIndexOf(',"ts":')
    const ts = at < 0 ? NaN : parseInt(frame.slice(at + 6, at + 22), 10)
    if (Number.isFinite(ts)) this.deps.metrics.deliverySeconds.observe(Math.max(0, this.deps.now() - ts) / 1000)
  }

  /** The token was revoked or expired: the socket closes with 4401 (log in again). */
  expire(reason: string): void {
    if (this.closed) return
    this.deps.metrics.revocations.inc()
    this.close(CLOSE_CODES.UNAUTHORIZED, reason)
  }

  close(code: number, reason: string): void {
    if (this.closed) return
    try {
      this.socket.close(code, reason)
    } catch {
      this.socket.terminate()
    }
    this.onClose()
  }

  /**
   * Tells the user actor about this device again: in a cluster, after the user's key moved to
   * another owner (the device list lives in the owner's memory). Events committed while the key
   * moved (an owner that stepped down mid-commit, whose write the next owner adopted; events of the
   * next owner before this device was known to it) were never pushed here: the next owner is told
   * what this socket has seen and pushes the rest (catch-up). If it cannot (too many, a body not
   * readable yet), or it cannot be told of this device at all, the socket is closed with 1013 and
   * the device reconnects and syncs, as after a lost push between nodes.
   */
  reregister(): void {
    if (this.closed) return
    if (!this.started) {
      this.reregisterWhenStarted = true
      return
    }
    this.reregisterWhenStarted = false
    const { actors } = this.deps
    const device = this.ref
    const at = this.lastFrameAt
    void this.presence(async () => {
      const { inboxSeq, caughtUp } = await this.registerAgain(device, at)
      if (inboxSeq > this.seenInboxSeq && !caughtUp) return this.resync('events arrived while the key moved; reconnect and sync')
      if (!this.live) await actors.user(this.user, { kind: 'activity', sessionId: this.id, live: false, at })
    }).catch((err) => {
      // The token was revoked while the user's key moved: the new owner says so.
      if (asChatError(err).code === 'UNAUTHORIZED') return this.expire('logged out')
      this.log.debug({ err }, 're-registering a device failed; the device will resync')
      this.resync('could not register again; reconnect and sync')
    })
  }

  /**
   * `connect` with what this socket has seen. While a key moves, the call can still reach the
   * owner that is stepping down, which answers UNAVAILABLE: that is retried a few times, shortly,
   * and reaches the next owner, rather than closing a socket for a move that was already over.
   */
  private async registerAgain(device: DeviceRef, at: number): Promise<UserReplies['connect']> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.deps.actors.user(this.user, { kind: 'connect', device, at, since: this.seenInboxSeq })
      } catch (err) {
        const pause = REREGISTER_RETRY_MS[attempt]
        if (pause === undefined || this.closed || asChatError(err).code !== 'UNAVAILABLE') throw err
        await sleep(this.deps.clock, pause)
      }
    }
  }

  /** Closes the socket with 1013: pushes meant for it may be missing, and a reconnect syncs. */
  private resync(reason: string): void {
    if (this.closed) return
    this.deps.metrics.resyncCloses.inc()
    this.close(CLOSE_CODES.TRY_AGAIN_LATER, reason)
  }

  /**
   * Notes the seq of an inbox event frame; false for one at or below what this socket has already
   * been sent, which is dropped. One owner pushes its events in order, so such a frame is a repeat:
   * the same event pushed by an owner that stepped down (in flight as the key moved) and by the
   * next owner's catch-up, or by two catch-ups when the key moved twice in a row. Frames without
   * a seq (presence, typing) always pass. Inbox event frames begin `{"op":"<op>","inboxSeq":N,`
   * (inboxFrame): nothing a user wrote comes before.
   */
  private admitInboxEvent(frame: string): boolean {
    // Looked for in the frame's head only: a message's text (up to 100,000 characters) is not scanned.
    const at = frame.lastIndexOf('"inboxSeq":', 32)
    if (at < 0) return true
    const n = parseInt(frame.slice(at + 11, at + 28), 10)
    if (!Number.isFinite(n)) return true
    if (n <= this.seenInboxSeq) return false
    this.seenInboxSeq = n
    return true
  }

  /** Called by the registry when the device has been silent past the presence timeout. */
  markIdle(): void {
    if (!this.live || this.closed) return
    this.live = false
    const at = this.lastFrameAt
    void this.presence(() => this.deps.actors.user(this.user, { kind: 'activity', sessionId: this.id, live: false, at })).catch(() => {})
  }

  private touch(): void {
    this.lastFrameAt = this.deps.now()
    if (this.live || this.closed) return
    this.live = true
    const at = this.lastFrameAt
    void this.presence(() => this.deps.actors.user(this.user, { kind: 'activity', sessionId: this.id, live: true, at })).catch(() => {})
  }

  /** Presence reports of one session reach the user actor in the order they happened. */
  private presence<T>(report: () => Promise<T>): Promise<T> {
    const next = this.presenceChain.then(report, report)
    this.presenceChain = next.catch(() => {})
    return next
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    this.touch()
    if (!this.frames.take()) this.pauseReading()
    const arrived = { at: this.deps.now(), req: `${this.id.slice(0, 8)}.${++this.frameCount}` }
    let item: Waiting
    if (isBinary) {
      item = { error: errors.badFrame('binary frames are not supported; send JSON text'), ref: undefined, ...arrived }
    } else {
      try {
        item = { frame: parseFrame(data.toString()), ...arrived }
      } catch (err) {
        item = { error: asChatError(err), ref: err instanceof FrameError ? err.ref : undefined, ...arrived }
      }
    }
    // Floods are refused on arrival, without queueing: sends by the rate limit, anything by count.
    const ref = 'frame' in item ? item.frame.ref : item.ref
    if (this.waiting.length >= MAX_WAITING_FRAMES || ('frame' in item && WRITES.has(item.frame.op) && !this.sends.take())) {
      this.deps.metrics.wsFrames.inc({ op: 'frame' in item ? item.frame.op : 'invalid', outcome: 'rate_limited' })
      return this.replyError(ref, errors.rateLimited())
    }
    const shedder = this.deps.shedder
    if (shedder && 'frame' in item && WRITES.has(item.frame.op)) {
      if (shedder.shedding) {
        this.deps.metrics.wsFrames.inc({ op: item.frame.op, outcome: 'shed' })
        this.deps.metrics.bounds.inc({ bound: 'overload' })
        return this.replyError(ref, errors.unavailable('node overloaded; nothing was stored; retry shortly'))
      }
      item.release = shedder.admit()
    }
    this.waiting.push(item)
    if (this.started) void this.drain()
  }

  /** Stops reading the socket for a moment; the frame at hand is still answered. */
  private pauseReading(): void {
    if (this.throttle || this.closed) return
    this.socket.pause()
    this.throttle = this.deps.clock.setTimeout(() => {
      this.throttle = null
      if (!this.closed) this.socket.resume()
    }, THROTTLE_MS)
    this.throttle.unref()
  }

  private async drain(): Promise<void> {
    if (this.handling) return
    this.handling = true
    try {
      for (let item = this.waiting.shift(); item !== undefined && !this.closed; item = this.waiting.shift()) {
        if ('frame' in item && item.frame.op === 'send') {
          // Sends to this channel that arrive while the session waits its turn join the batch.
          const turn = this.deps.turns?.take()
          if (turn) await turn
          const taken = this.takeSends(item, item.frame)
          try {
            await this.handleSends(taken.map((t) => t.frame), item)
          } finally {
            this.deps.turns?.give()
            for (const t of taken) t.release?.()
          }
        } else if ('frame' in item) {
          try {
            await this.handle(item.frame, item)
          } finally {
            item.release?.()
          }
        } else {
          this.deps.metrics.wsFrames.inc({ op: 'invalid', outcome: 'error' })
          this.log.debug({ req: item.req, code: item.error.code }, 'bad frame')
          this.replyError(item.ref, item.error)
        }
      }
    } finally {
      this.handling = false
    }
  }

  /** This send and the sends to the same channel queued right behind it (a pipelining client). */
  private takeSends(item: Waiting, first: SendFrame): Array<{ frame: SendFrame; release?: () => void }> {
    const sends: Array<{ frame: SendFrame; release?: () => void }> = [{ frame: first, release: item.release }]
    while (sends.length < MAX_SENDS_TOGETHER) {
      const next = this.waiting[0]
      if (!next || !('frame' in next) || next.frame.op !== 'send' || next.frame.channel !== first.channel) break
      this.waiting.shift()
      sends.push({ frame: next.frame, release: next.release })
    }
    return sends
  }

  /** Sends go to their channel together, in order; each gets its own ack or error. */
  private async handleSends(frames: SendFrame[], first: { at: number; req: string }): Promise<void> {
    if (frames.length === 1) return this.handle(frames[0]!, first)
    let results
    try {
      results = await this.deps.service.sendMany(this.user, frames[0]!.channel, frames)
    } catch (err) {
      const e = asChatError(err)
      results = frames.map(() => ({ ok: false as const, error: e }))
    }
    results.forEach((r, i) => {
      const frame = frames[i]!
      if (r.ok) {
        this.deps.metrics.messages.inc()
        this.deps.metrics.wsFrames.inc({ op: 'send', outcome: 'ok' })
        this.deps.metrics.ackSeconds.observe((this.deps.now() - first.at) / 1000)
        this.send(frame.ref === undefined ? { op: 'ack', ...r.value } : { op: 'ack', ...r.value, ref: frame.ref })
      } else {
        this.deps.metrics.wsFrames.inc({ op: 'send', outcome: 'error' })
        this.replyError(frame.ref, r.error)
      }
    })
    this.log.debug({ req: first.req, op: 'send', sends: frames.length, ms: this.deps.now() - first.at }, 'frames handled')
  }

  private async handle(frame: ClientFrame, arrived: { at: number; req: string }): Promise<void> {
    try {
      const reply = await this.dispatch(frame)
      this.deps.metrics.wsFrames.inc({ op: frame.op, outcome: 'ok' })
      if (frame.op === 'send') this.deps.metrics.ackSeconds.observe((this.deps.now() - arrived.at) / 1000)
      this.log.debug({ req: arrived.req, op: frame.op, ms: this.deps.now() - arrived.at }, 'frame handled')
      // Typing is answered only when asked to (a ref): it is sent every few seconds while typing.
      if (frame.op === 'typing' && frame.ref === undefined) return
      this.send(frame.ref === undefined ? reply : { ...reply, ref: frame.ref })
    } catch (err) {
      const e = asChatError(err)
      if (e.code === 'INTERNAL') this.log.error({ err, req: arrived.req, op: frame.op }, 'frame failed')
      else this.log.debug({ req: arrived.req, op: frame.op, code: e.code, ms: this.deps.now() - arrived.at }, 'frame refused')
      this.deps.metrics.wsFrames.inc({ op: frame.op, outcome: 'error' })
      this.replyError(frame.ref, e)
    }
  }

  private async dispatch(frame: ClientFrame): Promise<Record<string, unknown>> {
    const { service } = this.deps
    switch (frame.op) {
      case 'send': {
        const ack = await service.send(this.user, frame.channel, frame.clientMsgId, frame.text)
        this.deps.metrics.messages.inc()
        return { op: 'ack', ...ack }
      }
      case 'sync': {
        const r = await service.sync(this.user, frame.since, frame.limit!)
        if (r.more && r.events.length < frame.limit!) this.deps.metrics.bounds.inc({ bound: 'sync_bytes' })
        return { op: 'sync', events: r.events, next: r.next, more: r.more }
      }
      case 'history': {
        const page = await service.history(this.user, frame.channel, { before: frame.before, after: frame.after, limit: frame.limit! })
        // The canonical id even when the window is empty (`dm:bob:alice` is `dm:alice:bob`).
        const reply = { op: 'history', channel: parseChannelId(frame.channel).id, messages: page.messages }
        if (!page.more) return reply
        this.deps.metrics.bounds.inc({ bound: 'history_bytes' })
        return { ...reply, more: true }
      }
      case 'read':
        await service.read(this.user, frame.channel, frame.seq, this.id)
        return { op: 'ok' }
      case 'presence':
        return { op: 'presence', presence: await service.presence(this.user, frame.users) }
      case 'ping':
        return { op: 'pong' }
      case 'typing':
        await service.typing(this.user, frame.channel)
        return { op: 'ok' }
      case 'edit':
        await service.edit(this.user, frame.channel, frame.seq, frame.text)
        return { op: 'ok' }
      case 'delete':
        await service.deleteMessage(this.user, frame.channel, frame.seq)
        return { op: 'ok' }
      case 'react':
        await service.react(this.user, frame.channel, frame.seq, frame.emoji, frame.on)
        return { op: 'ok' }
      case 'search': {
        const params = searchParams(frame)
        if ('problem' in params) throw errors.badFrame(params.problem)
        const page = await service.search(this.user, params)
        return { op: 'search', messages: page.messages, more: page.more, next: page.next && formatCursor(page.next) }
      }
    }
  }

  private replyError(ref: Ref | undefined, err: ChatError): void {
    const frame: Record<string, unknown> = { op: 'error', ...publicError(err) }
    if (ref !== undefined) frame.ref = ref
    this.send(frame)
  }

  private send(frame: object): void {
    this.sendRaw(JSON.stringify(frame))
  }

  /**
   * Queues a frame, counting the socket's unsent bytes with the frame itself: a frame that would
   * take them past `maxQueuedBytes` closes the socket with 1013 instead (the device reconnects and
   * syncs). A frame into an empty queue always goes, however large (a page of big messages is at
   * most 1 MiB of text), or such a device could never catch up.
   */
  private sendRaw(text: string): void {
    if (this.closed) return
    const queued = this.socket.bufferedAmount
    if (queued > 0 && queued + Buffer.byteLength(text) > this.deps.maxQueuedBytes) {
      this.deps.metrics.slowConsumers.inc()
      this.deps.metrics.bounds.inc({ bound: 'send_queue' })
      this.log.info({ queued }, 'slow consumer closed')
      this.close(CLOSE_CODES.TRY_AGAIN_LATER, 'too slow; reconnect and sync')
      return
    }
    this.cork()
    this.socket.send(text)
  }

  /**
   * Holds the socket's writes until the current burst of work is done: the ack and the pushes a
   * group commit releases for this device leave in one write instead of one system call each.
   */
  private cork(): void {
    if (this.corked) return
    const raw = (this.socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket
    if (!raw) return
    this.corked = true
    raw.cork()
    process.nextTick(() => {
      this.corked = false
      raw.uncork()
    })
  }

  private corked = false

  private onClose(): void {
    if (this.closed) return
    this.closed = true
    this.deps.clock.clearTimeout(this.throttle)
    // Queued writes are never answered now: they no longer count as admitted.
    for (const item of this.waiting.splice(0)) item.release?.()
    this.deps.registry.remove(this)
    const lastActiveAt = this.lastFrameAt
    void this.presence(() => this.deps.actors.user(this.user, { kind: 'disconnect', sessionId: this.id, lastActiveAt })).catch(() => {})
  }
}
