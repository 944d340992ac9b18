/**
 * The real node-to-node transport: gRPC over HTTP/2 with proto/node.proto, one long-lived
 * channel per peer address. Insecure credentials: node-to-node TLS is future work, so nodes
 * must talk over a private network.
 */
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import {
  decodeBody, encodeBody, errorMessage, settleReplies, settleReply, TransportError,
  type ActorCall, type ActorMultiCall, type PeerClient, type PeerRequest, type PushBatch,
  type RemoteError, type Reply, type Transport, type TransportHandlers,
} from './transport.js'

export interface GrpcTransportOptions {
  /** Largest message sent or received, in bytes; above gRPC's 4 MiB default so 4 MiB bodies fit. */
  maxMessageBytes?: number
  /** How long close() lets in-flight calls finish before cutting connections. */
  closeGraceMs?: number
  /** Where proto/node.proto lives; by default found relative to this file in src/ or dist/. */
  protoPath?: string
}

const SERVICE = 'chat.cluster.v1.Node'

// Wire shapes as proto-loader produces them (camelCase, longs as Number, absent fields undefined).
interface WireCall { key?: string; kind?: string; body?: Buffer; ringVersion?: number; from?: string }
interface WireMultiCall { keys?: string[]; kind?: string; body?: Buffer; ringVersion?: number; from?: string }
interface WirePeer { kind?: string; body?: Buffer; ringVersion?: number; from?: string }
interface WireError { code?: string; message?: string; ringVersion?: number; owner?: string }
interface WireReply { ok?: boolean; body?: Buffer; error?: WireError }
interface WireMultiReply { replies?: WireReply[] }
interface WirePushBatch { pushes?: { sessions?: string[]; frame?: string }[] }
interface WirePushAck { error?: WireError }

type Method = grpc.MethodDefinition<object, object>
interface Methods { Call: Method; CallMany: Method; Push: Method; Peer: Method }

export class GrpcTransport implements Transport {
  private readonly methods: Methods
  private readonly maxMessageBytes: number
  private readonly closeGraceMs: number
  private readonly clients = new Map<string, GrpcPeerClient>()
  private server: grpc.Server | undefined
  private closing: Promise<void> | undefined

  constructor(options: GrpcTransportOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024
    this.closeGraceMs = options.closeGraceMs ?? 1000
    // Resolved from this file so the same code works from src/cluster (tests) and dist/cluster.
    const protoPath = options.protoPath ?? fileURLToPath(new URL('../../proto/node.proto', import.meta.url))
    const definition = protoLoader.loadSync(protoPath, { keepCase: false, longs: Number, defaults: false, oneofs: false })
    this.methods = definition[SERVICE] as unknown as Methods
  }

  async listen(host: string, port: number, handlers: TransportHandlers): Promise<number> {
    if (this.closing) throw new TransportError('UNAVAILABLE', 'transport is closed')
    if (this.server) throw new Error('transport is already listening')
    const server = new grpc.Server({
      'grpc.max_receive_message_length': this.maxMessageBytes,
      'grpc.max_send_message_length': this.maxMessageBytes,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    })
    server.addService(this.methods as unknown as grpc.ServiceDefinition, serviceImpl(handlers))
    this.server = server
    const bindHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
    return await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${bindHost}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err) {
          this.server = undefined
          reject(new TransportError('UNAVAILABLE', `cannot listen on ${bindHost}:${port}: ${err.message}`, err))
        } else {
          resolve(bound)
        }
      })
    })
  }

  peer(address: string): PeerClient {
    let client = this.clients.get(address)
    if (!client) {
      if (this.closing) return new GrpcPeerClient(address, this.methods, undefined)
      client = new GrpcPeerClient(address, this.methods, new grpc.Client(address, grpc.credentials.createInsecure(), {
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.keepalive_permit_without_calls': 1,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 2_000,
        'grpc.max_receive_message_length': this.maxMessageBytes,
        'grpc.max_send_message_length': this.maxMessageBytes,
        // Own subchannels per transport: several nodes in one test process must not share
        // connections, or closing one node would disturb the others.
        'grpc.use_local_subchannel_pool': 1,
      }))
      this.clients.set(address, client)
    }
    return client
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    for (const client of this.clients.values()) client.close()
    this.clients.clear()
    const server = this.server
    if (!server) return
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown()
        resolve()
      }, this.closeGraceMs)
      server.tryShutdown(() => {
        clearTimeout(force)
        resolve()
      })
    })
  }
}

class GrpcPeerClient implements PeerClient {
  constructor(
    private readonly address: string,
    private readonly methods: Methods,
    private client: grpc.Client | undefined,
  ) {}

  async call(req: ActorCall, deadlineMs: number): Promise<Reply> {
    const wire: WireCall = { key: req.key, kind: req.kind, body: encodeBody(req.body), ringVersion: req.ringVersion, from: req.from }
    return fromWireReply(await this.unary<WireReply>(this.methods.Call, wire, deadlineMs))
  }

  async callMany(req: ActorMultiCall, deadlineMs: number): Promise<Reply[]> {
    const wire: WireMultiCall = { keys: req.keys, kind: req.kind, body: encodeBody(req.body), ringVersion: req.ringVersion, from: req.from }
    const replies = (await this.unary<WireMultiReply>(this.methods.CallMany, wire, deadlineMs)).replies ?? []
    if (replies.length !== req.keys.length) {
      throw new TransportError('INTERNAL', `${this.address} answered ${replies.length} replies for ${req.keys.length} keys`)
    }
    return replies.map(fromWireReply)
  }

  async push(batch: PushBatch, deadlineMs: number): Promise<void> {
    const ack = await this.unary<WirePushAck>(this.methods.Push, batch satisfies WirePushBatch, deadlineMs)
    if (ack.error) {
      throw new TransportError('INTERNAL', `push to ${this.address} failed: ${ack.error.message ?? ''}`, fromWireError(ack.error))
    }
  }

  async peer(req: PeerRequest, deadlineMs: number): Promise<Reply> {
    const wire: WirePeer = { kind: req.kind, body: encodeBody(req.body), ringVersion: req.ringVersion, from: req.from }
    return fromWireReply(await this.unary<WireReply>(this.methods.Peer, wire, deadlineMs))
  }

  close(): void {
    this.client?.close()
    this.client = undefined
  }

  private unary<T>(method: Method, request: object, deadlineMs: number): Promise<T> {
    const client = this.client
    if (!client) return Promise.reject(new TransportError('UNAVAILABLE', 'transport is closed'))
    return new Promise<T>((resolve, reject) => {
      const callback = (err: grpc.ServiceError | null, value?: object): void => {
        if (err) reject(fromStatus(err, this.address))
        else resolve(value as T)
      }
      try {
        client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, request,
          { deadline: Date.now() + deadlineMs }, callback)
      } catch (err) {
        reject(new TransportError('UNAVAILABLE', `cannot call ${this.address}: ${errorMessage(err)}`, err))
      }
    })
  }
}

function fromStatus(err: grpc.ServiceError, address: string): TransportError {
  const message = `${address}: ${err.details || err.message}`
  switch (err.code) {
    case grpc.status.DEADLINE_EXCEEDED: return new TransportError('DEADLINE', message, err)
    case grpc.status.UNAVAILABLE:
    case grpc.status.CANCELLED: return new TransportError('UNAVAILABLE', message, err)
    default: return new TransportError('INTERNAL', message, err)
  }
}

function fromWireError(wire: WireError): RemoteError {
  const error: RemoteError = { code: wire.code ?? 'INTERNAL', message: wire.message ?? '' }
  if (wire.ringVersion != null) error.ringVersion = wire.ringVersion
  if (wire.owner != null) error.owner = wire.owner
  return error
}

function fromWireReply(wire: WireReply): Reply {
  if (wire.ok) {
    try {
      return { ok: true, body: decodeBody(wire.body) }
    } catch (err) {
      throw new TransportError('INTERNAL', `reply body is not JSON: ${errorMessage(err)}`, err)
    }
  }
  return { ok: false, error: fromWireError(wire.error ?? { message: 'reply carries neither body nor error' }) }
}

/** Encoding a handler's reply can fail too (a BigInt in a body): that is the handler's bug. */
function toWireReply(reply: Reply): WireReply {
  try {
    return reply.ok ? { ok: true, body: encodeBody(reply.body) } : { ok: false, error: reply.error }
  } catch (err) {
    return { ok: false, error: { code: 'INTERNAL', message: errorMessage(err) } }
  }
}

function answer<T>(callback: grpc.sendUnaryData<T>, work: Promise<T>): void {
  // The work promises never reject (handler errors were turned into replies), so this only
  // guards against a bug in this file reaching the event loop as an unhandled rejection.
  work.then((value) => callback(null, value), (err: unknown) => callback({ code: grpc.status.INTERNAL, details: errorMessage(err) }))
}

function serviceImpl(handlers: TransportHandlers): grpc.UntypedServiceImplementation {
  const call: grpc.handleUnaryCall<WireCall, WireReply> = (rpc, callback) => {
    const r = rpc.request
    answer(callback, settleReply(() => handlers.call({
      key: r.key ?? '', kind: r.kind ?? '', body: decodeBody(r.body), ringVersion: r.ringVersion ?? 0, from: r.from ?? '',
    })).then(toWireReply))
  }
  const callMany: grpc.handleUnaryCall<WireMultiCall, WireMultiReply> = (rpc, callback) => {
    const r = rpc.request
    const keys = r.keys ?? []
    answer(callback, settleReplies(keys.length, () => handlers.callMany({
      keys, kind: r.kind ?? '', body: decodeBody(r.body), ringVersion: r.ringVersion ?? 0, from: r.from ?? '',
    })).then((replies) => ({ replies: replies.map(toWireReply) })))
  }
  const push: grpc.handleUnaryCall<WirePushBatch, WirePushAck> = (rpc, callback) => {
    const pushes = (rpc.request.pushes ?? []).map((p) => ({ sessions: p.sessions ?? [], frame: p.frame ?? '' }))
    answer(callback, Promise.resolve().then(() => handlers.push({ pushes })).then(
      (): WirePushAck => ({}),
      (err: unknown): WirePushAck => ({ error: { code: 'INTERNAL', message: errorMessage(err) } }),
    ))
  }
  const peer: grpc.handleUnaryCall<WirePeer, WireReply> = (rpc, callback) => {
    const r = rpc.request
    answer(callback, settleReply(() => handlers.peer({
      kind: r.kind ?? '', body: decodeBody(r.body), ringVersion: r.ringVersion ?? 0, from: r.from ?? '',
    })).then(toWireReply))
  }
  return { Call: call, CallMany: callMany, Push: push, Peer: peer } as grpc.UntypedServiceImplementation
}
