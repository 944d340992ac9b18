/**
 * The real node-to-node transport: gRPC over HTTP/2 with proto/node.proto, one long-lived
 * channel per peer address and on it one long-lived stream that carries every request
 * (grpc-stream.ts); the unary rpcs remain for peers of a release before the stream. Every request is signed with the cluster secret (rpc-auth.ts) and
 * checked before it is even decoded: one without valid credentials is answered UNAUTHENTICATED
 * and changes nothing. With certificates, the channel is mutual TLS as well: a peer must present
 * a certificate signed by the cluster's CA (any such certificate: the CA is the cluster's own).
 *
 * Every call also carries the range of node protocol versions its caller speaks, and every answer
 * the range of the node answering (protocol-version.ts); a call between nodes that share no
 * version is refused on either side. Credentials are checked first: a caller without them is
 * refused as such, whatever version it claims, and cannot make this node log or count anything
 * in its name.
 */
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import { StreamClient, StreamCodec, StreamServer } from './grpc-stream.js'
import { LINK_INFO, LinkServer, type LinkTls, linkConnector } from './peer-link.js'
import {
  SERVICE, checkCaller, fromStatus, fromWireReply, handleRequest, incompatibleAnswer, protocolMetadata, readRange, setSignature,
  type IncompatiblePeer, type Versioning, type WireAnswer, type WireCall, type WireMultiCall, type WireMultiReply,
  type WirePeer, type WirePushAck, type WirePushBatch, type WireReply, type WireRequest,
} from './grpc-wire.js'
import { OWN_PROTOCOL, type ProtocolRange } from './protocol-version.js'
import { RequestSigner, RequestVerifier, rpcKey } from './rpc-auth.js'
import {
  encodeBody, errorMessage, TransportError,
  type ActorCall, type ActorMultiCall, type PeerClient, type PeerRequest, type PushBatch,
  type Reply, type Transport, type TransportHandlers,
} from './transport.js'

export type { IncompatiblePeer } from './grpc-wire.js'

export interface GrpcTransportOptions {
  /** Largest message sent or received, in bytes; above gRPC's 4 MiB default so 4 MiB bodies fit. */
  maxMessageBytes?: number
  /** How long close() lets in-flight calls finish before cutting connections. */
  closeGraceMs?: number
  /** Where proto/node.proto lives; by default found relative to this file in src/ or dist/. */
  protoPath?: string
  /** Sign outgoing and require signed incoming requests with this cluster secret, as node `self`. */
  auth?: { secret: string; self: string }
  /** Mutual TLS: the cluster CA, and this node's certificate and key (PEM). */
  tls?: { ca: Buffer; cert: Buffer; key: Buffer }
  /** Called for each refused incoming request (a metric), with the reason. */
  onRefused?: (reason: string) => void
  /** The protocol versions this node speaks (tests pretend to be another release). */
  protocol?: ProtocolRange
  /** Told of every call refused, or reply dropped, because the other side speaks no common version. */
  onIncompatible?: (event: IncompatiblePeer) => void
  /**
   * Serve the stream rpc (default true). False serves the unary rpcs alone, as a release before
   * the stream did: tests of the fallback.
   */
  serveStream?: boolean
  /** Told of every frame of requests this node receives, with its number of requests and what it came on (STREAM_PATH, LINK_PATH). */
  onFrame?: (requests: number, path: string) => void
  /**
   * Peer links (peer-link.ts): serve one on a second port beside the gRPC one, and reach peers
   * that serve one on theirs instead of on the gRPC stream. Off by default.
   */
  link?: boolean
  /** The port links are served on (0 = pick one). */
  linkPort?: number
  /** If `linkPort` is taken, pick another instead of failing. */
  linkPortFallback?: boolean
}

/**
 * How soon a peer is asked again for its link port after a link to it could not be opened; it
 * doubles with each such link in a row (a closed port), up to NO_LINK_ASK_MS.
 */
const LINK_ASK_MS = 1000
/** How soon a peer that serves no link is asked again (it may have been upgraded, or restarted with links). */
const NO_LINK_ASK_MS = 60_000
/**
 * The deadline of the link-port question, asked on the stream and again on a new link to open it
 * (whose connection is given up sooner, peer-link.ts).
 */
const LINK_INFO_DEADLINE_MS = 5000

/** The question for a peer's link port (answered by its transport, on the stream or on the link). */
function linkInfoRequest(): WireRequest {
  return { peer: { kind: LINK_INFO, body: encodeBody(undefined), ringVersion: 0, from: '' } }
}

type Method = grpc.MethodDefinition<object, object>
interface Methods { Call: Method; CallMany: Method; Push: Method; Peer: Method; Stream: Method }

export class GrpcTransport implements Transport {
  private readonly methods: Methods
  private readonly codec: StreamCodec
  private readonly maxMessageBytes: number
  private readonly closeGraceMs: number
  private readonly clients = new Map<string, GrpcPeerClient>()
  private server: grpc.Server | undefined
  private streams: StreamServer | undefined
  private links: LinkServer | undefined
  /** The port this node's link is served on; 0 when it serves none. */
  private linkPort = 0
  private closing: Promise<void> | undefined
  private readonly signer: RequestSigner | undefined
  private readonly verifier: RequestVerifier | undefined
  private readonly protocol: Versioning

  constructor(private readonly options: GrpcTransportOptions = {}) {
    const range = options.protocol ?? OWN_PROTOCOL
    this.protocol = { range, metadata: protocolMetadata(range), onIncompatible: options.onIncompatible ?? (() => undefined) }
    this.maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024
    this.closeGraceMs = options.closeGraceMs ?? 1000
    // Resolved from this file so the same code works from src/cluster (tests) and dist/cluster.
    const protoPath = options.protoPath ?? fileURLToPath(new URL('../../proto/node.proto', import.meta.url))
    const definition = protoLoader.loadSync(protoPath, { keepCase: false, longs: Number, defaults: false, oneofs: false })
    this.methods = definition[SERVICE] as unknown as Methods
    this.codec = new StreamCodec(protoPath)
    if (options.auth) {
      const key = rpcKey(options.auth.secret)
      this.signer = new RequestSigner(key, options.auth.self)
      this.verifier = new RequestVerifier(key)
    }
  }

  private serverCredentials(): grpc.ServerCredentials {
    const tls = this.options.tls
    if (!tls) return grpc.ServerCredentials.createInsecure()
    // `true`: a client must present a certificate the cluster CA signed.
    return grpc.ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true)
  }

  private clientCredentials(): grpc.ChannelCredentials {
    const tls = this.options.tls
    if (!tls) return grpc.credentials.createInsecure()
    // Peers are dialled by address; what proves membership is the CA's signature, not a name.
    return grpc.credentials.createSsl(tls.ca, tls.key, tls.cert, { checkServerIdentity: () => undefined })
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
    // A peer asking for this node's link port is answered here; the node's handlers never see it.
    const served: TransportHandlers = {
      call: (req) => handlers.call(req),
      callMany: (req) => handlers.callMany(req),
      push: (batch) => handlers.push(batch),
      peer: (req) => (req.kind === LINK_INFO ? Promise.resolve({ ok: true, body: { port: this.linkPort } }) : handlers.peer(req)),
    }
    const unary = unaryService(served, this.methods, this.protocol, this.verifier, this.options.onRefused)
    const service: Partial<Methods> = rawRequests(this.methods)
    const bindHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
    if (this.options.serveStream !== false) {
      this.streams = new StreamServer({
        handlers: served, codec: this.codec, versioning: this.protocol, verifier: this.verifier, onRefused: this.options.onRefused,
        onFrame: this.options.onFrame, maxFrameBytes: this.maxMessageBytes,
      })
      unary.Stream = this.streams.handle
      if (this.options.link) {
        this.links = new LinkServer(this.streams, this.maxMessageBytes, this.options.tls)
        const linkHost = host.replace(/^\[|\]$/g, '')
        try {
          this.linkPort = await this.links.listen(linkHost, this.options.linkPort ?? 0)
            .catch((err: unknown) => (this.options.linkPortFallback && this.options.linkPort ? this.links!.listen(linkHost, 0) : Promise.reject(err)))
        } catch (err) {
          throw new TransportError('UNAVAILABLE', `cannot listen for peer links on ${bindHost}: ${errorMessage(err)}`, err)
        }
      }
    } else {
      delete service.Stream
    }
    server.addService(service as unknown as grpc.ServiceDefinition, unary)
    this.server = server
    return await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${bindHost}:${port}`, this.serverCredentials(), (err, bound) => {
        if (err) {
          this.server = undefined
          reject(new TransportError('UNAVAILABLE', `cannot listen on ${bindHost}:${port}: ${err.message}`, err))
        } else {
          resolve(bound)
        }
      })
    })
  }

  /** The port this node serves its peer link on; 0 when it serves none. */
  get servedLinkPort(): number {
    return this.linkPort
  }

  peer(address: string): PeerClient {
    let client = this.clients.get(address)
    if (!client) {
      if (this.closing) return new GrpcPeerClient(address, this.methods, this.protocol, undefined, this.signer, this.codec, this.maxMessageBytes)
      client = new GrpcPeerClient(address, this.methods, this.protocol, new grpc.Client(address, this.clientCredentials(), {
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
      }), this.signer, this.codec, this.maxMessageBytes, this.options.link ? { tls: this.options.tls } : undefined)
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
    // Streams never end by themselves: each ends once what it was asked is answered.
    this.streams?.drain()
    this.links?.close()
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
    // Links still open (a peer's idle link it has not ended yet) are cut with the gRPC server.
    this.links?.close(true)
  }
}

class GrpcPeerClient implements PeerClient {
  private readonly stream: StreamClient
  /**
   * The peer's link, once it told its port (peer-link.ts), and whether it has connected: requests
   * go on it instead of the stream from then on. Until it has, they go on the stream, so a link
   * port that does not answer (a firewall that drops it) costs nothing but the attempt.
   */
  private link: StreamClient | undefined
  private linkUp = false
  /** No asking the peer for its link port before this time. */
  private askAfter = 0
  /** Links to the peer in a row that could not be opened. */
  private linkFailures = 0

  constructor(
    private readonly address: string,
    private readonly methods: Methods,
    private readonly protocol: Versioning,
    private client: grpc.Client | undefined,
    private readonly signer: RequestSigner | undefined,
    private readonly codec: StreamCodec,
    private readonly maxMessageBytes: number,
    private readonly linkOptions?: { tls: LinkTls | undefined },
  ) {
    this.stream = new StreamClient(client, {
      address, codec, versioning: protocol, signer, maxFrameBytes: maxMessageBytes,
      unary: (request, deadlineMs) => this.unaryRequest(request, deadlineMs),
    })
  }

  /** Sends on the link when there is one, else on the stream; what a link never delivered goes on the stream. */
  private send(request: WireRequest, bytes: number, deadlineMs: number): Promise<WireAnswer> {
    const link = this.linkUp ? this.link : undefined
    if (!link) {
      if (this.linkOptions && Date.now() >= this.askAfter) void this.askLink()
      return this.stream.request(request, bytes, deadlineMs)
    }
    return link.request(request, bytes, deadlineMs).catch((err: unknown) => {
      if ((err as { notDelivered?: boolean }).notDelivered) return this.stream.request(request, bytes, deadlineMs)
      throw err
    })
  }

  /** Asks the peer, on the stream, which port its link is on, and opens links there from now on. */
  private async askLink(): Promise<void> {
    this.askAfter = Date.now() + NO_LINK_ASK_MS
    let port: number | undefined
    try {
      const answer = await this.stream.request(linkInfoRequest(), 64, LINK_INFO_DEADLINE_MS)
      const reply = fromWireReply(answer.reply ?? {})
      port = reply.ok ? (reply.body as { port?: number } | undefined)?.port : undefined
    } catch {
      return // unreachable for now: asked again later
    }
    if (!port || !this.client || this.link) return
    const host = this.address.slice(0, this.address.lastIndexOf(':')).replace(/^\[|\]$/g, '')
    const link: StreamClient = new StreamClient(this.client, {
      address: `${host}:${port} (link)`, codec: this.codec, versioning: this.protocol, signer: this.signer, maxFrameBytes: this.maxMessageBytes,
      unary: (request, deadlineMs) => this.stream.request(request, 0, deadlineMs),
      connect: linkConnector(host, port, this.maxMessageBytes, this.linkOptions!.tls, {
        connected: () => {
          this.linkFailures = 0
          if (this.link === link) this.linkUp = true
        },
        neverConnected: () => {
          // Nothing answers there (the peer restarted on another port, went away, or a firewall
          // drops the port): requests go on the stream, and the peer is asked again later. What
          // this link client still holds fails over the same way when it tries that port again.
          if (this.link === link) {
            this.link = undefined
            this.linkUp = false
          }
          this.askAfter = Date.now() + Math.min(NO_LINK_ASK_MS, LINK_ASK_MS * 2 ** this.linkFailures++)
        },
      }),
    })
    this.link = link
    this.linkUp = false
    // The link opens with its first request: this one, which the peer's transport answers itself.
    link.request(linkInfoRequest(), 64, LINK_INFO_DEADLINE_MS).catch(() => undefined)
  }

  async call(req: ActorCall, deadlineMs: number): Promise<Reply> {
    const call: WireCall = { key: req.key, kind: req.kind, body: encodeBody(req.body), ringVersion: req.ringVersion, from: req.from }
    const answer = await this.send({ call }, 64 + req.key.length + call.body!.length, deadlineMs)
    return fromWireReply(answer.reply ?? {})
  }

  async callMany(req: ActorMultiCall, deadlineMs: number): Promise<Reply[]> {
    const callMany: WireMultiCall = { keys: req.keys, kind: req.kind, body: encodeBody(req.body), ringVersion: req.ringVersion, from: req.from }
    const keyBytes = req.keys.reduce((n, k) => n + k.length + 2, 0)
    const replies = (await this.send({ callMany }, 64 + keyBytes + callMany.body!.length, deadlineMs)).multi?.replies ?? []
    if (replies.length !== req.keys.length) {
      throw new TransportError('INTERNAL', `${this.address} answered ${replies.length} replies for ${req.keys.length} keys`)
    }
    return replies.map(fromWireReply)
  }

  async push(batch: PushBatch, deadlineMs: number): Promise<void> {
    let bytes = 32
    for (const p of batch.pushes) bytes += Buffer.byteLength(p.frame) + p.sessions.reduce((n, s) => n + s.length + 2, 8)
    const ack = (await this.send({ push: batch satisfies WirePushBatch }, bytes, deadlineMs)).pushAck ?? {}
    if (ack.error) {
      throw new TransportError('INTERNAL', `push to ${this.address} failed: ${ack.error.message ?? ''}`)
    }
  }

  async peer(req: PeerRequest, deadlineMs: number): Promise<Reply> {
    const peer: WirePeer = { kind: req.kind, body: encodeBody(req.body), ringVersion: req.ringVersion, from: req.from }
    const answer = await this.send({ peer }, 64 + peer.body!.length, deadlineMs)
    return fromWireReply(answer.reply ?? {})
  }

  close(): void {
    this.stream.close()
    this.link?.close()
    this.link = undefined
    this.linkUp = false
    this.client = undefined
  }

  /** A stream request as the unary call of a release before the stream. */
  private async unaryRequest(r: WireRequest, deadlineMs: number): Promise<WireAnswer> {
    if (r.call) return { reply: await this.unary<WireReply>(this.methods.Call, r.call, deadlineMs) }
    if (r.callMany) return { multi: await this.unary<WireMultiReply>(this.methods.CallMany, r.callMany, deadlineMs) }
    if (r.push) return { pushAck: await this.unary<WirePushAck>(this.methods.Push, r.push, deadlineMs) }
    return { reply: await this.unary<WireReply>(this.methods.Peer, r.peer!, deadlineMs) }
  }

  private unary<T>(method: Method, request: object, deadlineMs: number): Promise<T> {
    const client = this.client
    if (!client) return Promise.reject(new TransportError('UNAVAILABLE', 'transport is closed'))
    return new Promise<T>((resolve, reject) => {
      // The answering node's versions come as response metadata; a node that sends none is too old.
      let answered: ProtocolRange = { version: 0, min: 0 }
      const callback = (err: grpc.ServiceError | null, value?: object): void => {
        if (err) return reject(fromStatus(err, this.address))
        const refused = incompatibleAnswer(this.address, answered, this.protocol)
        if (refused) return reject(refused)
        resolve(value as T)
      }
      try {
        // Serialized here, once: the signature covers exactly the bytes sent.
        const bytes = method.requestSerialize(request)
        const metadata = this.protocol.metadata.clone()
        if (this.signer) setSignature(metadata, this.signer.sign(method.path, bytes))
        const call = client.makeUnaryRequest(method.path, (b: Buffer) => b, method.responseDeserialize, bytes,
          metadata, { deadline: Date.now() + deadlineMs }, callback)
        call.on('metadata', (md) => { answered = readRange(md) })
      } catch (err) {
        reject(new TransportError('UNAVAILABLE', `cannot call ${this.address}: ${errorMessage(err)}`, err))
      }
    })
  }
}

function answer<T>(callback: grpc.sendUnaryData<T>, work: Promise<T>): void {
  // The work promises never reject (handler errors were turned into replies), so this only
  // guards against a bug in this file reaching the event loop as an unhandled rejection.
  work.then((value) => callback(null, value), (err: unknown) => callback({ code: grpc.status.INTERNAL, details: errorMessage(err) }))
}

/** The service with requests left as bytes: they are checked before anything decodes them. */
function rawRequests(methods: Methods): Methods {
  const same = (b: Buffer) => b
  const raw = (m: Method): Method => ({ ...m, requestDeserialize: same })
  // The stream's frames are encoded and decoded by grpc-stream.ts (the caller's signature covers their bytes).
  const bytes = (m: Method): Method => ({ ...m, requestDeserialize: same, responseSerialize: same as unknown as Method['responseSerialize'] })
  return { Call: raw(methods.Call), CallMany: raw(methods.CallMany), Push: raw(methods.Push), Peer: raw(methods.Peer), Stream: bytes(methods.Stream) }
}

/** The unary rpcs: what a release before the stream calls. */
function unaryService(
  handlers: TransportHandlers, methods: Methods, versioning: Versioning, verifier: RequestVerifier | undefined, onRefused?: (reason: string) => void,
): grpc.UntypedServiceImplementation {
  /**
   * Verifies the call's credentials, then its caller's protocol versions, then decodes it; null
   * (answered already) when refused. Every answer tells the caller which versions this node speaks.
   */
  const admit = <T>(method: Method, rpc: grpc.ServerUnaryCall<Buffer, unknown>, callback: grpc.sendUnaryData<never>): T | null => {
    rpc.sendMetadata(versioning.metadata.clone())
    const verdict = checkCaller(method.path, rpc.metadata, rpc.request, () => rpc.getPeer(), versioning, verifier, onRefused)
    if (!verdict.ok) {
      callback(verdict.status)
      return null
    }
    try {
      return method.requestDeserialize(rpc.request) as T
    } catch {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: 'malformed request' })
      return null
    }
  }
  const call: grpc.handleUnaryCall<Buffer, WireReply> = (rpc, callback) => {
    const r = admit<WireCall>(methods.Call, rpc, callback as grpc.sendUnaryData<never>)
    if (r) answer(callback, handleRequest({ call: r }, handlers).then((a) => a.reply!))
  }
  const callMany: grpc.handleUnaryCall<Buffer, WireMultiReply> = (rpc, callback) => {
    const r = admit<WireMultiCall>(methods.CallMany, rpc, callback as grpc.sendUnaryData<never>)
    if (r) answer(callback, handleRequest({ callMany: r }, handlers).then((a) => a.multi!))
  }
  const push: grpc.handleUnaryCall<Buffer, WirePushAck> = (rpc, callback) => {
    const r = admit<WirePushBatch>(methods.Push, rpc, callback as grpc.sendUnaryData<never>)
    if (r) answer(callback, handleRequest({ push: r }, handlers).then((a) => a.pushAck!))
  }
  const peer: grpc.handleUnaryCall<Buffer, WireReply> = (rpc, callback) => {
    const r = admit<WirePeer>(methods.Peer, rpc, callback as grpc.sendUnaryData<never>)
    if (r) answer(callback, handleRequest({ peer: r }, handlers).then((a) => a.reply!))
  }
  return { Call: call, CallMany: callMany, Push: push, Peer: peer } as grpc.UntypedServiceImplementation
}
