/**
 * One long-lived gRPC stream from a node to each peer, carrying the transport's four kinds of
 * request (actor calls, fan-outs, pushes, node-level requests) in frames. Everything a node asks
 * of one peer within an event-loop tick leaves as one frame; the peer answers each request when
 * its handler settles, and the answers settled within one of its ticks leave as one frame.
 *
 * Why: a unary gRPC call costs about 1.3 ms of CPU on both sides together on the benchmark's
 * machine (HTTP/2 stream setup, headers, metadata, a signature), and a 1:1 message in a 3-node
 * cluster made about a dozen of them. A request on an open stream costs a fraction of that, and
 * under load a frame carries many requests (docs/PERFORMANCE.md, "Cluster hot path").
 *
 * Safety is the unary path's: the stream's opening is signed and version-checked like a call, and
 * every frame the caller sends carries its own signature over the frame's bytes, with a fresh
 * nonce (rpc-auth.ts), so a frame cannot be forged, altered or replayed on an open stream either.
 * Answers are not signed, as unary replies are not (use mutual TLS on an untrusted network).
 *
 * A peer of a release before streams answers the stream UNIMPLEMENTED: its requests go as unary
 * calls instead (the caller's `unary`), and the stream is tried again a minute later.
 */
import * as grpc from '@grpc/grpc-js'
import protobuf from 'protobufjs'
import {
  PACKAGE, SERVICE, checkCaller, fromStatus, handleRequest, incompatibleAnswer, readRange, setSignature,
  type Versioning, type WireAnswer, type WireRequest,
} from './grpc-wire.js'
import type { ProtocolRange } from './protocol-version.js'
import type { RequestSigner, RequestVerifier } from './rpc-auth.js'
import { errorMessage, TransportError, type TransportHandlers } from './transport.js'

export const STREAM_PATH = `/${SERVICE}/Stream`

/** After a peer answered UNIMPLEMENTED, how long its requests go unary before the stream is tried again. */
const UNARY_RETRY_MS = 60_000
const EMPTY = Buffer.alloc(0)
const identity = (b: Buffer): Buffer => b

interface WireFrame { batch?: Uint8Array; from?: string; ts?: string; nonce?: string; sig?: string }
interface WireBatch { requests?: WireRequest[]; answers?: WireAnswer[] }

/** Encodes and decodes the stream's frames (proto/node.proto: StreamFrame, StreamBatch). */
export class StreamCodec {
  private readonly frame: protobuf.Type
  private readonly batch: protobuf.Type

  constructor(protoPath: string) {
    const root = protobuf.loadSync(protoPath)
    this.frame = root.lookupType(`${PACKAGE}.StreamFrame`)
    this.batch = root.lookupType(`${PACKAGE}.StreamBatch`)
  }

  encodeFrame(frame: WireFrame): Buffer {
    return Buffer.from(this.frame.encode(frame as protobuf.Message).finish())
  }

  decodeFrame(bytes: Uint8Array): WireFrame {
    return this.frame.decode(bytes) as unknown as WireFrame
  }

  encodeBatch(batch: WireBatch): Uint8Array {
    return this.batch.encode(batch as protobuf.Message).finish()
  }

  decodeBatch(bytes: Uint8Array): WireBatch {
    return this.batch.decode(bytes) as unknown as WireBatch
  }
}

// ---- the calling side ----

export interface StreamClientOptions {
  address: string
  codec: StreamCodec
  versioning: Versioning
  signer: RequestSigner | undefined
  /** Largest frame sent; requests are split over frames below it. */
  maxFrameBytes: number
  /** The same request as a unary call: for a peer whose release has no stream. */
  unary(request: WireRequest, deadlineMs: number): Promise<WireAnswer>
  /**
   * Opens the connection frames go on, instead of a gRPC stream on the client (peer-link.ts);
   * `path` is what frames are signed for.
   */
  connect?: { path: string; open(events: ConnEvents): FrameConn }
}

/** A connection carrying whole frames both ways: the gRPC stream, or a link (peer-link.ts). */
export interface FrameConn {
  write(frame: Buffer): void
  /** Ends it; what was sent on it and not answered fails. */
  cancel(): void
  /** When a frame last arrived on it (links: a request past its deadline with nothing since ends it). */
  readonly receivedAt?: number
}

/** What a connection tells its client. */
export interface ConnEvents {
  answers(bytes: Buffer): void
  broken(err: TransportError): void
}

interface Pending {
  request: WireRequest
  resolve(answer: WireAnswer): void
  reject(err: TransportError): void
  timer: NodeJS.Timeout
  deadlineAt: number
  /** The connection it was written to; undefined while it waits in the outbox. */
  stream: FrameConn | undefined
  /** When it was written. */
  sentAt: number
}

export class StreamClient {
  private stream: FrameConn | undefined
  private answered = false
  private nextId = 0
  private readonly pending = new Map<number, Pending>()
  private outbox: Array<{ request: WireRequest; bytes: number }> = []
  private outboxBytes = 0
  private flushScheduled = false
  private unaryUntil = 0

  constructor(private client: grpc.Client | undefined, private readonly o: StreamClientOptions) {}

  /** Sends `request` (its id is set here); `bytes` is about its encoded size. */
  request(request: WireRequest, bytes: number, deadlineMs: number): Promise<WireAnswer> {
    if (!this.client) return Promise.reject(new TransportError('UNAVAILABLE', 'transport is closed'))
    if (Date.now() < this.unaryUntil) return this.o.unary(request, deadlineMs)
    if (bytes > this.o.maxFrameBytes) {
      return Promise.reject(new TransportError('INTERNAL', `a request of about ${bytes} bytes is larger than the largest message (${this.o.maxFrameBytes} bytes)`))
    }
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1
    const id = this.nextId
    request.id = id
    return new Promise<WireAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        const p = this.pending.get(id)
        if (!p) return
        this.pending.delete(id)
        reject(new TransportError('DEADLINE', `${this.o.address}: no answer within ${deadlineMs} ms`))
        // A link that got nothing back since this request went out is taken for dead (a peer cut
        // off keeps a TCP connection open for minutes): the next request opens a new one.
        const conn = p.stream
        if (conn && conn.receivedAt !== undefined && conn.receivedAt < p.sentAt && this.stream === conn) {
          conn.cancel()
          this.broken(conn, new TransportError('UNAVAILABLE', `${this.o.address}: the link went silent`))
        }
      }, deadlineMs)
      this.pending.set(id, { request, resolve, reject, timer, deadlineAt: Date.now() + deadlineMs, stream: undefined, sentAt: 0 })
      if (this.outboxBytes + bytes > this.o.maxFrameBytes / 2) this.flush()
      this.outbox.push({ request, bytes })
      this.outboxBytes += bytes
      if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  close(): void {
    const client = this.client
    this.client = undefined
    this.stream?.cancel()
    this.stream = undefined
    this.failWhere(() => true, new TransportError('UNAVAILABLE', 'transport is closed'))
    // A client on links shares the gRPC client of the peer's stream client, which closes it.
    if (!this.o.connect) client?.close()
  }

  /** Writes what waits in the outbox as one frame (requests whose deadline passed are left out). */
  private flush(): void {
    this.flushScheduled = false
    const waiting = this.outbox
    this.outbox = []
    this.outboxBytes = 0
    const requests: WireRequest[] = []
    for (const w of waiting) if (this.pending.has(w.request.id!)) requests.push(w.request)
    if (requests.length === 0 || !this.client) return
    if (Date.now() < this.unaryUntil) return this.sendUnary(requests)
    let stream: FrameConn
    let frame: Buffer
    try {
      stream = this.open()
      const batch = this.o.codec.encodeBatch({ requests })
      frame = this.o.codec.encodeFrame(this.o.signer ? { batch, ...this.o.signer.sign(this.o.connect?.path ?? STREAM_PATH, batch) } : { batch })
    } catch (err) {
      const ids = new Set(requests.map((r) => r.id))
      this.failWhere((p) => ids.has(p.request.id), new TransportError('UNAVAILABLE', `cannot send to ${this.o.address}: ${errorMessage(err)}`, err))
      return
    }
    const now = Date.now()
    for (const r of requests) {
      const p = this.pending.get(r.id!)!
      p.stream = stream
      p.sentAt = now
    }
    stream.write(frame)
  }

  private open(): FrameConn {
    if (this.stream) return this.stream
    if (this.o.connect) {
      const events: ConnEvents = {
        answers: (bytes) => this.onAnswers(conn, bytes),
        broken: (err) => this.broken(conn, err),
      }
      const conn = this.o.connect.open(events)
      this.stream = conn
      return conn
    }
    return this.openStream()
  }

  private openStream(): FrameConn {
    const metadata = this.o.versioning.metadata.clone()
    if (this.o.signer) setSignature(metadata, this.o.signer.sign(STREAM_PATH, EMPTY))
    const call = this.client!.makeBidiStreamRequest(STREAM_PATH, identity, identity, metadata, {})
    const stream: FrameConn = { write: (frame) => void call.write(frame), cancel: () => call.cancel() }
    this.stream = stream
    this.answered = false
    // The peer's versions come with its first answer; a peer that sends none is too old. A peer
    // that shares no version refuses the stream itself (its status says so): this checks answers.
    let peerRange: ProtocolRange = { version: 0, min: 0 }
    call.on('metadata', (md: grpc.Metadata) => { peerRange = readRange(md) })
    call.on('data', (bytes: Buffer) => {
      const refused = incompatibleAnswer(this.o.address, peerRange, this.o.versioning)
      if (!refused) return this.onAnswers(stream, bytes)
      this.broken(stream, refused)
      call.cancel()
    })
    // Every end of the call comes as a status (after an 'error' event when it is not OK).
    call.on('error', () => undefined)
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.UNIMPLEMENTED && !this.answered && this.stream === stream) {
        // A release before streams: what was sent on it never ran; send it all as unary calls.
        this.stream = undefined
        this.unaryUntil = Date.now() + UNARY_RETRY_MS
        return this.sendUnary([...this.pending.values()].filter((p) => p.stream === stream).map((p) => p.request))
      }
      const err = status.code === grpc.status.OK
        ? new TransportError('UNAVAILABLE', `${this.o.address}: the stream was ended by the peer`)
        : fromStatus(Object.assign(new Error(status.details), status) as grpc.ServiceError, this.o.address)
      this.broken(stream, err)
    })
    return stream
  }

  private onAnswers(stream: FrameConn, bytes: Buffer): void {
    let answers: WireAnswer[]
    try {
      answers = this.o.codec.decodeBatch(this.o.codec.decodeFrame(bytes).batch ?? EMPTY).answers ?? []
    } catch (err) {
      this.broken(stream, new TransportError('INTERNAL', `${this.o.address} sent a malformed frame: ${errorMessage(err)}`, err))
      stream.cancel()
      return
    }
    this.answered = true
    for (const answer of answers) {
      const p = this.pending.get(answer.id!)
      if (!p) continue
      this.pending.delete(answer.id!)
      clearTimeout(p.timer)
      p.resolve(answer)
    }
  }

  /** The stream ended: what was sent on it fails with `err`; what waits goes on a new one. */
  private broken(stream: FrameConn, err: TransportError): void {
    if (this.stream === stream) this.stream = undefined
    this.failWhere((p) => p.stream === stream, err)
  }

  private failWhere(which: (p: Pending) => boolean, err: TransportError): void {
    for (const [id, p] of this.pending) {
      if (!which(p)) continue
      this.pending.delete(id)
      clearTimeout(p.timer)
      p.reject(err)
    }
  }

  /** Sends pending requests as unary calls, each with what is left of its deadline. */
  private sendUnary(requests: WireRequest[]): void {
    for (const r of requests) {
      const p = this.pending.get(r.id!)!
      this.pending.delete(r.id!)
      clearTimeout(p.timer)
      this.o.unary(r, Math.max(1, p.deadlineAt - Date.now())).then(p.resolve, p.reject)
    }
  }
}

// ---- the answering side ----

export interface StreamServerOptions {
  handlers: TransportHandlers
  codec: StreamCodec
  versioning: Versioning
  verifier: RequestVerifier | undefined
  onRefused?: (reason: string) => void
  /** Told of every frame of requests received (its number of requests, the path it was signed for): tests and metrics. */
  onFrame?: (requests: number, path: string) => void
  maxFrameBytes: number
}

/** The streams a node serves, so that its shutdown can end them once their requests are answered. */
export class StreamServer {
  private readonly open = new Set<ServedStream>()

  constructor(private readonly o: StreamServerOptions) {}

  readonly handle: grpc.handleBidiStreamingCall<Buffer, Buffer> = (call) => {
    const verdict = checkCaller(STREAM_PATH, call.metadata, EMPTY, () => call.getPeer(), this.o.versioning, this.o.verifier, this.o.onRefused)
    call.sendMetadata(this.o.versioning.metadata.clone())
    if (!verdict.ok) {
      call.emit('error', verdict.status)
      return
    }
    this.serve({
      write: (frame) => void call.write(frame),
      end: () => call.end(),
      refuse: (code, details) => call.emit('error', { code, details }),
      on: (event, fn) => {
        if (event === 'data') call.on('data', fn)
        else if (event === 'end') call.on('end', fn)
        else {
          call.on('cancelled', fn)
          call.on('error', fn)
        }
      },
    }, STREAM_PATH)
  }

  /** Answers the frames of requests that arrive on `conn` (a stream, or a link: peer-link.ts), signed for `path`. */
  serve(conn: ServedConn, path: string): void {
    const served = new ServedStream(conn, path, this.o, () => this.open.delete(served))
    this.open.add(served)
  }

  /** Every stream ends once its requests are answered; new frames are no longer read. */
  drain(): void {
    for (const s of this.open) s.drain()
  }
}

/** The answering side of a connection of frames. */
export interface ServedConn {
  write(frame: Buffer): void
  /** Ends it once everything written is sent. */
  end(): void
  /** Ends it with a refusal (a gRPC status on a stream; a link is closed). */
  refuse(code: grpc.status, details: string): void
  /** 'data': a frame; 'end': the caller is done sending; 'gone': it ended otherwise. */
  on(event: 'data', fn: (frame: Buffer) => void): void
  on(event: 'end' | 'gone', fn: () => void): void
  /**
   * Stops (true) or resumes (false) reading frames: the answering side holds back a caller whose
   * requests it has not caught up with (a link has no HTTP/2 flow control to do it).
   */
  hold?(held: boolean): void
}

/** Requests of one connection being handled at once, past which it is not read until half are done. */
const MAX_IN_FLIGHT = 2048

class ServedStream {
  private inFlight = 0
  private answers: Array<{ answer: WireAnswer; bytes: number }> = []
  private flushScheduled = false
  private finishing = false
  private done = false

  constructor(
    private readonly call: ServedConn,
    private readonly path: string,
    private readonly o: StreamServerOptions,
    private readonly onDone: () => void,
  ) {
    call.on('data', (bytes: Buffer) => this.onFrame(bytes))
    call.on('end', () => this.drain())
    call.on('gone', () => this.finish())
  }

  drain(): void {
    this.finishing = true
    this.endIfIdle()
  }

  private onFrame(bytes: Buffer): void {
    if (this.done || this.finishing) return
    let frame: WireFrame
    try {
      frame = this.o.codec.decodeFrame(bytes)
    } catch {
      return this.refuse(grpc.status.INVALID_ARGUMENT, 'malformed frame')
    }
    const batchBytes = frame.batch ?? EMPTY
    if (this.o.verifier) {
      const verdict = this.o.verifier.verify(this.path, frame, batchBytes)
      if (!verdict.ok) {
        this.o.onRefused?.(verdict.reason)
        return this.refuse(grpc.status.UNAUTHENTICATED, `cluster credentials required: ${verdict.reason}`)
      }
    }
    let requests: WireRequest[]
    try {
      requests = this.o.codec.decodeBatch(batchBytes).requests ?? []
    } catch {
      return this.refuse(grpc.status.INVALID_ARGUMENT, 'malformed frame')
    }
    this.o.onFrame?.(requests.length, this.path)
    for (const request of requests) {
      this.inFlight++
      if (this.inFlight === MAX_IN_FLIGHT) this.call.hold?.(true)
      void handleRequest(request, this.o.handlers).then((a) => {
        this.inFlight--
        if (this.inFlight === MAX_IN_FLIGHT / 2) this.call.hold?.(false)
        this.send(a)
      })
    }
  }

  private send(answer: WireAnswer): void {
    if (this.done) return
    this.answers.push({ answer, bytes: answerBytes(answer) })
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flush())
    }
  }

  /** Writes the settled answers, as few frames as fit under the largest frame. */
  private flush(): void {
    this.flushScheduled = false
    if (this.done) return
    let frame: WireAnswer[] = []
    let size = 0
    const write = () => {
      if (frame.length === 0) return
      this.call.write(this.o.codec.encodeFrame({ batch: this.o.codec.encodeBatch({ answers: frame }) }))
      frame = []
      size = 0
    }
    for (const { answer: a, bytes } of this.answers) {
      if (size + bytes > this.o.maxFrameBytes / 2) write()
      frame.push(a)
      size += bytes
    }
    write()
    this.answers = []
    this.endIfIdle()
  }

  private endIfIdle(): void {
    if (!this.finishing || this.done || this.inFlight > 0 || this.answers.length > 0) return
    this.finish()
    this.call.end()
  }

  private refuse(code: grpc.status, details: string): void {
    if (this.done) return
    this.finish()
    this.call.refuse(code, details)
  }

  private finish(): void {
    if (this.done) return
    this.done = true
    this.onDone()
  }
}

/** About the encoded size of an answer, for splitting frames. */
function answerBytes(a: WireAnswer): number {
  if (a.reply) return 32 + (a.reply.body?.length ?? 0) + (a.reply.error?.message?.length ?? 0)
  if (a.multi) return 32 + (a.multi.replies ?? []).reduce((n, r) => n + 16 + (r.body?.length ?? 0) + (r.error?.message?.length ?? 0), 0)
  return 32 + (a.pushAck?.error?.message?.length ?? 0)
}
